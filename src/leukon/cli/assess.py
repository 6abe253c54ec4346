"""`leukon assess`: one CBC from flags or from a JSON object (or a JSON list of CBCs), read and explained."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from leukon.cli.app import command
from leukon.cli.arguments import (
    add_analyte_arguments,
    add_profiles_argument,
    analyte_values,
    help_text,
    number,
    pairs,
    whole,
)
from leukon.errors import InputError
from leukon.pipelines.assess import assess_mapping
from leukon.pipelines.requests import kind_of, split_document
from leukon.rules.criteria import PROFILES, SCHEMES


def register(subparsers) -> None:
    """Add `assess` with one flag per analyte, the lab's limits, patient context and --json."""
    p = subparsers.add_parser("assess", help="assess one CBC", description="Assess one complete blood count.")
    add_analyte_arguments(p)
    p.add_argument("--unit", action="append", metavar="ANALYTE=UNIT", help="unit of a value, e.g. wbc=/uL")
    p.add_argument("--lln", action="append", metavar="ANALYTE=VALUE", help="the lab's lower limit, e.g. wbc=3.5")
    p.add_argument("--uln", action="append", metavar="ANALYTE=VALUE", help="the lab's upper limit")
    p.add_argument("--age-years", metavar="YEARS")
    p.add_argument("--age-days", metavar="DAYS")
    p.add_argument("--age-hours", metavar="HOURS", help="hours of life, for newborns: the ANC limit moves by the hour")
    p.add_argument("--sex", choices=["female", "male", "unknown"])
    p.add_argument("--ancestry", help="duffy-null for the Duffy-null (DANC) ranges")
    p.add_argument("--profile", default="standard", help=f"reference profile: {', '.join(PROFILES)}")
    add_profiles_argument(p)
    p.add_argument("--scheme", action="append", help=f"grade only these schemes: {', '.join(SCHEMES)}")
    p.add_argument(
        "--anc-expected-fall",
        action="store_true",
        default=False,
        help="the ANC is expected to fall below 0.5 within 48 h (IDSA febrile neutropenia)",
    )
    p.add_argument("--fever-sustained", action=argparse.BooleanOptionalAction, default=None,
                   help="a temperature of 38.0 C or more lasted over an hour")  # fmt: skip
    p.add_argument("--json", nargs="?", const=True, default=None, metavar="FILE",
                   help=help_text("print JSON; with FILE (or - for stdin), read the CBC from a JSON object, or "
                                  "several CBCs from a JSON list"))  # fmt: skip
    from leukon.cli.explain import add_explain_options
    from leukon.cli.messages import add_message_arguments

    add_explain_options(p)
    add_message_arguments(p)  # --fhir FILE, --hl7 FILE, --output text|json|fhir
    p.set_defaults(run=command("assess", run))


def run(args: argparse.Namespace) -> int:
    """Assess the CBC(s) and print them as a table or JSON."""
    if isinstance(args.json, str):
        return _run_json(args)
    from leukon.cli import messages

    cbc = None
    if messages.wants_message(args):  # --fhir FILE / --hl7 FILE: the CBC comes from a lab message
        result, cbc = messages.assess_message(args)
    else:
        units = pairs(args.unit, "unit")
        values = analyte_values(args, units)
        options = {
            "units": units,
            "lln": {k: number(f"lln {k}", v) for k, v in pairs(args.lln, "lln").items()},
            "uln": {k: number(f"uln {k}", v) for k, v in pairs(args.uln, "uln").items()},
            "sex": args.sex, "ancestry": args.ancestry, "profile": args.profile,
            "fever_sustained": args.fever_sustained, "schemes": args.scheme,
            "age_years": None if args.age_years is None else number("age_years", args.age_years),
            "age_days": None if args.age_days is None else whole("age_days", args.age_days),
            "age_hours": None if args.age_hours is None else number("age_hours", args.age_hours),
            "anc_expected_fall": args.anc_expected_fall,
        }  # fmt: skip
        result = assess_mapping(values, **options)
    if args.output == "fhir":
        messages.print_fhir(result, cbc)
        return 0
    from leukon.cli.explain import explanation_from_args, print_explanation

    if args.json is not None or args.output == "json":
        doc = result.to_dict()
        if args.explain:
            doc["explanation"] = explanation_from_args(result, args).to_dict()
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        from leukon.outputs.assessment_text import print_assessment

        print_assessment(result)
        print_explanation(result, args)
    return 0


def _run_json(args: argparse.Namespace) -> int:
    """One CBC object -> one JSON result; a list of CBCs -> a list of results in the same order, where a CBC
    that cannot be assessed becomes {"index", "error"} and the run ends with one error line (exit 2)."""
    doc = read_json(args.json)
    if isinstance(doc, dict):
        print(json.dumps(_assess_doc(doc, args), ensure_ascii=False, indent=2))
        return 0
    if not doc:
        raise InputError("json", 'the JSON list holds no CBC; give at least one object like {"wbc": 3.1}')
    results, failed = [], []
    for i, item in enumerate(doc):
        try:
            results.append(_assess_doc(item, args, index=i))
        except InputError as e:
            failed.append((i, e))
            results.append({"index": i, "error": {"field": e.field, "message": str(e)}})
    print(json.dumps(results, ensure_ascii=False, indent=2))
    if failed:
        i, e = failed[0]
        more = f" (and {len(failed) - 1} more, see their 'error' entries)" if len(failed) > 1 else ""
        raise InputError("json", f"CBC {i} of the list could not be assessed: {e}{more}; the others were")
    return 0


def read_json(source: str) -> dict | list:
    """The JSON document in file `source` (or stdin for "-"): one CBC object or a list of them."""
    try:
        data = _stdin_bytes() if source == "-" else Path(source).read_bytes()
    except OSError as e:
        raise InputError("json", f"cannot read {source!r}: {e.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("json", f"{source!r} is not text (binary content); give a JSON object or list") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError("json", f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    if not isinstance(doc, dict | list):
        raise InputError("json", 'expected a JSON object with analyte keys, e.g. {"wbc": 3.1}, or a list of them')
    return doc


def _stdin_bytes() -> bytes:
    """Standard input as bytes (a text stream, as tests and some shells give, is encoded back)."""
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer.read() if buffer is not None else sys.stdin.read().encode("utf-8")


def _assess_doc(doc: object, args: argparse.Namespace, *, index: int | None = None) -> dict:
    """The assessment of one JSON CBC as a dict (with its `index` in a list)."""
    where = "json" if index is None else f"CBC {index}"
    if not isinstance(doc, dict):
        raise InputError(where, f'expected a JSON object with analyte keys, e.g. {{"wbc": 3.1}}, not {kind_of(doc)}')
    values, options = split_document(doc)
    result = assess_mapping(values, **options)
    out = result.to_dict()
    if args.explain:
        from leukon.cli.explain import explanation_from_args

        out["explanation"] = explanation_from_args(result, args).to_dict()
    return out if index is None else {"index": index, **out}


#: The JSON types each option takes (analytes take a number, a string "3100 /uL" or {"value", "unit"}).
