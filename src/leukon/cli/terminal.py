"""The terminal the commands print to: rich consoles that follow its width (COLUMNS, a resized tmux pane).

Tables and prose are laid out for the width in use, from 80 columns up; prose stops at `max_width` so
lines stay readable on a wide screen. Output that is not a terminal (a pipe, a file) is laid out for 80.
"""

from __future__ import annotations

import shutil

from rich.console import Console


def console(*, stderr: bool = False, quiet: bool = False, max_width: int | None = None) -> Console:
    """A console as wide as the terminal (or `max_width`, if narrower)."""
    width = shutil.get_terminal_size((80, 24)).columns
    if max_width is not None:
        width = min(width, max_width)
    return Console(stderr=stderr, quiet=quiet, width=max(width, 40))
