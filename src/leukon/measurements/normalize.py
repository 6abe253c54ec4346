"""Measurements in (one row a result, raw units), canonical measurements and rejects out.

The unit of every distinct (analyte, unit) pair is parsed once by `leukon.rules.units.parse_unit`, the same
function the single-report path uses, and joined back, so the two paths cannot disagree on a unit.
Every input row leaves as a canonical measurement or as a reject with a reason (a row its source marked
`REJECTED` has its reason in the source's rejects); none is dropped.
The hot path computes a small integer reason code; messages are written only for rejected rows.

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

import polars as pl

from leukon.rules.analytes import ANALYTES
from leukon.rules.ranges import LIMIT_MAGNITUDE, lab_limit_problem, usual_limit
from leukon.rules.units import DIMENSION_NAMES, SIGNIFICANT_DIGITS, parse_unit

#: leukon's analyte ids as a Polars Enum: a byte per row instead of a string, compared as integers.
ANALYTE_ENUM = pl.Enum(list(ANALYTES))

MEASUREMENT_SCHEMA = {
    "source_row": pl.UInt64,
    "patient_id": pl.String,
    "specimen_id": pl.String,
    "taken_at": pl.Datetime("us"),
    "analyte": ANALYTE_ENUM,
    "value": pl.Float64,
    "unit": pl.Categorical(),  # as given (or as a mapping file spells it); a column holds few units
    "lln": pl.Float64,
    "uln": pl.Float64,
    # A censored result ("<0.5", ">100"): the operator, with `value` holding the bound; null when exact.
    # Kept, never dropped: findings and grades use it only where the bound decides (leukon.rules.censored).
    "censor": pl.String,
}
#: The operators `censor` may hold.
CENSOR_OPERATORS = ("<", "<=", ">", ">=")
REJECT_SCHEMA = {"source_row": pl.UInt64, "raw": pl.String, "reason": pl.String}
#: Canonical measurements carry `time_key`: the time that groups results into a specimen when the source
#: gave no specimen id (null when it did), so no per-row key string is built on the hot path.
USED_SCHEMA = {**MEASUREMENT_SCHEMA, "time_key": pl.Datetime("us")}

#: A column a source may add to its measurements: not null on a row its own checks rejected (the source's
#: rejects give the reason), which `normalize` then leaves out without a reason of its own. It spares the
#: source a copy of every column without those rows (`leukon.sources.base.Source.collect(unfiltered=True)`).
REJECTED = "_kind"
#: The column `normalize(..., marked=True)` adds when some rows are not used: true on those rows, which stay in
#: the frame instead of being copied away (`leukon.panels.build.pivot` leaves them out).
UNUSED = "_unused"

# Reason codes, in the order the checks run (the first failing check names the row's reason).
NO_PATIENT, NO_TIME, BAD_UNIT, MISSING, INFINITE, NEGATIVE, OVER_100, TOO_HIGH, TOO_LOW, LIMIT_SCALE = range(1, 11)


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
            reason = None if conv else f"unit {unit!r} is not a {DIMENSION_NAMES[a.dimension]} for {analyte}"
        rows.append((analyte, unit, conv.factor if conv else None, conv.offset if conv else None, reason))
    schema = {
        "analyte": pl.String,
        "unit": pl.String,
        "factor": pl.Float64,
        "offset": pl.Float64,
        "unit_reason": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _limits() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "analyte": list(ANALYTES),
            "plausible_min": [a.plausible_min for a in ANALYTES.values()],
            "plausible_max": [a.plausible_max for a in ANALYTES.values()],
            "canonical_unit": [a.unit for a in ANALYTES.values()],
            "is_fraction": [a.dimension == "fraction" for a in ANALYTES.values()],
            "usual_lln": [usual_limit(a, "lln") for a in ANALYTES],
            "usual_uln": [usual_limit(a, "uln") for a in ANALYTES],
        }
    )


def _canonical(df: pl.DataFrame, column: str) -> pl.Series:
    """`column` in the canonical unit, with the float policy applied where a conversion was computed.

    Most results arrive in a unit with factor 1 (10^9/L, K/uL, %), and rounding to significant digits is
    costly, so only the converted rows are rounded, as `leukon.rules.units.to_canonical` does.
    """
    raw = df[column] * df["factor"] + df["offset"]
    converted = ((df["factor"] != 1.0) | (df["offset"] != 0.0)).fill_null(False) & raw.is_not_null()
    rows = converted.arg_true()
    if len(rows):
        raw = raw.scatter(rows, raw.gather(rows).round_sig_figs(SIGNIFICANT_DIGITS))
    return raw


def _raw_json() -> pl.Expr:
    """The raw fields of a measurement row as JSON, for the rejects table."""
    return pl.struct(
        "patient_id",
        "specimen_id",
        pl.col("taken_at").cast(pl.String),
        "analyte",
        "value",
        "unit",
        "lln",
        "uln",
        "censor",
    ).struct.json_encode()


def _message() -> pl.Expr:
    """The reason text for a reject code (evaluated on rejected rows only)."""
    a, v = pl.col("analyte"), pl.col("value").cast(pl.String)
    c = pl.col("code")
    return (
        pl.when(c == NO_PATIENT)
        .then(pl.lit("missing patient id"))
        .when(c == NO_TIME)
        .then(pl.lit("missing time and specimen id"))
        .when(c == BAD_UNIT)
        .then(pl.col("unit_reason"))
        .when(c == MISSING)
        .then(pl.lit("missing value for ") + a)
        .when(c == INFINITE)
        .then(pl.lit("infinite value for ") + a)
        .when(c == NEGATIVE)
        .then(pl.lit("negative value for ") + a)
        .when(c == OVER_100)
        .then(pl.lit("percentage over 100 for ") + a)
        .when(c == TOO_HIGH)
        .then(
            pl.lit("implausible ") + a + pl.lit(" ") + v + pl.lit(" ") + pl.col("unit") + pl.lit(" (above ")
            + pl.col("plausible_max").cast(pl.String) + pl.lit(" ") + pl.col("canonical_unit")
            + pl.lit("): probable unit error")
        )
        .otherwise(pl.lit("implausible ") + a + pl.lit(" ") + v + pl.lit(" ") + pl.col("unit"))
    )  # fmt: skip


def _off_scale(side: str) -> pl.Expr:
    """A lab limit whose magnitude cannot fit the value's unit (`leukon.rules.ranges.lab_limit_problem`)."""
    c, usual = pl.col(f"_{side}_c"), pl.col(f"usual_{side}")
    return ((c > 0) & (usual > 0) & ((c / usual > LIMIT_MAGNITUDE) | (usual / c > LIMIT_MAGNITUDE))).fill_null(False)


def _scale_message(has_limits: bool) -> pl.Expr:
    """For LIMIT_SCALE rejects, the scalar path's message for the first limit off scale, prefixed with its field."""
    if not has_limits:
        return pl.lit(None, pl.String)

    def one(r: dict) -> str | None:
        for side in ("lln", "uln"):
            c = r[f"_{side}_c"]
            problem = None if c is None else lab_limit_problem(r["analyte"], side, r[side], r["unit"], c)
            if problem:
                return f"{r['analyte']}.{side}: {problem}"
        return None

    fields = pl.struct("analyte", "unit", "lln", "uln", "_lln_c", "_uln_c")
    return pl.when(pl.col("code") == LIMIT_SCALE).then(fields.map_elements(one, return_dtype=pl.String))


def _pair_code() -> pl.Expr:
    """One integer per (analyte, unit) pair, from the physical codes of the Enum and Categorical columns."""
    return pl.col("analyte").to_physical().cast(pl.UInt64) * (1 << 32) + pl.col("unit").to_physical().cast(pl.UInt64)


def normalize(
    measurements: pl.LazyFrame, *, units: pl.DataFrame | None = None, marked: bool = False
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Canonical measurements (value, lln, uln in the analyte's unit) and rejects with reasons.

    `units`: a precomputed `unit_table`; by default it is built from the distinct pairs in the input.
    `marked`: the rows that are not used stay in the measurements, true in an `UNUSED` column (absent when
    every row is used), instead of being filtered out (a copy of every column the caller may not need).
    The input is read once and materialised (for inputs larger than memory, `screen` calls this once per
    chunk of patients). Repeated results of one analyte in one specimen are resolved in `pivot`.
    """
    if "censor" not in measurements.collect_schema().names():  # a source that cannot censor (OMOP, MIMIC-IV)
        measurements = measurements.with_columns(censor=pl.lit(None, pl.String))
    casts = [pl.col(c).cast(t) for c, t in MEASUREMENT_SCHEMA.items() if c not in ("analyte", "unit")]
    # A percentage of white cells has one unit: a missing unit there is not ambiguous (a count's is).
    fractions = [a.id for a in ANALYTES.values() if a.dimension == "fraction"]
    schema = measurements.collect_schema()
    analyte = (
        pl.col("analyte")
        if schema["analyte"] == ANALYTE_ENUM
        else pl.col("analyte").cast(pl.String).cast(ANALYTE_ENUM, strict=False)
    )
    # The code mapping gives the unit as a category already; other sources give text.
    unit = pl.col("unit") if schema["unit"] == pl.Categorical else pl.col("unit").cast(pl.String).cast(pl.Categorical)
    unit = pl.when(unit.is_null() & analyte.is_in(fractions)).then(pl.lit("%", pl.Categorical)).otherwise(unit)
    upstream = [pl.col(REJECTED)] if REJECTED in schema.names() else []
    # One chunk a column: the columns computed below come in one chunk, and Polars aligns a frame whose columns
    # are chunked differently before every expression it evaluates on it (a copy of every column, each time).
    # Not a streaming query either (measured 2026-12-04, 10.1 M results, equal outputs): alone it touched 0.95 GB
    # against 1.7 GB, but its output comes in ~100 chunks, after which the pivot touched 1.6 GB instead of
    # 0.9 GB, and the whole screen took 10.2-11.4 s against 8.6-9.9 s.
    df = measurements.select(*casts, analyte.alias("analyte"), unit.alias("unit"), *upstream).collect().rechunk()
    # The caller may have handed over its only reference (`leukon.pipelines.screen`): the input as read, a copy
    # now, is freed here, and the columns computed below reuse its memory.
    del measurements
    df = df.with_columns(_pair=_pair_code())
    # Distinct pairs by their integer code (hashing 10^7 integers, not strings), then their names.
    first = df.select("_pair").with_row_index("i").group_by("_pair").agg(pl.col("i").first())["i"]
    pairs = df[first].select("analyte", "unit").filter(pl.col("analyte").is_not_null() & pl.col("unit").is_not_null())
    if units is None:
        units = unit_table(pairs.select(pl.col("analyte").cast(pl.String), pl.col("unit").cast(pl.String)))
    table = pairs.with_columns(code=_pair_code()).join(
        units.with_columns(pl.col("analyte").cast(ANALYTE_ENUM, strict=False), pl.col("unit").cast(pl.Categorical)),
        on=["analyte", "unit"],
        how="left",
    )
    # One small table keyed by the pair's integer code carries everything the checks need; a single join.
    limits = _limits()
    lookup = (
        table.filter(pl.col("factor").is_not_null())
        .with_columns(pl.col("analyte").cast(pl.String))
        .join(limits, on="analyte", how="left")
        .select("code", "factor", "offset", "plausible_min", "plausible_max", "is_fraction", "usual_lln", "usual_uln")
        .rename({"code": "_pair"})
    )
    # The pair's factors and limits for every row, as columns beside the measurements (zero-copy): joining
    # them onto the whole frame would copy every measurement column once more.
    per_row = df.select("_pair").join(lookup, on="_pair", how="left", maintain_order="left").drop("_pair")
    df = df.hstack(per_row.get_columns())

    def by_analyte(col: str, dtype) -> pl.Expr:
        return (
            pl.col("analyte")
            .cast(pl.String)
            .replace_strict(limits["analyte"], limits[col], default=None, return_dtype=dtype)
        )

    v = pl.col("value")
    df = df.with_columns(_value_c=_canonical(df, "value"))
    canon = pl.col("_value_c")
    # The checks in order: a row's reason is its first failing check. Whether any fails is a few passes over
    # bit masks; the chain that names the first one runs on the failing rows only (a when/then chain over every
    # row costs a full column per check).
    checks = [
        (NO_PATIENT, pl.col("patient_id").is_null() | (pl.col("patient_id").str.len_bytes() == 0)),
        (NO_TIME, pl.col("taken_at").is_null() & pl.col("specimen_id").is_null()),
        (BAD_UNIT, pl.col("factor").is_null()),
        (MISSING, v.is_null() | v.is_nan()),
        (INFINITE, v.is_infinite()),
        (NEGATIVE, v < 0),
        (OVER_100, pl.col("is_fraction") & (canon > 100)),
        (TOO_HIGH, canon > pl.col("plausible_max")),
        (TOO_LOW, canon < pl.col("plausible_min")),
    ]
    has_limits = df["lln"].null_count() < df.height or df["uln"].null_count() < df.height
    if has_limits:
        df = df.with_columns(_lln_c=_canonical(df, "lln"), _uln_c=_canonical(df, "uln"))
        checks.append((LIMIT_SCALE, _off_scale("lln") | _off_scale("uln")))
    df = df.with_columns(_failing=pl.any_horizontal([cond.fill_null(False) for _, cond in checks]))
    dropped = df["_failing"]
    if upstream:  # a row the source rejected is dropped with the source's reason, not one of these
        dropped = dropped | df[REJECTED].is_not_null()
        df = df.with_columns(_failing=pl.col("_failing") & pl.col(REJECTED).is_null())
    (reason, cond), *rest = checks
    code = pl.when(cond).then(reason)
    for reason, cond in rest:
        code = code.when(cond).then(reason)
    bad = df.filter(pl.col("_failing")).with_columns(code=code)
    # The usable rows: the output's few columns first, then the filter (not the other way round, which would
    # filter every helper column as well).
    used = df.select(
        "source_row", "patient_id", "specimen_id", "taken_at", "analyte",
        value=canon,
        unit=pl.lit(None, pl.Categorical),
        lln=pl.when(pl.col("lln") >= 0).then(pl.col("_lln_c")) if has_limits else pl.lit(None, pl.Float64),
        uln=pl.when(pl.col("uln") >= 0).then(pl.col("_uln_c")) if has_limits else pl.lit(None, pl.Float64),
        time_key=pl.when(pl.col("specimen_id").is_null()).then(pl.col("taken_at")),
        censor="censor",
    )  # fmt: skip
    if dropped.any():
        used = used.with_columns(dropped.alias(UNUSED)) if marked else used.filter(~dropped)
    if bad.height:
        bad = bad.with_columns(pl.col("analyte").cast(pl.String), pl.col("unit").cast(pl.String)).join(
            units.select("analyte", "unit", "unit_reason"), on=["analyte", "unit"], how="left", nulls_equal=True
        )
        bad = bad.with_columns(
            unit_reason=pl.coalesce(
                "unit_reason",
                pl.when(pl.col("analyte").is_null()).then(pl.lit("unknown analyte")),
                pl.when(pl.col("unit").is_null()).then(pl.lit("missing unit for ") + pl.col("analyte")),
            ),
            canonical_unit=by_analyte("canonical_unit", pl.String),
        )
    rejects = (
        bad.select("source_row", raw=_raw_json(), reason=_message(), _scale=_scale_message(has_limits))
        .with_columns(reason=pl.coalesce("_scale", "reason"))
        .drop("_scale")
        if bad.height
        else pl.DataFrame(schema=REJECT_SCHEMA)
    )
    return used.lazy(), rejects.lazy()


def resolve_duplicates(good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split off repeated results of one analyte in one specimen.

    An identical repeat is rejected as a duplicate of the first row; differing values are all rejected as
    conflicting, since picking one (as a MAX() would) hides the disagreement. Called on the few specimens
    the panel group-by flags, so the check costs nothing when there are no repeats.
    """
    key = ["patient_id", "specimen_id", "time_key", "analyte"]
    first = good.select(pl.struct(key).is_first_distinct()).to_series()
    if first.all():
        return good, pl.DataFrame(schema=REJECT_SCHEMA)
    # Results are told apart by position: a wide row's results share one source row.
    good = good.with_columns(_first=first).with_row_index("_result")
    repeats = good.filter(~pl.col("_first"))
    firsts = good.filter(pl.col("_first")).join(repeats.select(key).unique(), on=key, how="semi", nulls_equal=True)
    groups = pl.concat([firsts, repeats])
    verdict = groups.group_by(key, maintain_order=True).agg(
        conflict=pl.col("value").n_unique() > 1, first_row=pl.col("source_row").min()
    )
    groups = groups.join(verdict, on=key, how="left", nulls_equal=True)
    reason = (
        pl.when(pl.col("conflict"))
        .then(pl.lit("conflicting values for ") + pl.col("analyte") + pl.lit(" in the same specimen"))
        .otherwise(pl.lit("duplicate of row ") + pl.col("first_row").cast(pl.String))
    )
    rejected = groups.filter(pl.col("conflict") | ~pl.col("_first"))
    rejects = rejected.select("source_row", raw=_raw_json(), reason=reason)  # canonical values (10^9/L)
    kept = good.join(rejected.select("_result"), on="_result", how="anti").drop("_first", "_result")
    return kept, rejects
