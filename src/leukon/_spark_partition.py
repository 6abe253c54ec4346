"""What one Spark task does with one partition of whole patients: the Polars screen, unchanged.

This module imports no PySpark, so it runs (and is tested) on its own. A partition arrives as Arrow record
batches with three columns (see `leukon._spark_input`):

    _leukon_key  the patient routing key (text), only used by Spark to co-locate a patient's rows
    m            a struct: one input row of the results table, its fields as read, plus `source_row`
    p            a struct, or absent: one row of a separate patients table (OMOP PERSON, MIMIC patients)

The rows are handed to the ordinary adapter as an in-memory `Table`, then to
`leukon.pipelines.screen.screen_source`, and the outputs are written with `leukon.pipelines.screen.write`
into the task's own part files (`<out>/<table>/part-<partition>.<ext>`). Nothing is re-implemented here.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from leukon.errors import InputError
from leukon.sources.io import ROW, Table

#: Column names of the routed frame; chosen so they cannot clash with a lab table's own columns.
KEY, RESULTS, PATIENTS = "_leukon_key", "m", "p"
#: The output tables, in the order `leukon.pipelines.screen.write` writes them.
TABLES = ("panels", "grades", "rejects", "patients", "episodes")
#: What each task returns to the driver: its partition id, the rows it read, its run summary and the
#: schema of every table it wrote (both as JSON), so the driver can sum the runs and check the schemas;
#: or, when the rows are bad input (an InputError), the error's field and message instead.
REPORT_SCHEMA = "partition INT, rows_read LONG, summary STRING, schemas STRING, error STRING"
REPORT_ARROW = pa.schema(
    {
        "partition": pa.int32(),
        "rows_read": pa.int64(),
        "summary": pa.string(),
        "schemas": pa.string(),
        "error": pa.string(),
    }
)


@dataclass(frozen=True)
class Settings:
    """Everything a task needs, pickled once to every executor."""

    out: str
    format: str = "long"
    options: dict = field(default_factory=dict)
    schemes: tuple[str, ...] = ("ctcae-v5", "clinical")
    profile: str = "standard"
    course: bool = True
    output: str = "parquet"
    label: str = ""
    has_patients: bool = False


def table_from(frame: pl.DataFrame, label: str) -> Table:
    """An in-memory `Table` the adapters read like a file: `source_row` as given (numbered here when
    absent, as for a patients table, whose row numbers no output reports), the rest as data."""
    if ROW not in frame.columns:
        frame = frame.with_row_index(ROW)
    frame = frame.with_columns(pl.col(ROW).cast(pl.UInt64))
    rows = pl.LazyFrame({"rows_read": [frame.height]}, schema={"rows_read": pl.UInt64})
    return Table(frame.lazy(), rows, label)


def split(routed: pl.DataFrame, *, has_patients: bool) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The results rows and the patients rows of one routed partition, each with its own columns."""
    results = routed.filter(pl.col(RESULTS).is_not_null()).get_column(RESULTS).struct.unnest()
    if not has_patients:
        return results, None
    patients = routed.filter(pl.col(PATIENTS).is_not_null()).get_column(PATIENTS).struct.unnest()
    return results, patients


def screen_rows(results: pl.DataFrame, patients: pl.DataFrame | None, settings: Settings):
    """Screen one partition's rows with the Polars engine; returns its `ScreenResult`.

    The steps are those of `leukon.pipelines.screen.screen` after it has read its input: `screen_source` (which
    gives the rejects their input rows as read), and the time format noted.
    """
    from leukon.pipelines.screen import screen_source
    from leukon.sources import read

    options = dict(settings.options)
    if patients is not None:
        options["patients"] = table_from(patients, f"{settings.label} (patients)")
    source = read(table_from(results, settings.label), format=settings.format, **options)
    result = screen_source(source, schemes=settings.schemes, profile=settings.profile, chunks=1, course=settings.course)
    if getattr(source, "time_format", None):
        result.summary["time_format"] = source.time_format
    return result


def part_name(partition: int, output: str) -> str:
    return f"part-{partition:05d}.{output}"


def write_parts(result, settings: Settings, partition: int, attempt: int = 0) -> dict[str, list[list[str]]]:
    """Write a partition's tables as `<out>/<table>/part-NNNNN.<ext>`; returns {table: [[column, dtype]]}.

    The writer is the Polars engine's own (`leukon.pipelines.screen.write`), into a private folder first;
    each file then replaces its final name in one rename, so a retried or speculative task attempt never
    leaves half a file behind and the last attempt to finish wins with a whole one.
    """
    from leukon.pipelines.screen import write

    out = Path(settings.out)
    staging = Path(tempfile.mkdtemp(prefix=f".part-{partition:05d}-{attempt}-", dir=out))
    try:
        write(result, staging, output=settings.output)
        schemas = {}
        for name in TABLES:
            frame = getattr(result, name)
            if frame is None:
                continue
            (out / name).mkdir(exist_ok=True)
            os.replace(staging / f"{name}.{settings.output}", out / name / part_name(partition, settings.output))
            schemas[name] = [[c, str(t)] for c, t in frame.schema.items()]
        return schemas
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_partition(batches: Iterable[pa.RecordBatch], settings: Settings, partition: int, attempt: int = 0) -> dict:
    """Screen one partition and write its parts; the task's report (REPORT_SCHEMA) as a dict, or {} when empty."""
    batches = list(batches)
    if not batches or sum(b.num_rows for b in batches) == 0:
        return {}
    routed = pl.from_arrow(pa.Table.from_batches(batches))
    results, patients = split(routed, has_patients=settings.has_patients)
    if results.is_empty():  # only patients rows routed here: nothing to screen, nothing read
        return {}
    return run_rows(results, patients, settings, partition, attempt)


def run_rows(
    results: pl.DataFrame, patients: pl.DataFrame | None, settings: Settings, partition: int, attempt: int = 0
) -> dict:
    """Screen rows already unpacked, write their parts and return the report (also used for an empty input)."""
    try:
        result = screen_rows(results, patients, settings)
    except InputError as e:  # bad input is the user's to fix: reported to the driver, not a task failure
        return {
            "partition": partition,
            "rows_read": results.height,
            "error": json.dumps([e.field, str(e).removeprefix(f"{e.field}: ")]),
        }
    schemas = write_parts(result, settings, partition, attempt)
    return {
        "partition": partition,
        "rows_read": int(result.summary["rows_read"]),
        "summary": json.dumps(result.summary, default=str),
        "schemas": json.dumps(schemas),
        "error": None,
    }


def task(settings: Settings):
    """The function given to `DataFrame.mapInArrow`: batches of one partition in, one report row out."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        partition = ctx.partitionId() if ctx else 0
        attempt = ctx.attemptNumber() if ctx else 0
        report = run_partition(batches, settings, partition, attempt)
        if report:
            yield pa.RecordBatch.from_pylist([report], schema=REPORT_ARROW)

    return run
