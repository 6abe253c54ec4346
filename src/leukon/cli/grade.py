"""`leukon grade`: one value under one scheme's term, the same contract as `leukon.grade`."""

from __future__ import annotations

import argparse
import json

from leukon.cli.app import command
from leukon.cli.arguments import number, whole
from leukon.pipelines.requests import grade_value
from leukon.rules.criteria import SCHEMES


def register(subparsers) -> None:
    """Add `grade --scheme --term --value [--unit] [--lln] [--age-days] [--json]`."""
    p = subparsers.add_parser(
        "grade",
        help="grade one value under a scheme",
        description="Grade one value under a named scheme's term.",
    )
    p.add_argument("--scheme", required=True, help=f"one of {', '.join(SCHEMES)}")
    p.add_argument("--term", required=True, help="the term as the scheme writes it, any case")
    p.add_argument("--value", required=True)
    p.add_argument("--unit", default=None,
                   help="default: 10^9/L, only for a number plausible there (700 is refused as probably cells/uL)")  # fmt: skip
    p.add_argument("--lln", default=None, help="the lab's lower limit of normal, in the same unit as the value")
    p.add_argument("--age-days", default=None, metavar="DAYS", help="age in days (DAIDS grades by age)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=command("grade", run))


def run(args: argparse.Namespace) -> int:
    """Grade the value and print the grade, or "not gradable" with the reason."""
    value = number("value", args.value)
    lln = None if args.lln is None else number("lln", args.lln)
    age = None if args.age_days is None else whole("age_days", args.age_days)
    r = grade_value(args.scheme, args.term, value, args.unit, lln=lln, age_days=age)
    if args.json:
        print(json.dumps(r.to_dict(), ensure_ascii=False))
    elif r.grade is None:
        print(f"{r.scheme} | {r.term} | not gradable: {r.reason}")
    else:
        print(f"{r.scheme} | {r.term} | grade {r.grade}" + (f" ({r.label})" if r.label else ""))
    return 0
