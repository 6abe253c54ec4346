"""The page and the docs: built from the catalogue, every asset local, every unit choice one leukon reads."""

import re

import pytest

from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import PROFILES, SCHEMES
from leukon.rules.units import check_value
from leukon.service.page import UNIT_CHOICES


def test_page_has_a_labelled_field_per_analyte_and_every_scheme(client):
    html = client.get("/").text
    for a in ANALYTES:
        if a != "temperature":
            assert f'<label for="v-{a}">' in html and f'id="lln-{a}"' in html
    assert '<label for="temperature">' in html
    for s in SCHEMES:
        assert f'<option value="{s}"' in html
    for p in PROFILES:
        assert f'<option value="{p}"' in html


def test_page_and_docs_load_nothing_from_elsewhere(client):
    html = client.get("/").text + client.get("/docs").text
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs and all(r.startswith(("/", "#")) for r in refs), refs
    for asset in ("/static/app.js", "/static/style.css", "/static/explanation.css"):
        r = client.get(asset)
        assert r.status_code == 200 and "http://" not in r.text and "https://" not in r.text
        assert "@import" not in r.text


@pytest.mark.parametrize("dimension, unit", [(d, u) for d, units in UNIT_CHOICES.items() for u, _ in units])
def test_every_unit_choice_is_read_by_leukon(dimension, unit):
    analyte = next(a for a in ANALYTES.values() if a.dimension == dimension)
    value = {"Cel": 37.0, "[degF]": 98.6}.get(unit, 1.0)  # a plausible body temperature, else any count
    assert check_value(analyte.id, value, unit) > 0


def test_docs_list_every_route_with_its_fields(client):
    spec = client.get("/openapi.json").json()
    docs = client.get("/docs").text
    for path, item in spec["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in docs
    assert "<code>explanation</code>" in docs and "<pre>" in docs
