"""The web page: one CBC form, its result and explanation, and a trend chart for a pasted series.

The form is built here from the analyte catalogue, the schemes and the profiles, so it never lists them
twice; `static/app.js` sends it to the JSON API and shows the answer. Everything is served from this app
(no CDN): the page works offline, and the Content-Security-Policy allows only its own files.
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib import resources

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from leukon.outputs.explanation_html import CSS as EXPLANATION_CSS
from leukon.pipelines.assess import DISCLAIMER
from leukon.rules.analytes import ANALYTES, Analyte
from leukon.rules.criteria import DEFAULT_PROFILE, PROFILES, SCHEMES

#: Unit choices per dimension (spellings `leukon.rules.units` parses); the first is the canonical one.
UNIT_CHOICES = {
    "count": (("10^9/L", "× 10⁹/L"), ("10^3/uL", "× 10³/µL (K/µL)"), ("/uL", "cells/µL")),
    "fraction": (("%", "%"),),
    "mass_concentration": (("g/dL", "g/dL"), ("g/L", "g/L"), ("mmol/L", "mmol/L")),
    "temperature": (("Cel", "°C"), ("[degF]", "°F")),
}
#: Shown at first; the other analytes are one click away under "More values".
MAIN = ("wbc", "anc", "neutrophils_pct", "bands_pct", "lymphocytes", "hemoglobin", "platelets")
DEFAULT_SCHEME = "ctcae-v5"

router = APIRouter(include_in_schema=False)


def _units(a: Analyte) -> str:
    opts = "".join(f'<option value="{escape(v)}">{escape(t)}</option>' for v, t in UNIT_CHOICES[a.dimension])
    return f'<select id="u-{a.id}" name="unit-{a.id}" aria-label="{escape(a.name)} unit">{opts}</select>'


def _row(a: Analyte) -> str:
    name = escape(a.name)
    return (
        f'<tr><th scope="row"><label for="v-{a.id}">{name}</label></th>'
        f'<td><input id="v-{a.id}" name="{a.id}" data-analyte="{a.id}" inputmode="decimal" autocomplete="off"></td>'
        f"<td>{_units(a)}</td>"
        f'<td><input id="lln-{a.id}" name="lln-{a.id}" inputmode="decimal" aria-label="{name}: lab lower limit"></td>'
        f'<td><input id="uln-{a.id}" name="uln-{a.id}" inputmode="decimal" aria-label="{name}: lab upper limit"></td></tr>'
    )


def _table(analytes: list[Analyte], caption: str) -> str:
    head = (
        '<tr><th scope="col">Count</th><th scope="col">Value</th><th scope="col">Unit</th>'
        '<th scope="col">Lab low (optional)</th><th scope="col">Lab high (optional)</th></tr>'
    )
    rows = "".join(_row(a) for a in analytes)
    return (
        f'<table class="values"><caption>{escape(caption)}</caption><thead>{head}</thead><tbody>{rows}</tbody></table>'
    )


def _options(items: dict, selected: str) -> str:
    out = []
    for key, obj in items.items():
        label = getattr(obj, "name", None) or key
        sel = " selected" if key == selected else ""
        out.append(f'<option value="{escape(key)}"{sel}>{escape(key)}: {escape(str(label))}</option>')
    return "".join(out)


@cache
def index_html() -> str:
    """The page, built once per process."""
    counts = [a for a in ANALYTES.values() if a.id != "temperature"]
    main = [a for a in counts if a.id in MAIN]
    more = [a for a in counts if a.id not in MAIN]
    template = resources.files("leukon.service").joinpath("static", "index.html").read_text("utf-8")
    return (
        template.replace("{{main_values}}", _table(main, "Counts from the report"))
        .replace("{{more_values}}", _table(more, "More counts"))
        .replace("{{temperature_units}}", _units(ANALYTES["temperature"]))
        .replace("{{schemes}}", _options(SCHEMES, DEFAULT_SCHEME))
        .replace("{{profiles}}", _options(PROFILES, DEFAULT_PROFILE))
        .replace("{{disclaimer}}", escape(DISCLAIMER))
    )


@router.get("/", response_class=HTMLResponse)
async def index() -> HTMLResponse:
    return HTMLResponse(index_html())


@router.get("/static/explanation.css")
async def explanation_css() -> Response:
    """The explanation renderer's own stylesheet, served as a file because the CSP forbids inline styles."""
    return Response(EXPLANATION_CSS, media_type="text/css")


@router.get("/health")
async def health() -> dict:
    """Liveness: no data, no auth."""
    return {"status": "ok"}


def mount(app: FastAPI) -> None:
    """Add the page, its assets and the health check to `app`."""
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("leukon.service", "static")]), name="static")
