"""The scalar grader: one value, one term, one answer with its reason.

The single-report path uses this evaluator; the vectorised kernel compiles the same `Term` objects to
Polars expressions, and a property test proves the two agree.

>>> grade("ctcae-v5", "White blood cell decreased", 2.0, "10^9/L")
2
>>> grade("ctcae-v5", "Neutrophil count decreased", 700, "cells/uL")
3
>>> grade("ctcae-v5", "Neutrophil count decreased", 1.6, "10^9/L") is None   # no LLN: cannot tell
True
>>> grade_detail("ctcae-v5", "Neutrophil count decreased", 1.6, "10^9/L").reason
'ANC 1.6 10^9/L is at or above the grade 2 threshold and no LLN was given; give the lower limit of normal to tell grade 0 from grade 1'
>>> grade("ctcae-v5", "Neutrophil count decreased", 700, None) is None   # no unit: never assumed
True
>>> grade("ctcae-v5", "Neutrophil count decreased", "<0.1", "10^9/L")      # censored: the bound decides
4
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from leukon.errors import InputError, UnitError
from leukon.rules.book import fever_program, short_name, term_program
from leukon.rules.censored import grade_censored, split_censored
from leukon.rules.criteria import Rule, Term, scheme
from leukon.rules.logic import Choices, col, function, lit
from leukon.rules.units import check_value, is_missing_unit, tidy

#: The reason a value given without a unit is not graded.
UNIT_MISSING = "unit missing: give the unit (e.g. 10^9/L or cells/uL); a number alone is never taken as 10^9/L"


@dataclass(frozen=True, slots=True)
class GradeResult:
    """A grade under one scheme's term; grade None means not gradable, and reason says why."""

    scheme: str
    term: str
    analyte: str
    grade: int | None
    label: str | None = None
    reason: str | None = None
    value: float | None = None
    lln: float | None = None
    age_band: str | None = None
    action: str | None = None
    monitoring: str | None = None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def _short(analyte: str) -> str:
    return short_name(analyte)


def _result(term: Term, grade: int | None, value, lln, band_label, reason=None, rule: Rule | None = None):
    action = rule.action if rule else (term.grade0_action if grade == 0 else None)
    monitoring = rule.monitoring if rule else (term.grade0_monitoring if grade == 0 else None)
    label = term.label_of(grade)
    if term.kind == "febrile_neutropenia" and grade is not None:  # a yes/no definition: met or not met
        label = "met" if grade else "not met"
    return GradeResult(
        term.scheme,
        term.term,
        term.analyte,
        grade,
        label,
        reason,
        value,
        lln,
        band_label or None,
        action,
        monitoring,
    )


_COMPILED: dict[tuple[int, str, str], tuple[Callable, Choices]] = {}


def _term_compiled(term: Term) -> tuple[Callable, Choices]:
    # keyed by identity and names: hashing a Term (nested tuples of rules) on every call costs more than grading
    key = (id(term), term.scheme, term.term)
    hit = _COMPILED.get(key)
    if hit is None:
        p = term_program(term, col("value"), col("lln"), col("age_days"))
        hit = _COMPILED[key] = (function([p.grade, p.band], name="grade"), Choices(p.reasons))
    return hit


def result_of(term: Term, grade: int | None, band: int | None, value, lln, reason: str | None) -> GradeResult:
    """A GradeResult from a compiled term's outputs: the label, action and monitoring come from the rule given."""
    b = term.bands[band] if band is not None and value is not None else None
    rule = next((r for r in b.rules if r.grade == grade), None) if b is not None and grade else None
    return _result(term, grade, value, lln, b.label if b is not None else "", reason, rule)


def evaluate(term: Term, value: float | None, *, lln: float | None = None, age_days: int | None = None) -> GradeResult:
    """Grade a canonical value (10^9/L) under `term`. Missing inputs give grade None with a reason.

    The rule is the rule book's `term_program`, the same one the vectorised kernel compiles to Polars."""
    if term.kind == "febrile_neutropenia":
        raise InputError(
            "term",
            f"{term.term!r} needs an ANC and a temperature; use leukon.assess(anc=..., temperature=...)",
        )
    if isinstance(value, float) and math.isnan(value):
        value = None
    fn, reasons = _term_compiled(term)
    row = {"value": value, "lln": lln, "age_days": age_days}
    grade, band = fn(row)
    return result_of(term, grade, band, value, lln, None if grade is not None else reasons.first(row))


def _fever_compiled(term: Term) -> tuple[Callable, Choices]:
    key = (id(term), term.scheme, term.term)
    hit = _COMPILED.get(key)
    if hit is None:
        p = fever_program(term)
        hit = _COMPILED[key] = (function([p.grade, p.possible], name="fever"), Choices(p.reasons))
    return hit


def evaluate_fever(
    term: Term,
    anc: float | None,
    temperature_c: float | None,
    *,
    sustained: bool | None = None,
    anc_expected_fall: bool = False,
    wbc: float | None = None,
) -> GradeResult:
    """Febrile neutropenia: `sustained` says whether a temperature >= 38.0 C lasted over an hour (None: unknown);
    `wbc` bounds the ANC from above when no ANC is known (an absolute count cannot exceed the WBC)."""
    fn, reasons = _fever_compiled(term)
    row = {
        "anc": anc,
        "wbc": wbc,
        "temperature": temperature_c,
        "fever_sustained": sustained,
        "anc_expected_fall": anc_expected_fall,
    }
    grade, _ = fn(row)
    return _result(term, grade, anc, None, "", reasons.first(row))


_ROW_COMPILED: dict[tuple[str, ...], tuple[Callable, tuple[Term, ...], tuple[Choices, ...]]] = {}


def grade_row(row: Mapping, scheme_ids: tuple[str, ...]) -> list[GradeResult]:
    """Every term of these schemes graded on one panel row (`<analyte>`, `<analyte>_lln`, `age_days`, and the fever
    inputs), by one compiled function: the programs `evaluate` and `evaluate_fever` run one term at a time."""
    hit = _ROW_COMPILED.get(scheme_ids)
    if hit is None:
        terms = tuple(t for sid in scheme_ids for t in scheme(sid).terms.values())
        exprs, reasons = [], []
        for t in terms:
            if t.kind == "febrile_neutropenia":
                fp = fever_program(t)
                exprs += [fp.grade, lit(None)]
                reasons.append(Choices(fp.reasons))
            else:
                tp = term_program(t, col(t.analyte), col(f"{t.analyte}_lln"), col("age_days"))
                exprs += [tp.grade, tp.band]
                reasons.append(Choices(tp.reasons))
        hit = _ROW_COMPILED[scheme_ids] = (function(exprs, name="grades"), terms, tuple(reasons))
    fn, terms, reasons = hit
    out = fn(row)
    results = []
    for i, t in enumerate(terms):
        grade, band = out[2 * i], out[2 * i + 1]
        if t.kind == "febrile_neutropenia":
            results.append(_result(t, grade, row["anc"], None, "", reasons[i].first(row)))
        else:
            value, lln = row[t.analyte], row[f"{t.analyte}_lln"]
            results.append(result_of(t, grade, band, value, lln, None if grade is not None else reasons[i].first(row)))
    return results


def fever_possible(result: GradeResult) -> bool:
    """True when febrile neutropenia is met only if the fever lasted long enough and nobody said whether it did."""
    return result.grade is None and "lasted over" in (result.reason or "")


def _canonical_or_reason(analyte: str, value, unit: str | None) -> tuple[float | None, str | None]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, None
    try:
        return check_value(analyte, value, unit), None
    except UnitError as e:
        return None, str(e)


def grade_detail(
    scheme_id: str,
    term: str,
    value: float | str | None,
    unit: str | None,
    *,
    lln: float | None = None,
    uln: float | None = None,
    age_days: int | None = None,
) -> GradeResult:
    """Like `grade`, with the label, the reason when not gradable, and the age band used.

    A censored value ("<0.1", ">=100") is graded only when every value it stands for has the same grade.
    """
    t = scheme(scheme_id).term(term)
    if age_days is not None and (not isinstance(age_days, int) or age_days < 0):
        raise InputError("age_days", f"{age_days!r} is not a whole number of days from 0 up")
    if is_missing_unit(unit) and not (value is None or (isinstance(value, float) and math.isnan(value))):
        # As admiral does: a number without its unit is not gradable; it is never assumed to be 10^9/L.
        return _result(t, None, None, None, "", UNIT_MISSING)
    op, value = split_censored(value)  # "<0.1": graded only where the bound decides (leukon.rules.censored)
    v, why = _canonical_or_reason(t.analyte, value, unit)
    if why:
        return _result(t, None, None, None, "", why)
    lo = None
    if lln is not None:
        lo, why = _canonical_or_reason(t.analyte, lln, unit)
        if why:
            return _result(t, None, v, None, "", why)
    del uln  # no white-cell term here reads the ULN (high-side terms use fixed thresholds)
    if op is not None and v is not None:
        return grade_censored(t, op, tidy(v), lln=lo, age_days=age_days)
    return evaluate(t, None if v is None else tidy(v), lln=lo, age_days=age_days)


def grade(
    scheme: str,
    term: str,
    value: float | None,
    unit: str | None,
    *,
    lln: float | None = None,
    uln: float | None = None,
    age_days: int | None = None,
) -> int | None:
    """The grade of one value under a named scheme's term; None when it cannot be graded.

    scheme: ``ctcae-v4``, ``ctcae-v5``, ``ctcae-v6``, ``daids-v2.1`` (also leukon's ``clinical`` and
    ``clozapine``). term: the scheme's official name, any case. value and lln are in `unit`, which may be
    any count unit leukon knows (10^9/L, 10^3/uL, K/uL, /uL, cells/mm3, G/L, ...). A wrong or missing
    unit (None: "unit missing"; never assumed to be 10^9/L), a missing value, a missing LLN where grade 1
    needs it, or a missing age under DAIDS give None; use
    `grade_detail` for the reason. Unknown schemes or terms raise an error that lists the valid ones;
    negative, non-numeric or implausible values raise InputError.
    """
    return grade_detail(scheme, term, value, unit, lln=lln, uln=uln, age_days=age_days).grade
