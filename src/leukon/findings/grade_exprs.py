"""Grading terms as Polars expressions: the rule book's `term_program` / `fever_program`, compiled by
`leukon.panels.expressions`; the scalar grader (`leukon.rules.grading.evaluate`) compiles the same programs.

>>> import polars as pl
>>> from leukon.rules.criteria import scheme
>>> t = scheme("ctcae-v5").term("Neutrophil count decreased")
>>> df = pl.DataFrame({"anc": [0.49, 0.5, 1.6, 1.6, None], "lln": [2.0, 2.0, 2.0, None, 2.0]})
>>> df.select(g=grade_expr(t, "anc", "lln", None))["g"].to_list()
[4, 3, 1, None, None]
>>> df.select(r=reason_expr(t, "anc", "lln", None))["r"].to_list()[3]
'ANC 1.6 10^9/L is at or above the grade 2 threshold and no LLN was given; give the lower limit of normal to tell grade 0 from grade 1'
"""

from __future__ import annotations

import polars as pl

from leukon.panels.expressions import messages_expr, to_polars
from leukon.rules.book import censored_term_program, fever_program, term_program
from leukon.rules.criteria import Term
from leukon.rules.logic import Expr, col, lit


def _program(term: Term, value: str, lln: str, age_days: str | None, censored: bool):
    age = col(age_days) if age_days else lit(None)
    if censored:  # the table has `<value>_censor`: a censored result is graded only where its bound decides
        return censored_term_program(term, value, col(lln), age)
    return term_program(term, col(value), col(lln), age)


def grade_expr(
    term: Term, value: str, lln: str, age_days: str | None = "age_days", *, censored: bool = False
) -> pl.Expr:
    """The grade (Int8; null = not gradable) of the canonical column `value` under `term`."""
    return to_polars(_program(term, value, lln, age_days, censored).grade).cast(pl.Int8)


def reason_expr(
    term: Term, value: str, lln: str, age_days: str | None = "age_days", *, censored: bool = False
) -> pl.Expr:
    """Why the grade is null (String; null where a grade was given), in the scalar grader's words."""
    p = _program(term, value, lln, age_days, censored)
    return messages_expr([(p.grade.is_null() & c, m) for c, m in p.reasons])


def fever_exprs(term: Term, inputs: dict[str, Expr] | None = None) -> tuple[pl.Expr, pl.Expr]:
    """Febrile neutropenia grade (Int8) and reason under `term`; columns anc, wbc, temperature, fever_sustained and
    anc_expected_fall unless `inputs` maps them elsewhere."""
    p = fever_program(term, inputs)
    return to_polars(p.grade).cast(pl.Int8), messages_expr(list(p.reasons))
