"""`leukon screen` as a person runs it: --out checked first, whole runs only, Ctrl-C, identical re-runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import polars as pl
import pytest

from leukon import synth
from leukon.pipelines.run_folder import STAGING_PREFIX

from .conftest import DATA, command

LONG = DATA / "long.csv"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_out_is_a_file(leukon, tmp_path):
    f = tmp_path / "out.txt"
    f.write_text("notes")
    r = leukon("screen", LONG, "--out", f)
    assert r.one_line_error() and "is a file" in r.err and "--out" in r.err
    assert f.read_text() == "notes"


@pytest.mark.parametrize("out", ["/proc", "/proc/leukon-out", "/proc/self/leukon/out"])
def test_out_not_writable_is_refused_before_the_run(leukon, out):
    r = leukon("screen", LONG, "--out", out)
    assert r.one_line_error() and "--out" in r.err and "internal error" not in r.err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_read_only_folder(leukon, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = leukon("screen", LONG, "--out", ro)
        assert r.one_line_error() and "cannot write" in r.err
    finally:
        ro.chmod(0o755)


def test_missing_input_leaves_no_folder_behind(leukon, tmp_path):
    r = leukon("screen", tmp_path / "missing.csv", "--out", tmp_path / "new")
    assert r.one_line_error() and not (tmp_path / "new").exists()


def test_rerun_refuses_without_force_and_replaces_the_whole_set_with_it(leukon, tmp_path):
    out = tmp_path / "out"
    assert leukon("screen", LONG, "--out", out, "--output", "csv", "--quiet").code == 0
    first = _files(out)
    (out / "my-notes.txt").write_text("kept")
    r = leukon("screen", LONG, "--out", out)
    assert r.one_line_error() and "--force" in r.err
    assert _files(out) == {**first, "my-notes.txt": b"kept"}  # untouched
    assert leukon("screen", LONG, "--out", out, "--force", "--quiet").code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["episodes.parquet", "grades.parquet", "my-notes.txt", "panels.parquet", "patients.parquet",
                     "rejects.parquet", "summary.json"]  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(summary["outputs"]) == sorted(n for n in names if n != "my-notes.txt")


def test_debris_of_a_killed_run_is_cleared(leukon, tmp_path):
    out = tmp_path / "out"
    dead = out / f"{STAGING_PREFIX}999999999-x"  # no such process
    dead.mkdir(parents=True)
    (dead / "panels.parquet").write_bytes(b"PAR1 half")
    (out / "panels.parquet").write_bytes(b"PAR1 half of an interrupted commit")  # no summary.json: debris
    assert leukon("screen", LONG, "--out", out, "--quiet").code == 0
    assert not dead.exists()
    assert pl.read_parquet(out / "panels.parquet").height == 3


@pytest.mark.parametrize("output", ["parquet", "csv"])
def test_two_runs_are_byte_identical(leukon, tmp_path, output):
    df = synth.cohort(40, seed=3)
    src = tmp_path / "cohort.csv"
    synth.write(df, src)
    for name in ("a", "b"):
        assert leukon("screen", src, "--out", tmp_path / name, "--output", output, "--quiet").code == 0
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) == 6
    for name in a:
        assert a[name] == b[name], name


def test_interrupt_writes_nothing_and_keeps_the_earlier_run(tmp_path):
    """A real Ctrl-C (SIGINT) to the installed command while it computes: exit 130, the folder as it was."""
    src = tmp_path / "cohort.csv"
    synth.write(synth.cohort(3000, seed=1), src)
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"earlier": "run"}\n')
    (out / "panels.parquet").write_bytes(b"earlier panels")
    before = _files(out)
    p = subprocess.Popen([*command(), "screen", str(src), "--out", str(out), "--force"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(x.name.startswith(STAGING_PREFIX) for x in out.iterdir()):  # the run has started
        assert p.poll() is None and time.monotonic() < deadline, p.stderr.read() if p.poll() is not None else ""
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "leukon screen: interrupted, nothing written"
    assert "Traceback" not in stderr and stdout == ""
    assert _files(out) == before  # no staging folder left, no file of the new run, the old ones intact


def test_single_files_are_written_whole(leukon, tmp_path):
    """synth, report and follow --chart write under a temporary name first: a failure leaves nothing behind."""
    out = tmp_path / "cohort.csv"
    assert leukon("synth", "--patients", "3", "--out", out, "--quiet").code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "cohort.scenarios.csv"]
    r = leukon("synth", "--patients", "3", "--out", tmp_path)  # a folder, not a file
    assert r.one_line_error() and "is a folder" in r.err
    r = leukon("report", DATA / "long.csv", "--patient", "P001", "--html", tmp_path / "no" / "r.html")
    assert r.one_line_error() and "--html" in r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cohort.csv", "cohort.scenarios.csv"]
