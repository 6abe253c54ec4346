"""`leukon screen INPUT --out DIR`: the batch path at the terminal.

The run computes in a worker thread while the main thread waits, so Ctrl-C is honoured at once even
while Polars is busy in native code (a signal only reaches Python between bytecodes of the main thread).
`--out` is checked before anything is read; the outputs are staged and replace the folder's content
only when all are written (`leukon.pipelines.run_folder`), so an interrupt leaves the folder as it was.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from leukon.cli import terminal
from leukon.cli.app import WorkerInterrupted, command
from leukon.cli.arguments import add_profiles_argument, add_source_arguments, source_options
from leukon.errors import InputError
from leukon.pipelines.run_folder import MARKER, SUFFIXES, TABLES, RunFolder
from leukon.pipelines.screen import DEFAULT_SCREEN_SCHEMES, OUTPUT_FORMATS, ScreenResult, screen
from leukon.rules.criteria import PROFILES, SCHEMES, scheme
from leukon.rules.ranges import check_profile


def register(subparsers) -> None:
    """Add `screen INPUT --out DIR` with the source options, schemes, profile and output format."""
    p = subparsers.add_parser(
        "screen",
        help="screen a lab table: panels, grades, rejects, course",
        description="Screen a lab table (CSV, CSV.gz, Parquet, or FILE.duckdb:TABLE / FILE.sqlite:TABLE). "
        "Writes panels, grades, rejects, patients, episodes and summary.json into --out, all or nothing.",
    )
    p.add_argument("input", metavar="INPUT")
    add_source_arguments(p)  # --format, --table, --patients, --time-format, --patient-id COLUMN, ...
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the outputs (created if missing)")
    p.add_argument("--force", action="store_true", help="replace an earlier run held in --out")
    p.add_argument("--output", choices=OUTPUT_FORMATS, default="parquet", help="file format of the outputs")
    p.add_argument(
        "--scheme",
        action="append",
        help=f"schemes to grade (default {', '.join(DEFAULT_SCREEN_SCHEMES)}); one of {', '.join(SCHEMES)}",
    )
    p.add_argument("--profile", default="standard", help=f"reference profile: {', '.join(PROFILES)}")
    add_profiles_argument(p)
    p.add_argument(
        "--chunks", type=int, default=None, help="process in N slices of patients (default: from size and memory)"
    )
    p.add_argument("--no-course", action="store_true", help="skip the per-patient course and episodes outputs")
    p.add_argument("--engine", choices=("polars", "spark"), default="polars",
                   help="spark: partitions of whole patients on a Spark cluster or local mode (pip install "
                        "leukon[spark]); outputs are folders of part files, same schemas and summary")  # fmt: skip
    p.add_argument("--partitions", type=int, default=None, help="Spark partitions (default: from the row count)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(run=command("screen", run))


def run(args: argparse.Namespace) -> int:
    """Check the options and --out, screen in a worker thread, print the summary; exit 2 if no row was usable."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    schemes = tuple(dict.fromkeys(scheme(s).id for s in args.scheme or DEFAULT_SCREEN_SCHEMES))  # fail fast
    check_profile(args.profile)
    if args.chunks is not None and args.chunks < 1:
        raise InputError("--chunks", f"{args.chunks} must be 1 or more")
    from leukon.sources.io import ACCEPTED, split_spec

    if not split_spec(args.input)[0].exists():
        raise InputError("INPUT", f"{args.input} does not exist; give {ACCEPTED}")
    if args.engine == "spark":
        return _on_spark(args, schemes)
    folder = RunFolder.prepare(args.out, force=args.force)
    try:  # from here on, any failure or Ctrl-C discards the staged run
        progress_console = terminal.console(stderr=True, quiet=args.quiet)
        show = sys.stderr.isatty() and not args.quiet
        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=progress_console,
                      disable=not show, transient=True) as bar:  # fmt: skip
            task = bar.add_task("reading", total=None)

            def tick(stage: str, done: int, total: int) -> None:
                bar.update(task, description=stage, completed=done, total=total)

            result = _in_worker(
                folder,
                lambda: screen(
                    args.input, format=args.format, out=folder, output=args.output, schemes=schemes,
                    profile=args.profile, chunks=args.chunks, course=not args.no_course, progress=tick,
                    **source_options(args),
                ),
            )  # fmt: skip
    except BaseException:
        folder.abandon()
        raise
    if not args.quiet:  # the outputs are complete: a Ctrl-C now must not say "nothing written"
        _holding_interrupts(lambda: print_summary(result, terminal.console(), out=args.out))
    _check_usable(result, args.out)
    return 0


def _holding_interrupts(fn) -> None:
    """Run `fn` with Ctrl-C ignored (main thread only; signal handlers cannot be set elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        fn()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fn()
    finally:
        signal.signal(signal.SIGINT, previous)


def _on_spark(args: argparse.Namespace, schemes: tuple[str, ...]) -> int:
    """`--engine spark`: the same run on Spark (`leukon.spark`), the same summary printed."""
    import importlib.util
    import os
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        raise InputError("--engine", "spark needs PySpark: pip install 'leukon[spark]' (and a Java 17 runtime)")
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        raise InputError("--engine", "spark needs a Java runtime (17 or 21): install one or set JAVA_HOME")
    from leukon.spark import screen_files

    options = source_options(args)
    result = screen_files(
        args.input, out=args.out, format=args.format, patients=options.pop("patients", None), schemes=schemes,
        profile=args.profile, course=not args.no_course, output=args.output, partitions=args.partitions,
        force=args.force, **options,
    )  # fmt: skip
    if not args.quiet:  # the outputs are complete: a Ctrl-C now must not say "nothing written"
        _holding_interrupts(lambda: print_summary(result, terminal.console(), out=args.out))
    _check_usable(result, args.out)
    return 0


def _in_worker(folder: RunFolder, job):
    """Run `job` in a daemon thread; on Ctrl-C discard the staged outputs (unless already complete)."""
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = job()
        except BaseException as e:  # handed to the main thread, which reports it
            box["error"] = e

    worker = threading.Thread(target=work, name="leukon-screen", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        if folder.abandon():
            raise WorkerInterrupted from None  # "interrupted, nothing written"; the process ends at once
        worker.join()  # the outputs were already complete: finish as a normal run
    if "error" in box:
        raise box["error"]
    return box["result"]


def _check_usable(result: ScreenResult, out: str) -> None:
    """A run that used no row is a failed run (exit 2), even though its rejects were written."""
    s = result.summary
    if s["rows_used"]:
        return
    name = _input_name(s)
    if not s["rows_read"]:
        raise InputError("INPUT", f"{name} has no data rows (a header only?); nothing to screen")
    raise InputError("INPUT", f"none of the {s['rows_read']:,} rows of {name} was usable; the reasons are "
                     f"above and in {str(out).rstrip('/')}/rejects")  # fmt: skip


def _input_name(s: dict) -> str:
    return Path(str(s["input"]).split(":", 1)[0]).name or str(s["input"])


def _counts(title: str, what: str, unit: str, counts: dict) -> object:
    from rich.table import Table

    t = Table(title=title, title_justify="left", min_width=len(title))  # a title never wraps under a narrow table
    t.add_column(what, overflow="fold")
    t.add_column(unit, justify="right", no_wrap=True)
    for key, n in counts.items():
        t.add_row(str(key), f"{n:,}")
    return t


def _rejects(s: dict) -> object:
    from rich.table import Table

    t = Table(title="rejected rows by reason", title_justify="left")
    t.add_column("reason", overflow="fold", ratio=2)
    t.add_column("rows", justify="right", no_wrap=True)
    t.add_column("first example (source row)", overflow="fold", ratio=3)
    examples = s.get("reject_examples", {})
    for kind, n in s["rejected_by_reason"].items():
        ex = examples.get(kind, {})
        shown = f"{ex['example']} (row {ex['source_row']})" if ex else ""
        t.add_row(kind, f"{n:,}", shown)
    return t


def print_summary(result: ScreenResult, console, *, out: str | None = None) -> None:
    """The run summary at the terminal: counts, rejects by reason, findings, warnings, course labels."""
    s = result.summary
    totals = {k.replace("_", " "): s[k] for k in ("rows_read", "rows_used", "rows_rejected", "specimens", "patients")}
    console.print(_counts(f"leukon screen: {_input_name(s)}, {s['seconds']:.2f} s", "what", "count", totals))
    if s.get("time_format"):
        console.print(s["time_format"])
    if s["rejected_by_reason"]:
        console.print(_rejects(s))
    if s.get("findings"):
        console.print(_counts("specimens by finding", "finding", "specimens", s["findings"]))
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
        # The tables in the folder (a run's course tables are there only with the course): a written result's
        # tables are files, so asking the result would read them.
        folder = Path(out)
        names = [n for n in TABLES if any((folder / f"{n}{suffix}").exists() for suffix in SUFFIXES)]
        listed = ", ".join([*names, MARKER])
        line = f"outputs in {str(out).rstrip('/')}/: {listed}"
        if len(line) <= console.width:
            console.print(line)
        else:  # the folder on its line and the files on the next, rather than a break wherever it falls
            console.print(f"outputs in {str(out).rstrip('/')}/:")
            console.print(f"  {listed}")
