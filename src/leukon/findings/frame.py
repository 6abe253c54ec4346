"""Findings, warnings, not-assessed items and grades for a table of panels: the rule book's rules compiled to
Polars (`leukon.findings.classify` evaluates the same rules on one CBC).

    classify_panels(panels, profile) -> + findings, neutropenia_severity, warnings, not_assessed (lists of codes)
    grades_long(panels, schemes)     -> one row a specimen, scheme and term: grade (null = not gradable), reason
"""

from __future__ import annotations

import polars as pl

from leukon.findings.grade_exprs import fever_exprs, grade_expr, reason_expr
from leukon.panels.build import CENSOR_COLUMNS
from leukon.panels.expressions import null_columns, to_polars, to_polars_as
from leukon.rules import book
from leukon.rules.criteria import DEFAULT_PROFILE, SCHEMES
from leukon.rules.logic import Expr, lit, simplify

SEVERITY = pl.Enum(book.severity_labels())


def _codes_list(items: list[tuple[str, Expr]]) -> pl.Expr:
    """A list of the distinct codes whose condition holds, in rule order, built from a bitmask: the few distinct
    combinations are mapped to lists once, instead of building a list row by row."""
    if len(items) > 64:
        raise ValueError("more than 64 rules in one list column")
    mask = pl.sum_horizontal([to_polars(cond).cast(pl.UInt64) * (1 << i) for i, (_, cond) in enumerate(items)])
    codes = [code for code, _ in items]

    def to_lists(s: pl.Series) -> pl.Series:
        if s.is_empty():
            return pl.Series(s.name, [], dtype=pl.List(pl.String))
        uniq = s.unique().to_list()
        table = {m: list(dict.fromkeys(c for i, c in enumerate(codes) if m >> i & 1)) for m in uniq}
        return s.replace_strict(table, return_dtype=pl.List(pl.String))

    return mask.map_batches(to_lists, return_dtype=pl.List(pl.String))


def finding_items() -> list[tuple[str, Expr]]:
    """(code, condition) for every finding rule, febrile neutropenia last, in report order."""
    items = [(r.code, r.condition) for r in book.finding_rules()]
    items.append(("febrile_neutropenia", book.fever_any()))
    order = list(book.FINDING_LABELS)
    return sorted(items, key=lambda it: order.index(it[0]))


def classify_panels(panels: pl.LazyFrame, profile: str = DEFAULT_PROFILE) -> pl.LazyFrame:
    """Add findings, neutropenia_severity, warnings and not_assessed (lists of codes) to built panels. Rules on
    censored values are folded away when the table holds none (`leukon.rules.logic.simplify`)."""
    nulls = null_columns(panels, CENSOR_COLUMNS)
    memo: dict = {}

    def fold(items: list[tuple[str, Expr]]) -> list[tuple[str, Expr]]:
        return [(code, simplify(cond, nulls, memo)) for code, cond in items]

    return panels.with_columns(
        findings=_codes_list(fold(finding_items())),
        neutropenia_severity=to_polars_as(simplify(book.severity_expr(), nulls, memo), SEVERITY),
        warnings=_codes_list(fold([(r.code, r.condition) for r in book.warning_rules(profile)])),
        not_assessed=_codes_list(fold([(r.code, r.condition) for r in book.not_assessed_rules()])),
    )


GRADES_SCHEMA = {
    "specimen_id": pl.String,
    "scheme": pl.String,
    "term": pl.String,
    "grade": pl.Int8,
    "reason": pl.String,
}


def grades_long(panels: pl.LazyFrame, schemes: tuple[str, ...]) -> pl.LazyFrame:
    """One row a specimen, scheme and term whose analyte the specimen has: grade (null = not gradable), reason.

    Rows come in blocks, one a term, the blocks in (scheme, term) order and each in the panels' order: writing
    them in the run folder's order (specimen id, scheme, term) then takes one stable sort on the specimen id."""
    parts = []
    names = set(panels.collect_schema().names())
    censored = set(CENSOR_COLUMNS) - null_columns(panels, CENSOR_COLUMNS)
    unknown = {c: lit(None) for c in ("fever_sustained", "anc_expected_fall") if c not in names}
    for sid in schemes:
        for t in SCHEMES[sid].terms.values():
            if t.kind == "febrile_neutropenia":
                g, why = fever_exprs(t, unknown)
                present = pl.col("temperature").is_not_null() & (
                    pl.col("anc").is_not_null() | pl.col("wbc").is_not_null()
                )
            else:
                cens = f"{t.analyte}_censor" in censored
                g = grade_expr(t, t.analyte, f"{t.analyte}_lln", "age_days", censored=cens)
                why = reason_expr(t, t.analyte, f"{t.analyte}_lln", "age_days", censored=cens)
                present = pl.col(t.analyte).is_not_null()
            rows = panels.filter(present).select(
                "specimen_id", scheme=pl.lit(sid), term=pl.lit(t.term), grade=g, reason=why
            )
            parts.append(((sid, t.term), rows))
    if not parts:
        return pl.LazyFrame(schema=GRADES_SCHEMA)
    return pl.concat([rows for _, rows in sorted(parts, key=lambda p: p[0])])  # Python and Polars order text alike
