"""Terminal output follows the terminal's width (80 columns must fit) and writes units as people do."""

from __future__ import annotations

import pytest

from .conftest import DATA


@pytest.fixture
def narrow(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def test_assess_fits_80_columns_and_writes_celsius_as_c(leukon, narrow):
    r = leukon("assess", "--wbc", "0.9", "--anc", "0.2", "--temp", "101.3 F", "--hgb", "9", "--plt", "90",
               "--age-years", "63", "--explain")  # fmt: skip
    assert r.code == 0
    assert _widest(r.out) <= 80
    assert "Cel" not in r.out
    assert any(line.split("│")[1:4] and "38.5" in line and " C " in line for line in r.out.splitlines())


def test_assess_uses_a_wide_terminal(leukon, monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    r = leukon("assess", "--wbc", "0.9", "--anc", "0.2", "--temp", "101.3 F", "--age-years", "63")
    assert 100 < _widest(r.out) <= 160


def test_screen_summary_fits_80_columns(leukon, narrow, tmp_path):
    r = leukon("screen", DATA / "long.csv", "--out", tmp_path / "out")
    assert r.code == 0 and _widest(r.out) <= 80
    assert "leukon screen: long.csv" in r.out  # the title is not wrapped under a narrow table


def test_screen_lists_its_outputs_without_a_ragged_break(leukon, narrow, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a folder that fits in 80 columns, but not with the files after it
    r = leukon("screen", DATA / "long.csv", "--out", "results-of-the-screening-run-for-the-december-review")
    assert r.code == 0 and _widest(r.out) <= 80
    lines = r.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("outputs in "))
    assert lines[at].endswith("/:") and lines[at + 1].strip().startswith("panels, grades, ")
    assert not any(line != line.rstrip() for line in lines[at : at + 2])


def test_explain_fits_80_columns(leukon, narrow):
    r = leukon("explain", "leukopenia", "vs", "neutropenia")
    assert r.code == 0 and _widest(r.out) <= 80
