"""`leukon synth`: write a synthetic CBC cohort (long format) and its scenarios table."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from leukon.cli.app import command
from leukon.cli.files import written_whole
from leukon.errors import InputError


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `synth` subcommand."""
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
    p.set_defaults(run=command("synth", run))
    return p


def run(args: argparse.Namespace) -> int:
    """Write the cohort and its scenarios; bad flags are one-line errors before anything is generated."""
    from leukon import synth

    if args.patients < 1:
        raise InputError("--patients", f"must be at least 1, not {args.patients}")
    if not 0 <= args.dirt < 0.5:
        raise InputError("--dirt", f"must be between 0 and 0.5, not {args.dirt}")
    out = Path(args.out)
    if not out.parent.exists():
        raise InputError("--out", f"folder {out.parent} does not exist; create it first")
    t0 = time.perf_counter()
    sc = synth.scenarios_path(out)
    # Made and written a piece of patients at a time, so memory does not grow with the cohort; each file is
    # written whole, never a truncated one.
    parts = synth.pieces(args.patients, seed=args.seed, dirt=args.dirt)
    with written_whole(out) as tmp_out, written_whole(sc) as tmp_sc:
        rows = synth.write_pieces(parts, tmp_out, tmp_sc, format=args.format)
    if not args.quiet:
        took = time.perf_counter() - t0
        print(f"wrote {rows:,} results for {args.patients:,} patients to {out} in {took:.1f} s; scenarios in {sc}")
    return 0
