"""An explanation as rich terminal text, readable at 80 columns; the urgent section stands out in red."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from leukon.knowledge.model import Explanation, Section

WIDTH = 80


def _bullets(items: tuple[str, ...]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=1, no_wrap=True)
    grid.add_column(overflow="fold")
    for item in items:
        grid.add_row("•", Text(item))
    return grid


def _body(s: Section) -> Group:
    parts: list = [Text("\n\n".join(s.paragraphs))] if s.paragraphs else []
    if s.items:
        parts.append(_bullets(s.items))
    return Group(*parts)


def render(e: Explanation) -> Group:
    """The explanation as one rich renderable: headline, then each section in order."""
    parts: list = [Text(e.headline, style="bold red" if e.emergency else "bold")]
    up_front = (
        e.ids.index("urgent") < e.ids.index("difference") if "urgent" in e.ids and "difference" in e.ids else False
    )
    for s in e.sections:
        if s.id == "urgent" and (up_front or e.emergency):
            parts.append(Panel(_body(s), title=s.title.upper(), title_align="left", style="bold red", width=WIDTH))
            continue
        style = "italic" if s.id == "disclaimer" else ""
        parts.append(Text(""))
        parts.append(Text(s.title, style="bold underline"))
        parts.append(Text(s.text, style=style) if s.id == "disclaimer" else _body(s))
    return Group(*parts)


def print_explanation(e: Explanation, console: Console | None = None) -> None:
    (console or Console(width=WIDTH)).print(render(e))


def to_text(e: Explanation, width: int = WIDTH) -> str:
    """Plain text as the terminal shows it (no colour), for files, docs and tests."""
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(render(e))
    return console.export_text()
