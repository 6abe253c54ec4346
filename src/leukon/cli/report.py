"""`leukon report`: a self-contained HTML report (course, chart, explanation) for one patient."""

from __future__ import annotations

import argparse

import polars as pl

from leukon.cli.app import command
from leukon.cli.files import written_whole
from leukon.cli.follow import add_follow_arguments
from leukon.errors import InputError
from leukon.pipelines.follow_input import follow_stream_args, read_table, reading_errors


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` subcommand."""
    r = subparsers.add_parser(
        "report",
        help="a self-contained HTML report for one patient",
        description="Write one patient's counts over time as a self-contained HTML page: course, episodes, "
        "chart and a plain-language explanation of the latest count.",
    )
    add_follow_arguments(r)
    r.add_argument("--html", metavar="FILE", required=True, help="write the report here")
    r.set_defaults(run=command("report", run))


def run(args: argparse.Namespace) -> int:
    """Write the report and say where."""
    return reading_errors(cmd_report, args)


def cmd_report(args: argparse.Namespace) -> int:
    df = read_table(args.input, results=True, time_format=args.time_format)  # read (and screen) once for both parts
    result = follow_stream_args(args, df)  # the patients are counted before any course is built
    if len(result.patient_ids) != 1:
        ids = ", ".join(result.patient_ids[:10])
        raise InputError("--patient", f"{len(result.patient_ids)} patients in INPUT ({ids}); choose one with --patient")
    from leukon.outputs.chart import render
    from leukon.outputs.report import render_report

    (patient,) = result
    html = render_report(
        patient, render(patient, "svg").decode("utf-8"), explanation_html=_latest_explanation(df, args.patient)
    )
    with written_whole(args.html, field="--html") as tmp:
        tmp.write_text(html, "utf-8")
    print(f"wrote {args.html}")
    return 0


def _latest_explanation(df: pl.DataFrame, patient: str | None) -> str | None:
    """The explanation (patient audience) of the latest count in the series, as an HTML fragment."""
    from leukon.knowledge import explain
    from leukon.outputs.explanation_html import to_html
    from leukon.pipelines.assess import assess_mapping

    if patient is not None:
        df = df.filter(pl.col("patient_id").cast(pl.String) == patient)
    if df.is_empty():
        return None
    last = df.sort("taken_at").row(-1, named=True)
    values = {a: last[a] for a in ("wbc", "anc", "lymphocytes", "hemoglobin", "platelets") if last.get(a) is not None}
    if not values:
        return None
    age = last.get("age_days")
    try:
        a = assess_mapping(values, age_days=int(age) if age is not None else None, sex=last.get("sex"))
    except InputError:
        return None  # the chart and the course still stand; the explanation needs a clean latest count
    return to_html(explain(a, audience="patient"))
