"""Helpers for the command-line tests: run `leukon` in-process (fast) or as the installed command (real signals)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from leukon.cli.app import main

DATA = Path(__file__).parents[1] / "data" / "sources"


class Ran:
    """The exit code and the two output streams of one `leukon` run."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def one_line_error(self) -> bool:
        """Exit 2 with exactly one line on stderr, no traceback, nothing on stdout."""
        return self.code == 2 and self.err.count("\n") == 1 and "Traceback" not in self.err


@pytest.fixture
def leukon(capsys):
    """leukon(*argv) -> Ran, in this process."""

    def run(*argv: str) -> Ran:
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


def command() -> list[str]:
    """The installed `leukon` script beside this interpreter, else the module."""
    exe = Path(sys.executable).with_name("leukon")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "leukon.cli.app"]


def run_process(*argv: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([*command(), *map(str, argv)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kw)  # fmt: skip
