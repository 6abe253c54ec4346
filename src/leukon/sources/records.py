"""Results parsed in Python (FHIR resources, HL7 v2 segments) into the staged frame every adapter ends in.

Message formats are trees, not tables, so their adapters walk the tree in Python and emit one `Record` per
result (an Observation, an OBX segment). This module turns those records into the staged frame of
`leukon.sources.base`, so times, numbers and reject reasons are then handled by the same `finish` as the
tabular formats: a FHIR result and a CSV row with the same content are accepted or refused alike.

A record with a `reason` is a reject the adapter already knows (a preliminary status, a dataAbsentReason, a
dangling reference); `raw` is what the reject table shows of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from leukon.errors import InputError

from . import base
from .mapping import LocalMap, load_map
from .mapping import fold_key as fold


@dataclass(slots=True)
class Record:
    """One result as the adapter read it, before any parsing of time, value or unit."""

    patient_id: str | None = None
    specimen_id: str | None = None
    taken_at: str | None = None  # ISO 8601 text, with an offset when the source gave one
    code: str | None = None  # the code as written (quoted in reasons)
    analyte: str | None = None  # a leukon analyte id, or None when the code names none
    value: float | None = None
    unit: str | None = None
    lln: float | None = None
    uln: float | None = None
    reason: str | None = None
    raw: dict = field(default_factory=dict)
    censor: str | None = None  # "<", "<=", ">" or ">=" when `value` is a bound ("<0.1"), as in the contract
    flag: str | None = None  # the lab's own abnormal flag (OBX-8, Observation.interpretation): L, LL, N, H, HH...


_STAGED_SCHEMA = {
    "source_row": pl.UInt64,
    "patient_id": pl.String,
    "specimen_id": pl.String,
    "taken_at": pl.String,
    "code": pl.String,
    "analyte": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "lln": pl.Float64,
    "uln": pl.Float64,
    "reason": pl.String,
    "censor": pl.String,
    "flag": pl.String,  # not in the contract: rides along in `Source.checked` for the single-report path
}


def staged(records: list[Record]) -> pl.LazyFrame:
    """The staged frame for `records`, source_row numbered in record order (the reading order)."""
    rows = [
        (
            i,
            r.patient_id,
            r.specimen_id,
            r.taken_at,
            r.code,
            r.analyte,
            r.value,
            r.unit,
            r.lln,
            r.uln,
            r.reason,
            r.censor,
            r.flag,
        )
        for i, r in enumerate(records)
    ]
    df = pl.DataFrame(rows, schema=_STAGED_SCHEMA, orient="row")
    # The raw fields as a struct (base.raw_json writes it as one JSON object per reject); every field is text.
    keys = list(dict.fromkeys(k for r in records for k in r.raw)) or ["result"]
    raw = pl.DataFrame(
        {k: [None if r.raw.get(k) is None else str(r.raw[k]) for r in records] for k in keys},
        schema=dict.fromkeys(keys, pl.String),
    )
    return df.with_columns(raw.to_struct("raw")).lazy()


def to_source(
    records: list[Record],
    *,
    format: str,
    label: str,
    patients: pl.LazyFrame | None,
    notes: list[str] | None = None,
) -> base.Source:
    """A `Source` over `records`: one input row per record, so rows read = results used + rejected."""
    count = pl.LazyFrame({"rows_read": [len(records)]}, schema={"rows_read": pl.UInt64})
    return base.finish(staged(records), row_count=count, format=format, label=label, patients=patients, notes=notes)


def no_other_options(options: Mapping[str, object], fmt: str) -> None:
    """A message format has no columns to name: a table option (``--patient-id MRN``) is one clear error."""
    if options:
        first = sorted(options)[0]
        raise InputError(first, f"not an option of the {fmt} format (it has no columns to name); options: map, codes")


def local_map(map: str | Path | dict | LocalMap | None, codes: Mapping[str, str] | None) -> LocalMap:
    """The lab's local codes: a mapping file (``map=``, as for tables) plus a `codes` dict ({"WBC": "wbc"})."""
    local = load_map(map)
    if not codes:
        return local
    extra = load_map({"names": dict(codes)})  # checked like a file: an unknown analyte is one clear error
    return LocalMap({**local.names, **extra.names}, local.units, local.label)


def local_code(local: LocalMap, codings: Iterable[tuple[str | None, str | None]]) -> tuple[str, str, str | None] | None:
    """(code, analyte, default unit) for the first (system, code) the local map names as "system|code" or
    "code"; None when it names none. Display text is never looked up."""
    for system, code in codings:
        if not code:
            continue
        for key in (f"{system}|{code}", code):
            hit = local.names.get(fold(key))
            if hit:
                return code, hit[0], hit[1]
    return None


def local_unit(local: LocalMap, unit: str | None) -> str | None:
    """A unit spelling the mapping file translates (its [units] table), else the unit as written."""
    return local.units.get(fold(unit), unit) if unit and local.units else unit


def require_white_cells(group: list[Record], name: str) -> None:
    """Refuse the results of a report (or OBR group) that has no usable white-cell result.

    A CBC whose WBC, ANC and differential are all missing or refused leaves only haemoglobin or platelets:
    that is not a white-cell assessment, and reading it as one would look like "no leukopenia".
    """
    from .cbc import WHITE_CELL_ANALYTES

    if any(r.reason is None and r.analyte in WHITE_CELL_ANALYTES for r in group):
        return
    others = sorted({r.analyte for r in group if r.reason is None and r.analyte})
    for r in group:
        if r.reason is None:
            r.reason = f"{name} has no usable white-cell result (WBC, ANC or differential); {', '.join(others)} not assessed alone"


def patients_frame(rows: list[tuple]) -> pl.LazyFrame:
    """(patient_id, sex, birth date text[, ancestry]) tuples -> the patients table (first known value per patient)."""
    rows = [(*r, None)[:4] for r in rows]
    schema = {"patient_id": pl.String, "sex": pl.String, "birth": pl.String, "ancestry": pl.String}
    df = pl.DataFrame(rows, schema=schema, orient="row")
    lf = df.lazy().select(
        "patient_id",
        base.sex(pl.col("sex")).alias("sex"),
        base.birth_date(pl.col("birth"), pl.String).alias("birth_date"),
        base.ancestry(pl.col("ancestry")).alias("ancestry"),
    )
    return base.one_per_patient(lf)
