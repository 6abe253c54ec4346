"""The `leukon` command. Every failure a person can cause prints one line and exits 2; no tracebacks."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from leukon import __version__
from leukon.errors import InputError, LeukonError
from leukon.pipelines.assess import assess_mapping
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import PROFILES, SCHEMES
from leukon.rules.grading import grade_detail
from leukon.rules.units import check_value

EXIT_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2, instead of usage + message
        self.exit(EXIT_INPUT, f"leukon: error: {message} (see 'leukon {self.prog.split(' ', 1)[-1]} --help')\n")


def _flag(analyte: str) -> str:
    return "--" + analyte.replace("_pct", "-pct").replace("_", "-")


_ALIASES = {
    "lymphocytes": ["--alc"],
    "hemoglobin": ["--hgb"],
    "platelets": ["--plt"],
    "temperature": ["--temp"],
}
_META = {
    "count": "VALUE [UNIT]",
    "fraction": "PERCENT",
    "mass_concentration": "G_DL [UNIT]",
    "temperature": "DEG [C|F]",
}


def _pairs(items: list[str] | None, field: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(field, f"{item!r} should look like ANALYTE=VALUE, e.g. wbc=3.5")
        k, v = item.split("=", 1)
        k = k.strip().lower().replace("-", "_")
        if k not in ANALYTES:
            raise InputError(field, f"unknown analyte {k!r}; use one of {', '.join(ANALYTES)}")
        out[k] = v.strip()
    return out


def _number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(field, f"{text!r} is not a number") from None


def _value_and_unit(analyte: str, text: str) -> tuple[str, str | None]:
    parts = text.strip().split(None, 1)
    if not parts:
        raise InputError(analyte, "empty value")
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _add_assess(sub) -> None:
    p = sub.add_parser("assess", help="assess one CBC", description="Assess one complete blood count.")
    for a in ANALYTES.values():
        p.add_argument(
            _flag(a.id),
            *_ALIASES.get(a.id, []),
            dest=a.id,
            metavar=_META[a.dimension],
            help=f"{a.name} ({a.unit})",
        )
    p.add_argument("--unit", action="append", metavar="ANALYTE=UNIT", help="unit of a value, e.g. wbc=/uL")
    p.add_argument("--lln", action="append", metavar="ANALYTE=VALUE", help="the lab's lower limit, e.g. wbc=3.5")
    p.add_argument("--uln", action="append", metavar="ANALYTE=VALUE", help="the lab's upper limit")
    p.add_argument("--age-years", type=str)
    p.add_argument("--age-days", type=str)
    p.add_argument("--sex", choices=["female", "male", "unknown"])
    p.add_argument("--ancestry", help="duffy-null for the Duffy-null (DANC) ranges")
    p.add_argument("--profile", default="standard", help=f"reference profile: {', '.join(PROFILES)}")
    p.add_argument("--scheme", action="append", help=f"grade only these schemes: {', '.join(SCHEMES)}")
    p.add_argument("--fever-sustained", action=argparse.BooleanOptionalAction, default=None,
                   help="a temperature of 38.0 C or more lasted over an hour")  # fmt: skip
    p.add_argument("--json", nargs="?", const=True, default=None, metavar="FILE",
                   help="print JSON; with FILE (or - for stdin), read the CBC from a JSON object")  # fmt: skip
    from leukon.cli.explain import add_explain_options

    add_explain_options(p)
    p.set_defaults(run=_run_assess)


_JSON_KEYS = {"units", "lln", "uln", "age_days", "age_years", "sex", "ancestry", "profile", "fever_sustained",
              "anc_expected_fall", "schemes"}  # fmt: skip


def _from_json(source: str) -> dict:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError("json", f"cannot read {source!r}: {e.strerror}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError("json", f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(doc, dict):
        raise InputError("json", 'expected one JSON object with analyte keys, e.g. {"wbc": 3.1}')
    for k in doc:
        if k not in ANALYTES and k not in _JSON_KEYS:
            raise InputError(
                k, f"unknown key; use analyte ids ({', '.join(ANALYTES)}) or {', '.join(sorted(_JSON_KEYS))}"
            )
    return doc


def _run_assess(args) -> int:
    if isinstance(args.json, str):
        doc = _from_json(args.json)
        values = {k: v for k, v in doc.items() if k in ANALYTES}
        options = {k: v for k, v in doc.items() if k not in ANALYTES}
    else:
        units = _pairs(args.unit, "unit")
        values = {}
        for a in ANALYTES:
            text = getattr(args, a)
            if text is not None:
                v, u = _value_and_unit(a, text)
                values[a] = (v, u or units.get(a))
        lln = {k: _number(f"lln {k}", v) for k, v in _pairs(args.lln, "lln").items()}
        uln = {k: _number(f"uln {k}", v) for k, v in _pairs(args.uln, "uln").items()}
        options = {
            "units": units, "lln": lln, "uln": uln, "sex": args.sex, "ancestry": args.ancestry,
            "profile": args.profile, "fever_sustained": args.fever_sustained, "schemes": args.scheme,
            "age_years": None if args.age_years is None else _number("age_years", args.age_years),
            "age_days": None if args.age_days is None else _whole("age_days", args.age_days),
        }  # fmt: skip
    result = assess_mapping(values, **options)
    from leukon.cli.explain import explanation_from_args, print_explanation

    if args.json is not None:
        doc = result.to_dict()
        if args.explain:
            doc["explanation"] = explanation_from_args(result, args).to_dict()
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        from leukon.outputs.assessment_text import print_assessment

        print_assessment(result)
        print_explanation(result, args)
    return 0


def _whole(field: str, text: str) -> int:
    v = _number(field, text)
    if v != int(v):
        raise InputError(field, f"{text!r} must be a whole number")
    return int(v)


def _add_grade(sub) -> None:
    p = sub.add_parser(
        "grade",
        help="grade one value under a scheme",
        description="Grade one value under a named scheme's term.",
    )
    p.add_argument("--scheme", required=True, help=f"one of {', '.join(SCHEMES)}")
    p.add_argument("--term", required=True, help="the term as the scheme writes it, any case")
    p.add_argument("--value", required=True)
    p.add_argument("--unit", default=None, help="default: the analyte's canonical unit (10^9/L)")
    p.add_argument("--lln", default=None)
    p.add_argument("--age-days", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_run_grade)


def _run_grade(args) -> int:
    from leukon.rules.criteria import scheme

    term = scheme(args.scheme).term(args.term)
    value = _number("value", args.value)
    check_value(term.analyte, value, args.unit)  # a wrong unit or impossible value is bad input here
    lln = None if args.lln is None else _number("lln", args.lln)
    age = None if args.age_days is None else _whole("age_days", args.age_days)
    r = grade_detail(args.scheme, args.term, value, args.unit, lln=lln, age_days=age)
    if args.json:
        print(json.dumps(r.to_dict(), ensure_ascii=False))
    elif r.grade is None:
        print(f"{r.scheme} | {r.term} | not gradable: {r.reason}")
    else:
        print(f"{r.scheme} | {r.term} | grade {r.grade}" + (f" ({r.label})" if r.label else ""))
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run leukon on its built-in example data")
    p.add_argument("--patients", type=int, default=2000, help="size of the synthetic cohort (default 2000)")
    p.add_argument("--out", default=None, help="folder for the screening outputs (default: a temporary folder)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=_run_demo)


def _run_demo(args) -> int:
    from leukon.cli.demo import run

    return run(quiet=args.quiet, patients=args.patients, out=args.out)


#: Sub-command modules: each has register(subparsers), whose parsers set_defaults(run=fn).
_PLUGINS: tuple[str, ...] = ("leukon.cli.screen", "leukon.cli.synth", "leukon.cli.follow", "leukon.cli.explain")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="leukon", description="White-cell cytopenias from complete blood counts, with reasons.")
    parser.add_argument("--version", action="version", version=f"leukon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _add_demo(sub)
    _add_assess(sub)
    _add_grade(sub)
    import importlib

    for name in _PLUGINS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version and one-line usage errors
        return int(e.code or 0)
    run: Callable | None = getattr(args, "run", None)
    if run is None:
        parser.print_help()
        return EXIT_INPUT
    try:
        return int(run(args) or 0)
    except LeukonError as e:
        print(f"leukon: error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug, not the user's input: one line, and the traceback on request
        if os.environ.get("LEUKON_DEBUG"):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        print(f"leukon: internal error: {type(e).__name__}: {first} (set LEUKON_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
