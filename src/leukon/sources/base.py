"""The one normalisation path every adapter ends in, and the `Source` it returns.

An adapter only renames: it builds a *staged* frame with the columns in `STAGED` (raw values, any dtype)
and calls `finish`. Parsing times, reading numbers and choosing the reject reason happen here, once, so
the long, wide, OMOP and MIMIC-IV formats accept and reject rows by the same rules.

Accounting (DESIGN.md, "nothing is lost"): every input data row is either in `measurements` (one or more
results sharing its `source_row`) or in `rejects`, never both, so
``rows_read == measurements.source_row.n_unique() + rejects.height``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import polars as pl

from leukon.errors import InputError
from leukon.measurements.normalize import ANALYTE_ENUM, MEASUREMENT_SCHEMA, REJECT_SCHEMA, REJECTED

#: The measurement contract the kernel consumes, defined once beside its consumer (leukon.measurements.normalize).
MEASUREMENTS_SCHEMA = pl.Schema(MEASUREMENT_SCHEMA)
REJECTS_SCHEMA = pl.Schema(REJECT_SCHEMA)
PATIENTS_SCHEMA = pl.Schema({"patient_id": pl.String, "sex": pl.String, "birth_date": pl.Date, "ancestry": pl.String})

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
    checked: pl.LazyFrame | None = field(default=None, repr=False)  # the parsed rows both frames come from
    time_format: str | None = None  # how the time column was read, for the run summary
    engine: str = "streaming"  # the Polars engine `collect` reads on (`leukon.sources.io.Table.engine`)
    by_rows: bool = False  # `checked` reads a range of rows without reading the rows before it (Parquet)

    def collect(
        self, *, raw: bool = True, unfiltered: bool = False, row_range: tuple[int, int] | None = None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """measurements and rejects in one pass over the input (collecting them apart parses it twice).

        The rejects' `raw` (the input row as JSON) takes one more scan; with `raw=False` it is left null for a
        caller that fetches it once for all of a run's rejects (`leukon.pipelines.reject_reasons.with_source_raw`).
        With `unfiltered`, the measurements keep the rows the checks rejected, marked by a non-null `REJECTED`
        column, instead of being copied without them (`leukon.measurements.normalize` leaves those rows out).
        With `row_range` (start, end), only those rows of `checked` are read, and the patients are not read."""
        if row_range is not None and self.checked is None:
            raise ValueError("this source cannot be read by range of rows")
        if self.checked is None:
            m, r = pl.collect_all([self.measurements, self.rejects])
            return m, r
        rows = self.checked.drop("raw")  # the raw struct of every row is costly; fetch it for rejects only
        if row_range is not None:
            rows = rows.slice(row_range[0], row_range[1] - row_range[0])
        # Measurements and rejects as two queries run together: they share the scan and checks, and the columns
        # only a reason quotes (the code and the time, value and limits as written) are never held for every
        # row. On the source's engine whatever the caller's default: for Parquet, streaming touches the least memory
        # in no more time (10.1 M results: 1.0 GB against 2.5 GB in memory, and 2.9 GB for the checked rows
        # collected whole; the reading stage 1.6-2.1 s against 1.7-2.3 s); a CSV reads faster in memory.
        queries = [
            as_measurements(rows, REJECTED) if unfiltered else usable(rows),
            described(rows).select("source_row", "reason"),
        ]
        if self.patients is not None and row_range is None:
            queries.append(self.patients)  # read in the same pass, then kept, so a later join does not re-read
        m, r, *patients = pl.collect_all(queries, engine=self.engine)
        if patients:
            self.patients = patients[0].lazy()
        found = self.raw_rows(r["source_row"]) if raw else None
        if found is not None:
            r = r.join(found, on="source_row", how="left", maintain_order="left")
        else:
            r = r.with_columns(raw=pl.lit(None, pl.String))
        return m, r.select("source_row", "raw", "reason")

    def raw_rows(self, rows: pl.Series) -> pl.DataFrame | None:
        """The input rows `rows` as read: source_row and raw (JSON of the source's own columns), one scan of the
        input with the row filter pushed down to it; None when there are none or the source cannot say.

        On the streaming engine whatever the caller's default: the few rows wanted are filtered as the input
        streams by (30 M results: 0.21 GB and 0.9 s, against 4.6 GB and 4.8 s on the in-memory engine, which
        holds the whole input first; at 101.9 M the whole run peaked at 17.7 GB)."""
        if self.checked is None or rows.is_empty() or "raw" not in self.checked.collect_schema().names():
            return None
        return (
            self.checked.filter(pl.col("source_row").is_in(rows.unique().implode()))
            .select(pl.col("source_row").cast(pl.UInt64), raw_json(pl.col("raw")).alias("raw"))
            .unique("source_row", keep="first", maintain_order=True)
            .collect(engine="streaming")
        )

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
    """`expr` as stripped text with empty strings as null (CSV cells, database strings, numbers alike).

    A when/then, which strips twice: `replace("", None)` strips once but is not streamed (Polars 2.1 holds the
    whole column, 0.56 GB for one id column of 30 M rows against 0.09 GB). Large columns in a frame go
    through `with_text`, which strips once and streams."""
    return _non_empty(_stripped(expr))


def with_text(lf: pl.LazyFrame, columns: dict[str, pl.Expr]) -> pl.LazyFrame:
    """`lf` with `columns` ({name: expression}) added as `text` makes them, each value stripped once: stripped
    in one step, and the empty ones made null in the next."""
    lf = lf.with_columns(_stripped(e).alias(n) for n, e in columns.items())
    return lf.with_columns(_non_empty(pl.col(n)).alias(n) for n in columns)


def _stripped(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.strip_chars()


def _non_empty(s: pl.Expr) -> pl.Expr:
    """Text `s` with empty strings as null."""
    return pl.when(s.str.len_bytes() > 0).then(s)


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
#: column (a fixed format is about twice as fast as reading each value's parts). Rows it misses fall back
#: to `iso_time`, which reads any year-first ISO 8601 time value by value.
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%dT%H:%M:%S%.f%#z",  # zoned (Z, +01:00, +0100, +01): converted to UTC (`fixed_time`)
    "%Y-%m-%d %H:%M:%S%.f%#z",
)
#: A format's zone directive (%z, %:z, %#z): times read with it carry an offset and are converted to UTC.
_ZONE_DIRECTIVE = re.compile(r"%[:#]*z")


def fixed_time(s: pl.Expr, fmt: str) -> pl.Expr:
    """Text times `s` read with the one format `fmt`, as naive Datetime("us"); null where it does not fit. A
    format with a zone directive gives times converted to UTC, like every other time leukon reads."""
    if _ZONE_DIRECTIVE.search(fmt):
        return s.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC").dt.replace_time_zone(None)
    return s.str.to_datetime(fmt, strict=False, time_unit="us")


def _reads(sample: pl.Series, fmt: str) -> int:
    """How many values of `sample` the format reads."""
    return sample.to_frame("t").select(fixed_time(pl.col("t"), fmt).count()).item()


def pick_time_format(sample: list[str]) -> str | None:
    """The first of TIME_FORMATS that parses at least 90 % of `sample` (a few bad times must not turn
    the fast path off), or None."""
    return _first_fitting(sample, TIME_FORMATS)


def _first_fitting(sample: list[str], formats: tuple[str, ...] | list[str]) -> str | None:
    if not sample:
        return None
    s = pl.Series(sample, dtype=pl.String)
    for fmt in formats:
        if len(sample) - _reads(s, fmt) <= len(sample) // 10:
            return fmt
    return None


_VALUE_BY_VALUE = "taken_at read as ISO 8601, value by value"


def _most_fitting(sample: list[str]) -> str | None:
    """The one of TIME_FORMATS that reads the most of `sample` (None when none reads any of it): a column with no
    one format is read value by value (`iso_time`), and reading its most common shape with a fixed format first
    changes no value, only the speed (reading 10 M results in two shapes, 2026-12: 6.5 s, 4.8 s with it)."""
    if not sample:
        return None
    s = pl.Series(sample, dtype=pl.String)
    read = {fmt: _reads(s, fmt) for fmt in TIME_FORMATS}
    best = max(TIME_FORMATS, key=read.__getitem__)
    return best if read[best] else None


#: A date written with the day and month as one or two digits each ("03/04/2024", "3.4.24 14:05"): the
#: order of day and month cannot be read from one value, only from the column.
_NUMERIC_DATE = re.compile(
    r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{2}|\d{4})(?:[ T]+(\d{1,2}:\d{2}(?::\d{2})?)\s*([AaPp][Mm])?)?\s*$"
)
_NUMERIC_DATE_EXPR = r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]"


def resolve_time_format(staged: pl.LazyFrame, given: str | None) -> tuple[str | None, str]:
    """The strftime format to read the text column `taken_at` with, and a line for the run summary.

    ISO 8601 columns use the first fitting of TIME_FORMATS. A column of numeric dates such as
    "03/04/2024" is read month-first or day-first only when the column itself settles it (a first field
    over 12 means day-first, a second field over 12 month-first); when nothing settles it, or both occur,
    InputError asks for `time_format`, since guessing would silently swap days and months.
    """
    if given:
        return given, f"taken_at read with the given format {given}"
    if staged.collect_schema()["taken_at"] != pl.String:
        return None, "taken_at read as stored (a date/time column)"
    sample = time_sample(staged, "taken_at")
    fmt = pick_time_format(sample)
    if fmt is not None:
        return fmt, f"taken_at read as {fmt} ({'ISO 8601' if '-' in fmt else 'year first'})"
    numeric = [m for m in map(_NUMERIC_DATE.match, sample) if m]
    if not numeric or len(numeric) < len(sample) // 2:
        return _most_fitting(sample), _VALUE_BY_VALUE
    first, second = _day_month_evidence(staged)
    if first and second:
        raise InputError("taken_at", f"the column mixes day-first ({first!r}) and month-first ({second!r}) dates; "
                         "give the format with --time-format (time_format=), e.g. '%d/%m/%Y %H:%M'")  # fmt: skip
    if not first and not second:
        example = numeric[0].group(0).strip()
        raise InputError("taken_at", f"dates like {example!r} can be month-first (US) or day-first, and no date in "
                         "the column settles it; give --time-format '%m/%d/%Y' (US) or '%d/%m/%Y' (time_format=)")  # fmt: skip
    day_first = bool(first)
    fmt = _first_fitting(sample, _numeric_formats(numeric[0], day_first=day_first))
    if fmt is None:
        return _most_fitting(sample), _VALUE_BY_VALUE
    order, why = ("day first", first) if day_first else ("month first", second)
    return fmt, f"taken_at read as {fmt} ({order}: the column holds {why!r})"


def _day_month_evidence(staged: pl.LazyFrame) -> tuple[str | None, str | None]:
    """An example of a numeric date whose first field is over 12, and one whose second field is (whole column)."""
    t = text(pl.col("taken_at"))
    parts = t.str.extract_groups(_NUMERIC_DATE_EXPR)
    a = parts.struct.field("1").cast(pl.Int32, strict=False)
    b = parts.struct.field("2").cast(pl.Int32, strict=False)
    row = staged.select(
        t.filter(a > 12).first().alias("first"),
        t.filter(b > 12).first().alias("second"),
    ).collect()
    return row["first"][0], row["second"][0]


def _numeric_formats(m: re.Match, *, day_first: bool) -> list[str]:
    """Candidate formats for a numeric date like the match `m`, in the order settled by the column."""
    sep = m.group(2)
    date = f"%d{sep}%m" if day_first else f"%m{sep}%d"
    year = "%Y" if len(m.group(4)) == 4 else "%y"
    times = ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%I:%M:%S%p", "%I:%M%p"] if m.group(5) else []
    return [f"{date}{sep}{year} {t}" for t in times] + [f"{date}{sep}{year}"]


def parse_time(expr: pl.Expr, dtype: pl.DataType, *, fmt: str | None, only: bool = False) -> pl.Expr:
    """A time column as naive Datetime("us"); zoned times are converted to UTC first.

    With `only`, `fmt` is the one format accepted (a caller's explicit `time_format`): day-first and
    month-first dates are ambiguous, so they are never guessed. For a large text column use
    `with_time` instead, which reads the fallback only on the rows the format missed.
    """
    if isinstance(dtype, pl.Datetime):
        out = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None) if dtype.time_zone else expr
        return out.cast(pl.Datetime("us"))
    if isinstance(dtype, pl.Date):
        return expr.cast(pl.Datetime("us"))
    s = text(expr)
    if fmt:
        first = fixed_time(s, fmt)
        if only:
            return first
        return pl.coalesce(first, iso_time(pl.when(first.is_null()).then(s)))
    return iso_time(s)


def taken_at_times(frame: pl.LazyFrame, time_format: str | None) -> pl.Expr:
    """The text column `taken_at` of `frame` parsed as every reader parses times: with `time_format` alone when
    it is given, else with the format the column settles (`resolve_time_format`) and ISO 8601 for the rest.
    For a small frame read in memory (`follow`'s inputs); a source's large column goes through `checked`."""
    fmt, _ = resolve_time_format(frame, time_format)
    return parse_time(pl.col("taken_at"), pl.String, fmt=fmt, only=time_format is not None)


#: A year-first ISO 8601 time, its parts captured: year, month, day ('-', '/' or '.' between them), then
#: optionally a time after 'T' or a space (hours and minutes, optional seconds and fraction, colons optional)
#: and a zone (Z or an offset of hours with optional minutes). Dates written day or month first never match:
#: only their whole column can settle which comes first (`resolve_time_format`).
_ISO = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})"
    r"(?:[T ](\d{1,2}):?(\d{2})(?::?(\d{2})(\.\d+)?)?)?"
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_DATETIME = pl.Datetime("us")


def iso_time(s: pl.Expr) -> pl.Expr:
    """Text times `s` read as year-first ISO 8601 (`_ISO`), value by value; zoned ones converted to UTC, the
    rest null.

    Every value is read on its own, so a row's time never depends on its neighbours. (Polars' format inference,
    used before, guessed one pattern from the column's first value: a stray '02/01/2024' in an ISO column was
    read day-first, and the inference held the whole column, which kept a streaming run's memory growing
    with its input: 1.5 GB against 0.36 GB at 30 M results.) The parts are rebuilt only for the values there,
    batch by batch, so on the rows a fixed format already read it costs close to nothing."""
    return s.map_batches(_iso_batch, return_dtype=_DATETIME, is_elementwise=True)


def _iso_batch(s: pl.Series) -> pl.Series:
    out = pl.Series(s.name, [], dtype=_DATETIME).extend_constant(None, len(s))
    there = s.is_not_null()
    if not there.any():
        return out
    return out.scatter(there.arg_true(), s.filter(there).to_frame("t").select(_iso_parts(pl.col("t"))).to_series())


def _iso_parts(t: pl.Expr) -> pl.Expr:
    parts = t.str.extract_groups(_ISO.pattern).struct

    def part(i: int, default: str | None = None) -> pl.Expr:
        p = parts.field(str(i))
        return p if default is None else p.fill_null(default)

    canonical = pl.concat_str(
        part(1), pl.lit("-"), part(2), pl.lit("-"), part(3), pl.lit(" "),
        part(4, "00"), pl.lit(":"), part(5, "00"), pl.lit(":"), part(6, "00"), part(7, ""), part(8, "Z"),
    )  # fmt: skip
    return fixed_time(canonical, "%Y-%m-%d %H:%M:%S%.f%#z")


def with_time(lf: pl.LazyFrame, src: str, out: str, dtype: pl.DataType, *, fmt: str | None, only: bool) -> pl.LazyFrame:
    """Add `out`, the parsed time of text column `src`, in stages: the fixed format on every row, then
    `iso_time` only on the rows still null (cheap when the format is uniform)."""
    if dtype != pl.String or only or not fmt:
        return lf.with_columns(parse_time(pl.col(src), dtype, fmt=fmt, only=only).alias(out))
    s = pl.col(src)
    lf = lf.with_columns(fixed_time(s, fmt).alias(out))
    rest = pl.when(pl.col(out).is_null()).then(s)
    return lf.with_columns(pl.coalesce(pl.col(out), iso_time(rest)).alias(out))


def time_sample(lf: pl.LazyFrame, column: str, n: int = 200) -> list[str]:
    """The first `n` non-empty values of a text time column (for pick_time_format)."""
    col = text(pl.col(column)).alias("t")
    return lf.select(col).filter(pl.col("t").is_not_null()).head(n).collect().to_series().to_list()


# --- the shared finish ----------------------------------------------------------------------------------


def checked(staged: pl.LazyFrame, *, time_format: str | None = None, time_only: bool = False) -> pl.LazyFrame:
    """Parse a staged frame and give each row its first failing check as `reason` (null: usable).

    Checks, in order: a reason the adapter set, analyte code, patient id, time, value, reference limits.
    The output has the contract's columns plus `code`, `reason`, `raw` and any extra staged columns.
    Steps are materialised one `with_columns` at a time so no parse runs twice.
    """
    schema = staged.collect_schema()
    t = schema["taken_at"]
    fmt = time_format
    if fmt is None and t == pl.String:
        fmt, _ = resolve_time_format(staged, None)
    numeric = ("value", "lln", "uln")
    texts = {c: pl.col(c) for c in ("patient_id", "specimen_id", "code")}
    if schema["unit"] != pl.Categorical:  # a unit the code mapping resolved is clean already (a category)
        texts["unit"] = pl.col("unit")
    if t == pl.String:
        texts["_time_raw"] = pl.col("taken_at")
    lf = with_text(staged, texts).with_columns(
        *(() if t == pl.String else (pl.col("taken_at").alias("_time_raw"),)),
        *(_stripped(pl.col(c)).alias(f"_{c}_raw") for c in numeric if schema[c] == pl.String),
    )
    lf = with_time(lf, "_time_raw", "_time", t, fmt=fmt, only=time_only)
    lf = lf.with_columns(
        *(
            (
                pl.col(f"_{c}_raw").cast(pl.Float64, strict=False)
                if schema[c] == pl.String
                else pl.col(c).cast(pl.Float64)
            ).alias(f"_{c}")
            for c in numeric
        )
    )

    def bad(c: str) -> pl.Expr:  # text that is there but is not a number
        if schema[c] != pl.String:
            return pl.lit(False)
        raw = pl.col(f"_{c}_raw")
        return raw.is_not_null() & (raw != "") & pl.col(f"_{c}").is_null()

    # The failing check as a small code first: the text of a reason is built only for rejected rows
    # (`describe`), since a when/then chain evaluates every branch on every row.
    kind = pl.lit(None, pl.UInt8)
    for k, cond in reversed(list(enumerate((
        pl.col("reason").is_not_null(),
        pl.col("code").is_null(),
        pl.col("analyte").is_null(),
        pl.col("patient_id").is_null(),
        pl.col("_time_raw").is_null(),
        pl.col("_time").is_null(),
        bad("value"),
        bad("lln"),
        bad("uln"),
    )))):  # fmt: skip
        kind = pl.when(cond).then(pl.lit(k, pl.UInt8)).otherwise(kind)
    return lf.select(
        pl.col("source_row").cast(pl.UInt64),
        "patient_id",
        "specimen_id",
        pl.col("_time").alias("taken_at"),
        pl.col("analyte").cast(ANALYTE_ENUM, strict=False),  # a no-op when the adapter mapped to the Enum
        "code",
        pl.col("_value").alias("value"),
        "unit",
        pl.col("_lln").alias("lln"),
        pl.col("_uln").alias("uln"),
        kind.alias(REJECTED),  # the failing check's number (`describe`), null on a usable row
        pl.col("reason").cast(pl.String),
        "_time_raw",  # as given; `describe` writes it as text for the rejected rows only
        *(pl.col(c).alias(f"_{c}_text") for c in ("value", "lln", "uln")),  # as given; text in describe
        pl.col("raw"),
        *(pl.col(c) for c in schema.names() if c not in STAGED),  # an adapter's extra columns ride along
        *(() if "censor" in schema.names() else (pl.lit(None, pl.String).alias("censor"),)),  # "<0.5": operator
    )


def describe(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Replace `reason` with the text of the failing check (`_kind`); call it on rejected rows only."""
    texts = [
        pl.col("reason"),
        pl.lit("missing analyte code"),
        pl.lit("unknown analyte code ") + quote(pl.col("code")),
        pl.lit("missing patient id"),
        pl.lit("missing time"),
        pl.lit("unparseable time ") + quote(pl.col("_time_raw")),
        pl.lit("value not numeric ") + quote(pl.col("_value_text").cast(pl.String)),
        pl.lit("lower reference limit not numeric ") + quote(pl.col("_lln_text").cast(pl.String)),
        pl.lit("upper reference limit not numeric ") + quote(pl.col("_uln_text").cast(pl.String)),
    ]
    reason = pl.lit(None, pl.String)
    for k, t in reversed(list(enumerate(texts))):
        reason = pl.when(pl.col(REJECTED) == k).then(t).otherwise(reason)
    return lf.with_columns(reason.alias("reason"))


def usable(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The checked rows that passed every check, in the measurement contract."""
    return as_measurements(rows.filter(pl.col(REJECTED).is_null()))


def as_measurements(rows: pl.LazyFrame, *extra: str) -> pl.LazyFrame:
    """The columns of the measurement contract (and `extra`), the unit as a category (a no-op where the code
    mapping made it one)."""
    return rows.select(*MEASUREMENTS_SCHEMA, *extra).with_columns(pl.col("unit").cast(pl.Categorical))


def described(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The checked rows that failed a check, with the reason written out."""
    return describe(rows.filter(pl.col(REJECTED).is_not_null()))


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
    engine: str = "streaming",
    by_rows: bool = False,
) -> Source:
    """A Source from a staged frame with one row per input row (long, OMOP, MIMIC-IV); `engine`: the one its
    table reads best on (`leukon.sources.io.Table.engine`); `by_rows`: its table reads a range of rows alone."""
    fmt, how = resolve_time_format(staged, time_format)
    rows = checked(staged, time_format=fmt, time_only=time_only)
    measurements = usable(rows)
    rejects = described(rows).select("source_row", raw_json(pl.col("raw")).alias("raw"), "reason")
    return Source(
        measurements=measurements,
        rejects=rejects,
        patients=patients,
        row_count=row_count,
        format=format,
        label=label,
        notes=list(notes or []),
        keepalive=keepalive,
        checked=rows,
        time_format=how,
        engine=engine,
        by_rows=by_rows,
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


def ancestry(expr: pl.Expr) -> pl.Expr:
    """'duffy-null' | null from the spellings `leukon.rules.ranges.check_ancestry` accepts for the Duffy-null phenotype."""
    from leukon.rules.ranges import DUFFY_NULL_SPELLINGS

    key = text(expr).str.to_lowercase().str.replace_all(r"[_ ]", "-")
    return pl.when(key.is_in(list(DUFFY_NULL_SPELLINGS))).then(pl.lit("duffy-null"))


def one_per_patient(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Collapse (patient_id, sex, birth_date) rows to one per patient, first known value of each."""
    return (
        lf.filter(pl.col("patient_id").is_not_null())
        .group_by("patient_id", maintain_order=True)
        .agg(
            pl.col("sex").drop_nulls().first(),
            pl.col("birth_date").drop_nulls().first(),
            (pl.col("ancestry") if "ancestry" in lf.collect_schema().names() else pl.lit(None, pl.String))
            .drop_nulls()
            .first()
            .alias("ancestry"),
        )
        .select(pl.col(n).cast(d) for n, d in PATIENTS_SCHEMA.items())
    )
