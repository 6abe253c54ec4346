"""`screen`: a lab table in, panels, grades, rejects and a run summary out, with every row accounted for.

    source (adapter)  ->  normalize (units, checks, duplicates)  ->  panels (pivot, derive, ranges)
                      ->  findings and grades (the same rules as `assess`)  ->  Parquet or CSV in DIR

Rows read = rows used + rows rejected, always: a row is used when at least one of its results reaches a
panel; a row none of whose results could be used is rejected; the rejects table lists every result that
was not used, with its reason (for a wide row that was otherwise used, `row_used` is true).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .criteria import DEFAULT_PROFILE, scheme
from .errors import InputError
from .kernel import build_panels, classify_panels, grades_long, normalize
from .kernel.normalize import REJECT_SCHEMA
from .ranges import check_profile

DEFAULT_SCREEN_SCHEMES = ("ctcae-v5", "clinical")
OUTPUT_FORMATS = ("parquet", "csv")


@dataclass
class ScreenResult:
    panels: pl.DataFrame
    grades: pl.DataFrame
    rejects: pl.DataFrame
    summary: dict = field(default_factory=dict)

    def findings_count(self) -> dict[str, int]:
        if self.panels.is_empty():
            return {}
        counts = self.panels.select(pl.col("findings").explode().drop_nulls().value_counts(sort=True)).unnest(
            "findings"
        )
        return dict(counts.iter_rows())


def _panel_columns(panels: pl.DataFrame) -> list[str]:
    """The public panels contract: identity, demographics, counts with methods and ranges, findings."""
    from .analytes import ANALYTES

    cols = ["patient_id", "specimen_id", "taken_at", "age_days", "sex", "ancestry", "profile", "n_results"]
    for a in ANALYTES:
        if a not in panels.columns:
            continue
        cols += [a]
        if f"{a}_method" in panels.columns:
            cols.append(f"{a}_method")
        cols += [f"{a}_lln", f"{a}_uln", f"{a}_range"]
    return [*cols, "findings", "neutropenia_severity", "warnings"]


def distinct_count(rows: pl.Series) -> int:
    """Distinct source rows; rows arrive in input order, so a sorted series is counted without hashing."""
    if rows.is_empty():
        return 0
    if rows.is_sorted():
        return int((rows.diff().fill_null(1) != 0).sum())
    return rows.n_unique()


def reason_kind(reason: pl.Expr) -> pl.Expr:
    """A reason without its quoted values and numbers, for counting rejects by kind."""
    return reason.str.replace_all(r"'[^']*'", "'...'").str.replace_all(r"\d+(\.\d+)?", "N")


def screen_source(
    source,
    *,
    schemes: tuple[str, ...] = DEFAULT_SCREEN_SCHEMES,
    profile: str = DEFAULT_PROFILE,
) -> ScreenResult:
    """Screen a `leukon.sources.Source` (or anything with measurements, rejects, patients, rows_read)."""
    t0 = time.perf_counter()
    schemes = tuple(dict.fromkeys(scheme(s).id for s in schemes))
    profile = check_profile(profile)
    used, kernel_rejects = normalize(source.measurements)
    panels_lf, dup_rejects, used_rows = build_panels(used, source.patients, profile=profile)
    panels = classify_panels(panels_lf).collect()
    rejects = pl.concat(
        [
            source.rejects.select(list(REJECT_SCHEMA)).collect(),
            kernel_rejects.select(list(REJECT_SCHEMA)).collect(),
            dup_rejects.select(list(REJECT_SCHEMA)),
        ]
    )
    panels = panels.sort("first_source_row")  # input order: deterministic, and cheaper than a string sort
    panels = panels.select(_panel_columns(panels))
    # Probe the many used rows against the few rejected ones (wide rows can be both), never the reverse.
    overlap = used_rows.filter(used_rows.is_in(rejects["source_row"].implode()))
    rejects = rejects.with_columns(row_used=pl.col("source_row").is_in(overlap.implode())).sort("source_row")
    grades = grades_long(panels.lazy(), schemes).collect()
    rows_read = int(source.rows_read)
    rows_used = distinct_count(used_rows)
    rows_rejected = rejects.filter(~pl.col("row_used"))["source_row"].n_unique()
    by_reason = (
        rejects.filter(~pl.col("row_used"))
        .unique("source_row", keep="first")
        .group_by(reason_kind(pl.col("reason")).alias("reason"))
        .len()
        .sort("len", descending=True)
    )
    summary = {
        "input": getattr(source, "label", ""),
        "format": getattr(source, "format", ""),
        "rows_read": rows_read,
        "rows_used": rows_used,
        "rows_rejected": rows_rejected,
        "results_not_used_in_used_rows": int(rejects.filter(pl.col("row_used")).height),
        "rejected_by_reason": dict(by_reason.iter_rows()),
        "specimens": panels.height,
        "patients": panels["patient_id"].n_unique() if panels.height else 0,
        "schemes": list(schemes),
        "profile": profile,
        "seconds": round(time.perf_counter() - t0, 3),
        "accounted": rows_read == rows_used + rows_rejected,
        "notes": list(getattr(source, "notes", []) or []),
    }
    result = ScreenResult(panels, grades, rejects, summary)
    summary["findings"] = result.findings_count()
    if not summary["accounted"]:
        # Never silently lose rows: a mismatch is a bug, and the run says so loudly.
        raise RuntimeError(f"row accounting failed: read {rows_read}, used {rows_used}, rejected {rows_rejected}")
    return result


def write(result: ScreenResult, out: Path, *, output: str = "parquet") -> list[Path]:
    """Write panels, grades, rejects (Parquet or CSV) and summary.json into `out`."""
    if output not in OUTPUT_FORMATS:
        raise InputError("output", f"{output!r} is not an output format; use {' or '.join(OUTPUT_FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, df in (("panels", result.panels), ("grades", result.grades), ("rejects", result.rejects)):
        p = out / f"{name}.{output}"
        if output == "parquet":
            df.write_parquet(p)
        else:
            flat = df.with_columns([pl.col(c).list.join(";") for c, t in df.schema.items() if isinstance(t, pl.List)])
            flat.write_csv(p)
        paths.append(p)
    s = out / "summary.json"
    s.write_text(json.dumps(result.summary, indent=2, default=str) + "\n", encoding="utf-8")
    return [*paths, s]
