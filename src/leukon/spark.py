"""Screen lab tables too large for one machine on Spark, with the same results as the Polars engine.

Spark only moves rows: it numbers them, routes them by patient (so each task holds whole patients, which
the course needs), sorts each partition by patient and input order, and hands every partition's Arrow
batches to `leukon.pipelines.screen.screen_source` through `mapInArrow`. The rules, the adapters and the
writers are the Polars engine's own; nothing is re-implemented for Spark.

>>> from leukon import spark as lspark                                  # doctest: +SKIP
>>> df = session.read.parquet("s3://lake/labs/")                        # doctest: +SKIP
>>> run = lspark.screen(df, out="/dbfs/leukon/run1", format="long")     # doctest: +SKIP
>>> run.summary["rows_read"] == run.summary["rows_used"] + run.summary["rows_rejected"]  # doctest: +SKIP
True

Outputs, in `out`: one folder per table (panels, grades, rejects, patients, episodes), each holding one
part file per partition with the Polars engine's schema (`part-00007.parquet`), and `summary.json`, the
same run summary summed over partitions. `out` must be a path every executor can write (a shared or
FUSE-mounted filesystem such as /dbfs or /Volumes on Databricks, NFS, or local disk in local mode).

Install with `pip install leukon[spark]` (PySpark and a Java 17 runtime).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from leukon._spark_input import numbered, patient_column, probe, read_file, routed
from leukon._spark_partition import KEY, REPORT_SCHEMA, RESULTS, TABLES, Settings, run_rows, task
from leukon._spark_summary import merge
from leukon.errors import InputError
from leukon.pipelines.run_folder import MARKER, PARQUET, write_summary
from leukon.pipelines.screen import DEFAULT_SCREEN_SCHEMES, OUTPUT_FORMATS
from leukon.rules.criteria import DEFAULT_PROFILE, scheme
from leukon.rules.ranges import check_profile
from leukon.sources.io import ROW

__all__ = ["ROWS_PER_PARTITION", "SparkScreenResult", "read_file", "screen", "screen_files", "session"]

#: Input rows per partition by default: at BYTES_PER_RESULT (the Polars engine's measured peak per result)
#: one task then needs about 1.6 GB, so two tasks run side by side in an executor of 4 GB.
ROWS_PER_PARTITION = 2_000_000


@dataclass
class SparkScreenResult:
    """Where a Spark screen wrote its tables, and its run summary (also in `out/summary.json`)."""

    out: Path
    summary: dict
    output: str = "parquet"

    # The tables under the names a `ScreenResult` uses, as lazy scans of the part files (None when the run
    # did not write that table, e.g. patients and episodes without the course).
    panels = property(lambda self: self.scan("panels"))
    grades = property(lambda self: self.scan("grades"))
    rejects = property(lambda self: self.scan("rejects"))
    patients = property(lambda self: self.scan("patients"))
    episodes = property(lambda self: self.scan("episodes"))

    def scan(self, table: str) -> pl.LazyFrame | None:
        """One output table as a lazy Polars scan over its part files, or None if the run did not write it."""
        files = self.files(table)
        if not files:
            return None
        if self.output == "parquet":
            return pl.scan_parquet(files)
        return pl.concat([pl.scan_csv(f, infer_schema=False) for f in files], how="diagonal_relaxed")

    def files(self, table: str) -> list[Path]:
        """The part files of one output table, in partition order."""
        if table not in TABLES:
            raise InputError("table", f"{table!r} is not an output table; one of {', '.join(TABLES)}")
        return sorted((self.out / table).glob(f"part-*.{self.output}"))

    def to_polars(self, table: str) -> pl.DataFrame:
        """One output table as a Polars DataFrame (for outputs that fit in memory: tests, small cohorts)."""
        files = self.files(table)
        return pl.concat([_read_part(f, self.output) for f in files], how="diagonal_relaxed")

    def to_spark(self, spark: Any, table: str) -> Any:
        """One output table as a Spark DataFrame, read back from its part files."""
        path = str((self.out / table).resolve())
        return spark.read.parquet(path) if self.output == "parquet" else spark.read.csv(path, header=True)


def session(master: str | None = None, *, app: str = "leukon", **conf: str) -> Any:
    """A SparkSession: the one spark-submit or Databricks configured, else local mode on every core.

    Python workers run this interpreter (PYSPARK_PYTHON), so they import the same leukon.
    """
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app)
    if master or not SparkConf().contains("spark.master"):
        builder = builder.master(master or "local[*]")
    for k, v in conf.items():
        builder = builder.config(k, v)
    return builder.getOrCreate()


def screen(
    df: Any,
    *,
    out: str | Path,
    format: str = "long",
    patients: Any = None,
    schemes: tuple[str, ...] = DEFAULT_SCREEN_SCHEMES,
    profile: str = DEFAULT_PROFILE,
    course: bool = True,
    output: str = "parquet",
    partitions: int | None = None,
    label: str = "",
    force: bool = False,
    **options: Any,
) -> SparkScreenResult:
    """Screen a Spark DataFrame of lab results (any format `leukon.screen` reads: the measurement contract
    or a long table, wide, omop, mimic-iv) and write the outputs into `out`.

    `patients` is a Spark DataFrame for a separate patients table (OMOP PERSON, MIMIC-IV patients, or a
    patient_id/sex/birth_date table), routed with the results so each task sees its own patients.
    `options` go to the adapter as in `leukon.screen` (column names, `time_format=`). An `out` holding an
    earlier run (its summary.json) is replaced only with `force`, as in `leukon.screen`. `partitions`
    defaults to one per ROWS_PER_PARTITION rows, at least the cluster's default parallelism. A row number
    `source_row` is kept when the input has one, else given in input order (see `_spark_input.numbered`).
    """
    t0 = time.perf_counter()
    if output not in OUTPUT_FORMATS:
        raise InputError("output", f"{output!r} is not an output format; use {' or '.join(OUTPUT_FORMATS)}")
    schemes = tuple(dict.fromkeys(scheme(s).id for s in schemes))
    profile = check_profile(profile)
    if partitions is not None and partitions < 1:
        raise InputError("partitions", f"{partitions} must be 1 or more")
    if "patients" in options:
        raise InputError("patients", "give the patients table as a Spark DataFrame (patients=...)")
    label = label or "spark DataFrame"
    fmt = probe(df, format, options, patients, label)
    key = patient_column(df.columns, fmt, options, label)
    pkey = None if patients is None else patient_column(patients.columns, fmt, {}, f"{label} (patients)", patients=True)

    rows, total = numbered(df)
    spark = df.sparkSession
    n = partitions or max(spark.sparkContext.defaultParallelism, math.ceil(total / ROWS_PER_PARTITION))
    out = Path(out)
    _prepare(out, output, force=force)
    settings = Settings(
        out=str(out.resolve()), format=fmt, options=dict(options), schemes=schemes, profile=profile,
        course=course, output=output, label=label, has_patients=patients is not None,
    )  # fmt: skip
    frame = routed(rows, key, patients, pkey).repartition(n, KEY).sortWithinPartitions(KEY, f"{RESULTS}.{ROW}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # PySpark's notice about the pandas version it tested
            reports = frame.mapInArrow(task(settings), REPORT_SCHEMA).collect()
    except BaseException:  # a failed job (or Ctrl-C) leaves no parts that could pass for a run
        _clear(out, output)
        raise
    reports = sorted((r.asDict() for r in reports), key=lambda r: r["partition"])
    if not reports:  # no rows at all: the tables are still written, empty, with their schemas
        reports = [_empty_run(df, settings)]
    errors = [json.loads(r["error"]) for r in reports if r["error"]]
    if errors:  # the input's fault, found by a task: one line, and no half-written run left behind
        _clear(out, output)
        raise InputError(*errors[0])
    _align(out, output, [r["partition"] for r in reports], [json.loads(r["schemas"]) for r in reports])
    summary = merge(
        [json.loads(r["summary"]) for r in reports], input=label, format=fmt, partitions=n,
        seconds=time.perf_counter() - t0,
    )  # fmt: skip
    if summary["rows_read"] != total:
        raise RuntimeError(f"row accounting failed: {total} rows in the input, {summary['rows_read']} screened")
    # Written last: like the Polars engine's summary.json, it marks a complete run and lists its outputs.
    written = [name for name in TABLES if (out / name).is_dir() and any((out / name).glob("part-*"))]
    write_summary(out, summary, [f"{t}/" for t in written])
    return SparkScreenResult(out, summary, output)


def screen_files(
    input: str | Path,
    *,
    out: str | Path,
    format: str = "long",
    patients: str | Path | None = None,
    master: str | None = None,
    **kwargs: Any,
) -> SparkScreenResult:
    """`leukon screen INPUT --engine spark`: read a CSV, CSV.gz or Parquet file (and a patients file) with
    Spark, as the Polars engine reads them, and screen it. `kwargs` go to `screen`."""
    spark = session(master)
    df = read_file(spark, input)
    pdf = read_file(spark, patients, field_name="patients") if patients else None
    return screen(df, out=out, format=format, patients=pdf, label=str(input), **kwargs)


def _empty_run(df: Any, settings: Settings) -> dict:
    """The report of screening no rows, run on the driver: empty part files with their schemas, zero counts."""
    from leukon._spark_input import empty_frame

    return run_rows(empty_frame(df), None, settings, partition=0)


def _prepare(out: Path, output: str, *, force: bool) -> None:
    """Check `out` as the Polars engine does (`RunFolder.prepare`: a file, or an earlier run without `force`,
    is one line), then clear what an earlier run left there."""
    if out.exists() and not out.is_dir():
        raise InputError("out", f"{out} is a file; give a folder for the outputs (it is created if missing)")
    if (out / MARKER).exists() and not force:
        raise InputError("out", f"{out} holds an earlier run ({MARKER}); pass force=True (CLI --force) or a new folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError("out", f"cannot create {out}: {e.strerror}; give a folder you can write to") from None
    _clear(out, output)


def _clear(out: Path, output: str) -> None:
    """Remove part files of an earlier or failed run (a run with more partitions would leave extra ones)."""
    (out / MARKER).unlink(missing_ok=True)  # first: from here on the folder does not claim a complete run
    for name in TABLES:
        for f in (out / name).glob("part-*"):
            f.unlink()
    for stale in out.glob(".part-*"):
        shutil.rmtree(stale, ignore_errors=True)


def _align(out: Path, output: str, partitions: list[int], schemas: list[dict]) -> None:
    """Give every part file of a table the same columns, so the folder reads as one table.

    Each task writes the columns its own data produced; when partitions differ (a table whose columns
    depend on what was present), the parts missing a column are rewritten with it, null; the columns are
    the union in partition order.
    """
    from leukon._spark_partition import part_name

    for name in TABLES:
        per_part = {p: s[name] for p, s in zip(partitions, schemas, strict=True) if name in s}
        if len({json.dumps(s) for s in per_part.values()}) <= 1:
            continue
        files = {p: out / name / part_name(p, output) for p in per_part}
        empty = pl.concat([_read_part(f, output, n_rows=0) for f in files.values()], how="diagonal_relaxed")
        for p, f in files.items():
            if [c for c, _ in per_part[p]] == empty.columns:
                continue
            df = pl.concat([empty, _read_part(f, output)], how="diagonal_relaxed")
            tmp = f.with_name(f".{f.name}.tmp")
            df.write_parquet(tmp, **PARQUET) if output == "parquet" else df.write_csv(tmp)
            os.replace(tmp, f)


def _read_part(path: Path, output: str, **kw: Any) -> pl.DataFrame:
    return pl.read_parquet(path, **kw) if output == "parquet" else pl.read_csv(path, infer_schema=False, **kw)
