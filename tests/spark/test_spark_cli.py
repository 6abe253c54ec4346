"""`leukon screen INPUT --engine spark` end to end, in this process (it reuses the test session)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from leukon.cli import main

DATA = Path(__file__).parents[1] / "data" / "sources"


def test_engine_spark_writes_part_folders_and_prints_the_same_summary(spark, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["screen", str(DATA / "long.csv"), "--engine", "spark", "--partitions", "2", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["engine"] == "spark"
    assert summary["rows_read"] == summary["rows_used"] + summary["rows_rejected"] == 19
    assert f"({summary['rows_read']:,} = {summary['rows_used']:,} + {summary['rows_rejected']:,})" in printed
    panels = pl.read_parquet(sorted((out / "panels").glob("part-*.parquet")))
    assert panels.height == summary["specimens"]
    # The same file through the Polars engine: the same summary counts.
    polars_out = tmp_path / "polars"
    assert main(["screen", str(DATA / "long.csv"), "--out", str(polars_out), "--quiet"]) == 0
    expected = json.loads((polars_out / "summary.json").read_text())
    for key in ("rows_read", "rows_used", "rows_rejected", "specimens", "patients", "rejected_by_reason", "findings"):
        assert summary[key] == expected[key], key


def test_engine_spark_refuses_an_earlier_run_and_a_database_in_one_line(spark, tmp_path, capsys, dbs_file):
    out = tmp_path / "out"
    args = ["screen", str(DATA / "long.csv"), "--engine", "spark", "--out", str(out), "--quiet"]
    assert main(args) == 0
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "earlier run" in err and "Traceback" not in err
    assert main(["screen", str(dbs_file), "--engine", "spark", "--out", str(tmp_path / "db"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "CSV or Parquet" in err and len(err.splitlines()) == 1
