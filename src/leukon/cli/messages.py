"""`leukon assess --fhir FILE | --hl7 FILE [--output fhir]`: one CBC from a lab message, at the terminal.

The message is read by the same adapter `screen` uses (`leukon.sources.fhir` / `hl7v2`), its latest CBC
is turned into the mapping `assess_mapping` takes, and the command's own options (profile, schemes,
ancestry, fever) are added. What the message held but leukon could not use is printed to stderr, one line
a result, so nothing is dropped in silence.
"""

from __future__ import annotations

import argparse
import sys

from leukon.errors import InputError
from leukon.pipelines.assess import Assessment, assess_mapping

OUTPUTS = ("text", "json", "fhir")


def add_message_arguments(p: argparse.ArgumentParser) -> None:
    """--fhir FILE, --hl7 FILE and --output text|json|fhir."""
    p.add_argument("--fhir", metavar="FILE", help="read the CBC from FHIR R4 JSON (Bundle, DiagnosticReport, NDJSON)")
    p.add_argument("--hl7", metavar="FILE", help="read the CBC from an HL7 v2 ORU^R01 message file (MLLP allowed)")
    p.add_argument("--output", choices=OUTPUTS, default=None, help="print text (default), JSON or a FHIR R4 Bundle")
    p.add_argument("--patient", metavar="ID", help="with --fhir/--hl7: this patient's latest CBC (default: the latest)")


def wants_message(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "fhir", None) or getattr(args, "hl7", None))


def assess_message(args: argparse.Namespace) -> tuple[Assessment, object]:
    """The assessment of the latest CBC in --fhir or --hl7, with the command's options; and the `Cbc` read."""
    if args.fhir and args.hl7:
        raise InputError("--fhir", "give either --fhir or --hl7, not both")
    from leukon.rules.analytes import ANALYTES

    typed = [a for a in ANALYTES if getattr(args, a, None) is not None]
    if typed:
        raise InputError(f"--{typed[0]}", "values come from the message; leave out the analyte flags")
    from leukon.sources.cbc import latest_cbc

    if args.fhir:
        from leukon.sources.fhir import read_fhir

        source = read_fhir(args.fhir)
    else:
        from leukon.sources.hl7v2 import read_hl7v2

        source = read_hl7v2(args.hl7)
    cbc = latest_cbc(source, patient_id=args.patient)
    options = dict(cbc.options)
    options.update(
        {k: v for k, v in (("sex", args.sex), ("ancestry", args.ancestry)) if v is not None},
        profile=args.profile,
        fever_sustained=args.fever_sustained,
        schemes=args.scheme,
    )
    if args.age_years is not None or args.age_days is not None:
        raise InputError("--age-years", "the age comes from the message's birth date; leave out --age-years/--age-days")
    for r in cbc.rejects:
        print(f"leukon: not used: {r['reason']}", file=sys.stderr)
    for note in cbc.notes:
        print(f"leukon: note: {note}", file=sys.stderr)
    result = assess_mapping(cbc.values, **options)
    for line in flag_disagreements(result, cbc.lab_flags):
        print(f"leukon: note: {line}", file=sys.stderr)
    return result, cbc


#: The lab's flags read as a side of the range: low, normal or high (HL7 table 0078 / v3 ObservationInterpretation).
_SIDE = {"L": "low", "LL": "low", "<": "low", "N": "normal", "H": "high", "HH": "high", ">": "high"}


def flag_disagreements(result: Assessment, lab_flags: dict[str, str]) -> list[str]:
    """Where the lab's own flag and leukon's reading against the range it used point different ways.

    Both may be right (another range, another rule); saying so lets the reader look, instead of one of the
    two readings being dropped in silence.
    """
    from leukon.outputs.fhir import interpretation

    out = []
    for analyte, flag in lab_flags.items():
        lab = _SIDE.get(flag.upper())
        ours = interpretation(result, analyte) if analyte in result.values else None
        if lab and ours and lab != _SIDE[ours]:
            out.append(f"the lab flagged {analyte} {flag} ({lab}); leukon reads it as {_SIDE[ours]} ({ours})")
    return out


def print_fhir(result: Assessment, cbc=None) -> None:
    """The assessment as a FHIR R4 Bundle; with a message's CBC, its time and patient id are kept."""
    from leukon.outputs.fhir import to_fhir_json

    if cbc is None:
        print(to_fhir_json(result))
    else:
        print(to_fhir_json(result, effective=cbc.taken_at, patient_id=cbc.patient_id))
