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


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, "0 False dirty_decay_ms:10000,muzzy_decay_ms:0"),
        ({"NUMPY_MADVISE_HUGEPAGE": "1", "_RJEM_MALLOC_CONF": "dirty_decay_ms:100"}, "1 True dirty_decay_ms:100"),
    ],
)
def test_the_command_sets_its_memory_settings_unless_set(given, expected):
    """NumPy's huge-page advice off and jemalloc's own purge delays, in the command's own process only (see
    `leukon.cli.memory`); a value the user set is kept. Polars appends the value to its own settings,
    and jemalloc takes the last one given."""
    code = (
        "import os, sys\n"
        "from leukon.cli.app import main\n"
        "main(['explain', 'anc'])\n"
        "import numpy._core.multiarray as m, polars\n"
        "jemalloc = os.environ['_RJEM_MALLOC_CONF'].split(',')\n"
        "print(os.environ['NUMPY_MADVISE_HUGEPAGE'], m._get_madvise_hugepage(), ','.join(jemalloc[2:]), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NUMPY_MADVISE_HUGEPAGE", "_RJEM_MALLOC_CONF")} | given
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == expected


def test_the_library_leaves_memory_settings_alone():
    code = "import os, leukon, polars; leukon.assess(wbc=2.0); print(os.environ.get('NUMPY_MADVISE_HUGEPAGE'), os.environ['_RJEM_MALLOC_CONF'])"
    env = {k: v for k, v in os.environ.items() if k not in ("NUMPY_MADVISE_HUGEPAGE", "_RJEM_MALLOC_CONF")}
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    numpy, jemalloc = r.stdout.split()
    assert numpy == "None" and "dirty_decay_ms:10000" not in jemalloc  # Polars' own
