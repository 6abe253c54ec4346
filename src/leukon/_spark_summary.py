"""One run summary from the partitions' summaries, with the same keys and meaning as the Polars engine's.

Partitions hold disjoint sets of input rows and of patients (rows are routed by patient), so every count
is a plain sum: rows read, used and rejected, specimens, patients, rejects by reason, findings, warnings,
course labels. The accounting check is made again on the sums, and a failure is raised, never hidden.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

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
    first = parts[0] if parts else {}
    summary = {
        "input": input,
        "format": first.get("format", format),
        **{k: totals[k] for k in TOTALS[:4]},
        "rejected_by_reason": tallies["rejected_by_reason"],
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
    if any("course" in p for p in parts):
        summary["course"] = tallies["course"]
        summary["cyclic"] = tallies["cyclic"]
    if not summary["accounted"]:
        raise RuntimeError(
            f"row accounting failed over {partitions} partitions: read {totals['rows_read']}, "
            f"used {totals['rows_used']}, rejected {totals['rows_rejected']}"
        )
    return summary
