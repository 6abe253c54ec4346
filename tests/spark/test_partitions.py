"""The invariant the Spark engine rests on, checked without Spark: screening whole patients apart, in any
grouping, and summing the summaries gives exactly the outputs of one screen over everything.

Rows are grouped the way Spark routes them (every row of a patient in one group, rows without a patient
id together), then each group goes through `leukon._spark_partition.screen_rows`, the function a Spark
task runs, and the one-screen result comes from the same in-memory path over all rows.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon import synth
from leukon._spark_partition import Settings, run_partition, screen_rows
from leukon._spark_summary import by_count, merge
from leukon.sources.io import ROW

TABLES = ("panels", "grades", "rejects", "patients", "episodes")


@pytest.fixture(scope="module")
def rows() -> pl.DataFrame:
    df = synth.cohort(40, seed=5, dirt=0.05)
    return df.with_row_index(ROW)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=st.integers(min_value=2, max_value=5), salt=st.integers(min_value=0, max_value=10_000))
def test_any_grouping_of_whole_patients_gives_the_same_screen(rows, same_table, groups, salt):
    settings_ = Settings(out="", label="cohort")
    whole = screen_rows(rows, None, settings_)
    group = pl.col("patient_id").hash(seed=salt) % groups  # null ids hash alike: they stay together
    parts = [screen_rows(g, None, settings_) for _, g in rows.group_by(group.alias("_g"), maintain_order=True)]
    for name in TABLES:
        same_table(getattr(whole, name), pl.concat([getattr(p, name) for p in parts]), name, exact=False)
    merged = merge([p.summary for p in parts], input="cohort", format="long", partitions=groups, seconds=0)
    for key in ("rows_read", "rows_used", "rows_rejected", "specimens", "patients", "rejected_by_reason",
                "findings", "warnings", "course", "cyclic"):  # fmt: skip
        assert merged[key] == whole.summary[key], key
    assert merged["accounted"]


def test_a_task_writes_one_part_per_table_and_reports_its_rows(rows, tmp_path):
    """The task body on Arrow batches as Spark hands them over: routed struct columns, in several batches."""
    import pyarrow as pa

    routed = rows.select(pl.col("patient_id").alias("_leukon_key"), pl.struct(pl.all()).alias("m"))
    batches = pa.Table.from_batches(routed.to_arrow().to_batches(max_chunksize=500)).to_batches()
    assert len(batches) > 1
    report = run_partition(iter(batches), Settings(out=str(tmp_path)), partition=7)
    assert report["rows_read"] == rows.height
    for name in TABLES:
        assert (tmp_path / name / "part-00007.parquet").is_file()
    schemas = json.loads(report["schemas"])
    panels = pl.read_parquet(tmp_path / "panels" / "part-00007.parquet")
    assert [c for c, _ in schemas["panels"]] == panels.columns
    assert not list(tmp_path.glob(".part-*"))  # the staging folder is gone
    assert run_partition(iter([]), Settings(out=str(tmp_path)), partition=8) == {}


def test_a_failed_accounting_is_raised_not_summed():
    ok = {"rows_read": 3, "rows_used": 2, "rows_rejected": 1}
    bad = {"rows_read": 3, "rows_used": 1, "rows_rejected": 1}
    assert merge([ok, ok], input="", format="long", partitions=2, seconds=0)["rows_read"] == 6
    with pytest.raises(RuntimeError, match="accounting"):
        merge([ok, bad], input="", format="long", partitions=2, seconds=0)


def test_tallies_order_by_count_then_label_whatever_the_partition_order():
    from collections import Counter

    assert list(by_count(Counter({"b": 2, "a": 2, "c": 5}))) == ["c", "a", "b"]
