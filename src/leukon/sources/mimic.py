"""MIMIC-IV `hosp/labevents` (csv, csv.gz or Parquet) by itemid, with `hosp/patients` when given.

- Analyte by itemid (the catalogue's `mimic_itemid`); excluded itemids (51697, point-of-care neutrophils
  in mmol/L) are rejects that name the exclusion, and every other itemid (chemistry, ...) is a reject
  "unknown itemid N", so the counts still add up over a whole labevents table.
- Value: `valuenum`, else the `value` text (so "___" or "<0.1" is rejected as not numeric, not lost).
- Range: `ref_range_lower/upper`; specimen: `specimen_id` (MIMIC's own grouping of one draw).
- Birth date: MIMIC gives `anchor_age` in the (shifted) `anchor_year`, so a person was born between
  anchor_year - anchor_age - 1 and anchor_year - anchor_age. birth_date is 1 January of
  anchor_year - anchor_age, the middle of that span: ages computed from it err by up to a year.
  anchor_age is capped (ages over 89 appear as 91), so old ages are lower bounds.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from leukon.rules.analytes import ANALYTES

from . import base, columns
from .io import ROW, open_table
from .tabular import NULL_TEXT, check_options

FIELDS = {
    "patient_id": ("subject_id",),
    "specimen_id": ("specimen_id",),
    "code": ("itemid",),
    "taken_at": ("charttime",),
    "value": ("valuenum",),
    "value_text": ("value",),
    "unit": ("valueuom",),
    "lln": ("ref_range_lower",),
    "uln": ("ref_range_upper",),
}
REQUIRED = ("patient_id", "code", "taken_at")


@cache
def _items() -> tuple[dict[str, str], dict[str, str]]:
    """(itemid -> analyte id, excluded itemid -> reject reason)."""
    used = {str(i): a.id for a in ANALYTES.values() for i in a.mimic_itemid}
    excluded = {
        str(i): f"excluded MIMIC itemid {i} (not usable as {a.id}; see analytes.toml)"
        for a in ANALYTES.values()
        for i in a.mimic_itemid_excluded
    }
    return used, excluded


def read_mimic(
    spec: str,
    *,
    table: str | None = None,
    time_format: str | None = None,
    patients: str | None = None,
    **names: str | None,
) -> base.Source:
    """labevents rows; `patients` is hosp/patients (subject_id, gender, anchor_age, anchor_year)."""
    check_options(names, tuple(FIELDS), "mimic-iv")
    t = open_table(spec, table=table)
    cols = columns.resolve(t.columns, FIELDS, required=REQUIRED, given=names, label=t.label)
    if not (cols["value"] or cols["value_text"]):
        columns.resolve(t.columns, {"value": FIELDS["value"]}, required=("value",), given={}, label=t.label)
    c = {k: (pl.col(v) if v else NULL_TEXT) for k, v in cols.items()}
    item = base.text(c["code"]).str.replace(r"\.0+$", "")
    used, excluded = _items()
    value = pl.coalesce(base.text(c["value"]), base.text(c["value_text"]))
    staged = t.frame.select(
        pl.col(ROW),
        base.text(c["patient_id"]).alias("patient_id"),
        base.text(c["specimen_id"]).alias("specimen_id"),
        c["taken_at"].alias("taken_at"),
        item.alias("code"),
        item.replace_strict(used, default=None, return_dtype=pl.String).alias("analyte"),
        value.alias("value"),
        c["unit"].alias("unit"),
        c["lln"].alias("lln"),
        c["uln"].alias("uln"),
        pl.when(item.is_null())
        .then(NULL_TEXT)
        .when(item.is_in(list(excluded)))
        .then(item.replace_strict(excluded, default=None, return_dtype=pl.String))
        .when(~item.is_in(list(used)))
        .then(pl.lit("unknown itemid ") + item)
        .otherwise(NULL_TEXT)
        .alias("reason"),
        pl.struct(t.columns).alias("raw"),
    )
    return base.finish(
        staged,
        row_count=t.row_count,
        format="mimic-iv",
        label=t.label,
        patients=read_patients(patients) if patients else None,
        time_format=time_format,
        time_only=time_format is not None,
        notes=t.notes,
        keepalive=t.keepalive,
        engine=t.engine,
        by_rows=t.by_rows,
    )


def read_patients(spec: str) -> pl.LazyFrame:
    """hosp/patients -> patients (birth date approximated from anchor_age and anchor_year, see above)."""
    t = open_table(spec, field_name="patients")
    want = {"patient_id": ("subject_id",), "sex": ("gender",), "age": ("anchor_age",), "year": ("anchor_year",)}
    cols = columns.resolve(t.columns, want, required=("patient_id", "sex"), given={}, label=t.label)
    schema = t.frame.collect_schema()
    birth = pl.lit(None, pl.Date)
    if cols["age"] and cols["year"]:
        age = base.number(pl.col(cols["age"]), schema[cols["age"]]).cast(pl.Int32)
        year = base.number(pl.col(cols["year"]), schema[cols["year"]]).cast(pl.Int32)
        birth = pl.date(year - age, 1, 1)
    return base.one_per_patient(
        t.frame.select(
            base.text(pl.col(cols["patient_id"])).alias("patient_id"),
            base.sex(pl.col(cols["sex"])).alias("sex"),
            birth.alias("birth_date"),
        )
    )
