"""Episodes of low counts per patient and cell line, computed with Polars window expressions.

An episode starts at the first count below that specimen's lower limit of normal and ends at the first
count at or above its lower limit (see `limits` for where each limit comes from; `Line.entry`/`Line.exit`
set fixed cut-offs instead, and entry < exit gives hysteresis: counts in between keep the current state).
A count with no lower limit (no range applies, e.g. WBC in the first month) is "not assessed": it neither
starts nor ends an episode. A stretch without
counts longer than ``max_gap_days`` ends the episode without a recovery (we cannot tell what happened in
the gap). Everything is vectorised over all patients at once; the only Python loop is over the distinct
nadir values when the grade must be computed from the nadir with leukon's scalar grader.

Ties in time are ordered by specimen_id, then by the counts, so the result never depends on input order.

>>> import datetime as dt, polars as pl
>>> day = lambda d: dt.datetime(2024, 1, 1) + dt.timedelta(days=d)
>>> panels = pl.DataFrame({"patient_id": ["p"] * 4, "specimen_id": ["a", "b", "c", "d"],
...     "taken_at": [day(0), day(7), day(10), day(14)], "anc": [3.0, 0.4, None, 2.0]})
>>> e = episodes(panels).filter(pl.col("line") == "neutrophils")
>>> e.select("n_counts", "nadir", "worst_grade", "end_reason").row(0)
(1, 0.4, 4, 'recovery')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from leukon.rules.criteria import DEFAULT_PROFILE, LLN, Term
from leukon.rules.criteria import scheme as get_scheme
from leukon.rules.grading import evaluate
from leukon.rules.ranges import check_profile

from ..errors import CriteriaError, InputError, did_you_mean
from .cyclic import CyclicParams
from .limits import CONTEXT, TABLE_SCHEMA, attach_limits, limit_column, lln_column, uln_column

DAY_US = 86_400_000_000  # microseconds in a day


@dataclass(frozen=True, slots=True)
class Line:
    """One cell line followed over time: its column in `panels`, its grading term and its thresholds.

    By default an episode starts at a count below that specimen's own lower limit of normal (the lab's, else
    the profile's for its age, sex and ancestry; see `limits`) and ends at the first count at or above its
    lower limit. `entry` and `exit` override that with fixed cut-offs in 10^9/L (entry <= exit gives
    hysteresis); a count without a lower limit is then still judged against the fixed cut-off.
    """

    name: str
    column: str
    term: str
    entry: float | None = None  # fixed cut-off: an episode starts at a count < entry (None: the specimen's LLN)
    exit: float | None = None  # fixed cut-off: it ends at the first count >= exit (None: the entry level)
    recovery_level: float | None = None  # the ASTCT recovery day is computed only where this is set
    severe_chronic: float | None = None  # "severe chronic" needs counts below this for > 3 months

    def describe_entry(self) -> str:
        """The entry rule in words, for outputs."""
        if self.entry is not None:
            return f"below the fixed cut-off {self.entry:g} x 10^9/L"
        return "below the specimen's lower limit of normal"

    def describe_exit(self) -> str:
        if self.exit is not None:
            return f"at or above the fixed cut-off {self.exit:g} x 10^9/L"
        if self.entry is not None:
            return f"at or above the fixed cut-off {self.entry:g} x 10^9/L"
        return "at or above the specimen's lower limit of normal"


# Entry and exit read each specimen's own lower limit; the levels below are absolute because the
# definitions they come from are absolute (10^9/L):
# - Neutrophil recovery day: the first of 3 successive days with ANC >= 0.5 after the nadir (ASTCT
#   consensus, Kharfan-Dabaja et al., as tabulated in Bone Marrow Transplant 2024;59:832).
# - Severe chronic neutropenia: ANC < 0.5 for more than 3 months (Severe Chronic Neutropenia International
#   Registry, SCNIR; Blood Adv 2022;6(13):3861).
NEUTROPHILS = Line("neutrophils", "anc", "Neutrophil count decreased", recovery_level=0.5, severe_chronic=0.5)
WHITE_CELLS = Line("white cells", "wbc", "White blood cell decreased")
LYMPHOCYTES = Line("lymphocytes", "lymphocytes", "Lymphocyte count decreased")
DEFAULT_LINES = (NEUTROPHILS, WHITE_CELLS, LYMPHOCYTES)

#: Time below these absolute ANC levels: < 0.5 severe neutropenia (Medscape; ASCO/IDSA, Taplitz et al.,
#: JCO 2018), < 0.1 profound (IDSA febrile-neutropenia usage).
DEFAULT_BELOW = (0.5, 0.1)


@dataclass(frozen=True, slots=True)
class CourseParams:
    """Every tunable of the course analysis, with the source of its default."""

    lines: tuple[Line, ...] = DEFAULT_LINES
    #: Bridge gaps without counts up to this many days. 45 days lets monthly monitoring (clozapine after
    #: 12 months, clozapine label REMS tables 2015) continue an episode; a longer gap ends it ("gap").
    #: leukon's choice.
    max_gap_days: float = 45.0
    #: Consecutive counts at or above the exit level needed to end an episode; 1 = the first such count.
    confirm_recovery: int = 1
    #: Recovery day: the first of `recovery_run_days` consecutive calendar days with every count >= the
    #: line's recovery_level (ASTCT consensus, Kharfan-Dabaja et al.); 1 gives the single-day variant
    #: (Bone Marrow Transplant 2002;30:749).
    recovery_run_days: int = 3
    below: tuple[float, ...] = DEFAULT_BELOW
    #: Fixed lower limits of normal {column: 10^9/L} used for every count of that column, for entry, exit
    #: and grade 1, instead of each specimen's own. Empty: each specimen's (lab, else profile) limit.
    lln: dict[str, float] = field(default_factory=dict)
    #: The reference profile for counts without a `profile` column (see leukon.rules.ranges).
    profile: str = DEFAULT_PROFILE
    cyclic: CyclicParams = field(default_factory=CyclicParams)

    def __post_init__(self) -> None:
        for line in self.lines:
            if line.entry is not None and line.exit is not None and not line.entry <= line.exit:
                raise InputError("lines", f"{line.name}: entry {line.entry} must not exceed exit {line.exit}")
        if self.max_gap_days <= 0:
            raise InputError("max_gap_days", "must be a positive number of days")
        if self.confirm_recovery < 1 or self.recovery_run_days < 1:
            raise InputError("confirm_recovery", "confirm_recovery and recovery_run_days must be 1 or more")
        for column, value in self.lln.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise InputError("lln", f"{column}: the lower limit must be a number >= 0, got {value!r}")
        check_profile(self.profile)


REQUIRED = ("patient_id", "taken_at")


def grade_column(scheme_id: str, column: str) -> str:
    """The per-count grade column name the screening stage writes, e.g. grade_ctcae_v5_anc."""
    return f"grade_{re.sub(r'[^a-z0-9]+', '_', scheme_id.lower()).strip('_')}_{column}"


def below_column(level: float) -> str:
    return "days_below_" + f"{level:g}".replace(".", "_")


def panel_columns(names: list[str], params: CourseParams, scheme_id: str) -> list[str]:
    """The columns of a panels table (named `names`) that the course reads, in their order: the ids and time,
    each line's count with its limits, range origin and per-count grade, the specimen context, and the warnings
    (a count low only by the lab's range). A caller
    reading a wide panels file (`screen` writes about a hundred columns) can read these alone. A table lacking
    the ids, the time or every count keeps all its columns, so that `prepare`'s error can suggest one of them."""
    counts = {line.column for line in params.lines}
    if not set(REQUIRED) <= set(names) or not counts & set(names):
        return list(names)
    wanted = {*REQUIRED, "specimen_id", "warnings", *CONTEXT, *counts}
    for c in counts:
        wanted |= {f"{c}_lln", f"{c}_uln", f"{c}_range", grade_column(scheme_id, c)}
    return [n for n in names if n in wanted]


def prepare(
    panels: pl.DataFrame | pl.LazyFrame, params: CourseParams, *, time_format: str | None = None
) -> pl.LazyFrame:
    """Check the panels contract and cast: taken_at to Datetime(us) (text read as `screen` reads it, or with
    `time_format` alone), counts to Float64 (non-finite -> null)."""
    lf = panels.lazy()
    schema = lf.collect_schema()
    wanted = [*REQUIRED, *(line.column for line in params.lines)]
    for name in REQUIRED:
        if name not in schema:
            raise InputError(name, f"panels have no {name!r} column.{did_you_mean(name, list(schema))}")
    if not any(line.column in schema for line in params.lines):
        cols = ", ".join(line.column for line in params.lines)
        raise InputError("panels", f"no count column ({cols}) found.{did_you_mean(wanted[-1], list(schema))}")
    t = schema["taken_at"]
    if t == pl.String:  # read as `screen` reads times: numeric dates settled by the column or refused
        from leukon.sources.base import taken_at_times

        taken = taken_at_times(lf, time_format)
    elif isinstance(t, pl.Datetime) and t.time_zone is not None:
        taken = pl.col("taken_at").dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.cast_time_unit("us")
    elif t in (pl.Date,) or isinstance(t, pl.Datetime):
        taken = pl.col("taken_at").cast(pl.Datetime("us"))
    else:
        raise InputError("taken_at", f"must be a date or datetime, got {t}")
    exprs = [pl.col("patient_id").cast(pl.String), taken]
    if "specimen_id" in schema:
        exprs.append(pl.col("specimen_id").cast(pl.String))
    else:
        exprs.append(pl.lit(None, pl.String).alias("specimen_id"))
    for line in params.lines:
        if line.column in schema:
            v = pl.col(line.column).cast(pl.Float64, strict=False)
            exprs.append(pl.when(v.is_finite() & (v >= 0)).then(v).otherwise(None).alias(line.column))
    return lf.with_columns(exprs)


def long_counts(panels: pl.LazyFrame, params: CourseParams, scheme_id: str) -> pl.LazyFrame:
    """One row per (patient, line, count) with a usable value, sorted deterministically: by patient, line (by
    name), time, specimen id and then the counts themselves, so the order never depends on the input's.

    `panels` carry the limit columns of `limits.attach_limits`. Each count gets its lln, uln and limit_id,
    its entry level (a fixed `Line.entry`, else its LLN; null = not assessed) and its exit level (a fixed
    `Line.exit`, else the entry level; never below the entry level), and `series`, an integer that numbers
    the (patient, line) pairs in this order.

    The panels are sorted once (a third of the rows of the long table); each line's counts keep that order,
    and a stable sort on one integer key (patient number, line) interleaves them.
    """
    schema = panels.collect_schema()
    present = [line for line in params.lines if line.column in schema]
    rank = {name: i for i, name in enumerate(sorted(line.name for line in present))}
    ordered = (
        panels.filter(pl.col("taken_at").is_not_null() & pl.col("patient_id").is_not_null())
        .sort(["patient_id", "taken_at", "specimen_id", *dict.fromkeys(x.column for x in present)], nulls_last=True)
        .with_columns(
            (pl.col("patient_id") != pl.col("patient_id").shift(1)).fill_null(True).cum_sum().cast(pl.UInt64)
            .alias("_patient")
        )
    )  # fmt: skip
    parts = []
    for line in present:
        gcol = grade_column(scheme_id, line.column)
        grade = pl.col(gcol).cast(pl.Int8) if gcol in schema else pl.lit(None, pl.Int8)
        lln = pl.col(lln_column(line.column))
        entry = lln if line.entry is None else pl.lit(float(line.entry), pl.Float64)
        exit_ = entry if line.exit is None else pl.max_horizontal(pl.lit(float(line.exit), pl.Float64), entry)
        parts.append(
            ordered.select(
                "patient_id",
                "specimen_id",
                "taken_at",
                pl.lit(line.name).alias("line"),
                pl.col(line.column).alias("value"),
                grade.alias("grade"),
                lln.alias("lln"),
                pl.col(uln_column(line.column)).alias("uln"),
                pl.col(limit_column(line.column)).alias("limit_id"),
                entry.alias("entry"),
                exit_.alias("exit"),
                pl.col("_age_days").alias("age_days"),
                _warned(schema, line.column).alias("lab_range_only"),
                (pl.col("_patient") * len(present) + rank[line.name]).alias("_series_key"),
            ).filter(pl.col("value").is_not_null())
        )
    long = pl.concat(parts, how="vertical").sort("_series_key", maintain_order=True)
    series = (pl.col("_series_key") != pl.col("_series_key").shift(1)).fill_null(True).cum_sum().cast(pl.UInt32)
    return long.with_columns(series.alias("series")).drop("_series_key")


#: The panels' warning that a count is low only by the lab's range (the lab's range wins), while it lies
#: inside the Duffy-null reference interval (Hibbs et al., Blood 2025): {count column: warning code}.
LAB_RANGE_ONLY_WARNINGS = {"anc": "duffy_null_range"}


def _warned(schema: pl.Schema, column: str) -> pl.Expr:
    """Whether the screening stage flagged this count as low only by the lab's range (see above)."""
    code = LAB_RANGE_ONLY_WARNINGS.get(column)
    if code is None or not isinstance(schema.get("warnings"), pl.List):
        return pl.lit(False)
    return pl.col("warnings").cast(pl.List(pl.String)).list.contains(code).fill_null(False)


def _crossing_days(v0: pl.Expr, v1: pl.Expr, days: pl.Expr, level: float) -> pl.Expr:
    """Days below `level` between two counts, interpolating linearly in time."""
    frac = (
        pl.when((v0 < level) & (v1 < level))
        .then(1.0)
        .when((v0 >= level) & (v1 >= level))
        .then(0.0)
        .when(v0 < level)
        .then((level - v0) / (v1 - v0))
        .otherwise((level - v1) / (v0 - v1))
    )
    return frac * days


def mark_episodes(long: pl.LazyFrame, params: CourseParams) -> pl.LazyFrame:
    """Add state columns to the long counts: seg, low, in_ep, end_flag, ep_no, next_* and interval days, and
    `episode_key`, an integer per episode (null outside episodes) that follows the row order like `series`
    (one per patient and line, from `long_counts`), so later group-bys and joins hash one integer, not text.

    Hysteresis is a forward fill of the last decisive signal (1 = below entry, 0 = recovered) within a
    gap-free segment, so no row-by-row loop is needed. The rows arrive sorted by patient, line and time, so
    group boundaries are found by comparing each row with its neighbour: whole-column shifts instead of
    per-group windows, which keeps the cost close to that of the sort.
    """
    new_group = (pl.col("series") != pl.col("series").shift(1)).fill_null(True)
    gap = (pl.col("taken_at") - pl.col("taken_at").shift(1)).dt.total_microseconds() / DAY_US
    lf = long.with_columns(
        new_group.alias("new_group"),
        (new_group | (gap > params.max_gap_days).fill_null(True)).alias("new_seg"),
    ).with_columns(pl.col("new_seg").cum_sum().alias("seg"))

    def ahead(col: str, j: int) -> pl.Expr:  # the value j rows ahead within the same segment, else null
        return pl.when(pl.col("seg").shift(-j) == pl.col("seg")).then(pl.col(col).shift(-j))

    # Recovery is confirmed when this count and the next confirm_recovery - 1 counts of the segment are each at
    # or above their own exit level. A count without a level (not assessed) neither enters nor confirms.
    ok = pl.min_horizontal([(ahead("value", j) >= ahead("exit", j)) for j in range(params.confirm_recovery)]).fill_null(
        False
    )
    signal = pl.when(pl.col("value") < pl.col("entry")).then(1).when(ok).then(0)
    # A segment starts outside an episode unless its first count is low, so the fill never crosses segments.
    signal = pl.when(pl.col("new_seg")).then(signal.fill_null(0)).otherwise(signal)
    lf = lf.with_columns(
        (pl.col("value") < pl.col("entry")).fill_null(False).alias("low"),
        pl.col("entry").is_not_null().alias("assessed"),
        (signal.forward_fill() == 1).alias("in_ep"),
    )
    prev_in = (pl.col("in_ep").shift(1) & ~pl.col("new_seg")).fill_null(False)
    last = pl.col("new_group").shift(-1).fill_null(True)
    lf = lf.with_columns(
        (pl.col("in_ep") & ~prev_in).alias("ep_start"),
        (~pl.col("in_ep") & prev_in).alias("end_flag"),
        ahead("value", 1).alias("next_value"),
        (ahead("taken_at", 1) - pl.col("taken_at")).dt.total_microseconds().truediv(DAY_US).alias("next_days"),
        last.alias("is_last"),
    )
    # Episode numbers restart at 1 for each patient and line: subtract the running count at the group start.
    cum = pl.col("ep_start").cast(pl.UInt32).cum_sum()
    lf = lf.with_columns(cum.alias("_cum")).with_columns(
        (pl.col("_cum") - pl.when(pl.col("new_group")).then(pl.col("_cum") - pl.col("ep_start")).forward_fill())
        .cast(pl.UInt32)
        .alias("ep_no")
    )
    part = pl.col("in_ep") | pl.col("end_flag")
    return lf.with_columns(
        pl.when(part).then(pl.col("ep_no")).otherwise(None).alias("ep_no"),
        pl.when(part).then(pl.col("_cum")).otherwise(None).alias("episode_key"),
    ).drop("_cum", "new_group", "new_seg")


def _by_line(values: dict[str, float | None]) -> pl.Expr:
    return pl.col("line").replace_strict(values, default=None, return_dtype=pl.Float64)


def _aggregate(marked: pl.LazyFrame, params: CourseParams) -> pl.LazyFrame:
    """One row per episode. An episode's rows are its in-episode counts followed, when it recovered, by the one
    recovering count (`mark_episodes`), so "the first in-episode count" is the first row: the values that only
    in-episode rows give are masked row by row first, and the aggregations are then plain sums, maxima, firsts."""
    ine = pl.col("in_ep")
    masked = {
        "_end_at": pl.when(pl.col("end_flag")).then(pl.col("taken_at")),
        "_low_at": pl.when(ine).then(pl.col("taken_at")),
        "_ongoing": pl.when(ine).then(pl.col("is_last")),
        "_grade_in": pl.when(ine).then(pl.col("grade")),
        # The nadir: the lowest count in the episode, the earliest of equal ones (rows are in time order).
        "_nadir_key": pl.when(ine).then(pl.col("value")).otherwise(math.inf),
    }
    masked |= {
        f"_{below_column(lvl)}": pl.when(ine & pl.col("next_value").is_not_null()).then(
            _crossing_days(pl.col("value"), pl.col("next_value"), pl.col("next_days"), lvl)
        )
        for lvl in params.below
    }
    nadir = pl.col("_nadir_key").arg_min()
    return (
        marked.filter(pl.col("episode_key").is_not_null())
        .with_columns(**masked)
        .group_by("episode_key", maintain_order=True)  # episodes in row order: by patient, line and number
        .agg(
            *(pl.col(c).first() for c in ("patient_id", "line", "ep_no", "series")),
            pl.col("taken_at").first().alias("start"),
            pl.col("_end_at").last().alias("end"),
            pl.col("_low_at").max().alias("last_low_at"),
            pl.col("_ongoing").any().alias("ongoing"),
            ine.sum().cast(pl.UInt32).alias("n_counts"),
            pl.col("low").sum().cast(pl.UInt32).alias("n_low"),
            pl.col("_nadir_key").min().alias("nadir"),
            pl.col("taken_at").get(nadir).alias("nadir_at"),
            pl.col("specimen_id").get(nadir).alias("nadir_specimen_id"),
            pl.col("lln").get(nadir).alias("nadir_lln"),
            pl.col("age_days").get(nadir).alias("nadir_age_days"),
            pl.col("lln").first().alias("lln"),
            pl.col("limit_id").first().alias("limit_id"),
            pl.col("_grade_in").max().alias("column_grade"),
            pl.col("_grade_in").is_not_null().any().alias("has_grade"),
            *(pl.col(f"_{below_column(lvl)}").sum().alias(below_column(lvl)) for lvl in params.below),
        )
        .with_columns(
            pl.when(pl.col("end").is_not_null())
            .then(pl.lit("recovery"))
            .when(pl.col("ongoing"))
            .then(pl.lit("end of series"))
            .otherwise(pl.lit("gap"))
            .alias("end_reason"),
            ((pl.coalesce("end", "last_low_at") - pl.col("start")).dt.total_microseconds() / DAY_US).alias(
                "duration_days"
            ),
        )
    )


def _recovery_days(long: pl.LazyFrame, params: CourseParams) -> pl.LazyFrame:
    """Candidate recovery days: the first day of each run of `recovery_run_days` qualifying calendar days."""
    levels = {line.name: line.recovery_level for line in params.lines if line.recovery_level is not None}
    n = params.recovery_run_days
    daily = (
        long.filter(pl.col("line").is_in(list(levels)))
        .with_columns(pl.col("taken_at").dt.date().alias("day"))
        .group_by(["series", "day"], maintain_order=True)  # the rows are in time order within a series
        .agg(pl.col("line").first(), pl.col("value").min().alias("day_min"))
        .filter(pl.col("day_min") >= _by_line(levels))
    )
    # Runs of consecutive qualifying days, found by comparing neighbours (the rows are sorted).
    brk = (
        (pl.col("series") != pl.col("series").shift(1)) | (pl.col("day") != pl.col("day").shift(1).dt.offset_by("1d"))
    ).fill_null(True)
    end = brk.shift(-1).fill_null(True)
    i = pl.int_range(pl.len())
    run_end = pl.when(end).then(i).backward_fill()
    return (
        daily.with_columns((run_end - i + 1).alias("left"))  # qualifying days from this one to the run's end
        .filter(pl.col("left") >= n)
        .select("series", pl.col("day").alias("recovery_day"))
    )


def _grades_of(
    term: Term, values: np.ndarray, lln: float | None, age_days: int | None = None
) -> list[tuple[int | None, str | None]]:
    """The scalar grader's answer for each value, calling it once per threshold interval, not per value.

    A grade is a chain of comparisons against the rule bounds, so it is constant between consecutive bounds:
    we grade each bound itself and one point inside each interval, then look every value up. Values whose
    interval is not gradable are graded one by one, because their reason names the value.
    """
    band = term.band_for(age_days)
    if band is None or band.not_gradable:  # depends on an age we do not have: the same answer for all
        g = evaluate(term, float(values[0]), lln=lln, age_days=age_days)
        return [(g.grade, g.reason)] * len(values)
    bounds = sorted({lln if r.bound == LLN else float(r.bound) for r in band.rules} - {None})
    b = np.asarray(bounds, float)
    inner = np.concatenate([[b[0] / 2 if b[0] > 0 else b[0] - 1], (b[:-1] + b[1:]) / 2, [b[-1] + 1]])
    at_bound = [evaluate(term, float(x), lln=lln, age_days=age_days).grade for x in b]
    in_interval = [evaluate(term, float(x), lln=lln, age_days=age_days).grade for x in inner]
    idx = np.searchsorted(b, values, side="left")
    out: list[tuple[int | None, str | None]] = []
    for v, i in zip(values.tolist(), idx.tolist(), strict=True):
        g = at_bound[i] if i < len(b) and b[i] == v else in_interval[i]
        if g is None:
            r = evaluate(term, v, lln=lln, age_days=age_days)
            out.append((r.grade, r.reason))
        else:
            out.append((g, None))
    return out


_GRADED_SCHEMA = {
    "line": pl.String,
    "nadir": pl.Float64,
    "nadir_lln": pl.Float64,
    "nadir_age_days": pl.Int64,
    "nadir_grade": pl.Int8,
    "grade_reason": pl.String,
}


def _grade_from_nadir(ep: pl.DataFrame, params: CourseParams, scheme_id: str) -> pl.DataFrame:
    """Worst grade: the max of the per-count grade column when given, else the scalar grade of the nadir.

    The nadir is graded against its own specimen's LLN (and age, for schemes graded by age), once per
    distinct (nadir, LLN, age) rather than once per episode.
    """
    parts = []
    try:
        sch, why_scheme = get_scheme(scheme_id), None
    except CriteriaError as e:
        sch, why_scheme = None, str(e)
    for line in params.lines:
        todo = ep.filter((pl.col("line") == line.name) & ~pl.col("has_grade"))
        if todo.is_empty():
            continue
        term, why = None, why_scheme
        if sch is not None:
            try:
                term = sch.term(line.term)
            except CriteriaError as e:
                why = str(e)
        by_age = term is not None and term.needs_age
        keys = todo.select(
            "nadir", "nadir_lln", (pl.col("nadir_age_days") if by_age else pl.lit(None, pl.Int64)).alias("age")
        ).unique()
        for lln, age, g in keys.group_by("nadir_lln", "age").agg(pl.col("nadir")).iter_rows():
            values = np.asarray(sorted(g), float)
            graded = [(None, why)] * len(values) if term is None else _grades_of(term, values, lln, age)
            frame = {
                "line": line.name,
                "nadir": values,
                "nadir_lln": pl.Series([lln] * len(values), dtype=pl.Float64),
                "nadir_age_days": pl.Series([age] * len(values), dtype=pl.Int64),
                "nadir_grade": pl.Series([x for x, _ in graded], dtype=pl.Int8),
                "grade_reason": pl.Series([r for _, r in graded], dtype=pl.String),
            }
            parts.append(pl.DataFrame(frame, schema=_GRADED_SCHEMA))
        if not by_age:
            ep = ep.with_columns(
                pl.when(pl.col("line") == line.name)
                .then(None)
                .otherwise(pl.col("nadir_age_days"))
                .alias("nadir_age_days")
            )
    table = pl.concat(parts) if parts else pl.DataFrame(schema=_GRADED_SCHEMA)
    out = ep.join(
        table, on=["line", "nadir", "nadir_lln", "nadir_age_days"], how="left", nulls_equal=True, maintain_order="left"
    )
    return out.with_columns(
        pl.when(pl.col("has_grade"))
        .then(pl.col("column_grade"))
        .otherwise(pl.col("nadir_grade"))
        .cast(pl.Int8)
        .alias("worst_grade"),
        pl.when(pl.col("has_grade")).then(pl.lit("column")).otherwise(pl.lit("nadir")).alias("grade_source"),
        pl.when(pl.col("has_grade")).then(None).otherwise(pl.col("grade_reason")).alias("grade_reason"),
    ).drop("column_grade", "nadir_grade", "has_grade", "nadir_lln", "nadir_age_days")


EPISODE_COLUMNS = (
    "patient_id",
    "line",
    "episode",
    "start",
    "end",
    "last_low_at",
    "ongoing",
    "end_reason",
    "duration_days",
    "n_counts",
    "nadir",
    "nadir_at",
    "nadir_specimen_id",
    "worst_grade",
    "grade_source",
    "grade_reason",
    "recovery_day",
)
#: What each episode was judged against: the lower limit of its first count, where that limit came from
#: (lab, profile, given, fixed) and its source (the lab, or the profile row's citation).
LIMIT_COLUMNS = ("lln", "lln_origin", "lln_source")


def episodes_from_marked(
    marked: pl.LazyFrame, params: CourseParams, scheme_id: str, limits: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The episodes table from the marked long counts (see `mark_episodes`) and the limit descriptions, with
    the integer keys `series` and `episode_key` last (`public_episodes` drops them)."""
    ep = _aggregate(marked, params)
    # The recovery day must come after the nadir and before the next episode of the same line starts.
    same_series = pl.col("series").shift(-1) == pl.col("series")
    ep = ep.with_columns(
        pl.when(same_series).then(pl.col("start").shift(-1)).alias("next_start"),
        pl.col("nadir_at").dt.date().alias("nadir_day"),
    )
    levels = _by_line({line.name: line.recovery_level for line in params.lines})
    cands = _recovery_days(marked, params).sort("recovery_day")
    ep = (
        ep.sort("nadir_day")
        .join_asof(
            cands,
            left_on="nadir_day",
            right_on="recovery_day",
            by="series",
            strategy="forward",
            allow_exact_matches=False,
            check_sortedness=False,
        )
        .with_columns(
            pl.when(
                (pl.col("nadir") < levels)
                & (pl.col("next_start").is_null() | (pl.col("recovery_day") < pl.col("next_start").dt.date()))
            )
            .then(pl.col("recovery_day"))
            .otherwise(None)
            .alias("recovery_day")
        )
        .sort("episode_key")
        .collect()
    )
    ep = _grade_from_nadir(ep, params, scheme_id)
    table = limits if limits is not None else pl.DataFrame(schema=TABLE_SCHEMA)
    ep = ep.join(
        table.select("limit_id", pl.col("origin").alias("lln_origin"), pl.col("source").alias("lln_source")),
        on="limit_id",
        how="left",
        maintain_order="left",
    )
    ep = ep.with_columns(pl.col("ep_no").cast(pl.UInt32).alias("episode"))
    cols = [*EPISODE_COLUMNS[:-1], *(below_column(lvl) for lvl in params.below), EPISODE_COLUMNS[-1], *LIMIT_COLUMNS]
    return ep.select(*cols, *EPISODE_KEYS)


#: The integer keys of an episode row inside the course stage (see `mark_episodes`), not part of the outputs.
EPISODE_KEYS = ("series", "episode_key")


def public_episodes(ep: pl.DataFrame) -> pl.DataFrame:
    """The episodes table as users get it: without the internal integer keys."""
    return ep.drop(EPISODE_KEYS, strict=False)


def episodes(
    panels: pl.DataFrame | pl.LazyFrame,
    *,
    scheme: str = "ctcae-v5",
    params: CourseParams | None = None,
) -> pl.DataFrame:
    """One row per episode of low counts, per patient and line (the screening stage's `episodes` output).

    Columns: patient_id, line, episode (1, 2, ... per line), start, end (the recovering count; null when
    ongoing or cut by a gap), last_low_at, ongoing, end_reason (recovery | end of series | gap),
    duration_days (to end, else to the last count in the episode), n_counts, nadir, nadir_at,
    nadir_specimen_id, days_below_0_5, days_below_0_1 (linear interpolation between counts; a lone count
    adds nothing), worst_grade, grade_source, grade_reason, recovery_day, and what the episode was judged
    against: lln (the lower limit of its first count), lln_origin (lab | profile | given | fixed) and
    lln_source.
    """
    p = params or CourseParams()
    return public_episodes(analyse(panels, scheme=scheme, params=p).episodes)


@dataclass(frozen=True, slots=True)
class Analysis:
    """The marked long counts (one row per patient, line and count), the episodes built from them, and the
    limit descriptions their limit_id columns point to (limit_id, origin, source, reason)."""

    counts: pl.DataFrame
    episodes: pl.DataFrame
    limits: pl.DataFrame


def with_limits(panels: pl.LazyFrame, params: CourseParams) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """The prepared panels with each count's lower limit (see `limits.attach_limits`)."""
    return attach_limits(panels, [line.column for line in params.lines], profile=params.profile, fixed=dict(params.lln))


def analyse(panels: pl.DataFrame | pl.LazyFrame, *, scheme: str, params: CourseParams) -> Analysis:
    """Prepare, mark and aggregate once, so the course and cyclic stages reuse the same counts."""
    lf, limits = with_limits(prepare(panels, params), params)
    marked = mark_episodes(long_counts(lf, params, scheme), params).collect()
    return Analysis(marked, episodes_from_marked(marked.lazy(), params, scheme, limits), limits)


__all__ = [
    "DEFAULT_LINES",
    "LYMPHOCYTES",
    "NEUTROPHILS",
    "WHITE_CELLS",
    "CourseParams",
    "Line",
    "episodes",
    "grade_column",
    "panel_columns",
]
