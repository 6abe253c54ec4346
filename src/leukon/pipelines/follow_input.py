"""Reading a series of counts for the course (`leukon follow`, `leukon report`, POST /follow): panels tables,
JSON records with their own units, or raw results screened into panels first. One reader for every entry point.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl

from leukon.course.episodes import DEFAULT_LINES, CourseParams, panel_columns
from leukon.course.follow import follow, follow_stream
from leukon.course.model import FollowResult, FollowStream
from leukon.errors import InputError, LeukonError
from leukon.rules.criteria import scheme as get_scheme
from leukon.rules.units import check_value

COUNT_COLUMNS = tuple(line.column for line in DEFAULT_LINES)


def _read_json_records(path: Path, time_format: str | None) -> pl.DataFrame:
    data = json.loads(path.read_text("utf-8"))
    if isinstance(data, dict):
        data = data.get("results", data.get("panels"))
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise InputError("INPUT", "a JSON input must be a list of objects like {patient_id, taken_at, anc, wbc}")
    rows = []
    for i, r in enumerate(data):
        if r.get("patient_id") is None or r.get("taken_at") is None:
            raise InputError("INPUT", f"record {i} needs patient_id and taken_at")
        row = {"patient_id": str(r["patient_id"]), "specimen_id": r.get("specimen_id"), "taken_at": str(r["taken_at"])}
        for col in COUNT_COLUMNS:
            v = r.get(col)
            row[col] = None if v is None else check_value(col, v, r.get("unit"))
        rows.append(row)
    schema = {"patient_id": pl.String, "specimen_id": pl.String, "taken_at": pl.String} | dict.fromkeys(
        COUNT_COLUMNS, pl.Float64
    )
    return _times(pl.DataFrame(rows, schema=schema), time_format)


def read_table(
    path: str,
    *,
    results: bool = False,
    time_format: str | None = None,
    columns: Callable[[list[str]], list[str]] | None = None,
) -> pl.DataFrame:
    """Read a table (CSV, Parquet, or a JSON list of records; the suffix decides). With `results`, a long
    table of lab results (one row a result, as `leukon screen --format long` reads) that has no count
    columns is screened into panels first. Text times are read as `leukon screen` reads them, or with
    `time_format` alone when it is given. `columns`: of a CSV or Parquet file's column names, those to read."""
    p = Path(path)
    if not p.is_file():
        raise InputError("INPUT", f"{path}: no such file")
    suffix = p.suffix.lower()
    if results:
        from leukon.sources.detect import detect_format

        message = detect_format(p)  # a FHIR Bundle/NDJSON or HL7 v2 file: screened by its adapter, like a table
        if message:
            from leukon.pipelines.screen import screen

            return screen(path, format=message, course=False).panels
    from leukon.sources.io import file_kind, read_errors  # here: leukon.sources is slow to import

    kind = file_kind(p)
    if suffix == ".json" or kind == "a JSON document":
        return _read_json_records(p, time_format)
    if kind is not None:
        raise InputError("INPUT", f"{path} is not a CSV but {kind}; give CSV, Parquet or a JSON list of counts")
    with p.open("rb") as fh:
        parquet = fh.read(4) == b"PAR1"
    with read_errors(path):
        keep = None
        if columns is not None:
            keep = columns(list(pl.read_parquet_schema(p) if parquet else pl.read_csv(p, n_rows=0).columns))
        # taken_at as text: Polars' own date guessing reads 03/01/2024 day first and fails on a column mixing
        # shapes; `_times` settles the order from the column or refuses, as `leukon screen` does
        df = pl.read_parquet(p, columns=keep) if parquet else pl.read_csv(
            p, columns=keep, try_parse_dates=True, infer_schema_length=10_000,
            schema_overrides={"taken_at": pl.String})  # fmt: skip
    if results and not set(COUNT_COLUMNS) & set(df.columns):
        return _panels_from_results(path, time_format)
    df = _times(df, time_format)
    return df


def _times(df: pl.DataFrame, time_format: str | None = None) -> pl.DataFrame:
    """taken_at read as `leukon screen` reads it: US or day-first dates settled by the column, or refused;
    with `time_format`, that format alone."""
    if "taken_at" not in df.columns or df["taken_at"].dtype != pl.String:
        return df
    from leukon.sources.base import taken_at_times

    parsed = df.select(taken_at_times(df.lazy(), time_format)).to_series()
    bad = df["taken_at"].filter(parsed.is_null() & df["taken_at"].str.strip_chars().ne(""))
    if bad.len():
        raise InputError("taken_at", f"cannot read {bad[0]!r} as a date and time")
    return df.with_columns(parsed.alias("taken_at"))


def _panels_from_results(path: str, time_format: str | None) -> pl.DataFrame:
    """Panels from a long results table, through the same adapter and kernel as `leukon screen`."""
    from leukon.pipelines.screen import screen

    try:
        return screen(path, format="long", course=False, time_format=time_format).panels
    except InputError as e:
        raise InputError("INPUT", f"{path} has no count columns ({', '.join(COUNT_COLUMNS)}) with patient_id and"
                         f" taken_at, and is not a long results table either ({e})") from None  # fmt: skip


def _read_treatments(path: str | None) -> pl.DataFrame | None:
    if path is None:
        return None
    p = Path(path)
    if p.suffix.lower() == ".json":
        if not p.is_file():
            raise InputError("--treatments", f"{path}: no such file")
        return pl.DataFrame(json.loads(p.read_text("utf-8")))
    return read_table(path)


def _check_dates(df: pl.DataFrame, time_format: str | None) -> pl.DataFrame:
    """`df` with its text times read as `_times` reads them; InputError when a row has none."""
    df = _times(df, time_format)
    if "taken_at" in df.columns and df["taken_at"].null_count():
        raise InputError("taken_at", f"{df['taken_at'].null_count()} row(s) have no readable date and time")
    return df


def follow_args(args: argparse.Namespace, df: pl.DataFrame | None = None) -> FollowResult:
    """The course of the counts in INPUT (or `df`, already read), for the options `add_follow_arguments` adds."""
    return follow(**_follow_inputs(args, df))


def follow_stream_args(args: argparse.Namespace, df: pl.DataFrame | None = None) -> FollowStream:
    """`follow_args`, built a batch of patients at a time as it is read (`leukon.course.follow.follow_stream`)."""
    return follow_stream(**_follow_inputs(args, df))


def _follow_inputs(args: argparse.Namespace, df: pl.DataFrame | None) -> dict:
    """`follow`'s arguments from the follow options: the panels, the patient, the treatments and the scheme."""
    time_format = getattr(args, "time_format", None)
    if df is None:  # the course's columns alone: `screen` writes about a hundred to panels.parquet

        def wanted(names: list[str]) -> list[str]:
            return panel_columns(names, CourseParams(), get_scheme(args.scheme).id)

        df = read_table(args.input, results=True, time_format=time_format, columns=wanted)
    df = _check_dates(df, time_format)
    return {"panels": df, "patient_id": args.patient, "treatments": _read_treatments(args.treatments),
            "scheme": args.scheme}  # fmt: skip


def reading_errors(fn, args: argparse.Namespace) -> int:
    """Run `fn(args)`, reporting a file that cannot be read as the input error it is (exit 2, one line)."""
    try:
        return fn(args)
    except (OSError, ValueError, KeyError, pl.exceptions.PolarsError) as e:
        if isinstance(e, LeukonError | BrokenPipeError):  # a reader that stopped early (`| head`) is not INPUT's fault
            raise
        raise InputError("INPUT", " ".join(str(e).split()) or type(e).__name__) from None
