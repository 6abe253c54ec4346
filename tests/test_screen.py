"""`screen` end to end on real files: outputs, accounting, duplicates, chunks, the command line."""

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon.cli.app import main
from leukon.pipelines.screen import screen

DATA = Path(__file__).parent / "data" / "sources"


def test_long_csv_outputs_and_accounting(tmp_path):
    r = screen(DATA / "long.csv", format="long", out=tmp_path)
    s = r.summary
    assert s["accounted"] and s["rows_read"] == s["rows_used"] + s["rows_rejected"]
    for name in ("panels", "grades", "rejects", "patients", "episodes"):
        assert (tmp_path / f"{name}.parquet").exists(), name
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["rows_read"] == s["rows_read"]
    # Seconds by stage are kept in memory (for the benchmarks), not in summary.json (same input, same file).
    assert list(s["stage_seconds"]) == ["reading", "units", "panels", "ranges and findings", "grading", "course",
                                        "rejects", "writing"]  # fmt: skip
    assert all(v >= 0 for v in s["stage_seconds"].values()) and "stage_seconds" not in saved
    panels = pl.read_parquet(tmp_path / "panels.parquet")
    p1 = panels.filter(pl.col("patient_id") == "P001").sort("taken_at").row(0, named=True)
    assert p1["wbc"] == 2.1 and p1["anc"] == 0.45 and p1["anc_range"] == "lab"
    assert "neutropenia" in p1["findings"] and p1["neutropenia_severity"] == "severe"
    grades = pl.read_parquet(tmp_path / "grades.parquet")
    g = grades.filter((pl.col("specimen_id") == p1["specimen_id"]) & (pl.col("term") == "Neutrophil count decreased"))
    assert g["grade"].to_list() == [4]


def test_wide_csv_partial_rows_are_used_and_bad_cells_reported(tmp_path):
    r = screen(DATA / "wide.csv", format="wide")
    assert r.summary["accounted"]
    reasons = r.rejects["reason"].to_list()
    assert not any("missing unit" in x for x in reasons)  # a percentage column needs no unit
    partial = r.rejects.filter(pl.col("row_used"))
    assert partial.height == 1 and "not numeric" in partial["reason"][0]  # the row's other cells were used
    s3 = r.panels.filter(pl.col("specimen_id") == "S3").row(0, named=True)
    assert s3["anc_method"] == "derived_without_bands" and s3["anc"] == round(6.1 * 0.58, 12)


def test_mimic_and_omop(tmp_path):
    m = screen(DATA / "labevents.csv.gz", format="mimic-iv", patients=str(DATA / "patients.csv.gz"))
    assert m.summary["accounted"] and m.panels.height > 0
    assert m.panels["age_days"].drop_nulls().len() > 0  # ages from anchor_age
    o = screen(DATA / "omop_measurement.parquet", format="omop", patients=str(DATA / "omop_person.csv"))
    assert o.summary["accounted"] and o.panels.height > 0


def _long_csv(path: Path, rows: list[tuple]) -> None:
    header = "patient,time,code,value,unit\n"
    path.write_text(header + "".join(",".join(str(x) for x in r) + "\n" for r in rows))


def test_duplicates_and_conflicts(tmp_path):
    f = tmp_path / "dups.csv"
    _long_csv(f, [
        ("P1", "2024-01-01 08:00", "6690-2", 3.1, "10^9/L"),
        ("P1", "2024-01-01 08:00", "6690-2", 3.1, "10^9/L"),   # identical repeat: duplicate
        ("P1", "2024-01-01 08:00", "751-8", 0.9, "10^9/L"),
        ("P1", "2024-01-01 08:00", "751-8", 1.4, "10^9/L"),    # differing: both rejected as conflicting
        ("P2", "2024-01-02 08:00", "6690-2", 5.0, "K/uL"),
    ])  # fmt: skip
    r = screen(f, format="long", course=False)
    reasons = dict(zip(r.rejects["source_row"].to_list(), r.rejects["reason"].to_list(), strict=True))
    assert reasons[1] == "duplicate of row 0"
    assert "conflicting" in reasons[2] and "conflicting" in reasons[3]
    p1 = r.panels.filter(pl.col("patient_id") == "P1").row(0, named=True)
    assert p1["wbc"] == 3.1 and p1["anc"] is None  # no silent choice between 0.9 and 1.4
    assert r.summary["accounted"] and r.summary["rows_used"] == 2 and r.summary["rows_rejected"] == 3


def test_a_wide_row_keeps_its_other_results_when_one_is_a_duplicate(tmp_path):
    """Two wide rows of one specimen repeat the WBC: the repeat is rejected, the second row's ANC still counts."""
    f = tmp_path / "wide_dups.csv"
    f.write_text(
        "patient_id,specimen_id,collected_at,WBC (10^9/L),ANC (10^9/L)\n"
        "P1,S1,2024-05-01 08:00,3.2,\n"
        "P1,S1,2024-05-01 08:00,3.2,0.4\n"
    )
    r = screen(f, format="wide", course=False)
    assert r.rejects["reason"].to_list() == ["duplicate of row 0"]
    assert r.rejects["row_used"].to_list() == [True]  # row 1's ANC was used
    p = r.panels.row(0, named=True)
    assert p["wbc"] == 3.2 and p["anc"] == 0.4 and "neutropenia" in p["findings"]
    assert r.summary["accounted"] and r.summary["rows_used"] == 2


def test_panels_come_in_the_written_order_and_grades_need_one_stable_sort(tmp_path):
    """Writing checks the order before sorting, so the screen makes the panels' order: ids that do not sort like
    the patients and times, and specimens without ids (grouped by patient and time)."""
    from leukon.pipelines.run_folder import SORT_KEYS, canonical, in_order

    f = tmp_path / "order.csv"
    rows = [("P2", "2024-01-02 08:00", "S9", "6690-2", 3.1), ("P1", "2024-01-03 08:00", "S1", "751-8", 0.4),
            ("P1", "2024-01-01 08:00", "S5", "6690-2", 2.0), ("P1", "2024-01-01 08:00", "S5", "751-8", 0.9),
            ("P3", "2024-01-01 09:00", "", "6690-2", 5.0), ("P0", "2024-01-01 07:00", "", "6690-2", 5.0),
            ("P1", "2024-01-01 08:00", "S2", "6690-2", 4.0)]  # fmt: skip
    f.write_text("patient,time,specimen,code,value,unit\n" + "".join(",".join(map(str, r)) + ",10^9/L\n" for r in rows))
    r = screen(f, format="long", course=False)
    assert in_order(r.panels, list(SORT_KEYS["panels"]))
    grades = canonical(r.grades, "grades")  # blocks by term: one stable sort on the specimen id puts them in order
    assert grades.equals(r.grades.sort(list(SORT_KEYS["grades"]), maintain_order=True))
    assert r.panels["specimen_id"].to_list() == [
        "P0@2024-01-01T07:00:00",
        "S2",
        "S5",
        "S1",
        "S9",
        "P3@2024-01-01T09:00:00",
    ]
    shuffled = r.panels.reverse()
    assert not in_order(shuffled, list(SORT_KEYS["panels"]))


def test_chunks_give_the_same_panels(tmp_path):
    from leukon import synth

    df = synth.cohort(60, seed=3)
    path = synth.write(df, tmp_path / "c.parquet")
    one = screen(path, chunks=1, course=False)
    three = screen(path, chunks=3, course=False)
    cols = ["specimen_id", "wbc", "anc", "anc_method", "findings"]
    assert one.panels.select(cols).sort("specimen_id").equals(three.panels.select(cols).sort("specimen_id"))
    assert one.summary["rows_rejected"] == three.summary["rows_rejected"]
    assert three.summary["accounted"]


@pytest.mark.parametrize("chunks", [1, 3])
def test_each_slice_is_let_go_once_normalised(tmp_path, monkeypatch, chunks):
    """The screen holds a slice's measurements only until normalize has its own copy: by the time the panels
    are built, nothing refers to the frame the slice came in (10.1 M results: the whole command 12 s at a
    3.2 GB peak, against 15-18 s and 4.5 GB while the run held every stage's input to its end)."""
    import weakref

    from leukon import synth
    from leukon.pipelines import screen as run

    path = synth.write(synth.cohort(40, seed=5), tmp_path / "c.parquet")
    given, alive = [], []
    normalize, build_panels = run.normalize, run.build_panels

    def watched_normalize(measurements, **kwargs):
        given.append(weakref.ref(measurements))
        return normalize(measurements, **kwargs)

    def watched_build_panels(*args, **kwargs):
        alive.append(given[-1]() is not None)
        return build_panels(*args, **kwargs)

    monkeypatch.setattr(run, "normalize", watched_normalize)
    monkeypatch.setattr(run, "build_panels", watched_build_panels)
    result = screen(path, chunks=chunks, course=False)
    assert result.summary["accounted"] and result.panels.height > 0
    assert alive == [False] * chunks


ROW = st.tuples(
    st.sampled_from(["P1", "P2", "P3", "", " P4 "]),
    st.sampled_from(["2024-01-01 08:00", "2024-01-03 09:30", "yesterday", ""]),
    st.sampled_from(["6690-2", "751-8", "770-8", "WBC", "Neutrophils #", "718-7", "9999-9", ""]),
    st.sampled_from(["3.1", "0.4", "45", "-1", "abc", "4600", "", "150", "12.5"]),
    st.sampled_from(["10^9/L", "K/uL", "/uL", "%", "mg/dL", "g/dL", "", "10^9/M"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ROW, min_size=0, max_size=25))
def test_rows_in_equal_rows_used_plus_rejected(tmp_path, rows):
    """Whatever the dirt (bad ids, times, codes, values, units, duplicates), every row is accounted for."""
    f = tmp_path / "dirty.csv"
    _long_csv(f, rows)
    r = screen(f, format="long", course=False)
    s = r.summary
    assert s["rows_read"] == len(rows)
    assert s["rows_read"] == s["rows_used"] + s["rows_rejected"]
    used = set(range(len(rows))) - set(r.rejects.filter(~pl.col("row_used"))["source_row"].to_list())
    assert sum(r.panels["n_results"].to_list()) == len(used)


ROW_WITH_SPECIMEN = st.tuples(ROW, st.sampled_from(["S1", "S2", "", " "])).map(lambda r: (*r[0], r[1]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ROW_WITH_SPECIMEN, min_size=0, max_size=25))
def test_unused_rows_marked_or_filtered_give_the_same_panels(tmp_path, rows):
    """`normalize(marked=True)` keeps the unused rows, marked, and the pivot leaves them out: the panels, the
    repeats' rejects and the used rows are those of the filtered measurements, with or without specimen ids."""
    from leukon.measurements.normalize import UNUSED, normalize
    from leukon.panels.build import build_panels
    from leukon.sources import read

    f = tmp_path / "dirty.csv"
    pl.DataFrame(
        rows, schema=["patient_id", "taken_at", "code", "value", "unit", "specimen_id"], orient="row"
    ).write_csv(f)
    source = read(f, format="long")
    measurements, _ = source.collect(raw=False, unfiltered=True)
    filtered, rejects = normalize(measurements.lazy())
    marked, marked_rejects = normalize(measurements.lazy(), marked=True)
    assert marked_rejects.collect().equals(rejects.collect())
    assert UNUSED not in filtered.collect_schema().names()
    a, a_rejects, a_rows = build_panels(filtered, source.patients)
    b, b_rejects, b_rows = build_panels(marked, source.patients)
    assert b.collect().equals(a.collect())
    assert b_rejects.equals(a_rejects) and b_rows.equals(a_rows)


@pytest.mark.parametrize("engine", ["in-memory", "streaming"])
def test_panels_come_in_written_order_on_any_engine(tmp_path, engine):
    """The screen writes the panels without sorting them (`PANEL_ORDER`): building them on either Polars engine
    gives that order, with each specimen's demographics joined to its own row."""
    from leukon import synth
    from leukon.measurements.normalize import normalize
    from leukon.panels.build import PANEL_ORDER, build_panels
    from leukon.sources import read

    f = tmp_path / "cohort.parquet"
    synth.cohort(60, seed=3).write_parquet(f)
    source = read(f)
    measurements, _ = source.collect(raw=False, unfiltered=True)
    used, _ = normalize(measurements.lazy(), marked=True)
    with pl.Config(engine_affinity=engine):
        panels = build_panels(used, source.patients)[0].collect()
    keys = panels.select(PANEL_ORDER)
    assert panels.height > 500 and keys.equals(keys.sort(PANEL_ORDER, nulls_last=True, maintain_order=True))
    patients = source.patients.collect().unique("patient_id").select("patient_id", "sex")
    expected = panels.select("patient_id").join(patients, on="patient_id", how="left", maintain_order="left")
    assert panels["sex"].equals(expected["sex"])


def test_screen_command(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["screen", str(DATA / "long.csv"), "--out", str(out), "--output", "csv", "--quiet"])
    assert code == 0 and (out / "panels.csv").exists() and (out / "summary.json").exists()
    panels = pl.read_csv(out / "panels.csv")
    assert "findings" in panels.columns
    code = main(["screen", str(DATA / "long.csv"), "--out", str(out), "--force"])  # replaces the earlier run
    assert code == 0 and "rows read = rows used + rows rejected: yes" in capsys.readouterr().out
    assert not (out / "panels.csv").exists() and (out / "panels.parquet").exists()  # never a mix of two runs


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--format", "hl7"], "format"),
        (["--scheme", "ctcae-v9"], "ctcae-v5"),
        (["--profile", "nope"], "profile"),
        (["--patient-id", "MRNX"], "MRNX"),
    ],
)
def test_screen_command_bad_input(tmp_path, capsys, args, fragment):
    code = main(["screen", str(DATA / "long.csv"), "--out", str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_screen_command_bad_files(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code = main(["screen", str(empty), "--out", str(tmp_path / "o")])
    assert code == 2 and "Traceback" not in capsys.readouterr().err
    code = main(["screen", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")])
    assert code == 2 and capsys.readouterr().err.count("\n") == 1
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    code = main(["screen", str(wrong), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1


def test_auto_chunks_bound_memory(tmp_path):
    from leukon.pipelines.screen import auto_chunks

    assert auto_chunks(str(DATA / "long.csv")) == 1
    big = tmp_path / "big.csv"
    with big.open("wb") as f:  # a sparse 6 GB file: only its size is read
        f.truncate(6 * 2**30)
    assert auto_chunks(str(big), memory=24 * 2**30) > 1
    assert auto_chunks(str(big), memory=4 * 2**30) > auto_chunks(str(big), memory=24 * 2**30)
    assert auto_chunks(str(tmp_path / "missing.csv")) == 1


@settings(deadline=None)
@given(st.integers(1, 64).flatmap(lambda n: st.tuples(st.just(n), st.lists(st.lists(st.integers(0, n - 1), min_size=1,
                                                                                     max_size=6), max_size=30))))  # fmt: skip
def test_a_specimen_repeats_an_analyte_exactly_when_two_of_its_results_share_one(case):
    """The pivot finds repeated analytes by one bit an analyte, OR-ed over a specimen's results (in the smallest
    integer that holds the analytes found: 8 to 64 bits); the answer is a per-specimen count, for any number of
    analytes up to 64."""
    import numpy as np

    from leukon.panels.build import _in_repeating_specimen

    analytes, specimens = case
    first = np.array([i == 0 for s in specimens for i in range(len(s))], dtype=bool)
    analyte = np.array([a for s in specimens for a in s], dtype=np.int8)
    want = [len(set(s)) < len(s) for s in specimens for _ in s]
    assert _in_repeating_specimen(first, analyte, analytes).tolist() == want


@pytest.mark.parametrize("specimen_ids", [True, False])
def test_results_out_of_key_order_are_grouped_by_hash_as_by_sorting_the_keys(tmp_path, monkeypatch, specimen_ids):
    """The pivot groups results that do not come sorted by their specimen keys through one hash of the keys a
    result (`_grouping`), and sorts the keys themselves when two keys share a hash. Both give the same panels,
    repeats' rejects and used rows ("first" of a repeat stays the first in input order)."""
    from leukon import synth
    from leukon.measurements.normalize import normalize
    from leukon.panels import build
    from leukon.sources import read

    cohort = synth.cohort(40, seed=5)
    if not specimen_ids:  # results grouped by patient and time
        cohort = cohort.with_columns(specimen_id=pl.lit(None, pl.String))
    repeats = cohort.head(30).with_columns(value=pl.col("value") * 2)  # conflicting repeats, rejected
    cohort = pl.concat([cohort, repeats, cohort.slice(100, 20)])  # and identical ones, rejected as duplicates
    cohort.sample(fraction=1.0, shuffle=True, seed=11).write_parquet(tmp_path / "cohort.parquet")
    measurements, _ = read(tmp_path / "cohort.parquet").collect(raw=False, unfiltered=True)
    used, _ = normalize(measurements.lazy(), marked=True)
    used = used.collect()
    keys = build._keys(used, None)
    assert not used[keys[0]].is_sorted(nulls_last=True)
    assert build._grouping(used, keys).columns == ["_key_hash"]
    hashed, hashed_rejects, hashed_rows = build.pivot(used.lazy())
    with monkeypatch.context() as m:  # every key that is there hashes to 0: the keys are sorted instead
        m.setattr(pl.Expr, "hash", lambda self, seed=0: self.is_null().cast(pl.UInt64))
        assert build._grouping(used, keys).columns == keys
        panels, rejects, rows = build.pivot(used.lazy())
    assert rejects.height > 20
    assert hashed.collect().equals(panels.collect())
    assert hashed_rejects.sort("source_row").equals(rejects.sort("source_row"))
    assert hashed_rows.equals(rows)
