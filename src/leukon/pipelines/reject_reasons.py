"""Rejected rows counted by kind of reason, each kind with a real example, and `raw` as the row was read.

A reason names the value at fault ("unit 'mmol/L' is not a cell count per volume for wbc"); counting
them one by one would give one line per distinct value, so they are counted by *kind*: the reason with
its quoted values and row numbers taken out ("unit is not a cell count per volume for wbc"). The kind is
a plain phrase, never a template with placeholders, and names of analytes stay whole ("cd4"). Each kind
keeps its first example: the full reason, its source row and the row as read.

>>> import polars as pl
>>> df = pl.DataFrame({"source_row": [3, 5, 9], "raw": ["a", "b", "c"], "row_used": [False] * 3,
...                    "reason": ["unit 'mmol/L' is not a cell count per volume for cd4",
...                               "unit 'g/L' is not a cell count per volume for cd4", "duplicate of row 2"]})
>>> counts, examples = reason_counts(df)
>>> counts
{'unit is not a cell count per volume for cd4': 2, 'duplicate of an earlier row': 1}
>>> examples['unit is not a cell count per volume for cd4']['example']
"unit 'mmol/L' is not a cell count per volume for cd4"
"""

from __future__ import annotations

import polars as pl

#: (pattern, replacement) applied in order to a reason to get its kind. Quoted values go first; then the
#: few reasons that carry a bare number (a row number, an implausible value with its units).
KIND_RULES = (
    (r"\s*'[^']*'", ""),
    (r"^duplicate of row \d+$", "duplicate of an earlier row"),
    (r"^implausible (\S+) .*: probable unit error$", "implausible $1: probable unit error"),
    (r"^implausible (\S+) .*$", "implausible $1"),
    (r"\s+", " "),
)


def reason_kind(reason: pl.Expr) -> pl.Expr:
    """The kind of a reject reason: the reason without the values it quotes (see KIND_RULES)."""
    for pattern, replacement in KIND_RULES:
        reason = reason.str.replace_all(pattern, replacement)
    return reason.str.strip_chars()


def reason_counts(rejects: pl.DataFrame) -> tuple[dict[str, int], dict[str, dict]]:
    """Rejected rows (not used at all) per kind of reason, most frequent first, and one example per kind.

    A row with several rejected results is counted once, under its first reason, so the counts add up
    to the run's `rows_rejected`."""
    rows = rejects
    if "row_used" in rows.columns:
        rows = rows.filter(~pl.col("row_used"))
    rows = rows.sort("source_row", maintain_order=True).unique("source_row", keep="first", maintain_order=True)
    rows = rows.with_columns(reason_kind(pl.col("reason")).alias("kind"))
    by_kind = (
        rows.group_by("kind", maintain_order=True)
        .agg(pl.len().alias("rows"), pl.col("reason").first(), pl.col("source_row").first(), pl.col("raw").first())
        .sort(["rows", "kind"], descending=[True, False])
    )
    counts = dict(zip(by_kind["kind"].to_list(), by_kind["rows"].to_list(), strict=True))
    examples = {
        r["kind"]: {"example": r["reason"], "source_row": r["source_row"], "raw": r["raw"]}
        for r in by_kind.iter_rows(named=True)
    }
    return counts, examples


def with_source_raw(rejects: pl.DataFrame, source, wanted: pl.Series) -> pl.DataFrame:
    """`rejects` with the rows `wanted` given their source row as read in `raw` (the kernel's rejects carry
    converted values, a wide row's dropped cell only the cell): one scan of the input for all of them."""
    raw_rows = getattr(source, "raw_rows", None)  # `leukon.sources.Source.raw_rows`
    raw = raw_rows(wanted) if raw_rows is not None and not rejects.is_empty() else None
    if raw is None:
        return rejects
    return (
        rejects.join(raw.rename({"raw": "_raw"}), on="source_row", how="left", maintain_order="left")
        .with_columns(pl.coalesce("_raw", "raw").alias("raw"))
        .drop("_raw")
    )
