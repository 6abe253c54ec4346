"""The assessment as a readable terminal report (rich) that follows the terminal's width (80 columns and up)."""

from __future__ import annotations

import shutil

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from leukon.pipelines.assess import Assessment

_METHOD = {
    "measured": "measured",
    "derived_with_bands": "from WBC x (neut % + bands %)",
    "derived_without_bands": "from WBC x neut % (no bands)",
    "derived": "from WBC x %",
}


#: Units as people write them on a report; the assessment keeps UCUM codes (Cel, 10*9/L) in its JSON.
_DISPLAY_UNITS = {"Cel": "C", "[degF]": "F", "10*9/L": "10^9/L", "10*12/L": "10^12/L", "/uL": "cells/uL"}


def display_unit(unit: str | None) -> str:
    """A unit as a person writes it: 'Cel' -> 'C'."""
    return "" if unit is None else _DISPLAY_UNITS.get(unit, unit)


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.4g}"


def render(a: Assessment) -> Group:
    parts = []
    if a.emergency:
        f = a.finding("febrile_neutropenia")
        parts.append(
            Panel(
                Text(f"{f.label}. {f.detail}." if f else "Emergency", style="bold"),
                style="bold red",
                title="URGENT",
            )
        )
    vals = Table(title="Values (10^9/L unless shown)", title_justify="left", expand=False)
    for col in ("analyte", "value", "unit", "how", "range", "range from"):
        vals.add_column(col)
    for v in a.values.values():
        low = v.lln is not None and v.value < v.lln
        high = v.uln is not None and v.value > v.uln
        flag = " L" if low else (" H" if high else "")
        rng = f"{_num(v.lln)}-{_num(v.uln)}" if v.lln is not None or v.uln is not None else ""
        origin = "lab" if v.range_origin == "lab" else (a.profile["id"] if v.range_origin else "")
        style = "bold" if flag else ""
        vals.add_row(
            v.analyte,
            _num(v.value) + flag,
            display_unit(v.unit),
            _METHOD.get(v.method, v.method),
            rng,
            origin,
            style=style,
        )
    parts.append(vals)
    if a.findings:
        ft = Table(title="Findings", title_justify="left")
        ft.add_column("finding")
        ft.add_column("evidence")
        for f in a.findings:
            ev = (
                f"{f.analyte} {_num(f.value)} {f.comparator} {_num(f.threshold)} ({f.basis})"
                if f.comparator
                else f.detail
            )
            if f.severity:
                ev += f"; severity: {f.severity}"
            ft.add_row(Text(f.label, style="bold red" if f.emergency else "bold"), ev)
        parts.append(ft)
    else:
        parts.append(Text("No white-cell cytopenia found against the ranges shown.", style="green"))
    gt = Table(title="Grades", title_justify="left")
    for col in ("scheme", "term", "grade", "note"):
        gt.add_column(col)
    for g in a.grades:
        if g.value is None and g.grade is None:
            continue  # the analyte was not given: listed in JSON, not worth a row here
        shown = "n/a" if g.grade is None else str(g.grade)
        note = g.label or ""
        if g.grade is None:
            note = g.reason or ""
        gt.add_row(g.scheme, g.term, shown, note)
    parts.append(gt)
    notes = [f"! {w.message}" for w in a.warnings] + [f"? {n.message}" for n in a.not_assessed]
    if notes:
        parts.append(Text("\n".join(notes)))
    parts.append(Text(a.disclaimer, style="italic"))
    return Group(*parts)


def print_assessment(a: Assessment, console: Console | None = None) -> None:
    """Print the report at the terminal's width (rich reads COLUMNS, and uses 80 when not a terminal)."""
    (console or Console(width=max(40, shutil.get_terminal_size((80, 24)).columns))).print(render(a))
