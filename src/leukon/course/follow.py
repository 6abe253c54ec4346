"""`follow`: one call from a panels table to each patient's episodes, course labels and cyclic verdict.

The tables (episodes, course labels, the lower limits used) are computed in Polars for a batch of patients at
once (`follow_stream` hands each batch on before building the next); this module only turns their rows into the
typed results and writes the plain-language reasons, which name the lower limit each count was judged against
and where it came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import polars as pl

from leukon.frames import in_memory_engine, run_starts
from leukon.rules.criteria import LLN
from leukon.rules.criteria import scheme as get_scheme

from ..errors import CriteriaError, InputError, did_you_mean
from .classify import course_table
from .cyclic import NO_DATA, CyclicResult, detect_many
from .episodes import CourseParams, Line, analyse, below_column, prepare, public_episodes
from .limits import check_contexts
from .model import (
    Count,
    CountSeries,
    Course,
    Episode,
    FollowResult,
    FollowStream,
    Limit,
    LineInfo,
    PatientCourse,
    Treatment,
    counts_of,
)

Frame = pl.DataFrame | pl.LazyFrame


def prepare_treatments(treatments: Frame | None) -> pl.DataFrame | None:
    """Check and cast the optional treatments table: patient_id, date (Date), label."""
    if treatments is None:
        return None
    df = treatments.lazy().collect() if isinstance(treatments, pl.LazyFrame) else treatments
    for name in ("patient_id", "date"):
        if name not in df.columns:
            raise InputError(name, f"treatments have no {name!r} column.{did_you_mean(name, df.columns)}")
    d = df.schema["date"]
    if d == pl.String:  # ISO dates (a time of day is allowed and dropped); 03/01/2024 is not guessed
        from leukon.sources.base import parse_time

        date = parse_time(pl.col("date"), pl.String, fmt="%Y-%m-%d").dt.date()
    else:
        date = pl.col("date").cast(pl.Date)
    label = pl.col("label").cast(pl.String).fill_null("treatment") if "label" in df.columns else pl.lit("treatment")
    out = df.select(pl.col("patient_id").cast(pl.String), date.alias("date"), label.alias("label"))
    if out["date"].null_count() > df["date"].null_count():
        raise InputError("date", "treatment dates must be dates like 2024-03-01")
    return out.drop_nulls(["patient_id", "date"]).unique().sort("patient_id", "date", "label")


def attach_treatments(episodes: pl.DataFrame, treatments: pl.DataFrame | None) -> pl.DataFrame:
    """Add the latest treatment on or before each nadir, and the nadir's day counted from it (day 0 = treatment)."""
    if treatments is None or treatments.is_empty():
        return episodes.with_columns(
            pl.lit(None, pl.Date).alias("treatment_date"),
            pl.lit(None, pl.String).alias("treatment_label"),
            pl.lit(None, pl.Int32).alias("nadir_day_after_treatment"),
        )
    tr = treatments.rename({"date": "treatment_date", "label": "treatment_label"}).sort("treatment_date")
    out = (
        episodes.with_columns(pl.col("nadir_at").dt.date().alias("_nadir_day"))
        .sort("_nadir_day")
        .join_asof(
            tr,
            left_on="_nadir_day",
            right_on="treatment_date",
            by="patient_id",
            strategy="backward",
            check_sortedness=False,
        )
        .with_columns(
            (pl.col("_nadir_day") - pl.col("treatment_date"))
            .dt.total_days()
            .cast(pl.Int32)
            .alias("nadir_day_after_treatment")
        )
        .drop("_nadir_day")
    )
    return out.sort("patient_id", "line", "episode")


def grade_bounds(line: Line, scheme_id: str) -> tuple[tuple[int, float], ...]:
    """(grade, "below this") for a chart, read from the scheme's own rules (never re-typed here)."""
    try:
        term = get_scheme(scheme_id).term(line.term)
    except CriteriaError:
        return ()
    if term.needs_age:
        return ()
    return tuple((r.grade, float(r.bound)) for r in term.rules if r.bound != LLN and r.op == "<")


def latest_limits(counts: pl.DataFrame, limits: pl.DataFrame) -> pl.DataFrame:
    """Per patient and line: the range of the latest count that has a lower limit (lln, uln, origin, source)."""
    return (
        counts.filter(pl.col("lln").is_not_null())
        .group_by("patient_id", "line")
        .agg(pl.col("lln").last(), pl.col("uln").last(), pl.col("limit_id").last())
        .join(limits.select("limit_id", "origin", "source"), on="limit_id", how="left")
    )


def line_info(
    line: Line,
    scheme_id: str,
    params: CourseParams,
    latest: dict | None = None,
    bounds: tuple[tuple[int, float], ...] | None = None,
) -> LineInfo:
    """Thresholds for charts and reports: the scheme's grade bounds and the range a reader compares the
    latest value with (`latest`: a row of `latest_limits`; None when no count of the line has a limit)."""
    bounds = grade_bounds(line, scheme_id) if bounds is None else bounds
    r = latest or {}
    lln = r.get("lln")
    entry = line.entry if line.entry is not None else lln
    return LineInfo(line.name, line.column, entry, lln, r.get("uln"), bounds, r.get("origin"), r.get("source"))


def _d(x: dt.datetime | dt.date | None) -> str:
    return "?" if x is None else (x.date() if isinstance(x, dt.datetime) else x).isoformat()


_ORIGIN_WORDS = {"lab": "the lab's range", "given": "given with the counts", "fixed": "fixed by the caller"}


def _origin_words(limit: Limit) -> str:
    return limit.source if limit.origin == "profile" else _ORIGIN_WORDS.get(limit.origin, limit.origin)


def _against(line: Line, limits: tuple[Limit, ...]) -> str:
    """What the counts were compared with, in words: a fixed cut-off, one lower limit, or each count's own."""
    if line.entry is not None:
        return f"the fixed cut-off {line.entry:g} x 10^9/L"
    if not limits:
        return "their lower limit of normal"
    origins = "; ".join(dict.fromkeys(_origin_words(x) for x in limits))
    lo, hi = min(x.lln for x in limits), max(x.lln for x in limits)
    if lo == hi:
        return f"the lower limit {lo:g} x 10^9/L [{origins}]"
    return f"each count's own lower limit ({lo:g}-{hi:g} x 10^9/L) [{origins}]"


def _reason(line: Line, row: dict, eps: list[Episode], limits: tuple[Limit, ...] = ()) -> str:
    label, n = row["label"], row["n_counts"]
    against = _against(line, limits)
    if label == "none":
        return f"all {n} count(s) were at or above {against}"
    if label == "severe chronic":
        return (
            f"every count from {_d(row['sev_first'])} to {_d(row['sev_last'])} was below {line.severe_chronic:g}"
            f" x 10^9/L, more than 3 months (severe chronic neutropenia, SCNIR)"
        )
    if label == "chronic":
        return (
            f"low, below {against}, on {row['low_days']} days from {_d(row['first_low'])} to"
            f" {_d(row['last_low'])} without recovery: at least 3 occasions over at least 3 months"
        )
    if label == "recurrent":
        return (
            f"{len(eps)} separate episodes below {against} with recovery or a gap between them;"
            " none lasted 3 months with 3 low counts"
        )
    e = eps[0]
    if label == "indeterminate":
        return (
            f"the episode from {_d(e.start)} lasted 3 months or more, but its {row['low_days']} low count(s) span"
            f" only {_d(row['first_low'])} to {_d(row['last_low'])}; chronic needs at least 3 low counts spanning"
            " 3 months"
        )
    what = "one count only" if n == 1 else f"one episode from {_d(e.start)}, nadir {e.nadir:g} on {_d(e.nadir_at)}"
    what += f", below {against}"
    if e.ongoing:
        return f"{what}, still low at the last count; if it stays low for 3 months it becomes chronic"
    if e.end_reason == "gap":
        return f"{what}; the counts stop for a long gap afterwards, so its end is unknown"
    return f"{what}, recovered on {_d(e.end)} after {e.duration_days:.0f} days (shorter than 3 months)"


#: The fields of a count the per-patient results read (`_series_rows`).
_COUNT_FIELDS = ("taken_at", "value", "specimen_id", "lln", "low", "lab_range_only", "ep_no")
_AT, _VALUE, _LOW, _LAB_ONLY, _EPISODE = (
    _COUNT_FIELDS.index(f) for f in ("taken_at", "value", "low", "lab_range_only", "ep_no")
)


def _evidence(rows: list[tuple], row: dict, line: Line) -> tuple[Count, ...]:
    """The counts behind a line's label (rows of `_COUNT_FIELDS`, in time order)."""
    label = row["label"]
    if label in ("none", "not assessed"):
        return ()
    if label == "severe chronic":
        first, last = row["sev_first"], row["sev_last"]
        return counts_of([r for r in rows if first <= r[_AT] <= last and r[_VALUE] < line.severe_chronic])
    if label in ("chronic", "indeterminate"):
        ep = row["label_episode"]
        return counts_of([r for r in rows if r[_LOW] and ep is not None and r[_EPISODE] == ep])
    return counts_of([r for r in rows if r[_LOW]])


def _series_rows(counts: pl.DataFrame) -> dict[tuple[str, str], list[tuple]]:
    """The long counts as Python rows of `_COUNT_FIELDS` by (patient, line), each in time order.

    A patient's results are built in Python, and filtering a few dozen rows in Python costs microseconds where
    a Polars query costs a tenth of a millisecond: one conversion here instead of a dozen queries a patient.
    The counts come in runs of one patient and line (`episodes.long_counts`), so the rows are converted in one
    call and cut at the runs' starts, instead of a Python step a row (a fifth of `follow`'s time); a key met in
    two runs still gets all its rows, in their order."""
    starts = counts.select(run_starts(["patient_id", "line"])).to_series().arg_true()
    if starts.is_empty():
        return {}
    keys = counts.select("patient_id", "line")[starts].rows()
    rows = counts.select(_COUNT_FIELDS).rows()
    firsts = starts.to_list()
    out: dict[tuple[str, str], list[tuple]] = {}
    for key, a, b in zip(keys, firsts, [*firsts[1:], len(rows)], strict=True):
        if key in out:
            out[key].extend(rows[a:b])
        else:
            out[key] = rows[a:b]
    return out


def _rows_by_patient(table: pl.DataFrame) -> dict[str, list[dict]]:
    """The rows of `table` as dicts, by patient_id, in the table's order."""
    out: dict[str, list[dict]] = {}
    for r in table.iter_rows(named=True):
        out.setdefault(r["patient_id"], []).append(r)
    return out


def limits_table(counts: pl.DataFrame, limits: pl.DataFrame) -> pl.DataFrame:
    """Per patient and line: each distinct lower limit used (lln, origin, source, n_counts), for all at once."""
    return (
        counts.filter(pl.col("lln").is_not_null())
        .group_by("patient_id", "line", "lln", "limit_id")
        .agg(pl.len().alias("n_counts"))
        .join(limits, on="limit_id", how="left")
        .sort("patient_id", "line", "lln", "origin", "source", nulls_last=True)
    )


def not_assessed_table(counts: pl.DataFrame, limits: pl.DataFrame) -> pl.DataFrame:
    """Per patient and line: how many counts had no lower limit, and why (distinct reasons, joined)."""
    return (
        counts.filter(~pl.col("assessed"))
        .join(limits.select("limit_id", "reason"), on="limit_id", how="left")
        .group_by("patient_id", "line")
        .agg(
            pl.len().alias("n_not_assessed"),
            pl.col("reason").drop_nulls().unique().sort().str.join("; ").alias("reason"),
            pl.col("age_days").min().alias("min_age_days"),
            pl.col("age_days").max().alias("max_age_days"),
        )
        .with_columns(  # the reasons say "at this age": name the ages of these counts instead
            pl.col("reason").str.replace_all(
                "at this age",
                pl.when(pl.col("min_age_days") == pl.col("max_age_days"))
                .then(pl.format("at age {} days", "min_age_days"))
                .otherwise(pl.format("at ages {}-{} days", "min_age_days", "max_age_days"))
                .fill_null("at this age"),
                literal=True,
            )
        )
        .drop("min_age_days", "max_age_days")
    )


def _episode(r: dict, params: CourseParams) -> Episode:
    tr = Treatment(r["treatment_date"], r["treatment_label"]) if r.get("treatment_date") else None
    return Episode(
        line=r["line"],
        episode=r["episode"],
        start=r["start"],
        end=r["end"],
        last_low_at=r["last_low_at"],
        ongoing=r["ongoing"],
        end_reason=r["end_reason"],
        duration_days=round(r["duration_days"], 3),
        n_counts=r["n_counts"],
        nadir=r["nadir"],
        nadir_at=r["nadir_at"],
        nadir_specimen_id=r["nadir_specimen_id"],
        worst_grade=r["worst_grade"],
        grade_source=r["grade_source"],
        grade_reason=r["grade_reason"],
        days_below={f"{lvl:g}": round(r[below_column(lvl)], 3) for lvl in params.below},
        recovery_day=r["recovery_day"],
        treatment=tr,
        nadir_day_after_treatment=r.get("nadir_day_after_treatment"),
        lln=r.get("lln"),
        lln_origin=r.get("lln_origin"),
        lln_source=r.get("lln_source"),
    )


def _cyclic_results(
    anc: pl.DataFrame, treatments: pl.DataFrame | None, params: CourseParams
) -> dict[str, CyclicResult]:
    """The cyclic test of each patient of `anc` (long counts of the neutrophil line, grouped by patient), all at
    once, with each patient's treatment dates when there are any; patients without counts are absent."""
    if anc.is_empty():
        return {}
    pid = anc["patient_id"]
    starts = (pid != pid.shift(1)).fill_null(True).arg_true()
    lengths = np.diff(np.append(starts.to_numpy(), len(pid)))
    who = pid.gather(starts).to_list()
    by_patient = (
        {} if treatments is None else {k[0]: v for k, v in treatments.partition_by("patient_id", as_dict=True).items()}
    )
    dates = [by_patient[p]["date"].cast(pl.Datetime("us")).to_numpy() if p in by_patient else None for p in who]
    entry = anc["entry"].fill_null(float("nan")).to_numpy()  # each count's LLN, or the line's fixed cut-off
    found = detect_many(
        anc["taken_at"].to_numpy(),
        anc["value"].to_numpy(),
        lengths,
        entry=entry,
        treatment_dates=dates,
        params=params.cyclic,
    )
    return dict(zip(who, found, strict=True))


def _neutrophil_line(params: CourseParams) -> Line | None:
    return next((line for line in params.lines if line.column == "anc"), None)


#: Patients whose courses are built together: a cohort is followed a batch at a time, so only one batch's rows
#: and results are held (all 139,860 patients of a 10.1 M-result screen at once took 6.2 GB).
BATCH_PATIENTS = 10_000


def follow(
    panels: Frame,
    patient_id: str | None = None,
    *,
    treatments: Frame | None = None,
    scheme: str = "ctcae-v5",
    params: CourseParams | None = None,
    time_format: str | None = None,
) -> FollowResult:
    """Episodes, course labels and the cyclic verdict for one patient (patient_id) or every patient.

    panels: patient_id, specimen_id, taken_at and counts in 10^9/L (anc, wbc, lymphocytes); optional
    per-count grade columns such as grade_ctcae_v5_anc; optional ranges per count (`<count>_lln`,
    `<count>_uln`, `<count>_range`, as `screen` writes them) and specimen context (age_days, sex, ancestry,
    profile) from which each count's range is chosen when no lower limit is given (see `limits`).
    time_format: the strftime format of a text taken_at, the only one then accepted; without it, text times
    are read as `screen` reads them, and numeric dates such as 03/01/2024 that nothing settles are refused.
    treatments: patient_id, date, label. Unknown patients, missing columns, bad dates or an unknown sex,
    ancestry or profile raise InputError; a series too thin to judge gives "insufficient data" or "no data",
    and counts without a range are "not assessed", rather than a guess.
    """
    stream = follow_stream(
        panels, patient_id, treatments=treatments, scheme=scheme, params=params, time_format=time_format
    )
    return FollowResult(tuple(stream), stream.scheme, stream.params)


@in_memory_engine
def follow_stream(
    panels: Frame,
    patient_id: str | None = None,
    *,
    treatments: Frame | None = None,
    scheme: str = "ctcae-v5",
    params: CourseParams | None = None,
    time_format: str | None = None,
    batch: int = BATCH_PATIENTS,
) -> FollowStream:
    """`follow` for output written as it comes: the input is checked here (the same InputErrors), and the courses
    are built `batch` patients at a time as the result is read, so a cohort's courses are never held whole. The
    patients' courses equal `follow`'s: nothing in one patient's course depends on another patient."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    p = params or CourseParams()
    sch = get_scheme(scheme).id
    from leukon.sources.io import polars_frame  # here: importing leukon.sources at start-up is slow

    panels = polars_frame(panels, field_name="panels")  # a pandas DataFrame is converted
    treatments = None if treatments is None else polars_frame(treatments, field_name="treatments")
    checked = prepare(panels, p, time_format=time_format).collect()
    ids_col = checked["patient_id"]
    if patient_id is not None:
        if not (ids_col == patient_id).any():
            known = ids_col.unique().drop_nulls().to_list()
            raise InputError(
                "patient", f"no counts for patient {patient_id!r}.{did_you_mean(patient_id, sorted(known)[:20])}"
            )
        checked = checked.filter(pl.col("patient_id") == patient_id)
    check_contexts(checked, profile=p.profile)  # a bad sex, ancestry or profile is found before any course is out
    # The rows in patient order (a patient's rows keep theirs), as row numbers: each batch gathers its own rows,
    # and the panels' columns are never copied whole.
    order = checked.select(pl.arg_sort_by("patient_id", nulls_last=True, maintain_order=True)).to_series()
    order = order.head(checked.height - checked["patient_id"].null_count())
    ids_col = checked["patient_id"].gather(order)
    ids = ids_col.unique(maintain_order=True).to_list()
    tr = prepare_treatments(treatments)
    bounds = {line.name: grade_bounds(line, sch) for line in p.lines}

    def batches() -> Iterator[list[PatientCourse]]:
        for first in range(0, len(ids), batch):
            chunk = ids[first : first + batch]
            lo = ids_col.search_sorted(chunk[0], side="left")
            hi = ids_col.search_sorted(chunk[-1], side="right")
            chunk_tr = None if tr is None else tr.filter(pl.col("patient_id").is_in(chunk))
            yield _courses(checked[order.slice(lo, hi - lo)], chunk, chunk_tr, sch, p, bounds)

    return FollowStream(sch, _params_dict(p), ids, batches())


@in_memory_engine
def _courses(
    panels: pl.DataFrame,
    ids: list[str],
    tr: pl.DataFrame | None,
    sch: str,
    p: CourseParams,
    bounds: dict[str, tuple[tuple[int, float], ...]],
) -> list[PatientCourse]:
    """The courses of patients `ids` (sorted), whose checked panels are `panels` and treatments `tr`."""
    a = analyse(panels, scheme=sch, params=p)
    eps = attach_treatments(a.episodes, tr)
    courses = course_table(a.counts, a.episodes, p)
    used = _by_patient_line(limits_table(a.counts, a.limits))
    unknown = _by_patient_line(not_assessed_table(a.counts, a.limits))
    latest = _by_patient_line(latest_limits(a.counts, a.limits))
    by_series = _series_rows(a.counts)
    eps_by = _rows_by_patient(eps)
    course_by = _rows_by_patient(courses)
    tr_by = {} if tr is None else _rows_by_patient(tr)
    anc_line = _neutrophil_line(p)
    anc = a.counts.filter(pl.col("line") == anc_line.name) if anc_line else a.counts.clear()
    cyclic = _cyclic_results(anc, tr, p)
    out = []
    for pid in ids:
        episodes = [_episode(r, p) for r in eps_by.get(pid, ())]
        rows = {r["line"]: r for r in course_by.get(pid, ())}
        result: dict[str, Course] = {}
        series: dict[str, list] = {}
        infos = []
        for line in p.lines:
            lc = series[line.name] = by_series.get((pid, line.name), [])
            infos.append(line_info(line, sch, p, latest.get((pid, line.name), [None])[0], bounds[line.name]))
            row = rows.get(line.name)
            if row is None:
                result[line.name] = Course(line.name, "no data", f"no {line.column} values")
                continue
            le = [e for e in episodes if e.line == line.name]
            limits = tuple(
                Limit(r["lln"], r["origin"], r["source"], r["n_counts"]) for r in used.get((pid, line.name), ())
            )
            gap = unknown.get((pid, line.name), ({"n_not_assessed": 0, "reason": None},))[0]
            n_gap, why = gap["n_not_assessed"], gap["reason"]
            if row["label"] == "not assessed":
                reason = f"none of the {n_gap} count(s) could be judged low or normal: {why}"
            else:
                reason = _reason(line, row, le, limits)
                if n_gap:
                    reason += f"; {n_gap} count(s) not assessed: {why}"
                flagged = sum(1 for r in lc if r[_LOW] and r[_LAB_ONLY])
                if flagged:
                    reason += (
                        f"; {flagged} low count(s) are low only by the lab's range and lie within the Duffy-null"
                        " reference interval (Hibbs et al., Blood 2025), so they may be normal for this person"
                    )
            result[line.name] = Course(
                line.name,
                row["label"],
                reason,
                row["n_counts"],
                row["n_episodes"],
                _evidence(lc, row, line),
                limits,
                n_gap,
                why,
            )
        ptr = tr_by.get(pid)
        out.append(
            PatientCourse(
                patient_id=pid,
                scheme=sch,
                courses=result,
                episodes=tuple(episodes),
                cyclic=cyclic.get(pid, NO_DATA),
                treatments=() if ptr is None else tuple(Treatment(r["date"], r["label"]) for r in ptr),
                lines=tuple(infos),
                series=CountSeries(series),
            )
        )
    return out


def _by_patient_line(table: pl.DataFrame) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = {}
    for r in table.iter_rows(named=True):
        out.setdefault((r["patient_id"], r["line"]), []).append(r)
    return out


def _params_dict(p: CourseParams) -> dict:
    """The parameters in the JSON output: entry/exit are the fixed cut-offs (null: each specimen's LLN)."""
    return {
        "lines": [
            {
                "name": x.name,
                "column": x.column,
                "term": x.term,
                "entry": x.entry,
                "exit": x.exit,
                "entry_rule": x.describe_entry(),
                "exit_rule": x.describe_exit(),
                "lln": p.lln.get(x.column),
            }
            for x in p.lines
        ],
        "profile": p.profile,
        "max_gap_days": p.max_gap_days,
        "confirm_recovery": p.confirm_recovery,
        "recovery_run_days": p.recovery_run_days,
        "below": list(p.below),
        "cyclic_alpha": p.cyclic.alpha,
    }


def patients_table(
    panels: Frame, *, treatments: Frame | None = None, scheme: str = "ctcae-v5", params: CourseParams | None = None
) -> pl.DataFrame:
    """One row per patient for the screening stage: course label, episodes and worst grade per line, cyclic verdict.

    Columns: patient_id; label_<line>, n_episodes_<line>, worst_grade_<line> for each line (neutrophils,
    white_cells, lymphocytes); cyclic; cyclic_period_days. A line without counts is labelled "no data".
    The cyclic test runs only for patients whose counts could meet the SCNIR protocol; the others get
    "insufficient data" (or "no data") without a periodogram.
    """
    return screen_tables(panels, treatments=treatments, scheme=scheme, params=params)[0]


@in_memory_engine
def screen_tables(
    panels: Frame, *, treatments: Frame | None = None, scheme: str = "ctcae-v5", params: CourseParams | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The screening stage's `patients` and `episodes` tables from one analysis of the panels."""
    p = params or CourseParams()
    sch = get_scheme(scheme).id
    lf = prepare(panels, p)
    out = lf.select(pl.col("patient_id").unique()).drop_nulls().collect()
    a = analyse(lf, scheme=sch, params=p)
    courses = course_table(a.counts, a.episodes, p)
    worst = a.episodes.group_by("patient_id", "line").agg(pl.col("worst_grade").max())
    per_line = courses.select("patient_id", "line", "label", "n_episodes").join(
        worst, on=["patient_id", "line"], how="left"
    )
    for line in p.lines:
        sfx = line.name.replace(" ", "_")
        part = per_line.filter(pl.col("line") == line.name).select(
            "patient_id",
            pl.col("label").alias(f"label_{sfx}"),
            pl.col("n_episodes").alias(f"n_episodes_{sfx}"),
            pl.col("worst_grade").alias(f"worst_grade_{sfx}"),
        )
        out = out.join(part, on="patient_id", how="left").with_columns(
            pl.col(f"label_{sfx}").fill_null("no data"), pl.col(f"n_episodes_{sfx}").fill_null(0)
        )
    tr = prepare_treatments(treatments)
    anc_line = _neutrophil_line(p)
    c = p.cyclic
    anc = a.counts.filter(pl.col("line") == (anc_line.name if anc_line else ""))
    has_counts = anc["patient_id"].unique()
    dense = _could_meet_protocol(anc, c)
    cyc = _cyclic_verdicts(anc.filter(pl.col("series").is_in(dense.implode())), anc_line, tr, p)
    has_anc = pl.col("patient_id").is_in(has_counts.implode())
    patients = (
        out.join(cyc, on="patient_id", how="left")
        .with_columns(
            pl.coalesce("cyclic", pl.when(has_anc).then(pl.lit("insufficient data")).otherwise(pl.lit("no data")))
        )
        .sort("patient_id")
    )
    return patients, public_episodes(a.episodes)


def _cyclic_verdicts(
    anc: pl.DataFrame, line: Line | None, treatments: pl.DataFrame | None, params: CourseParams
) -> pl.DataFrame:
    """patient_id, cyclic, cyclic_period_days for the patients of `anc` (counts of one line, grouped by patient)."""
    schema = {"patient_id": pl.String, "cyclic": pl.String, "cyclic_period_days": pl.Float64}
    if line is None:
        return pl.DataFrame(schema=schema)
    found = _cyclic_results(anc, treatments, params)
    rows = [(pid, r.verdict, r.period_days) for pid, r in found.items()]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _could_meet_protocol(counts: pl.DataFrame, c) -> pl.Series:
    """The `series` (patient and line) with some window of weeks x 7 days holding at least weeks x
    counts_per_week counting days.

    A necessary condition of the SCNIR protocol (every week of the run needs its own counting days), checked
    for all patients at once; only these patients get the per-patient sampling check and periodogram. The
    counts come in order of series and time (`episodes.long_counts`), so the counting days need no sort.
    """
    day = pl.col("day")
    new_day = ((pl.col("series") != pl.col("series").shift(1)) | (day != day.shift(1))).fill_null(True)
    days = counts.select("series", pl.col("taken_at").dt.date().cast(pl.Int64).alias("day")).filter(new_day)
    if days.is_empty():
        return pl.Series("series", [], dtype=pl.UInt32)
    # Series far apart (10^7 days), so a window never reaches into the next series.
    key = days["series"].to_numpy().astype(np.int64) * 10_000_000 + days["day"].to_numpy()
    window = c.weeks * 7
    in_window = np.searchsorted(key, key + window, side="left") - np.arange(len(key))
    enough = in_window >= c.weeks * c.counts_per_week
    return days.filter(pl.Series(enough))["series"].unique()


__all__ = [
    "attach_treatments",
    "follow",
    "grade_bounds",
    "latest_limits",
    "limits_table",
    "line_info",
    "not_assessed_table",
    "patients_table",
    "prepare_treatments",
    "screen_tables",
]
