"""Measurements in (one row a result, raw units), canonical measurements and rejects out.

The unit of every distinct (analyte, unit) pair is parsed once by `leukon.units.parse_unit`, the same
function the single-report path uses, and joined back, so the two paths cannot disagree on a unit.
Every input row leaves as a canonical measurement or as a reject with a reason; none is dropped.

>>> import datetime as dt, polars as pl
>>> m = pl.LazyFrame({"source_row": [0, 1, 2, 3], "patient_id": "p1", "specimen_id": None,
...     "taken_at": [dt.datetime(2024, 1, 1)] * 4, "analyte": ["wbc", "anc", "wbc", "anc"],
...     "value": [3100.0, 0.7, 3.1, -1.0], "unit": ["/uL", "K/uL", "mg/dL", "K/uL"], "lln": None, "uln": None},
...     schema_overrides={"specimen_id": pl.String, "lln": pl.Float64, "uln": pl.Float64})
>>> used, rejects = normalize(m)
>>> used.collect()["value"].to_list()
[3.1, 0.7]
>>> rejects.collect()["reason"].to_list()
["unit 'mg/dL' is not a cell count per volume for wbc", 'negative value for anc']
"""

from __future__ import annotations

import json

import polars as pl

from ..analytes import ANALYTES
from ..units import _DESCRIBE, SIGNIFICANT_DIGITS, parse_unit

MEASUREMENT_SCHEMA = {
    "source_row": pl.UInt64,
    "patient_id": pl.String,
    "specimen_id": pl.String,
    "taken_at": pl.Datetime("us"),
    "analyte": pl.String,
    "value": pl.Float64,
    "unit": pl.String,
    "lln": pl.Float64,
    "uln": pl.Float64,
}
REJECT_SCHEMA = {"source_row": pl.UInt64, "raw": pl.String, "reason": pl.String}


def unit_table(pairs: pl.DataFrame) -> pl.DataFrame:
    """factor, offset and (when the unit does not fit) a reason for each distinct (analyte, unit)."""
    rows = []
    for analyte, unit in pairs.iter_rows():
        a = ANALYTES.get(analyte)
        conv = None
        if a is None:
            reason = f"unknown analyte {analyte!r}"
        elif unit is None or not str(unit).strip():
            reason = f"missing unit for {analyte}"
        else:
            conv = parse_unit(a.dimension, unit)
            reason = None if conv else f"unit {unit!r} is not a {_DESCRIBE[a.dimension]} for {analyte}"
        rows.append(
            {
                "analyte": analyte,
                "unit": unit,
                "factor": conv.factor if conv else None,
                "offset": conv.offset if conv else None,
                "unit_reason": reason,
            }
        )
    schema = {
        "analyte": pl.String,
        "unit": pl.String,
        "factor": pl.Float64,
        "offset": pl.Float64,
        "unit_reason": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def _limits() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "analyte": list(ANALYTES),
            "plausible_min": [a.plausible_min for a in ANALYTES.values()],
            "plausible_max": [a.plausible_max for a in ANALYTES.values()],
            "canonical_unit": [a.unit for a in ANALYTES.values()],
            "is_fraction": [a.dimension == "fraction" for a in ANALYTES.values()],
        }
    )


def _canon(x: pl.Expr) -> pl.Expr:
    return (x * pl.col("factor") + pl.col("offset")).round_sig_figs(SIGNIFICANT_DIGITS)


def _raw_json() -> pl.Expr:
    """The raw fields of a measurement row as JSON, for the rejects table."""
    return pl.struct(
        "patient_id", "specimen_id", pl.col("taken_at").cast(pl.String), "analyte", "value", "unit", "lln", "uln"
    ).struct.json_encode()


def normalize(measurements: pl.LazyFrame, *, units: pl.DataFrame | None = None) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Canonical measurements (value, lln, uln in the analyte's unit) and rejects with reasons.

    `units`: a precomputed `unit_table`; by default the distinct pairs are read from `measurements`.
    Duplicates of one analyte in one specimen: an identical repeat is rejected as a duplicate; differing
    values are all rejected as conflicting, since picking one would hide the disagreement.
    """
    m = measurements.select([pl.col(c).cast(t) for c, t in MEASUREMENT_SCHEMA.items()])
    if units is None:
        units = unit_table(m.select("analyte", "unit").unique().collect())
    m = m.join(units.lazy(), on=["analyte", "unit"], how="left", nulls_equal=True).join(
        _limits().lazy(), on="analyte", how="left"
    )
    v = pl.col("value")
    canon = _canon(v)
    reason = (
        pl.when(pl.col("patient_id").is_null() | (pl.col("patient_id").str.strip_chars() == ""))
        .then(pl.lit("missing patient id"))
        .when(pl.col("taken_at").is_null() & pl.col("specimen_id").is_null())
        .then(pl.lit("missing time and specimen id"))
        .when(pl.col("unit_reason").is_not_null())
        .then(pl.col("unit_reason"))
        .when(v.is_null() | v.is_nan())
        .then(pl.lit("missing value for ") + pl.col("analyte"))
        .when(v.is_infinite())
        .then(pl.lit("infinite value for ") + pl.col("analyte"))
        .when(v < 0)
        .then(pl.lit("negative value for ") + pl.col("analyte"))
        .when(pl.col("is_fraction") & (canon > 100))
        .then(pl.lit("percentage over 100 for ") + pl.col("analyte"))
        .when(canon > pl.col("plausible_max"))
        .then(
            pl.lit("implausible ")
            + pl.col("analyte")
            + pl.lit(" ")
            + v.cast(pl.String)
            + pl.lit(" ")
            + pl.col("unit")
            + pl.lit(" (above ")
            + pl.col("plausible_max").cast(pl.String)
            + pl.lit(" ")
            + pl.col("canonical_unit")
            + pl.lit("): probable unit error")
        )
        .when(canon < pl.col("plausible_min"))
        .then(
            pl.lit("implausible ") + pl.col("analyte") + pl.lit(" ") + v.cast(pl.String) + pl.lit(" ") + pl.col("unit")
        )
    )
    m = m.with_columns(reason=reason)
    key = pl.coalesce(
        pl.col("specimen_id"),
        pl.col("patient_id") + pl.lit("@") + pl.col("taken_at").dt.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    good = m.filter(pl.col("reason").is_null()).with_columns(
        key=key,
        value_c=canon,
        lln_c=pl.when(pl.col("lln") >= 0).then(_canon(pl.col("lln"))),
        uln_c=pl.when(pl.col("uln") >= 0).then(_canon(pl.col("uln"))),
    )
    # Duplicates within a specimen and analyte.
    grp = ["key", "analyte"]
    good = good.with_columns(
        n=pl.len().over(grp),
        n_values=pl.col("value_c").n_unique().over(grp),
        first_row=pl.col("source_row").min().over(grp),
    )
    dup_reason = (
        pl.when(pl.col("n") == 1)
        .then(pl.lit(None, pl.String))
        .when(pl.col("n_values") > 1)
        .then(pl.lit("conflicting values for ") + pl.col("analyte") + pl.lit(" in the same specimen"))
        .when(pl.col("source_row") != pl.col("first_row"))
        .then(pl.lit("duplicate of row ") + pl.col("first_row").cast(pl.String))
    )
    good = good.with_columns(dup=dup_reason)
    used = good.filter(pl.col("dup").is_null()).select(
        "source_row",
        "patient_id",
        specimen_id="key",
        taken_at="taken_at",
        analyte="analyte",
        value="value_c",
        unit="canonical_unit",
        lln="lln_c",
        uln="uln_c",
    )
    rejects = pl.concat(
        [
            m.filter(pl.col("reason").is_not_null()).select("source_row", raw=_raw_json(), reason="reason"),
            good.filter(pl.col("dup").is_not_null()).select("source_row", raw=_raw_json(), reason="dup"),
        ]
    )
    return used, rejects


def raw_of(row: dict) -> str:
    """JSON of one raw input row (for adapters that reject before a frame exists)."""
    return json.dumps(row, default=str, ensure_ascii=False)
