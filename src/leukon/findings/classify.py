"""Findings, warnings and not-assessed notes for one CBC: the rule book's rules compiled to plain Python
(`leukon.findings.frame` compiles the same rules to Polars for tables).

A finding is stated only when the value and the range it needs are known; otherwise a note says why it was not
assessed, so "cannot tell" is never read as "normal".
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from leukon.findings.model import Finding, Note
from leukon.panels.scalar import range_of
from leukon.rules import book
from leukon.rules.analytes import ANALYTES
from leukon.rules.grading import GradeResult, fever_possible
from leukon.rules.logic import function, render_message, simplify


@lru_cache(maxsize=16)
def _compiled(profile: str, n_rows: int):
    del n_rows
    findings = book.finding_rules()
    warnings = book.warning_rules(profile)
    notes = book.not_assessed_rules()
    exprs = [r.condition for r in findings] + [r.condition for r in warnings] + [r.condition for r in notes]
    exprs.append(book.severity_expr())
    nulls, memo = frozenset(f"{a}_censor" for a in ANALYTES), {}  # one CBC's values are exact
    exprs = [simplify(e, nulls, memo) for e in exprs]
    return function(exprs, name="classify"), findings, warnings, notes


def _basis(rng: Mapping) -> str:
    return "laboratory range" if rng.get("origin") == "lab" else f"reference profile '{rng.get('profile')}'"


def _finding(rule: book.FindingRule, row: Mapping, severity: str | None, cache: dict, i: int) -> Finding:
    detail = render_message(rule.detail, row, cache, i) if rule.detail else ""
    if rule.evidence == "pattern":
        return Finding(rule.code, rule.label, basis="pattern of the findings above", detail=detail)
    a = rule.analyte
    assert a is not None
    threshold = row[rule.threshold] if isinstance(rule.threshold, str) else rule.threshold
    if rule.evidence == "definition":
        basis, source = "definition", rule.source
    else:
        rng = range_of(row, a)
        basis, source = _basis(rng), rule.source or rng.get("source")
    sev = rule.severity or (severity if rule.code == "neutropenia" else None)
    return Finding(rule.code, rule.label, a, row[a], ANALYTES[a].unit, rule.comparator, threshold, basis, source, sev,
                   detail=detail)  # fmt: skip


_DETAILS: dict = {}
_MESSAGES: dict = {}


def classify(
    row: Mapping, *, profile: str, fever: list[GradeResult] | None = None
) -> tuple[list[Finding], list[Note], list[Note]]:
    """(findings, warnings, not_assessed) for a panel row from `leukon.panels.scalar.panel_row`; `fever` holds the
    febrile-neutropenia grades of every scheme that defines it."""
    from leukon.rules import criteria

    fn, frules, wrules, nrules = _compiled(profile, len(criteria.RANGES))
    hits = fn(row)
    nf, nw = len(frules), len(wrules)
    severity = hits[-1]
    found: dict[str, Finding] = {}
    for i, rule in enumerate(frules):
        if hits[i] and rule.code not in found:
            found[rule.code] = _finding(rule, row, severity, _DETAILS, (profile, "f", i))
    fn_finding = _febrile(fever or [])
    if fn_finding:
        found[fn_finding.code] = fn_finding
    order = list(book.FINDING_LABELS)
    findings = sorted(found.values(), key=lambda f: order.index(f.code))
    warnings = [
        Note(r.code, render_message(r.message, row, _MESSAGES, (profile, "w", i)), r.field)
        for i, r in enumerate(wrules)
        if hits[nf + i]
    ]
    notes = [
        Note(r.code, render_message(r.message, row, _MESSAGES, ("n", i)), r.field)
        for i, r in enumerate(nrules)
        if hits[nf + nw + i]
    ]
    return findings, warnings, notes


def _febrile(fever: list[GradeResult]) -> Finding | None:
    """Febrile neutropenia met (or possible) under any scheme's definition; the schemes are named by reason, so the
    CTCAE versions that share one definition are named once."""
    met = [g for g in fever if g.grade]
    possible = [g for g in fever if fever_possible(g)]
    which = met or possible
    if not which:
        return None
    by_reason: dict[str, list[str]] = {}
    for g in which:
        by_reason.setdefault(g.reason or "", []).append(g.scheme)
    names = "; ".join(f"{'/'.join(ids)} ({why})" if why else "/".join(ids) for why, ids in by_reason.items())
    return Finding(
        "febrile_neutropenia",
        book.FINDING_LABELS["febrile_neutropenia"],
        "anc",
        which[0].value,
        "10^9/L",
        basis="febrile neutropenia criteria",
        source=names,
        emergency=True,
        certainty="met" if met else "possible",
        detail=("meets " if met else "may meet ") + names + "; seek urgent care now",
    )
