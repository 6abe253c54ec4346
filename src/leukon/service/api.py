"""The JSON API: each route calls the same pipeline function as the CLI command of the same name.

    POST /assess   one CBC -> the assessment (as `leukon assess --json`) with its explanation
    POST /grade    one value under one scheme's term (as `leukon grade --json`)
    POST /follow   a series -> episodes, course labels, cyclic verdict (as `leukon follow --json`) and the chart
    POST /screen   a small lab table upload -> summary, panels, grades, rejects (as `leukon screen`)

/assess and /grade run on the event loop (a tenth of a millisecond of work); /follow and /screen run in a
worker thread so the time limit can answer for them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
from pathlib import Path
from typing import Annotated

import orjson
import polars as pl
from fastapi import APIRouter, Depends, File, Form, UploadFile
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from leukon.errors import InputError
from leukon.knowledge.explanations import explain
from leukon.outputs.explanation_html import to_html
from leukon.pipelines.assess import assess_mapping
from leukon.pipelines.follow_input import follow_args, reading_errors  # one reader of a series, as the CLI's
from leukon.pipelines.requests import SOURCE_FLAGS, grade_value
from leukon.pipelines.screen import screen
from leukon.rules.criteria import SCHEMES, scheme
from leukon.sources import FORMATS

from .auth import require_token
from .problems import PROBLEM_RESPONSES
from .schemas import AssessRequest, FollowRequest, GradeRequest, assess_arguments

router = APIRouter(dependencies=[Depends(require_token)], responses=PROBLEM_RESPONSES)

#: matplotlib's rc_context is process-global: one chart at a time.
_CHART_LOCK = threading.Lock()
#: Rows per output table returned by /screen; the counts say when a table was cut.
SCREEN_ROWS = 10_000
UPLOAD_SUFFIXES = (".csv.gz", ".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".ndjson", ".hl7")


def json_response(doc: dict, media_type: str = "application/json") -> Response:
    """orjson: a 20 KB assessment with its explanation encodes in a tenth of the time json.dumps takes."""
    return Response(orjson.dumps(doc), media_type=media_type)


def assessment_document(body: AssessRequest) -> dict:
    """The `leukon assess --json --explain` document for one request (shared with the web page)."""
    values, options = assess_arguments(body)
    result = assess_mapping(values, **options)
    doc = result.to_dict()
    opts = body.explanation
    if opts is not None:
        e = explain(result, audience=opts.audience, medicines=opts.medicines, conditions=opts.conditions)
        doc["explanation"] = e.to_dict()
        if opts.html:
            doc["explanation_html"] = to_html(e, css=False)
    return doc


@router.post("/assess", summary="Assess one CBC", response_description="the assessment and its explanation")
async def assess_route(body: AssessRequest) -> Response:
    """Findings, grades under every scheme (or `schemes`), derived counts, ranges with their sources,
    warnings and what could not be assessed; with the explanation unless `explanation` is null."""
    return json_response(assessment_document(body))


@router.post("/grade", summary="Grade one value under a scheme's term")
async def grade_route(body: GradeRequest) -> Response:
    """`grade` is null when the value cannot be graded (no LLN, age or a usable unit); `reason` says why."""
    r = grade_value(body.scheme, body.term, body.value, body.unit, lln=body.lln, age_days=body.age_days)
    return json_response(r.to_dict())


def _follow(body: FollowRequest) -> dict:
    """`leukon follow` on the request: the series (and treatments) go through the CLI's own reader, as files."""
    if (body.series is None) == (body.csv is None):
        raise InputError("series", "give the counts either as `series` (a list of records) or as `csv` text")
    where = "series" if body.series is not None else "csv"
    with tempfile.TemporaryDirectory(prefix="leukon-follow-") as tmp:
        if body.series is not None:
            path = Path(tmp, "series.json")
            path.write_text(json.dumps([c.model_dump(exclude_unset=True) for c in body.series]), "utf-8")
        else:
            path = Path(tmp, "series.csv")
            path.write_text(body.csv or "", "utf-8")
        treatments = None
        if body.treatments:
            treatments = str(Path(tmp, "treatments.json"))
            Path(treatments).write_text(json.dumps([t.model_dump() for t in body.treatments]), "utf-8")
        args = argparse.Namespace(input=str(path), patient=body.patient_id, treatments=treatments, scheme=body.scheme,
                                  time_format=body.time_format)  # fmt: skip
        try:
            result = reading_errors(follow_args, args)
        except InputError as e:  # name the request's field, not the temporary file the CLI reader was given
            field = where if e.field == "INPUT" else e.field
            raise InputError(field, str(e).split(": ", 1)[-1].replace(str(path), f"the {where}")) from None
    doc = result.to_dict()
    if body.chart:
        if len(result.patients) != 1:
            raise InputError("patient_id", f"{len(result.patients)} patients in the series; choose one for the chart")
        from leukon.outputs.chart import render

        with _CHART_LOCK:
            doc["chart_svg"] = render(result.patients[0], "svg").decode("utf-8")
    return doc


@router.post("/follow", summary="Follow a series of counts over time")
async def follow_route(body: FollowRequest) -> Response:
    """Episodes (nadir, worst grade, recovery day), course labels and the cyclic verdict; `chart_svg` is
    the chart of ANC and WBC with the normal range, grade thresholds and episodes."""
    return json_response(await run_in_threadpool(_follow, body))


def _records(df: pl.DataFrame | None, limit: int) -> dict:
    if df is None:
        return {"rows": 0, "returned": 0, "records": []}
    part = df.head(limit)
    return {"rows": df.height, "returned": part.height, "records": json.loads(part.write_json())}


def _upload_name(name: str, field: str) -> str:
    """A safe file name for an upload, keeping the suffix the readers look at (.csv.gz, .parquet, .json ...)."""
    low = Path(name).name.lower()
    for suffix in UPLOAD_SUFFIXES:
        if low.endswith(suffix):
            return field + suffix
    raise InputError(field, f"{name!r}: upload a {', '.join(UPLOAD_SUFFIXES)} file")


def _columns(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        columns = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError("columns", f'malformed JSON: {e.msg}; e.g. {{"patient_id": "MRN"}}') from None
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InputError("columns", 'give a JSON object of field to column name, e.g. {"patient_id": "MRN"}')
    for k in columns:
        if k not in SOURCE_FLAGS:
            raise InputError("columns", f"unknown field {k!r}; use {', '.join(SOURCE_FLAGS)}")
    return columns


def _screen(upload: tuple[bytes, str], format: str, patients: tuple[bytes, str] | None, schemes: tuple[str, ...],
            columns: dict[str, str]) -> dict:  # fmt: skip
    for s in schemes:
        scheme(s)  # an unknown scheme is named before any work
    with tempfile.TemporaryDirectory(prefix="leukon-screen-") as tmp:
        path = Path(tmp, _upload_name(upload[1], "file"))
        path.write_bytes(upload[0])
        options: dict = dict(columns)
        if patients is not None:
            ppath = Path(tmp, _upload_name(patients[1], "patients"))
            ppath.write_bytes(patients[0])
            options["patients"] = str(ppath)
        kw = {"schemes": schemes} if schemes else {}
        try:
            result = screen(path, format=format, chunks=1, **kw, **options)
        except InputError as e:  # the readers name the file: name the upload, not the temporary copy
            raise InputError(e.field, str(e).split(": ", 1)[-1].replace(str(path), repr(upload[1]))) from None
    return {
        "summary": result.summary,
        **{
            name: _records(getattr(result, name), SCREEN_ROWS)
            for name in ("panels", "grades", "rejects", "patients", "episodes")
        },
    }


@router.post("/screen", summary="Screen a small lab table")
async def screen_route(
    file: Annotated[UploadFile, File(description="lab table: CSV, CSV.gz, Parquet; or FHIR JSON / HL7 v2 text")],
    format: Annotated[str, Form(description=f"one of {', '.join(FORMATS)}")] = "long",
    scheme_ids: Annotated[list[str] | None, Form(alias="scheme", description=f"of {', '.join(SCHEMES)}")] = None,
    patients: Annotated[UploadFile | None, File(description="patients table (OMOP PERSON, MIMIC patients)")] = None,
    columns: Annotated[str | None, Form(description='column names as JSON, e.g. {"patient_id": "MRN"}')] = None,
) -> Response:
    """The same outputs as `leukon screen` (panels, grades, rejects, patients, episodes, summary); each
    table gives its row count and at most 10,000 records. Rows read = rows used + rows rejected."""
    upload = (await file.read(), file.filename or "")
    extra = None if patients is None else (await patients.read(), patients.filename or "")
    doc = await run_in_threadpool(_screen, upload, format, extra, tuple(scheme_ids or ()), _columns(columns))
    return json_response(doc)
