"""Slices as ranges of rows: only for inputs that keep each patient's rows together, never splitting a patient,
each slice reading its own rows only."""

import itertools
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon import synth
from leukon.pipelines import screen as screen_module
from leukon.pipelines.row_ranges import row_ranges
from leukon.pipelines.run_folder import TABLES, canonical
from leukon.pipelines.screen import screen_source
from leukon.sources import read


def _long(path: Path, ids: list[str | None]) -> Path:
    """A long Parquet table with one WBC result per row, for these patient ids in this order."""
    n = len(ids)
    pl.DataFrame(
        {
            "patient_id": pl.Series(ids, dtype=pl.String),
            "taken_at": [f"2024-01-{1 + i % 28:02d} 08:00" for i in range(n)],
            "analyte": ["6690-2"] * n,
            "value": [3.0 + (i % 5) for i in range(n)],
            "unit": ["10^9/L"] * n,
        }
    ).write_parquet(path)
    return path


def _patients_by_range(ids: list[str | None], ranges: list[tuple[int, int]]) -> list[set[str]]:
    return [{i.strip() for i in ids[a:b] if i is not None and i.strip()} for a, b in ranges]


def test_sorted_and_grouped_inputs_are_cut_between_patients(tmp_path):
    ids = ["P1"] * 5 + ["P2"] * 3 + ["P3"] * 4 + ["P4"] * 4
    for order in (ids, ids[8:] + ids[:8]):  # sorted, and grouped out of order (P3, P4, P1, P2)
        ranges = row_ranges(read(_long(tmp_path / "t.parquet", order)), 3)
        assert ranges is not None and ranges[0][0] == 0 and ranges[-1][1] == len(order)
        assert all(a < b and b == c for (a, b), (c, _) in itertools.pairwise(ranges))
        sets = _patients_by_range(order, ranges)
        assert sum(len(s) for s in sets) == len(set().union(*sets)) == 4


@pytest.mark.parametrize(
    "ids",
    [
        ["P1", "P2", "P1", "P2"] * 3,  # shuffled: the id changes on every row
        ["P1"] * 4 + ["P2"] * 4 + ["P1"] * 4,  # P1 comes back
        ["P4"] * 4 + ["P5"] * 4 + [" P4 "] * 4,  # the same patient once the padding is cleaned off
    ],
)
def test_inputs_with_a_patient_in_two_places_are_not_cut_by_rows(tmp_path, ids):
    assert row_ranges(read(_long(tmp_path / "t.parquet", ids)), 2) is None


def test_only_inputs_read_by_range(tmp_path):
    ids = ["P1"] * 4 + ["P2"] * 4
    df = pl.read_parquet(_long(tmp_path / "t.parquet", ids))
    df.write_csv(tmp_path / "t.csv")
    assert row_ranges(read(tmp_path / "t.parquet"), 2) == [(0, 4), (4, 8)]
    assert row_ranges(read(tmp_path / "t.csv"), 2) is None  # a CSV would parse every line before its range
    assert row_ranges(read(tmp_path / "t.parquet"), 1) is None


def test_a_range_is_read_alone_from_the_parquet_file(tmp_path):
    """The range goes down to the Parquet reader, which skips the rows before it, numbered as in the file."""
    path = _long(tmp_path / "t.parquet", ["P1"] * 6 + ["P2"] * 6)
    source = read(path)
    assert "SLICE" in source.checked.slice(6, 6).explain().split("Parquet SCAN")[-1]
    measurements, rejects = source.collect(raw=False, unfiltered=True, row_range=(6, 12))
    assert measurements["source_row"].to_list() == list(range(6, 12))
    assert set(measurements["patient_id"]) == {"P2"} and rejects.is_empty()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    runs=st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D", " C", None]), st.integers(1, 6)), max_size=12),
    n=st.integers(2, 5),
)
def test_ranges_never_split_a_patient(tmp_path, runs, n):
    ids = [pid for pid, k in runs for _ in range(k)]
    if not ids:
        return
    ranges = row_ranges(read(_long(tmp_path / "h.parquet", ids)), n)
    if ranges is None:
        return
    assert len(ranges) <= n and ranges[0][0] == 0 and ranges[-1][1] == len(ids)
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(ranges))
    sets = _patients_by_range(ids, ranges)
    assert sum(len(s) for s in sets) == len(set().union(*sets))


def test_a_chunked_run_by_rows_does_not_spill_and_gives_one_chunks_outputs(tmp_path, monkeypatch):
    path = synth.write(synth.cohort(50, seed=8), tmp_path / "c.parquet")  # sorted by patient, with dirt
    one = screen_source(read(path), chunks=1)

    def no_spill(*args, **kwargs):
        raise AssertionError("spilled")

    monkeypatch.setattr(screen_module, "spilled", no_spill)
    ranges = []
    real = screen_module._RowRange.read

    def recording(self):
        ranges.append(self.rows)
        return real(self)

    monkeypatch.setattr(screen_module._RowRange, "read", recording)
    many = screen_source(read(path), chunks=3)
    assert len(ranges) == 3 and many.summary["accounted"]
    assert many.summary["rows_rejected"] == one.summary["rows_rejected"] > 0
    for name in TABLES:
        assert canonical(getattr(one, name), name).equals(canonical(getattr(many, name), name)), name
    assert one.rejects["raw"].null_count() == many.rejects["raw"].null_count() == 0  # every reject's input row


@pytest.mark.parametrize(
    ("name", "fmt", "patients"),
    [
        ("omop_measurement.parquet", "omop", "omop_person.csv"),
        ("mimic_labevents.csv", "mimic-iv", "mimic_patients.csv"),
    ],
)
def test_omop_and_mimic_parquet_are_read_by_ranges(tmp_path, monkeypatch, name, fmt, patients):
    data = Path(__file__).parent.parent / "data" / "sources"
    path = data / name
    if path.suffix == ".csv":  # the same rows as Parquet, sorted by patient as exports often are
        path = tmp_path / f"{path.stem}.parquet"
        pl.read_csv(data / name).sort("subject_id", maintain_order=True).write_parquet(path)
    options = {"format": fmt, "patients": str(data / patients)}
    one = screen_source(read(path, **options), chunks=1)
    assert row_ranges(read(path, **options), 2) is not None
    monkeypatch.setattr(screen_module, "spilled", lambda *a, **k: pytest.fail("spilled"))
    many = screen_source(read(path, **options), chunks=2)
    for table in TABLES:
        assert canonical(getattr(one, table), table).equals(canonical(getattr(many, table), table)), table
    assert many.summary["accounted"] and many.summary["rows_rejected"] == one.summary["rows_rejected"]
