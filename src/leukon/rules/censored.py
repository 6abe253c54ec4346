"""Censored results ("<0.5", ">100"): graded only when the bound decides the grade.

A laboratory writes "<0.1" when a count is below what it reports. The true value lies somewhere in an
interval, and every grading term is monotone (a lower count never gets a milder grade; the criteria loader
checks this), so the grade is known exactly when both ends of the interval get the same grade. ANC "<0.1"
is grade 4 under CTCAE v5 whatever the value (grade 4 is below 0.5); ANC "<1.0" could be grade 3 or 4,
so it is "not gradable: censored". A censored value is never dropped and never read as its bound.

>>> from leukon.rules.criteria import scheme
>>> t = scheme("ctcae-v5").term("Neutrophil count decreased")
>>> grade_censored(t, "<", 0.1).grade
4
>>> grade_censored(t, "<", 1.0).reason
'not gradable: censored (< 1 10^9/L): the value could be grade 3 or grade 4'
"""

from __future__ import annotations

import math
from dataclasses import replace

from leukon.errors import InputError
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import Term

#: Operators a censored result may carry (the `censor` column of the measurement contract).
OPERATORS = ("<", "<=", ">", ">=")


def interval(analyte: str, op: str, bound: float) -> tuple[float, float]:
    """The closed interval of canonical values `op bound` can stand for, within the analyte's plausible range.

    A strict bound is moved by one floating-point step, so the thresholds (compared exactly) see the
    values just inside the interval.

    >>> interval("anc", "<", 0.5)[1] < 0.5, interval("anc", "<=", 0.5)
    (True, (0.0, 0.5))
    """
    a = ANALYTES[analyte]
    if op not in OPERATORS:
        raise InputError(analyte, f"censoring operator {op!r} is not one of {', '.join(OPERATORS)}")
    if op == "<":
        return a.plausible_min, max(a.plausible_min, math.nextafter(bound, -math.inf))
    if op == "<=":
        return a.plausible_min, bound
    if op == ">":
        return math.nextafter(bound, math.inf), max(bound, a.plausible_max)
    return bound, max(bound, a.plausible_max)


def grade_censored(term: Term, op: str, bound: float, *, lln: float | None = None, age_days: int | None = None):
    """The GradeResult of a censored canonical value: the grade when both ends of its interval agree."""
    from leukon.rules.grading import evaluate

    lo, hi = interval(term.analyte, op, bound)
    at_lo = evaluate(term, lo, lln=lln, age_days=age_days)
    at_hi = evaluate(term, hi, lln=lln, age_days=age_days)
    shown = f"{op} {bound:g} {ANALYTES[term.analyte].unit}"
    if at_lo.grade is not None and at_lo.grade == at_hi.grade:
        return replace(at_lo, value=bound, reason=f"censored ({shown}): every value in the range has this grade")
    if at_lo.grade is None or at_hi.grade is None:
        why = (at_lo if at_lo.grade is None else at_hi).reason
        return replace(at_lo, grade=None, label=None, value=bound, reason=f"not gradable: censored ({shown}): {why}")
    grades = sorted({at_lo.grade, at_hi.grade})
    return replace(
        at_lo,
        grade=None,
        label=None,
        value=bound,
        action=None,
        monitoring=None,
        reason=f"not gradable: censored ({shown}): the value could be grade {grades[0]} or grade {grades[-1]}",
    )


def split_censored(value: object) -> tuple[str | None, object]:
    """("<", "0.1") from "<0.1"; (None, value) for anything that does not start with an operator."""
    if not isinstance(value, str):
        return None, value
    s = value.strip().replace("≤", "<=").replace("≥", ">=")
    for op in ("<=", ">=", "<", ">"):
        if s.startswith(op):
            return op, s[len(op) :].strip()
    return None, value
