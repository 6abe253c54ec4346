"""Spark output equals Polars output, row for row after sorting, for every table and the run summary.

Inputs are real files in several formats: a synthetic cohort (leukon.synth) with dirty rows and
duplicates as long CSV and as Parquet, the committed wide CBC table, OMOP MEASUREMENT with PERSON and
MIMIC-IV labevents.csv.gz with patients.csv.gz (the patients tables routed beside the results).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import leukon
from leukon import spark as lspark
from leukon import synth
from leukon.errors import InputError

DATA = Path(__file__).parents[1] / "data" / "sources"


@pytest.fixture(scope="module")
def cohort_files(tmp_path_factory) -> dict[str, Path]:
    """120 patients, 3 % dirty rows (unknown units, duplicates, bad times, other tests, no patient id)."""
    root = tmp_path_factory.mktemp("cohort")
    df = synth.cohort(120, seed=11, dirt=0.03)
    return {
        "csv": synth.write(df, root / "cohort.csv"),
        "parquet": synth.write(df, root / "cohort.parquet"),
    }


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_synthetic_cohort_same_as_polars(spark, same_outputs, cohort_files, tmp_path, kind):
    path = cohort_files[kind]
    expected = leukon.screen(path, format="long", chunks=1, out=tmp_path / "polars")
    got = lspark.screen(lspark.read_file(spark, path), out=tmp_path / "out", partitions=3, label=str(path))
    same_outputs(tmp_path / "polars", expected, got)
    # The cohort exercises every reject path, duplicates included, and the course.
    assert got.summary["rows_rejected"] > 0
    assert any("duplicate" in r for r in got.summary["rejected_by_reason"])
    assert got.to_polars("episodes").height > 0
    # Partitioned Parquet: one part per partition that held rows, and the summary beside them.
    assert 1 <= len(got.files("panels")) <= 3
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["rows_read"] == expected.summary["rows_read"]


@pytest.mark.parametrize(
    ("name", "fmt", "patients"),
    [
        ("wide.csv", "wide", None),
        ("omop_measurement.csv", "omop", "omop_person.csv"),
        ("labevents.csv.gz", "mimic-iv", "patients.csv.gz"),
    ],
)
def test_committed_formats_same_as_polars(spark, same_outputs, tmp_path, name, fmt, patients):
    options = {"patients": DATA / patients} if patients else {}
    expected = leukon.screen(DATA / name, format=fmt, chunks=1, out=tmp_path / "polars", **options)
    pdf = lspark.read_file(spark, DATA / patients) if patients else None
    got = lspark.screen(
        lspark.read_file(spark, DATA / name), out=tmp_path / "spark", format=fmt, patients=pdf, partitions=2
    )
    same_outputs(tmp_path / "polars", expected, got)
    if patients:  # sex and age reached the panels, so the patients rows met their results
        assert got.to_polars("panels")["age_days"].drop_nulls().len() > 0


def test_contract_input_keeps_its_source_row(spark, tmp_path):
    """A DataFrame in the measurement contract carries its own row numbers; rejects name them."""
    rows = pl.DataFrame(
        {
            "source_row": [100, 101, 102, 103],
            "patient_id": ["A", "A", "B", None],
            "specimen_id": ["s1", "s1", "s2", "s3"],
            "taken_at": ["2024-01-02 08:00"] * 4,
            "analyte": ["wbc", "anc", "anc", "wbc"],
            "value": [2.1, 0.4, 3.0, 5.0],
            "unit": ["10^9/L", "10^9/L", "furlongs", "10^9/L"],
        }
    )
    got = lspark.screen(spark.createDataFrame(rows.to_arrow()), out=tmp_path, partitions=2)
    rejects = got.to_polars("rejects").sort("source_row")
    assert rejects["source_row"].to_list() == [102, 103]
    assert "missing patient id" in rejects["reason"][1]
    panel = got.to_polars("panels").filter(pl.col("patient_id") == "A")
    assert panel["anc"].to_list() == [0.4]
    assert "neutropenia" in panel["findings"][0].to_list()
    assert got.summary["rows_read"] == 4 and got.summary["accounted"]


def test_rerun_replaces_parts_of_an_earlier_run(spark, cohort_files, tmp_path):
    df = lspark.read_file(spark, cohort_files["parquet"])
    lspark.screen(df, out=tmp_path, partitions=3, course=False)
    with pytest.raises(InputError, match="earlier run"):
        lspark.screen(df, out=tmp_path, partitions=1, course=False)
    again = lspark.screen(df, out=tmp_path, partitions=1, course=False, force=True)
    assert len(again.files("panels")) == 1  # no part left over from the 3-partition run
    assert not (tmp_path / "patients").exists() or not again.files("patients")
    assert again.to_polars("panels").height == again.summary["specimens"]
    assert json.loads((tmp_path / "summary.json").read_text())["outputs"] == [
        "panels/",
        "grades/",
        "rejects/",
        "summary.json",
    ]


def test_bad_input_is_one_line_before_any_task(spark, tmp_path):
    df = spark.createDataFrame([("P1", "2024-01-01", "wbc", "2.0")], "who string, t string, analyte string, v string")
    with pytest.raises(InputError, match="patient_id"):
        lspark.screen(df, out=tmp_path)
    with pytest.raises(InputError, match="format"):
        lspark.screen(df, out=tmp_path, format="hl7-v9")
    with pytest.raises(InputError, match="output"):
        lspark.screen(df, out=tmp_path, output="xlsx")
    assert not (tmp_path / "panels").exists()


def test_empty_input_still_writes_every_table_with_its_schema(spark, tmp_path):
    header = tmp_path / "empty.csv"
    header.write_text("patient_id,taken_at,analyte,value,unit\n")
    expected = leukon.screen(header, format="long", out=tmp_path / "polars")
    got = lspark.screen(lspark.read_file(spark, header), out=tmp_path / "spark")
    assert got.summary["rows_read"] == 0 and got.summary["accounted"]
    for name in ("panels", "grades", "rejects", "patients", "episodes"):
        want = pl.read_parquet(tmp_path / "polars" / f"{name}.parquet")
        assert got.to_polars(name).schema == want.schema, name
        assert got.to_polars(name).height == 0
    assert expected.summary["rows_read"] == 0
