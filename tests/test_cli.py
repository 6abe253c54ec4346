"""The `leukon` command end to end: assess, grade, demo, and every kind of bad input."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from leukon.cli.app import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_assess_table(capsys):
    code, out, _ = run(capsys, "assess", "--wbc", "2.0", "--anc", "0.7", "--age-years", "56")
    assert code == 0
    assert "Neutropenia" in out and "Leukopenia" in out and "not a diagnosis" in out


def test_assess_json_with_units_and_lab_range(capsys):
    code, out, _ = run(
        capsys, "assess", "--wbc", "3100 /uL", "--neutrophils-pct", "20", "--bands-pct", "5",
        "--lln", "wbc=3500", "--unit", "wbc=/uL", "--sex", "female", "--age-years", "40", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["values"]["anc"]["method"] == "derived_with_bands"
    assert doc["values"]["wbc"]["lln"] == 3.5 and doc["values"]["wbc"]["range_origin"] == "lab"


def test_assess_fever_in_fahrenheit_is_urgent(capsys):
    code, out, _ = run(capsys, "assess", "--anc", "0.2", "--temp", "101.3 F")
    assert code == 0 and "URGENT" in out


def test_assess_json_file_and_stdin(capsys, tmp_path, monkeypatch):
    f = tmp_path / "cbc.json"
    f.write_text(json.dumps({"wbc": {"value": 2.0, "unit": "K/uL"}, "anc": 0.7, "age_years": 56}))
    code, out, _ = run(capsys, "assess", "--json", str(f))
    assert code == 0 and json.loads(out)["findings"][0]["code"] == "leukopenia"
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"anc": 0.3, "temperature": 38.9}'))
    code, out, _ = run(capsys, "assess", "--json", "-")
    assert code == 0 and json.loads(out)["emergency"] is True


def test_grade_command(capsys):
    code, out, _ = run(
        capsys,
        "grade",
        "--scheme",
        "ctcae-v5",
        "--term",
        "neutrophil count decreased",
        "--value",
        "700",
        "--unit",
        "cells/uL",
    )
    assert code == 0 and "grade 3" in out
    code, out, _ = run(
        capsys, "grade", "--scheme", "ctcae-v5", "--term", "White blood cell decreased", "--value", "3.5"
    )
    assert code == 0 and "not gradable" in out and "LLN" in out
    code, out, _ = run(
        capsys,
        "grade",
        "--scheme",
        "daids-v2.1",
        "--term",
        "WBC, Decreased",
        "--value",
        "1.2",
        "--age-days",
        "400",
        "--json",
    )
    assert code == 0 and json.loads(out)["grade"] == 3


BAD = [
    (["assess", "--wbc", "-1"], "wbc"),
    (["assess", "--wbc", "abc"], "wbc"),
    (["assess", "--wbc", "nan"], "wbc"),
    (["assess", "--wbc", "3", "--neutrophils-pct", "130"], "neutrophils_pct"),
    (["assess", "--wbc", "4600"], "unit error"),
    (["assess", "--wbc", "1200 10^9/L"], "wbc"),
    (["assess", "--wbc", "3 mg/dL"], "mg/dL"),
    (["assess", "--wbc", "3", "--unit", "wbc=10^9/M"], "10^9/M"),
    (["assess", "--wbc", "3", "--scheme", "daids-v2.1"], "age"),
    (["assess", "--wbc", "3", "--scheme", "ctcae-v9"], "ctcae-v5"),
    (["assess", "--wbc", "3", "--lln", "wbc"], "lln"),
    (["assess", "--wbc", "3", "--age-years", "old"], "age_years"),
    (["assess"], "values"),
    (
        ["grade", "--scheme", "ctcae-v5", "--term", "Neutrophil count decreased", "--value", "1", "--unit", "mg/dL"],
        "mg/dL",
    ),
    (["grade", "--scheme", "ctcae-v5", "--term", "Neutrophils", "--value", "1"], "Neutrophil count decreased"),
    (["grade", "--scheme", "ctcae-v6", "--term", "Lymphocyte count decreased", "--value", "0.3"], "removed"),
    (["grade", "--scheme", "ctcae-v5", "--term", "Neutrophil count decreased"], "--value"),
    (["assess", "--wbc", "3", "--bogus"], "--bogus"),
]


@pytest.mark.parametrize(("argv", "fragment"), BAD)
def test_bad_input_is_one_line_exit_2(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert out == ""


def test_malformed_json_file(capsys, tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"wbc": 3.1,')
    code, _, err = run(capsys, "assess", "--json", str(f))
    assert code == 2 and "malformed JSON" in err and err.count("\n") == 1
    code, _, err = run(capsys, "assess", "--json", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
    f.write_text('{"wbc": 3.1, "colour": "red"}')
    code, _, err = run(capsys, "assess", "--json", str(f))
    assert code == 2 and "colour" in err


def _leukon() -> list[str]:
    exe = Path(sys.executable).with_name("leukon")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "leukon.cli.app"]


def test_console_script_usage_errors_are_one_line():
    """The installed command, as a person runs it: argparse errors too are one line with exit 2."""
    env = {**os.environ, "COLUMNS": "80"}
    p = subprocess.run([*_leukon(), "assess", "--wbc"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
    p = subprocess.run([*_leukon(), "assess", "--wbc", "-5"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and "Traceback" not in p.stderr


def test_demo_runs(capsys):
    code, out, _ = run(capsys, "demo")
    assert code == 0 and "febrile_neutropenia" in out and "agranulocytosis" in out


def test_internal_errors_are_one_line(capsys, monkeypatch):
    import leukon.cli.grade as grade
    from leukon.cli.app import main

    def boom(*args, **kwargs):
        raise RuntimeError("something broke\nsecond line")

    monkeypatch.setattr(grade, "grade_value", boom)
    code = main(["grade", "--scheme", "ctcae-v5", "--term", "Leukocytosis", "--value", "1"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "internal error" in err and "Traceback" not in err
