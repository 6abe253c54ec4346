"""`screen`: a lab table in, panels, grades, rejects and a run summary out, with every row accounted for.

    source (adapter)  ->  normalize (units, checks, duplicates)  ->  panels (pivot, derive, ranges)
                      ->  findings and grades (the same rules as `assess`)  ->  Parquet or CSV in DIR

Rows read = rows used + rows rejected, always: a row is used when at least one of its results reaches a
panel; a row none of whose results could be used is rejected; the rejects table lists every result that
was not used, with its reason (for a wide row that was otherwise used, `row_used` is true).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from leukon.errors import InputError
from leukon.findings.frame import classify_panels, grades_long
from leukon.findings.grade_exprs import grade_expr
from leukon.frames import in_memory_engine
from leukon.measurements.normalize import REJECT_SCHEMA, normalize
from leukon.panels.build import build_panels
from leukon.pipelines.reject_reasons import reason_counts, with_source_raw
from leukon.pipelines.row_ranges import row_ranges
from leukon.pipelines.run_folder import TABLES, RunFolder, write_tables
from leukon.pipelines.spill import can_spill, slice_of, spilled
from leukon.pipelines.table_parts import TableParts, table_parts
from leukon.rules.criteria import DEFAULT_PROFILE, scheme
from leukon.rules.ranges import check_profile

DEFAULT_SCREEN_SCHEMES = ("ctcae-v5", "clinical")
OUTPUT_FORMATS = ("parquet", "csv")


@dataclass
class ScreenResult:
    """The outputs of a screen: one DataFrame each, and the run summary (a dict, saved as summary.json)."""

    panels: pl.DataFrame
    grades: pl.DataFrame
    rejects: pl.DataFrame
    summary: dict = field(default_factory=dict)
    patients: pl.DataFrame | None = None
    episodes: pl.DataFrame | None = None

    def findings_count(self) -> dict[str, int]:
        """Specimens by finding code."""
        return self._count("findings")

    def warnings_count(self) -> dict[str, int]:
        """Specimens by warning code (differential sum, ANC mismatch, Duffy-null range, ...)."""
        return self._count("warnings")

    def _count(self, column: str) -> dict[str, int]:
        if self.panels.is_empty():
            return {}
        counts = self.panels.select(pl.col(column).explode().drop_nulls().value_counts(sort=True)).unnest(column)
        return dict(counts.iter_rows())


class WrittenResult(ScreenResult):
    """A chunked screen whose panels, grades, patients and episodes went to Parquet files in `folder` slice by
    slice (`screen` with `out`: outputs too large to hold): each table is read from its file when asked for;
    the rejects and the summary are in memory, as in a `ScreenResult`."""

    def __init__(self, folder: Path, written: tuple[str, ...], rejects: pl.DataFrame, summary: dict):
        self.folder, self.written, self.rejects, self.summary = folder, written, rejects, summary

    def read(self, name: str) -> pl.DataFrame | None:
        """Table `name` as written, or None when the run did not make it (patients without the course)."""
        return pl.read_parquet(self.folder / f"{name}.parquet") if name in self.written else None

    panels = property(lambda self: self.read("panels"))
    grades = property(lambda self: self.read("grades"))
    patients = property(lambda self: self.read("patients"))
    episodes = property(lambda self: self.read("episodes"))

    def __repr__(self) -> str:
        return f"WrittenResult(folder={str(self.folder)!r}, written={self.written!r})"


def _panel_columns(panels: pl.DataFrame) -> list[str]:
    """The public panels contract: identity, demographics, counts with methods and ranges, findings."""
    from leukon.rules.analytes import ANALYTES

    cols = ["patient_id", "specimen_id", "taken_at", "age_days", "sex", "ancestry", "profile", "n_results"]
    for a in ANALYTES:
        if a not in panels.columns:
            continue
        cols += [a]
        if f"{a}_method" in panels.columns:
            cols.append(f"{a}_method")
        cols += [f"{a}_lln", f"{a}_uln", f"{a}_range", f"{a}_censor"]
    return [*cols, "findings", "neutropenia_severity", "warnings", "not_assessed"]


def distinct_count(rows: pl.Series) -> int:
    """Distinct source rows; rows arrive in input order, so a sorted series is counted without hashing."""
    if rows.is_empty():
        return 0
    if rows.is_sorted():
        return int((rows.diff().fill_null(1) != 0).sum())
    return rows.n_unique()


def _chunk(source, k: int, n: int):
    """The k-th of n slices of a source by patient (whole patients per slice, so course stays intact).

    Each slice reads the whole input again: only for sources that cannot be spilled (see `_slices`)."""
    if n == 1:
        return source.measurements
    return source.measurements.filter(slice_of(n) == k)


@contextmanager
def _slices(source, n: int, spill_dir: str | Path | None) -> Iterator[tuple[pl.DataFrame, Any, list]]:
    """The source's rejects, its patients and its measurements in `n` slices of whole patients.

    One slice: one pass into memory. Several, from an input that keeps each patient's rows together and reads by
    range (`leukon.pipelines.row_ranges`): each slice is a range of rows, read when its turn comes together with
    its own rejects (`_RowRange`). Several otherwise: one streaming pass spills the slices to temporary Parquet
    files under `spill_dir` (`leukon.pipelines.spill`), which each slice then reads alone; the files are removed
    when the block ends. A source that cannot be spilled is read again for each slice.
    """
    if n == 1 and hasattr(source, "collect"):
        # One pass; `raw` comes with the kernel's rejects; the rows the source rejected stay in, marked, and
        # normalize leaves them out (one copy of the measurements fewer).
        # The list is the only holder of the measurements: `_screen_slice` takes them out of it, so that they
        # are freed once normalised.
        measurements, rejects = source.collect(raw=False, unfiltered=True)
        slices = [measurements.lazy()]
        del measurements
        yield rejects, source.patients, slices
    elif n > 1 and (ranges := row_ranges(source, n)) is not None:
        # The patients once, for every slice (a range of rows holds whole patients, but the patients table is
        # made from the whole input).
        patients = source.patients.collect(engine="streaming").lazy() if source.patients is not None else None
        yield pl.DataFrame(schema=REJECT_SCHEMA), patients, [_RowRange(source, r) for r in ranges]
    elif n > 1 and can_spill(source):
        with spilled(source, n, dir=spill_dir) as s:
            yield s.rejects, s.patients, [s.measurements(k) for k in range(n)]
    else:
        yield source.rejects.collect(), source.patients, [_chunk(source, k, n) for k in range(n)]


@dataclass
class _RowRange:
    """A slice that is a range of the source's rows, read in its turn with the source's rejects among them."""

    source: Any
    rows: tuple[int, int]

    def read(self) -> tuple[pl.LazyFrame, pl.DataFrame]:
        """The slice's measurements (the rows the source rejected marked, as one slice reads them) and the source's
        rejects in it, their `raw` left for the run to fetch with all the others."""
        measurements, rejects = self.source.collect(raw=False, unfiltered=True, row_range=self.rows)
        return measurements.lazy(), rejects.select(list(REJECT_SCHEMA))


def _take(items: list, k: int):
    """items[k], left as None in the list, so that the caller holds the only reference."""
    item, items[k] = items[k], None
    return item


def _dropped(source) -> list[pl.DataFrame]:
    """Bad cells of wide rows that were otherwise used, as rejects (so nothing is lost silently)."""
    dropped = getattr(source, "dropped", None)
    if dropped is None:
        return []
    d = dropped.collect() if isinstance(dropped, pl.LazyFrame) else dropped
    return [d.select(pl.col("source_row").cast(pl.UInt64), pl.col("raw").cast(pl.String),
                     (pl.col("column").cast(pl.String) + pl.lit(": ") + pl.col("reason")).alias("reason"))]  # fmt: skip


@dataclass
class _SliceOutputs:
    """What one slice of patients gives: its panels, grades, course (patients, episodes) and rejects."""

    panels: pl.DataFrame
    grades: pl.DataFrame
    course: tuple[pl.DataFrame, pl.DataFrame] | None
    rejects: list[pl.DataFrame]


def _screen_slice(
    slices: list[pl.LazyFrame | None],
    k: int,
    patients,
    schemes: tuple[str, ...],
    profile: str,
    course_scheme: str | None,
    *,
    tick,
) -> tuple[_SliceOutputs, pl.Series]:
    """Units, panels, findings, grades and (with `course_scheme`) the course of slice `k` of whole patients, and
    the source rows that reached a panel.

    Everything a patient's outputs depend on is in the slice, so the slices' tables put together equal those of
    one run over all patients.

    Each stage's input is let go as soon as the next stage has made what it needs, so that later stages reuse
    that memory instead of asking for more: the slice's measurements are taken out of `slices`, which leaves
    `normalize` the only reference to them (it frees them once it holds its own copy)."""
    source_rejects = []
    if isinstance(slices[k], _RowRange):
        tick("reading")
        slices[k], rejects = slices[k].read()  # still held by the list alone
        source_rejects.append(rejects)
    tick("units")
    u, kernel_rejects = normalize(_take(slices, k), marked=True)  # the pivot leaves the unused rows out
    tick("panels")
    panels_lf, dup_rejects, used_rows = build_panels(u, patients, profile=profile)
    del u
    tick("ranges and findings")  # the panels' demographics, derived counts and ranges are computed with these
    # No sort needed: panels come out of the pivot in the written order (`leukon.panels.build.PANEL_ORDER`).
    panels = classify_panels(panels_lf, profile).collect()
    del panels_lf
    panels = panels.select(_panel_columns(panels))
    rejects = [
        *source_rejects,
        kernel_rejects.select(list(REJECT_SCHEMA)).collect(),
        dup_rejects.select(list(REJECT_SCHEMA)),
    ]
    tick("grading")
    grades = grades_long(panels.lazy(), schemes).collect()
    course = None
    if course_scheme is not None:
        tick("course")
        course = _course(panels, course_scheme)
    return _SliceOutputs(panels, grades, course, rejects), used_rows


class StageClock:
    """The progress callback of a run: passes each stage on to the caller's `progress(stage, done, total)` and
    keeps the seconds spent in each stage (from its tick to the next), summed over the slices."""

    def __init__(self, progress=None):
        self.progress = progress
        self.seconds: Counter = Counter()
        self.stage: str | None = None
        self.since = time.perf_counter()

    def __call__(self, stage: str, done: int = 0, total: int = 1) -> None:
        self._lap()
        self.stage = stage
        if self.progress is not None:
            self.progress(stage, done, total)

    def _lap(self) -> None:
        now = time.perf_counter()
        if self.stage is not None:
            self.seconds[self.stage] += now - self.since
        self.since = now

    def stop(self) -> dict[str, float]:
        """Seconds by stage, in the order the stages ran (rounded to ms)."""
        self._lap()
        self.stage = None
        return {k: round(v, 3) for k, v in self.seconds.items()}


def _also_rejected(used_rows: pl.Series, rejects: list[pl.DataFrame]) -> pl.Series:
    """The used rows that also have a rejected result (a wide row's bad cell, a duplicate in a used row).

    Probes the many used rows against the few rejected ones, never the reverse."""
    rejected = pl.concat([r["source_row"] for r in rejects])
    return used_rows.filter(used_rows.is_in(rejected.implode()))


def _held_result(outputs: list[_SliceOutputs], rejects: pl.DataFrame, summary: dict, *, course: bool) -> ScreenResult:
    """The slices' tables put together in memory."""
    panels = _concat([o.panels for o in outputs])
    panels = panels.select(_panel_columns(panels))
    grades = _concat([o.grades for o in outputs])
    patients = episodes = None
    if course:
        patients, episodes = (_concat([o.course[i] for o in outputs]) for i in (0, 1))
    return ScreenResult(panels, grades, rejects, summary, patients, episodes)


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The slices' frames of one table as one (a slice may lack a column another has)."""
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed", rechunk=False)


def _tally(tallies: dict[str, Counter], out: _SliceOutputs) -> None:
    """Add one slice's counts for the summary: specimens, patients, findings, warnings, course labels."""
    panels = out.panels
    totals = tallies["totals"]
    totals.update(specimens=panels.height, patients=panels["patient_id"].n_unique() if panels.height else 0)
    view = ScreenResult(panels, out.grades, pl.DataFrame())
    tallies["findings"].update(view.findings_count())
    tallies["warnings"].update(view.warnings_count())
    if out.course is not None:
        patients = out.course[0]
        totals.update(course_patients=patients.height)
        tallies["course"].update(dict(patients.group_by("label_neutrophils").len().iter_rows()))
        tallies["cyclic"].update(dict(patients.group_by("cyclic").len().iter_rows()))


def _most_first(counts: Counter) -> dict:
    """Counts by label, most frequent first and ties by label (so the slices' order does not matter)."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def _add_parts(parts: TableParts, out: _SliceOutputs) -> None:
    """One slice's tables to their part files (and out of memory)."""
    parts.add("panels", out.panels)
    parts.add("grades", out.grades)
    if out.course is not None:
        parts.add("patients", out.course[0])
        parts.add("episodes", out.course[1])


def _merge_parts(parts: TableParts, folder: Path) -> tuple[str, ...]:
    """Each table's parts merged into `folder/<table>.parquet`; the names of the tables written."""
    names = parts.names()
    for name in names:
        columns = (lambda schema: _panel_columns(pl.DataFrame(schema=schema))) if name == "panels" else None
        parts.merge(name, folder / f"{name}.parquet", columns=columns)
    return tuple(n for n in TABLES if n in names)


@in_memory_engine
def screen_source(
    source,
    *,
    schemes: tuple[str, ...] = DEFAULT_SCREEN_SCHEMES,
    profile: str = DEFAULT_PROFILE,
    chunks: int = 1,
    course: bool = True,
    progress=None,
    spill_dir: str | Path | None = None,
    tables_to: str | Path | None = None,
) -> ScreenResult:
    """Screen a `leukon.sources.Source` (anything with measurements, rejects, patients, rows_read).

    `chunks` > 1 processes the input in that many slices of whole patients, one after another, so memory
    stays bounded for inputs larger than memory: one streaming pass spills the slices to temporary Parquet
    files in `spill_dir` (default: the system's temporary folder), removed at the end of the run. With
    `tables_to` as well, each slice's panels, grades, patients and episodes are written there (Parquet, in
    `write`'s row order) instead of held, and a `WrittenResult` reads them from there. `progress`, if given,
    is called as progress(stage, done, total) at the start of each stage: reading, then per slice units, panels,
    ranges and findings, grading and course, then rejects (`screen` adds writing). The summary's
    `stage_seconds` keeps the seconds each stage took (in memory only, not in summary.json).
    """
    t0 = time.perf_counter()
    schemes = tuple(dict.fromkeys(scheme(s).id for s in schemes))
    profile = check_profile(profile)
    if chunks < 1:
        raise InputError("chunks", f"{chunks} must be 1 or more")
    tick = StageClock(progress)
    tick("reading", 0, chunks)
    course_scheme = schemes[0] if schemes[0].startswith("ctcae") else "ctcae-v5"
    outputs: list[_SliceOutputs] = []
    tallies: dict[str, Counter] = {k: Counter() for k in ("totals", "findings", "warnings", "course", "cyclic")}
    rejects, overlap, rows_used = [*_dropped(source)], [], 0
    written = None
    parts_cm = table_parts(tables_to) if tables_to is not None and chunks > 1 else nullcontext()
    with _slices(source, chunks, spill_dir) as (source_rejects, patients_lf, slices), parts_cm as parts:
        rejects.insert(0, source_rejects.select(list(REJECT_SCHEMA)))
        for k in range(len(slices)):
            out, used_rows = _screen_slice(slices, k, patients_lf, schemes, profile,
                                           course_scheme if course else None,
                                           tick=lambda stage, k=k: tick(stage, k, chunks))  # fmt: skip
            rejects += out.rejects
            # A slice holds whole patients, hence whole source rows: its used rows are counted here and then
            # dropped, and only its own rejects (or the source's, or a wide row's dropped cells) can share a row.
            rows_used += distinct_count(used_rows)
            overlap.append(_also_rejected(used_rows, rejects))
            _tally(tallies, out)
            if parts is None:
                outputs.append(out)
            else:
                _add_parts(parts, out)
        if parts is not None:
            written = _merge_parts(parts, Path(tables_to))
    tick("rejects", chunks, chunks)
    # The rejects without their input row as read (the kernel's, a wide row's dropped cells, the source's when
    # it was read in one pass) get it from one more scan of the input, all together.
    wanted = pl.concat(
        [rejects[0].filter(pl.col("raw").is_null())["source_row"], *(r["source_row"] for r in rejects[1:])]
    )
    rejects = with_source_raw(pl.concat(rejects), source, wanted)
    overlap = pl.concat(overlap)
    rejects = rejects.with_columns(row_used=pl.col("source_row").is_in(overlap.implode())).sort("source_row")
    rows_read = int(source.rows_read)
    rows_rejected = rejects.filter(~pl.col("row_used"))["source_row"].n_unique()
    by_reason, examples = reason_counts(rejects)  # by kind of reason, each with a real example
    summary = {
        "input": getattr(source, "label", ""),
        "format": getattr(source, "format", ""),
        "rows_read": rows_read,
        "rows_used": rows_used,
        "rows_rejected": rows_rejected,
        "results_not_used_in_used_rows": int(rejects.filter(pl.col("row_used")).height),
        "rejected_by_reason": by_reason,
        "reject_examples": examples,
        "specimens": tallies["totals"]["specimens"],
        "patients": tallies["totals"]["patients"],
        "schemes": list(schemes),
        "profile": profile,
        "chunks": chunks,
        "seconds": round(time.perf_counter() - t0, 3),
        "stage_seconds": tick.stop(),
        "accounted": rows_read == rows_used + rows_rejected,
        "notes": list(getattr(source, "notes", []) or []),
    }
    summary["findings"] = _most_first(tallies["findings"])
    summary["warnings"] = _most_first(tallies["warnings"])
    if tallies["totals"]["course_patients"]:
        summary["course"] = _most_first(tallies["course"])
        summary["cyclic"] = _most_first(tallies["cyclic"])
    if written is not None:
        result = WrittenResult(Path(tables_to), written, rejects, summary)
    else:
        result = _held_result(outputs, rejects, summary, course=course)
    if not summary["accounted"]:
        # Never silently lose rows: a mismatch is a bug, and the run says so loudly.
        raise RuntimeError(f"row accounting failed: read {rows_read}, used {rows_used}, rejected {rows_rejected}")
    return result


def _course(panels: pl.DataFrame, scheme_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-patient course and episodes from the panels, graded with the kernel's per-count grades."""
    from leukon.course.episodes import grade_column
    from leukon.course.follow import screen_tables

    terms = {"anc": "Neutrophil count decreased", "wbc": "White blood cell decreased",
             "lymphocytes": "Lymphocyte count decreased"}  # fmt: skip
    sch = scheme(scheme_id)
    cols = []
    for col, term in terms.items():
        if term.lower() in sch.terms:
            t = sch.terms[term.lower()]
            cens = f"{col}_censor" in panels.columns and panels[f"{col}_censor"].null_count() < panels.height
            cols.append(grade_expr(t, col, f"{col}_lln", "age_days", censored=cens).alias(grade_column(scheme_id, col)))
    # Each count's own range and its origin, and the demographics and warnings behind it, so the course says where
    # every lower limit came from (lab, profile row, Duffy-null) and notes a Duffy-null person low only by the lab.
    context = [f"{a}_{s}" for a in terms for s in ("lln", "range")] + [
        "age_days",
        "sex",
        "ancestry",
        "profile",
        "warnings",
    ]
    counts = panels.select("patient_id", "specimen_id", "taken_at", "wbc", "anc", "lymphocytes", *cols,
                           *[c for c in context if c in panels.columns])  # fmt: skip
    return screen_tables(counts, scheme=scheme_id)


def screen(
    input: str | Path | Any,
    *,
    format: str = "long",
    out: str | Path | RunFolder | None = None,
    output: str = "parquet",
    schemes: tuple[str, ...] = DEFAULT_SCREEN_SCHEMES,
    profile: str = DEFAULT_PROFILE,
    chunks: int | None = None,
    course: bool = True,
    progress=None,
    force: bool = False,
    **options,
) -> ScreenResult:
    """Screen a lab table (long, wide, omop, mimic-iv; CSV, CSV.gz, Parquet, DuckDB or SQLite table, or a
    pandas or Polars DataFrame already in memory).

    `options` go to the adapter (column names, `patients=` file, `time_format=`). With `out`, the outputs
    are written there (Parquet by default, CSV on request) all or nothing: `out` is checked before the
    run, and a folder holding an earlier run is replaced only with `force`. `chunks=None` picks a number
    from the input's size and the machine's memory.
    """
    from leukon.sources import read
    from leukon.sources.io import frame_table, is_frame, read_errors

    if output not in OUTPUT_FORMATS:
        raise InputError("output", f"{output!r} is not an output format; use {' or '.join(OUTPUT_FORMATS)}")
    folder = out if isinstance(out, RunFolder) or out is None else RunFolder.prepare(out, force=force)
    try:
        in_memory = is_frame(input)
        spec = frame_table(input) if in_memory else str(input)
        with read_errors(spec if in_memory else str(input)):
            source = read(spec, format=format, **options)
            # Outputs too large to hold are written slice by slice (Parquet into `out` only).
            written = folder is not None and output == "parquet" and not in_memory and not outputs_fit(str(input))
            n = chunks if chunks is not None else (1 if in_memory else auto_chunks(str(input), written=written))
            # Spill files of a chunked run go into the staging folder: removed with it if the run is interrupted,
            # and by the next run into `out` if this one is killed; so do the part files of written tables.
            spill_dir = folder.staging if folder is not None else None
            tables_to = spill_dir if written and n > 1 else None
            result = screen_source(source, schemes=schemes, profile=profile, chunks=n, course=course,
                                   progress=progress, spill_dir=spill_dir, tables_to=tables_to)  # fmt: skip
        if getattr(source, "time_format", None):
            result.summary["time_format"] = source.time_format
        if folder is not None:
            clock = StageClock(progress)
            clock("writing")
            write(result, folder, output=output)
            result.summary["stage_seconds"] |= clock.stop()
    except BaseException:
        if folder is not None:
            folder.discard()
        raise
    return result


#: Peak memory per input result with one slice (`screen`, course on), measured on the synthetic long file of
#: benchmarks/bench_screen.py (peak RSS of a fresh process; 2026-12): Parquet 716 B at 2 M results and 561 B at
#: 6 M (each further result adds 480-620 B), CSV 676 B at 2 M (548 B a further result); 10.1 M earlier: 400 B
#: Parquet, 560 B CSV. 600 covers the large inputs this serves; `memory // 3` below keeps the margin.
BYTES_PER_RESULT = 600
#: The same split for several slices, measured with benchmarks/bench_chunks.py (course on, 2026-12): a slice's
#: own work (units, panels, grades, course) takes about 250 B per result in the slice, and the outputs, held
#: until they are written, 150 B per result of the whole input, about 310 B at the peak while `write` sorts
#: them (30 M results: 7.2 GB peak in 3 slices, 5.9 GB in 6, 9.2 GB in 6 with the Parquet outputs written;
#: 10 M: 4.4 GB in one slice, 2.5 GB in 4). The spill pass itself stays near 1 GB (30 M results, times stored
#: as dates; 0.85 GB when the times are text, which it parses; 2.9 GB before `iso_time` replaced format inference).
SLICE_BYTES_PER_RESULT = 250
OUTPUT_BYTES_PER_RESULT = 310
#: Peak per result of one slice when each slice writes its tables as it goes (`tables_to`): the slice's work, its
#: tables, writing them, then merging one range of each table at a time. With the command's memory settings
#: (`leukon.cli.memory`: freed memory is kept 10 s for reuse), 101.9 M results in 8 slices peaked at 7.9 and
#: 8.2 GB in two runs, about 645 B per result of a slice (4.7 GB for 30 M results in 4 slices); 700 leaves
#: room for that spread, so that run now takes 9 slices (620 before these settings).
WRITTEN_BYTES_PER_RESULT = 700
#: Bytes per result row in a long CSV, taken low so that the row estimate errs towards more slices.
CSV_BYTES_PER_ROW = 60


def input_size(spec: str, *, memory: int | None = None) -> tuple[int, int] | None:
    """The input's rows (a Parquet file's metadata, else estimated from the file's size) and the machine's
    memory in bytes; None when the file cannot be looked at (the reader will say why)."""
    import os

    path = Path(spec) if Path(spec).exists() else Path(spec.split(":", 1)[0])
    try:
        size = path.stat().st_size
        memory = memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError):
        return None
    rows = None
    if path.suffix == ".parquet":
        try:
            rows = pl.scan_parquet(path).select(pl.len()).collect().item()  # from the file's metadata
        except Exception:  # not a readable Parquet file: the reader will say so with a proper message
            rows = None
    if rows is None:
        rows = size * (5 if path.suffix == ".gz" else 1) // CSV_BYTES_PER_ROW
    return rows, memory


def outputs_fit(spec: str, *, memory: int | None = None) -> bool:
    """True when the outputs of screening `spec` can be held in memory until written (a third of it)."""
    size = input_size(spec, memory=memory)
    return size is None or size[0] * OUTPUT_BYTES_PER_RESULT <= size[1] // 3


def auto_chunks(spec: str, *, memory: int | None = None, written: bool = False) -> int:
    """Slices of whole patients so that one slice's working set, and the outputs held until they are written,
    fit in a third of the machine's memory; `written`: the slices write their tables as they go (`tables_to`)."""
    size = input_size(spec, memory=memory)
    if size is None:
        return 1
    rows, memory = size
    budget = memory // 3
    if written:
        return max(1, -(-rows * WRITTEN_BYTES_PER_RESULT // budget))
    # The slices share the budget with the outputs, which grow with the whole input; when those alone take
    # it all, slices are kept to a quarter of it (memory then depends on the outputs, not on the slices).
    room = max(budget - rows * OUTPUT_BYTES_PER_RESULT, budget // 4)
    return max(1, -(-rows * SLICE_BYTES_PER_RESULT // room))


def write(
    result: ScreenResult, out: str | Path | RunFolder, *, output: str = "parquet", force: bool = False
) -> list[Path]:
    """Write panels, grades, rejects, patients, episodes (Parquet or CSV) and summary.json into `out`.

    All or nothing (`leukon.pipelines.run_folder`): the files go to a staging folder and replace the
    folder's earlier run only once all are written; rows are sorted and floats rounded so that the same
    input gives byte-identical files.
    """
    if output not in OUTPUT_FORMATS:
        raise InputError("output", f"{output!r} is not an output format; use {' or '.join(OUTPUT_FORMATS)}")
    folder = out if isinstance(out, RunFolder) else RunFolder.prepare(out, force=force)
    written = _written_in(result, folder.staging, output)
    held = {name: getattr(result, name) for name in TABLES if name not in written}
    tables = {name: df for name, df in held.items() if df is not None}
    try:
        write_tables(tables, result.summary, folder.staging, output=output, written=written)
        placed = folder.commit()
    except BaseException:
        folder.discard()
        raise
    if written:
        result.folder = folder.out  # where the tables are now
    return placed


def _written_in(result: ScreenResult, staging: Path, output: str) -> tuple[str, ...]:
    """The tables of a `WrittenResult` already written into `staging` as `output` files (none for others)."""
    if isinstance(result, WrittenResult) and output == "parquet" and result.folder == staging:
        return result.written
    return ()
