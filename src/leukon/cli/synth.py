"""`leukon synth`: write a synthetic CBC cohort (long format) and its scenarios table.

The lead wires it in with ``register(subparsers)``; ``add_source_arguments`` offers the column flags of
`leukon.sources.read` to other subcommands (``--patient-id MRN`` becomes ``patient_id="MRN"``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_INPUT = 2


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `synth` subcommand; it runs `run_synth(args)` and returns an exit code."""
    p = subparsers.add_parser(
        "synth",
        help="write a synthetic CBC cohort (long format)",
        description="Write a synthetic CBC cohort with planted patterns (chemotherapy nadirs, cyclic "
        "neutropenia, Duffy-null, HIV-like lymphopenia, clozapine agranulocytosis, viral "
        "pseudo-leukopenia, healthy controls) and <stem>.scenarios.csv beside it.",
    )
    p.add_argument("--patients", type=int, required=True, metavar="N", help="number of patients (about 70 rows each)")
    p.add_argument("--out", required=True, metavar="FILE", help="output file (.csv or .parquet)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--format", choices=("csv", "parquet"), default=None, help="default: from the file suffix")
    p.add_argument("--dirt", type=float, default=0.002, metavar="SHARE", help="share of dirty rows (default 0.002)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run_synth)
    return p


def _fail(message: str) -> int:
    print(f"leukon synth: error: {message}", file=sys.stderr)
    return EXIT_INPUT


def run_synth(args: argparse.Namespace) -> int:
    from leukon import synth

    if args.patients < 1:
        return _fail(f"--patients must be at least 1, not {args.patients}")
    if not 0 <= args.dirt < 0.5:
        return _fail(f"--dirt must be between 0 and 0.5, not {args.dirt}")
    out = Path(args.out)
    if not out.parent.exists():
        return _fail(f"--out: folder {out.parent} does not exist; create it first")
    t0 = time.perf_counter()
    df = synth.cohort(args.patients, seed=args.seed, dirt=args.dirt)
    try:
        synth.write(df, out, format=args.format)
        sc = synth.write(synth.scenarios(args.patients, seed=args.seed), synth.scenarios_path(out), format="csv")
    except OSError as exc:
        return _fail(f"--out: cannot write {out}: {exc.strerror or exc}")
    if not args.quiet:
        took = time.perf_counter() - t0
        print(f"wrote {df.height:,} results for {args.patients:,} patients to {out} in {took:.1f} s; scenarios in {sc}")
    return 0


#: Column flags shared by readers: flag -> read() option.
SOURCE_FLAGS = (
    "patient_id",
    "taken_at",
    "analyte",
    "value",
    "unit",
    "lln",
    "uln",
    "specimen_id",
    "sex",
    "birth_date",
    "ancestry",
)


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """Add --format, --table, --patients-file, --time-format and one --<field> COLUMN flag per field."""
    p.add_argument("--format", default="long", choices=("long", "wide", "omop", "mimic-iv"))
    p.add_argument("--table", help="table name in a DuckDB/SQLite file (or write FILE.duckdb:TABLE)")
    p.add_argument("--patients", "--patients-file", dest="patients_file",
                   help="patients table: PERSON (omop), patients.csv.gz (mimic-iv), or any with patient_id, sex, birth_date")  # fmt: skip
    p.add_argument("--time-format", help="strftime format of the time column; only it is then accepted")
    for f in SOURCE_FLAGS:
        p.add_argument("--" + f.replace("_", "-"), dest=f"col_{f}", metavar="COLUMN", help=f"column holding {f}")


def source_options(args: argparse.Namespace) -> dict:
    """The read() keyword options from flags added by add_source_arguments (unset flags left out)."""
    opts = {f: getattr(args, f"col_{f}") for f in SOURCE_FLAGS if getattr(args, f"col_{f}", None)}
    for key, attr in (("table", "table"), ("patients", "patients_file"), ("time_format", "time_format")):
        if getattr(args, attr, None):
            opts[key] = getattr(args, attr)
    return opts
