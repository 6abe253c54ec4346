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
from dataclasses import dataclass

from leukon.errors import InputError, UnitError
from leukon.rules.analytes import ANALYTES
from leukon.rules.censored import grade_censored, split_censored
from leukon.rules.criteria import LLN, Rule, Term, scheme
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


def holds(value: float, op: str, bound: float) -> bool:
    if op == "<":
        return value < bound
    if op == "<=":
        return value <= bound
    if op == ">":
        return value > bound
    return value >= bound


def _short(analyte: str) -> str:
    return "ANC" if analyte == "anc" else ("WBC" if analyte == "wbc" else ANALYTES[analyte].name)


def _result(term: Term, grade: int | None, value, lln, band_label, reason=None, rule: Rule | None = None):
    action = rule.action if rule else (term.grade0_action if grade == 0 else None)
    monitoring = rule.monitoring if rule else (term.grade0_monitoring if grade == 0 else None)
    return GradeResult(
        term.scheme,
        term.term,
        term.analyte,
        grade,
        term.label_of(grade),
        reason,
        value,
        lln,
        band_label or None,
        action,
        monitoring,
    )


def evaluate(term: Term, value: float | None, *, lln: float | None = None, age_days: int | None = None) -> GradeResult:
    """Grade a canonical value (10^9/L) under `term`. Missing inputs give grade None with a reason."""
    if term.kind == "febrile_neutropenia":
        raise InputError(
            "term",
            f"{term.term!r} needs an ANC and a temperature; use leukon.assess(anc=..., temperature=...)",
        )
    name = _short(term.analyte)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return _result(term, None, None, lln, "", f"no {name} value")
    if term.needs_age and age_days is None:
        return _result(
            term, None, value, lln, "", f"age needed: {term.scheme} grades {term.term!r} by age; give the age"
        )
    band = term.band_for(age_days)
    if band is None:
        return _result(term, None, value, lln, "", f"no criteria for age {age_days} days")
    if band.not_gradable:
        return _result(term, None, value, lln, band.label, band.not_gradable)
    for rule in band.rules:
        if rule.bound == LLN:
            if lln is None:
                return _result(
                    term,
                    None,
                    value,
                    lln,
                    band.label,
                    f"{name} {value:g} {ANALYTES[term.analyte].unit} is at or above the grade {rule.grade + 1} threshold"
                    f" and no LLN was given; give the lower limit of normal to tell grade 0 from grade {rule.grade}",
                )
            if holds(value, rule.op, lln):
                return _result(term, rule.grade, value, lln, band.label, rule=rule)
        elif holds(value, rule.op, rule.bound):  # type: ignore[arg-type]
            return _result(term, rule.grade, value, lln, band.label, rule=rule)
    return _result(term, 0, value, lln, band.label)


def evaluate_fever(
    term: Term,
    anc: float | None,
    temperature_c: float | None,
    *,
    sustained: bool | None = None,
    anc_expected_fall: bool = False,
) -> GradeResult:
    """Febrile neutropenia: `sustained` says whether a temperature >= 38.0 C lasted over an hour (None: unknown)."""
    f = term.fever
    assert f is not None
    if anc is None:
        return _result(term, None, None, None, "", "no ANC value")
    anc_low = holds(anc, f.anc_op, f.anc_bound) or (
        anc_expected_fall and f.anc_expected_fall_bound is not None and anc < f.anc_expected_fall_bound
    )
    if not anc_low:
        return _result(term, 0, anc, None, "")
    if temperature_c is None:
        return _result(term, None, anc, None, "", "no temperature given; febrile neutropenia needs one")
    if holds(temperature_c, f.single_op, f.single_c):
        return _result(
            term,
            f.grade,
            anc,
            None,
            "",
            f"single temperature {temperature_c:g} C {f.single_op} {f.single_c:g} C",
        )
    if holds(temperature_c, f.sustained_op, f.sustained_c):
        if sustained:
            return _result(
                term,
                f.grade,
                anc,
                None,
                "",
                f"temperature {temperature_c:g} C sustained over {f.sustained_hours:g} h",
            )
        if sustained is None:
            return _result(
                term,
                None,
                anc,
                None,
                "",
                f"temperature {temperature_c:g} C meets the definition only if it lasted over {f.sustained_hours:g} h;"
                " say whether it did (fever_sustained)",
            )
    return _result(term, 0, anc, None, "")


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
