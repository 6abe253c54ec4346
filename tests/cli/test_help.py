"""Every `leukon CMD --help` works, and usage errors point at the right command's help."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from leukon.cli.app import COMMANDS, build_parser

from .conftest import run_process


def _subcommands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_module_registers_a_command():
    for name in COMMANDS:
        assert callable(importlib.import_module(name).register), name
    assert {"assess", "grade", "demo", "screen", "follow", "explain", "synth"} <= set(_subcommands())


@pytest.mark.parametrize("name", _subcommands())
def test_help_of_every_command(leukon, name):
    r = leukon(name, "--help")
    assert r.code == 0 and r.err == ""
    assert r.out.startswith(f"usage: leukon {name}") and "options:" in r.out


def test_top_level_help_lists_every_command(leukon):
    r = leukon("--help")
    assert r.code == 0
    for name in _subcommands():
        assert name in r.out


def test_no_command_shows_help_and_exits_2(leukon):
    r = leukon()
    assert r.code == 2 and "usage: leukon" in r.err


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["--bogus"], "see 'leukon --help'"),
        (["assess", "--bogus"], "see 'leukon assess --help'"),
        (["screen"], "see 'leukon screen --help'"),
        (["nosuchcommand"], "see 'leukon --help'"),
    ],
)
def test_usage_errors_name_the_command_once(leukon, argv, hint):
    r = leukon(*argv)
    assert r.one_line_error() and hint in r.err and "leukon leukon" not in r.err


def test_installed_command_help_at_80_columns():
    """The entry point a person types, in a narrow terminal: help and a usage error, no traceback."""
    p = run_process("assess", "--help", env={"COLUMNS": "80"})
    assert p.returncode == 0 and "--neutrophils-pct PERCENT" in p.stdout
    assert max(len(line) for line in p.stdout.splitlines()) <= 80
    p = run_process("screen", env={"COLUMNS": "80"})
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "leukon screen --help" in p.stderr


@pytest.mark.parametrize(("given", "expected"), [(None, "0 False"), ("1", "1 True")])
def test_the_command_turns_numpy_huge_page_advice_off_unless_set(given, expected):
    """The command's own process only (see `leukon.cli.app.main`); a value the user set is kept."""
    code = (
        "import os, sys\n"
        "from leukon.cli.app import main\n"
        "main(['explain', 'anc'])\n"
        "import numpy._core.multiarray as m\n"
        "print(os.environ['NUMPY_MADVISE_HUGEPAGE'], m._get_madvise_hugepage(), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if given is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = given
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == expected
