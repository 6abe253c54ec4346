"""Grading terms compiled to Polars expressions, from the same `Term` objects the scalar grader reads.

>>> import polars as pl
>>> from leukon.rules.criteria import scheme
>>> t = scheme("ctcae-v5").term("Neutrophil count decreased")
>>> df = pl.DataFrame({"anc": [0.49, 0.5, 1.6, 1.6, None], "lln": [2.0, 2.0, 2.0, None, 2.0]})
>>> df.select(g=grade_expr(t, pl.col("anc"), pl.col("lln"), pl.lit(None)))["g"].to_list()
[4, 3, 1, None, None]
"""

from __future__ import annotations

import polars as pl

from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import LLN, Band, Term
from leukon.rules.grading import _short, holds

_YEAR = 365.25


def _cmp(value: pl.Expr, op: str, bound: pl.Expr | float) -> pl.Expr:
    """The scalar grader's comparison; Python's operators build the same comparison on expressions."""
    return holds(value, op, bound)  # type: ignore[arg-type,return-value]


def _in_band(band: Band, age_days: pl.Expr) -> pl.Expr:
    a, cond = band.age, pl.lit(True)
    years = (age_days / _YEAR).floor()
    if a.min_days is not None:
        cond = cond & (age_days >= a.min_days)
    if a.max_days is not None:
        cond = cond & (age_days <= a.max_days)
    if a.min_years is not None:
        cond = cond & (years >= a.min_years)
    if a.max_years is not None:
        cond = cond & (years <= a.max_years)
    return cond


def _band_chain(band: Band, value: pl.Expr, lln: pl.Expr, *, reasons: bool, term: Term) -> pl.Expr:
    """Grade (or reason) for one band; the first matching rule wins, as in `grading.evaluate`."""
    none = pl.lit(None, pl.String if reasons else pl.Int8)
    if band.not_gradable:
        return pl.lit(band.not_gradable) if reasons else none
    chain = None
    for rule in band.rules:
        g = none if reasons else pl.lit(rule.grade, pl.Int8)
        if rule.bound == LLN:
            why = (
                pl.lit(f"{_short(term.analyte)} ")
                + value.cast(pl.String)
                + pl.lit(
                    f" {ANALYTES[term.analyte].unit} is at or above the grade {rule.grade + 1} threshold and no LLN"
                    f" was given; give the lower limit of normal to tell grade 0 from grade {rule.grade}"
                )
            )
            miss = why if reasons else none
            chain = (pl.when(lln.is_null()) if chain is None else chain.when(lln.is_null())).then(miss)
            chain = chain.when(_cmp(value, rule.op, lln)).then(g)
        else:
            c = _cmp(value, rule.op, rule.bound)  # type: ignore[arg-type]
            chain = (pl.when(c) if chain is None else chain.when(c)).then(g)
    zero = none if reasons else pl.lit(0, pl.Int8)
    return zero if chain is None else chain.otherwise(zero)


def _compile(term: Term, value: pl.Expr, lln: pl.Expr, age_days: pl.Expr, *, reasons: bool) -> pl.Expr:
    if term.kind != "count":
        raise ValueError(f"{term.term!r} is not a single-count term; use fever_expr")
    none = pl.lit(None, pl.String if reasons else pl.Int8)
    missing = pl.lit(f"no {_short(term.analyte)} value") if reasons else none
    expr = pl.when(value.is_null()).then(missing)
    if not term.needs_age:
        return expr.otherwise(_band_chain(term.bands[0], value, lln, reasons=reasons, term=term))
    no_age = pl.lit(f"age needed: {term.scheme} grades {term.term!r} by age; give the age") if reasons else none
    expr = expr.when(age_days.is_null()).then(no_age)
    for band in term.bands:
        expr = expr.when(_in_band(band, age_days)).then(_band_chain(band, value, lln, reasons=reasons, term=term))
    no_band = (pl.lit("no criteria for age ") + age_days.cast(pl.String) + pl.lit(" days")) if reasons else none
    return expr.otherwise(no_band)


def grade_expr(term: Term, value: pl.Expr, lln: pl.Expr, age_days: pl.Expr) -> pl.Expr:
    """The grade (Int8; null = not gradable) of canonical `value` under `term`."""
    return _compile(term, value, lln, age_days, reasons=False)


def reason_expr(term: Term, value: pl.Expr, lln: pl.Expr, age_days: pl.Expr) -> pl.Expr:
    """Why the grade is null (String; null where a grade was given)."""
    return _compile(term, value, lln, age_days, reasons=True)


def fever_possible(term: Term, anc: pl.Expr, temperature: pl.Expr, sustained: pl.Expr) -> pl.Expr:
    """True where the fever rule is met only if the fever lasted over an hour and nobody said whether it did."""
    f = term.fever
    assert f is not None
    return (
        _cmp(anc, f.anc_op, f.anc_bound)
        & ~_cmp(temperature, f.single_op, f.single_c)
        & _cmp(temperature, f.sustained_op, f.sustained_c)
        & sustained.is_null()
    ).fill_null(False)


def fever_expr(term: Term, anc: pl.Expr, temperature: pl.Expr, sustained: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Febrile neutropenia grade and reason; `sustained` is a Boolean column (null: duration unknown)."""
    f = term.fever
    assert f is not None
    anc_low = _cmp(anc, f.anc_op, f.anc_bound)  # an expected fall (IDSA) is not known in tables
    single = _cmp(temperature, f.single_op, f.single_c)
    warm = _cmp(temperature, f.sustained_op, f.sustained_c)
    met = pl.lit(f.grade, pl.Int8)
    grade = (
        pl.when(anc.is_null() | (anc_low & temperature.is_null()))
        .then(pl.lit(None, pl.Int8))
        .when(~anc_low)
        .then(pl.lit(0, pl.Int8))
        .when(single)
        .then(met)
        .when(warm & sustained.fill_null(False))
        .then(met)
        .when(warm & sustained.is_null())
        .then(pl.lit(None, pl.Int8))
        .otherwise(pl.lit(0, pl.Int8))
    )
    reason = (
        pl.when(anc.is_null())
        .then(pl.lit("no ANC value"))
        .when(anc_low & temperature.is_null())
        .then(pl.lit("no temperature given; febrile neutropenia needs one"))
        .when(anc_low & ~single & warm & sustained.is_null())
        .then(
            pl.lit("temperature ")
            + temperature.cast(pl.String)
            + pl.lit(
                f" C meets the definition only if it lasted over {f.sustained_hours:g} h;"
                " say whether it did (fever_sustained)"
            )
        )
        .otherwise(pl.lit(None, pl.String))
    )
    return grade, reason
