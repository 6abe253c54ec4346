"""One run summary from the partitions' summaries, with the same keys and meaning as the Polars engine's.

Partitions hold disjoint sets of input rows and of patients (rows are routed by patient), so every count
is a plain sum: rows read, used and rejected, specimens, patients, rejects by reason, findings, warnings,
course labels. The accounting check is made again on the sums, and a failure is raised, never hidden.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from leukon.errors import InputError

#: Counts summed over partitions.
TOTALS = ("rows_read", "rows_used", "rows_rejected", "results_not_used_in_used_rows", "specimens", "patients")
#: {label: count} tables summed over partitions, then ordered by count (most first) as the Polars engine does.
TALLIES = ("rejected_by_reason", "findings", "warnings", "course", "cyclic")


def by_count(counts: Counter) -> dict:
    """Most frequent first; ties by label, so the order does not depend on which partition finished first."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def merge(parts: Iterable[dict], *, input: str, format: str, partitions: int, seconds: float) -> dict:
    """The run summary of a Spark screen from its partitions' summaries."""
    parts = list(parts)
    totals = {k: sum(int(p.get(k, 0)) for p in parts) for k in TOTALS}
    tallies = {}
    for k in TALLIES:
        c: Counter = Counter()
        for p in parts:
            c.update(p.get(k) or {})
        tallies[k] = by_count(c)
    examples: dict = {}
    for p in parts:  # per kind, the example from the earliest input row, as one run over everything picks
        for kind, ex in (p.get("reject_examples") or {}).items():
            if kind not in examples or ex["source_row"] < examples[kind]["source_row"]:
                examples[kind] = ex
    first = parts[0] if parts else {}
    summary = {
        "input": input,
        "format": first.get("format", format),
        **{k: totals[k] for k in TOTALS[:4]},
        "rejected_by_reason": tallies["rejected_by_reason"],
        "reject_examples": {k: examples[k] for k in tallies["rejected_by_reason"] if k in examples},
        "specimens": totals["specimens"],
        "patients": totals["patients"],
        "schemes": first.get("schemes", []),
        "profile": first.get("profile", ""),
        "chunks": 1,
        "engine": "spark",
        "partitions": partitions,
        "seconds": round(seconds, 3),
        "accounted": totals["rows_read"] == totals["rows_used"] + totals["rows_rejected"],
        "notes": list(dict.fromkeys(n for p in parts for n in p.get("notes", []))),
        "findings": tallies["findings"],
        "warnings": tallies["warnings"],
    }
    formats = Counter(p["time_format"] for p in parts if p.get("time_format"))
    if formats:
        summary["time_format"] = time_format(formats)
    if any("course" in p for p in parts):
        summary["course"] = tallies["course"]
        summary["cyclic"] = tallies["cyclic"]
    if not summary["accounted"]:
        raise RuntimeError(
            f"row accounting failed over {partitions} partitions: read {totals['rows_read']}, "
            f"used {totals['rows_used']}, rejected {totals['rows_rejected']}"
        )
    return summary


def time_format(lines: Counter) -> str:
    """The line saying how the time column was read; partitions decide from their own rows, so they must agree.

    ISO 8601 readings agree whatever format each partition tried first (every one falls back to the
    others). A numeric date read day-first in one partition and month-first, or not at all, in another
    would swap days and months silently: that is an InputError asking for the format.
    """
    if len(lines) == 1:
        return next(iter(lines))
    numeric = [line for line in lines if "first" in line]
    if numeric:
        shown = "; ".join(sorted(lines))
        raise InputError(
            "taken_at", f"partitions read the dates differently ({shown}); give --time-format (time_format=)"
        )
    return lines.most_common(1)[0][0]
