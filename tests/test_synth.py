from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl
import pytest

from leukon import synth
from leukon.cli.synth import register
from leukon.sources import read


@pytest.fixture(scope="module")
def small() -> pl.DataFrame:
    return synth.cohort(600, seed=7, dirt=0.01)


def _screened(df: pl.DataFrame, tmp: Path) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    f = synth.write(df, tmp / "c.csv")
    src = read(f)
    m, r = pl.collect_all([src.measurements, src.rejects])
    return m, r, src.rows_read


def test_columns_and_determinism(small: pl.DataFrame) -> None:
    assert small.columns == ["patient_id", "specimen_id", "taken_at", "analyte", "value", "unit", "lln", "uln",
                             "sex", "birth_date", "ancestry"]  # fmt: skip
    assert small.equals(synth.cohort(600, seed=7, dirt=0.01))
    assert not small.equals(synth.cohort(600, seed=8, dirt=0.01))
    assert synth.scenarios(600, seed=7).equals(synth.scenarios(600, seed=7))


def test_every_scenario_and_style_appears(small: pl.DataFrame) -> None:
    sc = synth.scenarios(600, seed=7)
    assert set(sc["scenario"]) == set(synth.SCENARIOS)
    units = set(small["unit"].drop_nulls())
    assert {"10^9/L", "K/uL", "/uL", "%", "g/dL"} <= units
    codes = set(small["analyte"])
    assert {"751-8", "Neutrophils #", "Segs", "Bands", "26508-2"} <= codes


def test_reads_back_with_every_row_accounted(small: pl.DataFrame, tmp_path: Path) -> None:
    m, r, n = _screened(small, tmp_path)
    assert n == small.height == m["source_row"].n_unique() + r.height
    reasons = set(r["reason"].str.replace(r" '.*", ""))
    assert reasons == {"unknown analyte code", "unparseable time", "missing patient id"}
    assert "mmol/L" in set(m["unit"])  # an unknown unit reaches the kernel, which rejects it
    assert m.filter(pl.col("analyte") == "anc").height > 0
    assert read(tmp_path / "c.csv").patients.collect()["sex"].is_in(["female", "male"]).all()


def test_planted_patterns(small: pl.DataFrame) -> None:
    df = small.join(synth.scenarios(600, seed=7), on="patient_id")
    anc = df.filter(pl.col("analyte").is_in(["751-8", "Neutrophils #"]))
    lowest = anc.group_by("scenario").agg(pl.col("value").min().alias("lo"), pl.col("value").median().alias("mid"))
    lo = dict(zip(lowest["scenario"], lowest["lo"], strict=True))
    mid = dict(zip(lowest["scenario"], lowest["mid"], strict=True))
    assert lo["chemotherapy"] < 0.5 and lo["clozapine_agranulocytosis"] < 0.5 and lo["cyclic_neutropenia"] < 0.5
    assert lo["healthy"] > 1.0 and 1.0 <= mid["duffy_null"] <= 1.7
    lymph = df.filter(pl.col("analyte").is_in(["731-0", "Lymphocytes #"]))
    hiv = lymph.filter(pl.col("scenario") == "hiv_lymphopenia")["value"]
    assert hiv.max() < 1.0
    assert anc.filter(pl.col("scenario") == "hiv_lymphopenia")["value"].min() > 1.5  # without neutropenia


def test_write_parquet_and_scenarios_path(small: pl.DataFrame, tmp_path: Path) -> None:
    p = synth.write(small, tmp_path / "c.parquet")
    assert pl.read_parquet(p).equals(small)
    assert synth.scenarios_path(tmp_path / "c.parquet") == tmp_path / "c.scenarios.csv"


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.run(args)


def test_cli(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cohort.parquet"
    assert _cli(["synth", "--patients", "30", "--out", str(out), "--seed", "2"]) == 0
    assert pl.read_parquet(out).equals(synth.cohort(30, seed=2))
    assert pl.read_csv(tmp_path / "cohort.scenarios.csv").height == 30
    assert "wrote" in capsys.readouterr().out
    assert _cli(["synth", "--patients", "0", "--out", str(out)]) == 2
    assert _cli(["synth", "--patients", "5", "--out", str(tmp_path / "no" / "x.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("leukon synth: error:") for line in err)


def test_a_cohort_in_pieces_has_unique_ids_and_starts_as_cohort() -> None:
    parts = list(synth.pieces(250, seed=4, piece=100))
    assert [sc.height for _, sc in parts] == [100, 100, 50]
    assert parts[0][0].equals(synth.cohort(100, seed=4))  # one piece is what `cohort` makes
    assert parts[0][1].equals(synth.scenarios(100, seed=4))
    whole = pl.concat([df for df, _ in parts])
    scenarios = pl.concat([sc for _, sc in parts])
    assert scenarios["patient_id"].n_unique() == 250 and scenarios["patient_id"].is_sorted()
    assert set(whole["patient_id"].drop_nulls()) == set(scenarios["patient_id"])
    specimens = [set(df["specimen_id"]) for df, _ in parts]
    assert not (specimens[0] & specimens[1] or specimens[1] & specimens[2] or specimens[0] & specimens[2])
    again = pl.concat([df for df, _ in synth.pieces(250, seed=4, piece=100)])
    assert again.equals(whole)  # the same seed, the same cohort
    assert not parts[1][0]["value"].equals(parts[0][0]["value"].head(parts[1][0].height))  # a piece's own seed


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_pieces_are_written_into_one_file(tmp_path: Path, suffix: str) -> None:
    out, sc = tmp_path / f"c.{suffix}", tmp_path / "c.scenarios.csv"
    rows = synth.write_pieces(synth.pieces(120, seed=3, piece=50), out, sc)
    whole = pl.concat([df for df, _ in synth.pieces(120, seed=3, piece=50)])
    back = pl.read_parquet(out) if suffix == "parquet" else pl.read_csv(out, schema=whole.schema)
    assert rows == whole.height and back.equals(whole)
    assert pl.read_csv(sc)["patient_id"].to_list() == [f"P{i:07d}" for i in range(120)]
    if suffix == "parquet":
        import pyarrow.parquet as pq

        meta = pq.ParquetFile(out).metadata  # row groups no larger than a streaming reader should hold
        assert all(meta.row_group(i).num_rows <= synth.ROW_GROUP for i in range(meta.num_row_groups))


def test_cli_writes_a_large_cohort_a_piece_at_a_time(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(synth, "PIECE_PATIENTS", 40)
    made = []
    real = synth._cohort
    monkeypatch.setattr(synth, "_cohort", lambda n, **kw: made.append(n) or real(n, **kw))
    out = tmp_path / "big.parquet"
    assert _cli(["synth", "--patients", "100", "--out", str(out), "--seed", "5", "--quiet"]) == 0
    assert made == [40, 40, 20]
    df = pl.read_parquet(out)
    assert df.height == sum(d.height for d, _ in synth.pieces(100, seed=5, piece=40))
    assert read(out).rows_read == df.height
