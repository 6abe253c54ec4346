"""`leukon screen INPUT --format long|wide|omop|mimic-iv --out DIR`: the batch path at the terminal."""

from __future__ import annotations

import argparse
import sys

from .criteria import PROFILES, SCHEMES
from .screen import DEFAULT_SCREEN_SCHEMES, OUTPUT_FORMATS, ScreenResult, screen
from .sources.command import add_source_arguments, source_options


def register(subparsers) -> None:
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
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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


def print_summary(result: ScreenResult, console, *, out: str | None = None) -> None:
    from rich.table import Table

    s = result.summary
    t = Table(title=f"leukon screen: {s['input']}", title_justify="left", show_header=False)
    t.add_column("what")
    t.add_column("count", justify="right")
    for key in ("rows_read", "rows_used", "rows_rejected", "specimens", "patients"):
        t.add_row(key.replace("_", " "), f"{s[key]:,}")
    t.add_row("seconds", f"{s['seconds']:.2f}")
    console.print(t)
    if s["rejected_by_reason"]:
        r = Table(title="rejected rows by reason", title_justify="left")
        r.add_column("reason")
        r.add_column("rows", justify="right")
        for reason, n in s["rejected_by_reason"].items():
            r.add_row(reason, f"{n:,}")
        console.print(r)
    f = Table(title="specimens by finding", title_justify="left")
    f.add_column("finding")
    f.add_column("specimens", justify="right")
    for code, n in s.get("findings", {}).items():
        f.add_row(code, f"{n:,}")
    console.print(f)
    if s.get("warnings"):
        w = Table(title="specimens by warning", title_justify="left")
        w.add_column("warning")
        w.add_column("specimens", justify="right")
        for code, n in s["warnings"].items():
            w.add_row(code, f"{n:,}")
        console.print(w)
    if s.get("course"):
        c = Table(title="patients by neutrophil course / cyclic verdict", title_justify="left")
        c.add_column("label")
        c.add_column("patients", justify="right")
        for label, n in s["course"].items():
            c.add_row(label, f"{n:,}")
        for label, n in s.get("cyclic", {}).items():
            c.add_row(f"cyclic: {label}", f"{n:,}")
        console.print(c)
    ok = "yes" if s["accounted"] else "NO"
    console.print(
        f"rows read = rows used + rows rejected: {ok} ({s['rows_read']:,} = {s['rows_used']:,} + {s['rows_rejected']:,})"
    )
    if out:
        console.print(f"outputs in {out}/: panels, grades, rejects, patients, episodes, summary.json")
