"""The output folder protocol: staged files replace the earlier run only as a whole, summary.json last."""

from __future__ import annotations

import json

import polars as pl
import pytest

from leukon.errors import InputError
from leukon.pipelines.run_folder import MARKER, RunFolder, canonical, in_order, is_output, write_tables


def _run(folder: RunFolder, value: float) -> list:
    tables = {"panels": pl.DataFrame({"patient_id": ["b", "a"], "taken_at": [2, 1], "specimen_id": ["y", "x"],
                                      "anc": [value, 1 / 3]})}  # fmt: skip
    write_tables(tables, {"rows_read": 2, "seconds": 0.5}, folder.staging, output="csv")
    return folder.commit()


def test_commit_moves_the_marker_last_and_lists_the_outputs(tmp_path):
    folder = RunFolder.prepare(tmp_path / "out")
    placed = _run(folder, 0.1)
    assert [p.name for p in placed] == ["panels.csv", MARKER]
    summary = json.loads((tmp_path / "out" / MARKER).read_text())
    assert summary == {"rows_read": 2, "outputs": ["panels.csv", MARKER]}  # no run-dependent seconds
    # A panel's floats are written exactly as graded (each computed within its row, so every run gives the same bits).
    assert (tmp_path / "out" / "panels.csv").read_text().splitlines()[1:] == ["a,1,x,0.3333333333333333", "b,2,y,0.1"]
    assert not folder.staging.exists()


def test_abandon_and_commit_exclude_each_other(tmp_path):
    folder = RunFolder.prepare(tmp_path / "out")
    assert folder.abandon() is True
    assert not (tmp_path / "out").exists()  # created by this run, so removed with it
    with pytest.raises(RuntimeError, match="abandoned"):
        folder.commit()
    done = RunFolder.prepare(tmp_path / "out2")
    _run(done, 0.2)
    assert done.abandon() is False  # too late: the complete run stays
    assert (tmp_path / "out2" / MARKER).exists()


def test_earlier_run_needs_force_and_other_files_are_left_alone(tmp_path):
    out = tmp_path / "out"
    _run(RunFolder.prepare(out), 0.1)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="--force"):
        RunFolder.prepare(out)
    _run(RunFolder.prepare(out, force=True), 0.2)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "panels.csv", MARKER]
    assert "0.2" in (out / "panels.csv").read_text()


@pytest.mark.parametrize("created", [False, True])
def test_ctrl_c_while_the_staging_folder_is_made_leaves_nothing(tmp_path, monkeypatch, created):
    """`leukon screen` is interrupted as soon as its staging folder appears (tests/cli/test_screen_run.py): a
    Ctrl-C that lands while `prepare` is still checking the folder removes it, and the output folder too when
    this run created it; the earlier run's files stay."""
    from pathlib import Path

    out = tmp_path / "out"
    if not created:
        out.mkdir()
        (out / MARKER).write_text("{}")
    real = Path.write_bytes

    def interrupted(self, data):
        real(self, data)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        RunFolder.prepare(out, force=True)
    assert not out.exists() if created else [p.name for p in out.iterdir()] == [MARKER]


@pytest.mark.parametrize(("name", "ours"), [("panels.parquet", True), ("rejects.csv", True), (MARKER, True),
                                            ("panels.json", False), ("notes.txt", False), ("panels", False)])  # fmt: skip
def test_is_output(name, ours):
    assert is_output(name) is ours


def test_canonical_is_independent_of_row_order():
    df = pl.DataFrame({"patient_id": ["b", "a", None], "taken_at": [1, 2, 3], "specimen_id": ["1", "2", "3"],
                       "wbc": [0.1 + 0.2, 4.0, None]})  # fmt: skip
    assert canonical(df, "panels").equals(canonical(df.reverse(), "panels"))
    assert canonical(df, "panels")["wbc"].to_list() == [4.0, 0.1 + 0.2, None]  # panels: exactly as graded


def test_canonical_rounds_the_floats_of_sums():
    """The course's tables hold sums over many rows, whose last bits depend on the order of the parallel adds."""
    df = pl.DataFrame({"patient_id": ["b", "a"], "days_below_1_5": [0.1 + 0.2, 1 / 3]})
    assert canonical(df, "patients")["days_below_1_5"].to_list() == [0.333333333333, 0.3]
    assert canonical(df, "patients").equals(canonical(df.reverse(), "patients"))


def test_canonical_orders_any_frame_and_keeps_one_in_order():
    """One stable sort on the first key when the rest is in order within it, a full sort otherwise."""
    blocks = pl.DataFrame({"specimen_id": ["S2", "S1", "S2", "S1"], "scheme": ["a", "a", "b", "b"], "term": "t"})
    mixed = pl.DataFrame({"specimen_id": ["S2", "S1", "S2", "S1"], "scheme": ["b", "a", "a", "b"], "term": "t"})
    for df in (blocks, mixed, blocks.reverse()):
        out = canonical(df, "grades")
        assert out.equals(df.sort(["specimen_id", "scheme", "term"], maintain_order=True))
        assert in_order(out, ["specimen_id", "scheme", "term"])
    nulls = pl.DataFrame({"patient_id": ["P1", "P1", "P1"], "taken_at": [None, 2, 1], "specimen_id": ["c", "b", "a"]})
    assert canonical(nulls, "panels")["specimen_id"].to_list() == ["a", "b", "c"]  # a missing time sorts last


def test_a_write_racing_the_discard_leaves_no_folder(tmp_path, monkeypatch):
    """Ctrl-C while the worker thread writes a table: the main thread discards the staging folder while the worker
    may still create a file in it. Here the worker's file is made just before the folder's last `rmdir`, the
    moment that left the folder behind when it was removed in place; the worker's write then fails instead."""
    import os
    import shutil

    out = tmp_path / "out"
    out.mkdir()
    folder = RunFolder.prepare(out)
    (folder.staging / "panels.parquet").write_bytes(b"partial")
    late = {}
    real_rmdir = os.rmdir

    def rmdir(path, *args, **kwargs):
        if "late" not in late:  # the worker, still running, starts its next table
            try:
                (folder.staging / "grades.parquet").write_bytes(b"partial")
                late["late"] = "written"
            except OSError as e:
                late["late"] = type(e).__name__
        return real_rmdir(path, *args, **kwargs)

    monkeypatch.setattr(shutil.os, "rmdir", rmdir)
    assert folder.abandon() is True
    assert late["late"] == "FileNotFoundError"  # the write failed: the folder it named was no longer there
    assert list(out.iterdir()) == []


def test_a_staging_folder_that_cannot_be_renamed_is_removed_in_place(tmp_path, monkeypatch):
    import os

    folder = RunFolder.prepare(tmp_path / "out")
    (folder.staging / "panels.parquet").write_bytes(b"partial")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "rename", refuse)
    assert folder.abandon() is True
    assert not (tmp_path / "out").exists()
