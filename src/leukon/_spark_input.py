"""The driver's side of `leukon.spark`: number the input rows, route them by patient, read files with Spark.

Routing is the one thing Spark does with the data. Every row gets the key of its patient, rows are
hash-partitioned on it and sorted within partitions (patient, then input order), so each task holds
whole patients and sees a patient's rows in the order a single-machine run reads them. The key is the
patient id as text, stripped, with a trailing ".0" removed (ids stored as floats), i.e. never finer
than the id the adapter derives: rows the adapter calls one patient always meet in one partition.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from leukon._spark_partition import KEY, PATIENTS, RESULTS, table_from
from leukon.errors import InputError
from leukon.sources import columns, mimic, omop, read
from leukon.sources.io import NULL_MARKERS, ROW, open_table, separator, split_spec

#: Where each format keeps the patient id in its results table (long and wide: the usual headers).
PATIENT_FIELDS = {"omop": omop.FIELDS["patient_id"], "mimic-iv": mimic.FIELDS["patient_id"]}


def _quoted(name: str):
    from pyspark.sql import functions as F

    return F.col(f"`{name}`")


def route_key(name: str):
    """The routing key of column `name` (see the module docstring); null ids route together."""
    from pyspark.sql import functions as F

    text = F.regexp_replace(_quoted(name).cast("string"), r"(?U)^\s+|\s+$", "")
    return F.regexp_replace(text, r"\.0+$", "")


def numbered(df) -> tuple[object, int]:
    """`df` with `source_row`, the 0-based row number in input order (as the Polars engine numbers a file's
    rows), and the number of rows.

    An existing `source_row` column is kept (the measurement contract carries one). Otherwise the rows
    are numbered without moving them: each input partition's rows are counted, and a row's number is its
    partition's offset plus its place in the partition. This needs the input to be read the same way
    twice (a file scan is); for a computed DataFrame, give `source_row` or checkpoint it first.
    """
    from pyspark.sql import functions as F

    if ROW in df.columns:
        return df.withColumn(ROW, F.col(ROW).cast("long")), df.count()
    pid, mid = "_leukon_pid", "_leukon_mid"
    tagged = df.withColumn(pid, F.spark_partition_id()).withColumn(mid, F.monotonically_increasing_id())
    counts = dict(tagged.groupBy(pid).count().collect())
    starts, total = [], 0
    for i in range(max(counts) + 1 if counts else 0):
        starts.append(total)
        total += counts.get(i, 0)
    if not starts:
        return df.withColumn(ROW, F.lit(0).cast("long")), 0
    start = F.element_at(F.array(*[F.lit(s) for s in starts]), F.col(pid) + 1)
    # monotonically_increasing_id() is (partition id << 33) + the row's place within its partition.
    place = F.col(mid) - F.shiftleft(F.col(pid).cast("long"), 33)
    return tagged.withColumn(ROW, (start + place).cast("long")).drop(pid, mid), total


def probe(df, fmt: str, options: dict, patients=None, label: str = "") -> str:
    """Check format, options and columns on the driver, before any task runs, by reading an empty frame
    with the input's columns through the adapter itself (so its one-line errors name the field). Returns
    the canonical format name."""
    empty = empty_frame(df)
    opts = dict(options)
    if patients is not None:
        opts["patients"] = table_from(empty_frame(patients), f"{label} (patients)")
    return read(table_from(empty, label), format=fmt, **opts).format


def empty_frame(df) -> pl.DataFrame:
    """No rows, with the columns and types of Spark DataFrame `df` (and `source_row`)."""
    frame = pl.from_arrow(df.limit(0).toArrow())
    if ROW not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.UInt64).alias(ROW))
    return frame


def patient_column(df_columns: list[str], fmt: str, options: dict, label: str, *, patients: bool = False) -> str:
    """The column the adapter of `fmt` reads the patient id from (the caller's `patient_id=` first)."""
    given = {} if patients else {"patient_id": options.get("patient_id")}
    fields = columns.CANDIDATES["patient_id"] if patients else PATIENT_FIELDS.get(fmt, columns.CANDIDATES["patient_id"])
    cols = [c for c in df_columns if c != ROW]
    found = columns.resolve(cols, {"patient_id": fields}, required=("patient_id",), given=given, label=label)
    return found["patient_id"]  # type: ignore[return-value]


def routed(results, key: str, patients=None, patients_key: str | None = None):
    """One frame of (key, results row, patients row): each input row packed whole into a struct, so two
    tables with clashing column names travel together and unpack unchanged in the task."""
    from pyspark.sql import functions as F

    pack = F.struct(*[_quoted(c) for c in results.columns]).alias(RESULTS)
    if patients is None:
        return results.select(route_key(key).alias(KEY), pack)
    ppack = F.struct(*[_quoted(c) for c in patients.columns]).alias(PATIENTS)
    rtype = results.select(pack).schema[0].dataType
    ptype = patients.select(ppack).schema[0].dataType
    left = results.select(route_key(key).alias(KEY), pack, F.lit(None).cast(ptype).alias(PATIENTS))
    right = patients.select(route_key(patients_key).alias(KEY), F.lit(None).cast(rtype).alias(RESULTS), ppack)
    return left.unionByName(right)


def read_file(spark, spec: str | Path, *, field_name: str = "input"):
    """A CSV, CSV.gz or Parquet file as a Spark DataFrame read the way the Polars engine reads it: CSV
    cells as text (never inferred), the same separator and the same null spellings. Quoted line breaks
    are read as Polars reads them (multiLine), which makes Spark read a CSV file in one task: for large
    inputs, Parquet is read in parallel."""
    from pyspark.sql import functions as F

    path, table = split_spec(spec)
    if table:
        raise InputError(field_name, f"{spec} is a database table; --engine spark reads CSV or Parquet, export it")
    t = open_table(path, field_name=field_name)  # the same checks and one-line errors as the Polars engine
    with path.open("rb") as fh:
        head = fh.read(16)
    if head.startswith(b"PAR1"):
        return spark.read.parquet(str(path.resolve()))
    if head.startswith(b"SQLite format 3\x00") or head[8:12] == b"DUCK":
        raise InputError(field_name, f"{t.label} is a database table; --engine spark reads CSV or Parquet, export it")
    gz = head.startswith(b"\x1f\x8b")
    if gz and not path.name.lower().endswith(".gz"):  # Spark decompresses by the name, not the content
        raise InputError(field_name, f"{path} is gzip-compressed; name it {path.name}.gz for --engine spark")
    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8", errors="ignore") as fh:
        header = fh.readline()
    df = spark.read.csv(
        str(path.resolve()), header=True, sep=separator(header), inferSchema=False, multiLine=True, escape='"'
    )
    nulls = F.array(*[F.lit(v) for v in NULL_MARKERS])
    return df.select(
        *[F.when(F.array_contains(nulls, _quoted(c)), None).otherwise(_quoted(c)).alias(c) for c in df.columns]
    )
