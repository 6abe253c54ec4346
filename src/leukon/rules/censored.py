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

from functools import cache

from leukon.errors import InputError
from leukon.rules import book
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import Term
from leukon.rules.logic import Choices, col, function

#: Operators a censored result may carry (the `censor` column of the measurement contract).
OPERATORS = ("<", "<=", ">", ">=")


_COMPILED: dict[tuple[int, str, str], tuple] = {}


def interval(analyte: str, op: str, bound: float) -> tuple[float, float]:
    """The closed interval of canonical values `op bound` can stand for, within the analyte's plausible range: the
    rule book's `censored_interval`, the one the table path compiles to Polars.

    >>> interval("anc", "<", 0.5)[1] < 0.5, interval("anc", "<=", 0.5)
    (True, (0.0, 0.5))
    """
    if op not in OPERATORS:
        raise InputError(analyte, f"censoring operator {op!r} is not one of {', '.join(OPERATORS)}")
    lo, hi = _interval_fn(analyte)({"value": bound, "value_censor": op})
    return lo, hi


@cache
def _interval_fn(analyte: str):
    return function(list(book.censored_interval(analyte, "value")), name="interval")


def grade_censored(term: Term, op: str, bound: float, *, lln: float | None = None, age_days: int | None = None):
    """The GradeResult of a censored canonical value: the grade when both ends of its interval agree (the rule
    book's `censored_term_program`, as `screen` grades a censored panel value)."""
    from leukon.rules.grading import result_of

    if op not in OPERATORS:
        raise InputError(term.analyte, f"censoring operator {op!r} is not one of {', '.join(OPERATORS)}")
    key = (id(term), term.scheme, term.term)
    if key not in _COMPILED:
        p = book.censored_term_program(term, "value", col("lln"), col("age_days"))
        _COMPILED[key] = (function([p.grade, p.band], name="censored_grade"), Choices(p.reasons))
    fn, reasons = _COMPILED[key]
    row = {"value": bound, "value_censor": op, "lln": lln, "age_days": age_days}
    grade, band = fn(row)
    shown = f"{op} {bound:g} {ANALYTES[term.analyte].unit}"
    why = f"censored ({shown}): every value in the range has this grade" if grade is not None else reasons.first(row)
    return result_of(term, grade, band, bound, lln, why)


def split_censored(value: object) -> tuple[str | None, object]:
    """("<", "0.1") from "<0.1"; (None, value) for anything that does not start with an operator."""
    if not isinstance(value, str):
        return None, value
    s = value.strip().replace("≤", "<=").replace("≥", ">=")
    for op in ("<=", ">=", "<", ">"):
        if s.startswith(op):
            return op, s[len(op) :].strip()
    return None, value
