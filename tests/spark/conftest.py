"""One local SparkSession for the whole test session (2 cores, no UI, few shuffle partitions), and the
comparison the differential tests share.

PySpark and Java come from `./dev` (PySpark pinned in requirements.lock, Debian's JRE 17 when `java` is
missing). On a machine without them the Spark tests are not collected; under CI they must be there, so
a missing PySpark or Java fails the run instead of skipping it quietly.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and (
    shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))
)
if not HAVE_SPARK:
    if os.environ.get("CI"):
        raise RuntimeError("PySpark or Java is missing under CI: ./dev installs both (see requirements.lock)")
    collect_ignore_glob = ["test_spark_*.py"]

TABLES = ("panels", "grades", "rejects", "patients", "episodes")


@pytest.fixture(scope="session")
def spark():
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    import warnings

    from leukon.spark import session

    # PySpark 4.3 notes at start-up that it was not tested with pandas 3; leukon.spark does not use pandas.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"pyspark\.")
    s = session(
        "local[2]",
        app="leukon-tests",
        **{
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "2",
            "spark.sql.session.timeZone": "UTC",
        },
    )
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def sort_key(df: pl.DataFrame) -> list[str]:
    """Every sortable column, exact ones first: a float sum may differ in its last bit with the order in
    which Polars adds (it does between two Polars runs of different sizes too), so floats only break ties."""
    cols = [c for c, t in df.schema.items() if not isinstance(t, pl.List | pl.Struct)]
    return sorted(cols, key=lambda c: df.schema[c].is_float())


def assert_same_table(want: pl.DataFrame, got: pl.DataFrame, name: str, *, exact: bool = True) -> None:
    """Same schema, same rows after sorting. Written outputs are compared exactly (the writer rounds
    floats to 12 significant digits); in-memory ones with floats to 12 significant digits."""
    assert got.schema == want.schema, f"{name}: schemas differ"
    assert got.height == want.height, f"{name}: {got.height} rows against {want.height}"
    cols = sort_key(want)
    assert_frame_equal(
        got.sort(cols, nulls_last=True), want.sort(cols, nulls_last=True), check_exact=exact, rel_tol=1e-12,
        abs_tol=1e-12,
    )  # fmt: skip


#: Summary keys that describe the run, not the data (time, engine, how it was split, where it came from).
RUN_KEYS = {"input", "seconds", "stage_seconds", "chunks", "engine", "partitions", "notes"}


def comparable_summary(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in RUN_KEYS}


@pytest.fixture(scope="session")
def same_table():
    """assert_same_table(want, got, name), for tests in this folder."""
    return assert_same_table


@pytest.fixture(scope="session")
def same_outputs():
    """compare(folder the Polars engine wrote, its ScreenResult, SparkScreenResult): every table, row for
    row and value for value, and the run summary."""

    def compare(polars_out, expected, got) -> None:
        for name in TABLES:
            want = pl.read_parquet(polars_out / f"{name}.parquet")
            assert_same_table(want, got.to_polars(name), name)
        assert comparable_summary(got.summary) == comparable_summary(expected.summary)

    return compare


@pytest.fixture
def dbs_file(tmp_path) -> Path:
    """A small SQLite file: a database table, which the Spark engine does not read."""
    import sqlite3

    path = tmp_path / "lab.sqlite"
    con = sqlite3.connect(path)
    con.execute("create table results (patient_id text, taken_at text, analyte text, value text)")
    con.execute("insert into results values ('P1', '2024-01-01 08:00', 'wbc', '2.0')")
    con.commit()
    con.close()
    return path
