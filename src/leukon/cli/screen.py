"""`leukon screen INPUT --format long|wide|omop|mimic-iv --out DIR`: the batch path at the terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leukon.cli.app import command
from leukon.cli.arguments import add_source_arguments, source_options
from leukon.pipelines.screen import DEFAULT_SCREEN_SCHEMES, OUTPUT_FORMATS, ScreenResult, screen
from leukon.rules.criteria import PROFILES, SCHEMES


def register(subparsers) -> None:
    """Add `screen INPUT --out DIR` with the source options, schemes, profile and output format."""
    p = subparsers.add_parser(
        "screen",
        help="screen a lab table: panels, grades, rejects, course",
        description="Screen a lab table (CSV, CSV.gz, Parquet, or FILE.duckdb:TABLE / FILE.sqlite:TABLE). "
        "Writes panels, grades, rejects, patients, episodes and summary.json into --out.",
    )
    p.add_argument("input", metavar="INPUT")
    add_source_arguments(p)  # --format, --table, --patients, --time-format, --patient-id COLUMN, ...
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs")
    p.add_argument("--output", choices=OUTPUT_FORMATS, default="parquet", help="file format of the outputs")
    p.add_argument(
        "--scheme",
        action="append",
        help=f"schemes to grade (default {', '.join(DEFAULT_SCREEN_SCHEMES)}); one of {', '.join(SCHEMES)}",
    )
    p.add_argument("--profile", default="standard", help=f"reference profile: {', '.join(PROFILES)}")
    p.add_argument(
        "--chunks", type=int, default=None, help="process in N slices of patients (default: from size and memory)"
    )
    p.add_argument("--no-course", action="store_true", help="skip the per-patient course and episodes outputs")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(run=command("screen", run))


def run(args: argparse.Namespace) -> int:
    """Screen the input, write the outputs and print the run summary."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, quiet=args.quiet)
    show = sys.stderr.isatty() and not args.quiet
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                  disable=not show, transient=True) as bar:  # fmt: skip
        task = bar.add_task("reading", total=None)

        def tick(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        result = screen(
            args.input, format=args.format, out=args.out, output=args.output,
            schemes=tuple(args.scheme or DEFAULT_SCREEN_SCHEMES), profile=args.profile, chunks=args.chunks,
            course=not args.no_course, progress=tick, **source_options(args),
        )  # fmt: skip
    if not args.quiet:
        print_summary(result, Console(width=100), out=args.out)
    return 0


def _counts(title: str, what: str, unit: str, counts: dict) -> object:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    t.add_column(what)
    t.add_column(unit, justify="right")
    for key, n in counts.items():
        t.add_row(str(key), f"{n:,}")
    return t


def print_summary(result: ScreenResult, console, *, out: str | None = None) -> None:
    """The run summary at the terminal: counts, rejects by reason, findings, warnings, course labels."""
    s = result.summary
    totals = {k.replace("_", " "): s[k] for k in ("rows_read", "rows_used", "rows_rejected", "specimens", "patients")}
    name = Path(str(s["input"]).split(":", 1)[0]).name or s["input"]
    console.print(_counts(f"leukon screen: {name}, {s['seconds']:.2f} s", "what", "count", totals))
    if s["rejected_by_reason"]:
        console.print(_counts("rejected rows by reason", "reason", "rows", s["rejected_by_reason"]))
    console.print(_counts("specimens by finding", "finding", "specimens", s.get("findings", {})))
    if s.get("warnings"):
        console.print(_counts("specimens by warning", "warning", "specimens", s["warnings"]))
    if s.get("course"):
        labels = {**s["course"], **{f"cyclic: {k}": v for k, v in s.get("cyclic", {}).items()}}
        console.print(_counts("patients by neutrophil course / cyclic verdict", "label", "patients", labels))
    ok = "yes" if s["accounted"] else "NO"
    console.print(
        f"rows read = rows used + rows rejected: {ok} ({s['rows_read']:,} = {s['rows_used']:,} + {s['rows_rejected']:,})"
    )
    if out:
        console.print(f"outputs in {str(out).rstrip('/')}/: panels, grades, rejects, patients, episodes, summary.json")
