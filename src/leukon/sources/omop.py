"""OMOP CDM: the MEASUREMENT table (v5.3/5.4), with PERSON for sex and birth date when given.

- Analyte by `measurement_concept_id` (the catalogue's OMOP ids); a row mapped to concept 0 falls back
  to `measurement_source_value` read as a LOINC code or name, since ETLs often leave local codes there.
- Unit: `unit_source_value` as written, else `unit_concept_id` named by UNIT_CONCEPTS (OMOP CDM unit
  concepts); an id not listed is passed as "omop-unit:<id>" so the kernel reports it by id.
- Time: `measurement_datetime`, else `measurement_date` at midnight.
- Specimen: OMOP has no specimen id on MEASUREMENT (`visit_occurrence_id` spans a whole stay, and
  `measurement_id` is one result), so specimen_id is null and the kernel groups a panel by patient and
  time; pass `specimen_id=COLUMN` (e.g. measurement_event_id) when an ETL fills one.
- A censored result (`operator_concept_id` other than "=") is rejected: "<0.1" is not 0.1.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from leukon.rules.analytes import ANALYTES

from . import base, columns
from .io import ROW, open_table
from .tabular import NULL_TEXT, check_options, map_code

#: OMOP unit concept ids -> unit text that leukon.rules.units parses (OMOP unit concepts; 8554 on: recalled).
UNIT_CONCEPTS: dict[int, str] = {
    9444: "10*9/L",
    8848: "10*3/uL",
    8961: "10*3/mm3",
    44777588: "10*9/L",
    8816: "10*6/mL",
    8784: "cells/uL",
    8647: "/uL",
    8554: "%",
    8713: "g/dL",
    8636: "g/L",
    8785: "/mm3",
    586323: "Cel",
    9289: "[degF]",
}
#: operator_concept_id of "=" [R: OHDSI vocabulary, Meas Value Operator domain]; null and 0 also mean "=".
OPERATOR_EQUALS = 4172703
GENDER = {8532: "female", 8507: "male"}

FIELDS = {
    "patient_id": ("person_id",),
    "code": ("measurement_concept_id",),
    "source_code": ("measurement_source_value",),
    "datetime": ("measurement_datetime",),
    "date": ("measurement_date",),
    "value": ("value_as_number",),
    "unit_concept": ("unit_concept_id",),
    "unit": ("unit_source_value",),
    "lln": ("range_low",),
    "uln": ("range_high",),
    "operator": ("operator_concept_id",),
    "specimen_id": (),
}
REQUIRED = ("patient_id", "code", "value")


@cache
def _concepts() -> dict[str, str]:
    return {str(cid): a.id for a in ANALYTES.values() for cid in a.omop}


def _int_text(expr: pl.Expr) -> pl.Expr:
    """An id column as text without a trailing '.0' (Parquet written by pandas stores ids as floats)."""
    return base.text(expr).str.replace(r"\.0+$", "")


def read_omop(
    spec: str,
    *,
    table: str | None = None,
    time_format: str | None = None,
    patients: str | None = None,
    **names: str | None,
) -> base.Source:
    """MEASUREMENT rows; `patients` is a PERSON table (CSV, Parquet or DB table)."""
    check_options(names, tuple(FIELDS), "omop")
    t = open_table(spec, table=table)
    cols = columns.resolve(t.columns, FIELDS, required=REQUIRED, given=names, label=t.label)
    if not (cols["datetime"] or cols["date"]):
        columns.resolve(t.columns, {"date": FIELDS["date"]}, required=("date",), given={}, label=t.label)
    c = {k: (pl.col(v) if v else NULL_TEXT) for k, v in cols.items()}
    concept = _int_text(c["code"])
    source_code = base.text(c["source_code"])
    unit_id = _int_text(c["unit_concept"])
    unit = pl.coalesce(
        base.text(c["unit"]),
        unit_id.replace_strict({str(k): v for k, v in UNIT_CONCEPTS.items()}, default=None, return_dtype=pl.String),
        pl.when(unit_id.is_not_null() & (unit_id != "0")).then(pl.lit("omop-unit:") + unit_id),
    )
    analyte = pl.coalesce(
        concept.replace_strict(_concepts(), default=None, return_dtype=pl.String),
        pl.when(concept.is_null() | (concept == "0")).then(map_code(source_code.str.to_lowercase(), unit)),
    )
    operator = _int_text(c["operator"])
    censored = operator.is_not_null() & ~operator.is_in(["0", str(OPERATOR_EQUALS)])
    taken = c["datetime"] if cols["datetime"] else c["date"]
    schema = t.frame.collect_schema()
    if cols["datetime"] and cols["date"]:
        # Both present: the datetime when filled, else the date (as text so both parse on one path).
        taken = pl.coalesce(base.text(c["datetime"]), base.text(c["date"]))
        if isinstance(schema[cols["datetime"]], pl.Datetime | pl.Date):
            taken = pl.coalesce(c["datetime"].cast(pl.Datetime("us")), c["date"].cast(pl.Datetime("us")))
    staged = t.frame.select(
        pl.col(ROW),
        c["patient_id"].cast(pl.String).str.replace(r"\.0+$", "").alias("patient_id"),
        c["specimen_id"].cast(pl.String).alias("specimen_id"),
        taken.alias("taken_at"),
        pl.coalesce(concept, source_code).alias("code"),
        analyte.alias("analyte"),
        c["value"].alias("value"),
        unit.alias("unit"),
        c["lln"].alias("lln"),
        c["uln"].alias("uln"),
        pl.when(censored)
        .then(pl.lit("censored value (operator_concept_id ") + operator + pl.lit(")"))
        .otherwise(NULL_TEXT)
        .alias("reason"),
        pl.struct(t.columns).alias("raw"),
    )
    return base.finish(
        staged,
        row_count=t.row_count,
        format="omop",
        label=t.label,
        patients=read_person(patients) if patients else None,
        time_format=time_format,
        time_only=time_format is not None,
        notes=t.notes,
        keepalive=t.keepalive,
        engine=t.engine,
        by_rows=t.by_rows,
    )


def read_person(spec: str) -> pl.LazyFrame:
    """PERSON -> patients. Birth date: birth_datetime when given, else year_of_birth with the month
    (July when missing) and day (the 15th when missing), so an unknown part errs by at most half a year
    or half a month."""
    t = open_table(spec, field_name="patients")
    want = {
        "patient_id": ("person_id",),
        "gender": ("gender_concept_id",),
        "year": ("year_of_birth",),
        "month": ("month_of_birth",),
        "day": ("day_of_birth",),
        "birth": ("birth_datetime",),
    }
    cols = columns.resolve(t.columns, want, required=("patient_id", "gender"), given={}, label=t.label)
    schema = t.frame.collect_schema()

    def num(name: str) -> pl.Expr:
        return base.number(pl.col(cols[name]), schema[cols[name]]).cast(pl.Int32) if cols[name] else None

    year, month, day = num("year"), num("month"), num("day")
    parts = None
    if year is not None:
        m = month.fill_null(7) if month is not None else pl.lit(7)
        d = day.fill_null(15) if day is not None else pl.lit(15)
        parts = pl.date(year, m, d)
    birth = base.birth_date(pl.col(cols["birth"]), schema[cols["birth"]]) if cols["birth"] else None
    born = [e for e in (birth, parts) if e is not None]
    gender = _int_text(pl.col(cols["gender"])).replace_strict(
        {str(k): v for k, v in GENDER.items()}, default=None, return_dtype=pl.String
    )
    return base.one_per_patient(
        t.frame.select(
            _int_text(pl.col(cols["patient_id"])).alias("patient_id"),
            gender.alias("sex"),
            (pl.coalesce(born) if born else pl.lit(None, pl.Date)).alias("birth_date"),
        )
    )
