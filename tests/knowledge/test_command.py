"""`leukon explain TERM` and the `assess --explain` helpers, through a real argparse parser."""

from __future__ import annotations

import argparse
import json

import pytest

from leukon import assess
from leukon.cli import explain as command


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="leukon")
    command.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.run(args)


@pytest.mark.parametrize(
    ("term", "entry"),
    [
        ("neutropenia", "def.neutropenia"),
        ("what is neutropenia?", "def.neutropenia"),
        ("What are neutrophils", "cell.neutrophils"),
        ("leukopenia vs neutropenia", "def.difference"),
        ("difference between neutropenia and leukopenia", "def.difference"),
        ("agranulocytosis", "def.agranulocytosis"),
        ("filgrastim", "med.filgrastim"),
        ("Neulasta", "med.pegfilgrastim"),
        ("neutropenic diet", "prev.neutropenic_diet"),
        ("leukopinia", "def.leukopenia"),
    ],
)
def test_explain_term_json(term, entry, capsys):
    assert _run(["explain", *term.split(), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["pattern"] == f"topic:{entry}" and d["sections"][-1]["id"] == "disclaimer"


def test_explain_term_clinician_text(capsys):
    assert _run(["explain", "leukopenia", "vs", "neutropenia", "--audience", "clinician"]) == 0
    out = capsys.readouterr().out
    assert "subset of leukopenia" in out and "Symptom table" in out and "not a diagnosis" in out


def test_unknown_term_one_line_with_suggestions(capsys):
    assert _run(["explain", "xylophone"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("leukon explain: error:") and "?" in err
    assert _run(["explain", "lymphopeni"]) == 0  # near miss still answers


def test_assess_explain_helpers(capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    command.add_explain_options(parser)
    args = parser.parse_args(["--explain", "--audience", "clinician", "--medicine", "Clozaril", "--condition", "HIV"])
    a = assess(wbc=1.8, anc=0.05)
    e = command.explanation_from_args(a, args)
    assert e.audience == "clinician" and [m.entry_id for m in e.context.matches][:1] == ["med.clozapine"]
    command.print_explanation(a, args)
    out = capsys.readouterr().out
    assert "Agranulocytosis" in out and max(len(x) for x in out.splitlines()) <= 80
    command.print_explanation(a, parser.parse_args(["--explain", "--json"]))
    assert json.loads(capsys.readouterr().out)["pattern"] == "agranulocytosis"
    command.print_explanation(a, parser.parse_args([]))  # no --explain: prints nothing
    assert capsys.readouterr().out == ""
