"""`leukon grade`: one value under one scheme's term, the same contract as `leukon.grade`."""

from __future__ import annotations

import argparse
import json

from leukon.cli.app import command
from leukon.cli.arguments import number, whole
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import SCHEMES, scheme
from leukon.rules.grading import GradeResult, grade_detail
from leukon.rules.units import check_value


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


def grade_value(
    scheme_id: str,
    term_name: str,
    value: float,
    unit: str | None,
    *,
    lln: float | None = None,
    age_days: int | None = None,
) -> GradeResult:
    """One value as `leukon grade` (and POST /grade) reads it: a wrong unit, an impossible or an ambiguous
    bare value is an InputError; a bare number that passes is plausible only in the canonical unit, so it is
    read there (`leukon.grade` itself never assumes a unit: "unit missing")."""
    term = scheme(scheme_id).term(term_name)
    check_value(term.analyte, value, unit)
    return grade_detail(scheme_id, term_name, value, unit or ANALYTES[term.analyte].unit, lln=lln, age_days=age_days)


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
