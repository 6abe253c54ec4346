"""Fuzz the command line and the file readers: whatever a person types or hands over, leukon answers with a
result (exit 0) or one line naming the problem (exit 2), never a traceback and never "internal error" (exit 1).

Inputs that once broke a reader are kept in `corpus/` (files) and `corpus/argv.jsonl` (command lines) and
replayed on every run; hypothesis adds new ones around them.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from leukon.cli.app import main

CORPUS = Path(__file__).parent / "corpus"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def answered(code: int, err: str) -> None:
    """The contract: 0, or 2 with one line; never 1, never a traceback."""
    assert "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("leukon"), err


def readers(path: Path, workdir: Path) -> None:
    """Every command that reads a file, on `path`."""
    for fmt in ("long", "wide"):
        answered(*run("screen", path, "--format", fmt, "--out", workdir / f"out-{fmt}", "--no-course", "--quiet")[::2])
    answered(*run("follow", path)[::2])
    answered(*run("assess", "--json", path)[::2])


# --- files ------------------------------------------------------------------------------------------------

HEADERS = ["patient_id", "taken_at", "analyte", "value", "unit", "lln", "uln", "specimen_id", "MRN", "Result",
           "WBC", "ANC (10^9/L)", "Neutrophils %", "collected_at", "sex", "birth_date", "", "a,b", '"q"']  # fmt: skip
CELLS = ["p1", "P2", "", " ", "NA", "null", "2024-03-04", "2024-03-04 08:15", "03/04/2024", "13/03/2024",
         "2024-02-30", "yesterday", "wbc", "anc", "751-8", "6690-2", "cd4", "Neutrophils #", "3.1", "-1", "0",
         "nan", "inf", "1e400", "4600", "<0.1", "3,1", "10^9/L", "K/uL", "/uL", "cells/mm3", "%", "mg/dL", "Cel",
         "µL", "é", '"', '"quoted, cell"', "\t", "x" * 300]  # fmt: skip


@st.composite
def csv_text(draw) -> bytes:
    header = draw(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8))
    sep = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = draw(st.lists(st.lists(st.sampled_from(CELLS), min_size=0, max_size=len(header) + 2), max_size=8))
    text = "\n".join(sep.join(r) for r in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    return text.encode(encoding, errors="replace")


FILES = st.one_of(csv_text(), st.binary(max_size=200))
SUFFIXES = st.sampled_from([".csv", ".csv.gz", ".parquet", ".json", ".txt", ".xlsx"])


@FUZZ
@given(content=FILES, suffix=SUFFIXES)
@example(content=b"patient_id,taken_at,analyte,value\n", suffix=".csv")
@example(content=b'patient_id,taken_at,analyte,value\np1,2024-01-01,wbc,"3.1\n', suffix=".csv")
@example(content=b"PAR1PAR1", suffix=".parquet")
def test_any_file_gets_an_answer(content: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / f"input{suffix}"
        f.write_bytes(content)
        readers(f, Path(tmp))


@pytest.mark.parametrize("path", sorted(p for p in CORPUS.iterdir() if p.name != "argv.jsonl"), ids=lambda p: p.name)
def test_corpus_files(path, tmp_path):
    readers(path, tmp_path)


# --- command lines ------------------------------------------------------------------------------------------

VALUES = ["3.1", "0", "-1", "nan", "inf", "1e400", "3100 /uL", "3100 /uL extra", "101.3 F", "38 C", "abc", "",
          " ", "1,5", "0x10", "5 %", "2 K/uL", "9999999", "wbc=3", "=", "wbc", "%", "%(prog)s", "é"]  # fmt: skip
ASSESS_FLAGS = ["--wbc", "--anc", "--neutrophils-pct", "--bands-pct", "--alc", "--cd4", "--hgb", "--plt", "--temp",
                "--age-years", "--age-days", "--ancestry", "--profile", "--scheme", "--unit", "--lln", "--uln",
                "--medicine", "--condition"]  # fmt: skip
SCHEMES = ["ctcae-v5", "ctcae-v6", "daids-v2.1", "clinical", "clozapine", "idsa-2011", "nope", ""]
TERMS = ["Neutrophil count decreased", "White blood cell decreased", "WBC, Decreased", "Febrile neutropenia",
         "Neutropenia severity", "x", ""]  # fmt: skip


@st.composite
def assess_argv(draw) -> list[str]:
    argv = ["assess"]
    for flag in draw(st.lists(st.sampled_from(ASSESS_FLAGS), max_size=6)):
        argv += [flag, draw(st.sampled_from(VALUES) | st.text(max_size=8))]
    argv += draw(st.lists(st.sampled_from(["--json", "--explain", "--fever-sustained", "--sex=female"]), max_size=2))
    return argv


@st.composite
def grade_argv(draw) -> list[str]:
    argv = ["grade", "--scheme", draw(st.sampled_from(SCHEMES)), "--term", draw(st.sampled_from(TERMS)),
            "--value", draw(st.sampled_from(VALUES))]  # fmt: skip
    for flag in draw(st.lists(st.sampled_from(["--unit", "--lln", "--age-days"]), max_size=2, unique=True)):
        argv += [flag, draw(st.sampled_from(VALUES))]
    return argv


@st.composite
def other_argv(draw) -> list[str]:
    words = st.sampled_from(["explain", "screen", "follow", "report", "synth", "grade", "--help", "--version",
                             "--out", "--patients", "--format", "neutropenia", "-", "--", "--json"])  # fmt: skip
    return draw(st.lists(words | st.sampled_from(VALUES), min_size=1, max_size=4))


@settings(max_examples=80, deadline=None, derandomize=True)
@given(argv=st.one_of(assess_argv(), grade_argv(), other_argv()))
def test_any_command_line_gets_an_answer(argv):
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):  # anything written lands in a scratch folder
        answered(*run(*argv)[::2])


def _corpus_argv() -> list[list[str]]:
    return [json.loads(line) for line in (CORPUS / "argv.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("argv", _corpus_argv(), ids=lambda a: " ".join(a)[:60])
def test_corpus_command_lines(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    answered(*run(*argv)[::2])
