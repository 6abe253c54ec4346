"""`leukon follow`: episodes, nadirs, recovery, chronic and cyclic course of counts over time.

INPUT is CSV or Parquet with the panels columns (patient_id, specimen_id, taken_at, anc, wbc,
lymphocytes in 10^9/L), or a JSON list of {patient_id, taken_at, anc, wbc, ...} where an optional "unit"
applies to that record's counts (e.g. "cells/uL"), so series mixing units are converted, not misread.
Without --patient every patient is followed, 10,000 at a time, and each batch is printed before the next is
built. Bad input prints one line to stderr and exits with 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

from leukon.cli.app import command, streaming_output
from leukon.cli.arguments import add_profiles_argument, help_text
from leukon.cli.files import written_whole
from leukon.course.model import NOT_A_DIAGNOSIS, PatientCourse, follow_json_pieces
from leukon.errors import InputError
from leukon.pipelines.follow_input import follow_args, follow_stream_args, read_table, reading_errors


def _text(patient: PatientCourse) -> str:
    """One patient's courses, episodes and cyclic verdict as indented lines."""
    p = patient
    out = [f"Patient {p.patient_id} ({p.scheme})"]
    for c in p.courses.values():
        out.append(f"  {c.line}: {c.label} - {c.reason}")
    for e in p.episodes:
        end = e.end.date().isoformat() if e.end else ("ongoing" if e.ongoing else "unknown (gap)")
        grade = "-" if e.worst_grade is None else e.worst_grade
        rec = f", recovery day {e.recovery_day.isoformat()}" if e.recovery_day else ""
        after = (
            ""
            if e.nadir_day_after_treatment is None
            else f" (day {e.nadir_day_after_treatment} after {e.treatment.label})"
        )
        out.append(
            f"  episode {e.line} #{e.episode}: {e.start.date().isoformat()} to {end}, {e.n_counts} count(s),"
            f" nadir {e.nadir:g} on {e.nadir_at.date().isoformat()}{after}, worst grade {grade}{rec}"
        )
    out.append(f"  cyclic: {p.cyclic.verdict} - {p.cyclic.reason}")
    return "\n".join(out)


def _chart_path(path: str) -> str:
    if not path.lower().endswith((".png", ".svg")):
        raise InputError("--chart", f"{path}: the chart file must end in .png or .svg")
    return path


def run(args: argparse.Namespace) -> int:
    """Print the course as text or JSON, and draw the chart when asked."""
    return reading_errors(cmd_follow, args)


def cmd_follow(args: argparse.Namespace) -> int:
    """The courses are written as each batch of patients is built, so a cohort's are never held whole."""
    if args.chart:
        _chart_path(args.chart)
    result = follow_stream_args(args)
    patients: Iterable[PatientCourse] = result
    if args.chart:
        if len(result.patient_ids) != 1:
            raise InputError("--chart", f"{len(result.patient_ids)} patients in INPUT; choose one with --patient")
        from leukon.outputs.chart import save

        patients = list(result)  # the one patient, drawn and then printed
        with written_whole(args.chart, field="--chart") as tmp:
            save(patients[0], str(tmp))
    with streaming_output():  # Ctrl-C part way: what was printed is incomplete, which the message says
        if args.json:
            sys.stdout.flush()  # anything printed before goes first
            out = sys.stdout.buffer
            for piece in follow_json_pieces(result.scheme, result.params, patients):
                out.write(piece)
            out.flush()
        else:
            for patient in patients:
                print(_text(patient))
            print(NOT_A_DIAGNOSIS)
    return 0


def add_follow_arguments(p: argparse.ArgumentParser) -> None:
    """INPUT, --patient, --treatments, --scheme and --time-format, shared by `follow` and `report`."""
    p.add_argument("input", metavar="INPUT", help="CSV, Parquet or JSON list of counts (10^9/L unless a unit is given)")
    p.add_argument("--patient", metavar="ID", help="follow only this patient")
    p.add_argument("--treatments", metavar="FILE", help="CSV or JSON with patient_id, date, label")
    p.add_argument("--scheme", default="ctcae-v5", help="grading scheme for worst grades (default ctcae-v5)")
    p.add_argument("--time-format", metavar="FORMAT",
                   help=help_text("strftime format of taken_at, e.g. %d/%m/%Y %H:%M; only it is then accepted "
                                  "(default: read as `leukon screen` reads times)"))  # fmt: skip
    add_profiles_argument(p)  # panels whose profile column names a lab's own profile


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `follow` subcommand."""
    f = subparsers.add_parser(
        "follow", help="episodes, recovery, chronic and cyclic patterns over time", description=__doc__
    )
    add_follow_arguments(f)
    f.add_argument("--json", action="store_true", help="print JSON instead of text")
    f.add_argument("--chart", metavar="FILE", help="also draw the counts to FILE (.png or .svg)")
    f.set_defaults(run=command("follow", run))


__all__ = ["add_follow_arguments", "follow_args", "read_table", "reading_errors", "register"]
