"""The one normalisation path every adapter ends in, and the `Source` it returns.

An adapter only renames: it builds a *staged* frame with the columns in `STAGED` (raw values, any dtype)
and calls `finish`. Parsing times, reading numbers and choosing the reject reason happen here, once, so
the long, wide, OMOP and MIMIC-IV formats accept and reject rows by the same rules.

Accounting (DESIGN.md, "nothing is lost"): every input data row is either in `measurements` (one or more
results sharing its `source_row`) or in `rejects`, never both, so
``rows_read == measurements.source_row.n_unique() + rejects.height``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import polars as pl

#: The measurement contract the kernel consumes.
MEASUREMENTS_SCHEMA = pl.Schema(
    {
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
)
REJECTS_SCHEMA = pl.Schema({"source_row": pl.UInt64, "raw": pl.String, "reason": pl.String})
PATIENTS_SCHEMA = pl.Schema({"patient_id": pl.String, "sex": pl.String, "birth_date": pl.Date})

#: Columns of a staged frame: the contract's columns before parsing, plus `code` (the analyte code as
#: written, quoted in reasons), `reason` (a reject reason the adapter already knows, else null) and `raw`
#: (a struct of the input row's fields, JSON-encoded only for rejects).
STAGED = ("source_row", "patient_id", "specimen_id", "taken_at", "code", "analyte", "value", "unit",
          "lln", "uln", "reason", "raw")  # fmt: skip

#: Longest raw text quoted in a reason; the full row is in `raw`.
QUOTE_MAX = 40


@dataclass
class Source:
    """What every adapter returns: lazy measurements and rejects, optional patients, and the row count.

    `dropped` lists cells dropped from rows that were otherwise used (wide format only: a CBC row whose
    WBC is fine but whose "ANC" cell reads "see note"), so a partly bad row loses nothing silently either.
    `notes` are one-line remarks for the run summary (ignored columns, an eager gzip read, ...).
    """

    measurements: pl.LazyFrame
    rejects: pl.LazyFrame
    patients: pl.LazyFrame | None
    row_count: pl.LazyFrame
    format: str
    label: str
    dropped: pl.LazyFrame | None = None
    notes: list[str] = field(default_factory=list)
    keepalive: Any = field(default=None, repr=False)  # a database connection the lazy frames read from

    @cached_property
    def rows_read(self) -> int:
        """Number of input data rows (header excluded); one pass over the input, cached."""
        return int(self.row_count.collect().item())


def quote(expr: pl.Expr) -> pl.Expr:
    """`expr` as text for a reason: stripped, cut to QUOTE_MAX characters, in single quotes."""
    text = expr.cast(pl.String).str.strip_chars()
    cut = pl.when(text.str.len_chars() > QUOTE_MAX).then(text.str.slice(0, QUOTE_MAX) + "...").otherwise(text)
    return pl.lit("'") + cut + pl.lit("'")


def text(expr: pl.Expr) -> pl.Expr:
    """`expr` as stripped text with empty strings as null (CSV cells, database strings, numbers alike)."""
    s = expr.cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def number(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A numeric column as Float64; text is parsed, and what does not parse becomes null."""
    if dtype.is_numeric():
        return expr.cast(pl.Float64)
    return text(expr).cast(pl.Float64, strict=False)


def not_numeric(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """True where a cell holds text that is not a number (null and empty cells are not flagged)."""
    if dtype.is_numeric():
        return pl.lit(False)
    return text(expr).is_not_null() & number(expr, dtype).is_null()


# --- time -----------------------------------------------------------------------------------------------

#: Naive formats tried first, in order, on a sample; the first that reads the whole sample parses the
#: column (a fixed format is about twice as fast as per-value inference). Rows it misses fall back to
#: Polars' ISO 8601 inference, then to ISO 8601 with an offset or Z (converted to UTC).
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d",
)


def pick_time_format(sample: list[str]) -> str | None:
    """The first of TIME_FORMATS that parses at least 90 % of `sample` (a few bad times must not turn
    the fast path off), or None."""
    if not sample:
        return None
    s = pl.Series(sample, dtype=pl.String)
    for fmt in TIME_FORMATS:
        if s.str.to_datetime(fmt, strict=False, time_unit="us").null_count() <= len(sample) // 10:
            return fmt
    return None


def parse_time(expr: pl.Expr, dtype: pl.DataType, *, fmt: str | None, only: bool = False) -> pl.Expr:
    """A time column as naive Datetime("us"); zoned times are converted to UTC first.

    With `only`, `fmt` is the one format accepted (a caller's explicit `time_format`): day-first and
    month-first dates are ambiguous, so they are never guessed.
    """
    if isinstance(dtype, pl.Datetime):
        out = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else expr
        return out.cast(pl.Datetime("us"))
    if isinstance(dtype, pl.Date):
        return expr.cast(pl.Datetime("us"))
    s = text(expr)
    if only and fmt:
        return s.str.to_datetime(fmt, strict=False, time_unit="us")
    parsed = s.str.to_datetime(fmt, strict=False, time_unit="us") if fmt else pl.lit(None, pl.Datetime("us"))
    # Later attempts see only the rows still unparsed, so they cost little when the format is uniform.
    rest = pl.when(parsed.is_null()).then(s)
    inferred = rest.str.to_datetime(strict=False, time_unit="us")
    rest = pl.when(parsed.is_null() & inferred.is_null()).then(s)
    zoned = rest.str.to_datetime(strict=False, time_unit="us", time_zone="UTC").dt.replace_time_zone(None)
    return pl.coalesce(parsed, inferred, zoned)


def time_sample(lf: pl.LazyFrame, column: str, n: int = 200) -> list[str]:
    """The first `n` non-empty values of a text time column (for pick_time_format)."""
    col = text(pl.col(column)).alias("t")
    return lf.select(col).filter(pl.col("t").is_not_null()).head(n).collect().to_series().to_list()


# --- the shared finish ----------------------------------------------------------------------------------


def checked(staged: pl.LazyFrame, *, time_format: str | None = None, time_only: bool = False) -> pl.LazyFrame:
    """Parse a staged frame and give each row its first failing check as `reason` (null: usable).

    Checks, in order: a reason the adapter set, analyte code, patient id, time, value, reference limits.
    The output has the contract's columns plus `reason` and `raw`.
    """
    schema = staged.collect_schema()
    t = schema["taken_at"]
    fmt = time_format
    if fmt is None and t == pl.String:
        fmt = pick_time_format(time_sample(staged, "taken_at"))
    taken = parse_time(pl.col("taken_at"), t, fmt=fmt, only=time_only)
    patient = text(pl.col("patient_id"))
    time_raw = text(pl.col("taken_at"))

    def limit_bad(name: str) -> pl.Expr:
        return not_numeric(pl.col(name), schema[name])

    reason = (
        pl.when(pl.col("reason").is_not_null())
        .then(pl.col("reason"))
        .when(text(pl.col("code")).is_null())
        .then(pl.lit("missing analyte code"))
        .when(pl.col("analyte").is_null())
        .then(pl.lit("unknown analyte code ") + quote(pl.col("code")))
        .when(patient.is_null())
        .then(pl.lit("missing patient id"))
        .when(time_raw.is_null())
        .then(pl.lit("missing time"))
        .when(taken.is_null())
        .then(pl.lit("unparseable time ") + quote(pl.col("taken_at")))
        .when(not_numeric(pl.col("value"), schema["value"]))
        .then(pl.lit("value not numeric ") + quote(pl.col("value")))
        .when(limit_bad("lln"))
        .then(pl.lit("lower reference limit not numeric ") + quote(pl.col("lln")))
        .when(limit_bad("uln"))
        .then(pl.lit("upper reference limit not numeric ") + quote(pl.col("uln")))
        .otherwise(None)
    )
    return staged.select(
        pl.col("source_row").cast(pl.UInt64),
        patient.alias("patient_id"),
        text(pl.col("specimen_id")).alias("specimen_id"),
        taken.alias("taken_at"),
        pl.col("analyte").cast(pl.String),
        text(pl.col("code")).alias("code"),
        number(pl.col("value"), schema["value"]).alias("value"),
        text(pl.col("unit")).alias("unit"),
        number(pl.col("lln"), schema["lln"]).alias("lln"),
        number(pl.col("uln"), schema["uln"]).alias("uln"),
        reason.cast(pl.String).alias("reason"),
        pl.col("raw"),
        *(pl.col(c) for c in schema.names() if c not in STAGED),  # an adapter's extra columns ride along
    )


def raw_json(expr: pl.Expr) -> pl.Expr:
    """The raw input fields of a row as one JSON object (text)."""
    return expr.struct.json_encode()


def finish(
    staged: pl.LazyFrame,
    *,
    row_count: pl.LazyFrame,
    format: str,
    label: str,
    patients: pl.LazyFrame | None = None,
    time_format: str | None = None,
    time_only: bool = False,
    notes: list[str] | None = None,
    keepalive: Any = None,
) -> Source:
    """A Source from a staged frame with one row per input row (long, OMOP, MIMIC-IV)."""
    rows = checked(staged, time_format=time_format, time_only=time_only)
    measurements = rows.filter(pl.col("reason").is_null()).select(list(MEASUREMENTS_SCHEMA))
    rejects = rows.filter(pl.col("reason").is_not_null()).select(
        "source_row", raw_json(pl.col("raw")).alias("raw"), "reason"
    )
    return Source(
        measurements=measurements,
        rejects=rejects,
        patients=patients,
        row_count=row_count,
        format=format,
        label=label,
        notes=list(notes or []),
        keepalive=keepalive,
    )


# --- patients -------------------------------------------------------------------------------------------

_SEX = {"f": "female", "female": "female", "woman": "female", "w": "female", "8532": "female",
        "m": "male", "male": "male", "man": "male", "8507": "male"}  # fmt: skip


def sex(expr: pl.Expr) -> pl.Expr:
    """'female' | 'male' | null from the usual spellings (F/M, words, OMOP 8532/8507); others are null."""
    return text(expr).str.to_lowercase().replace_strict(_SEX, default=None, return_dtype=pl.String)


def birth_date(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A birth date column (text, Date or Datetime) as Date."""
    if isinstance(dtype, pl.Date):
        return expr
    if isinstance(dtype, pl.Datetime):
        return expr.dt.date()
    return parse_time(expr, dtype, fmt="%Y-%m-%d").dt.date()


def one_per_patient(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Collapse (patient_id, sex, birth_date) rows to one per patient, first known value of each."""
    return (
        lf.filter(pl.col("patient_id").is_not_null())
        .group_by("patient_id", maintain_order=True)
        .agg(pl.col("sex").drop_nulls().first(), pl.col("birth_date").drop_nulls().first())
        .select(pl.col(n).cast(d) for n, d in PATIENTS_SCHEMA.items())
    )
