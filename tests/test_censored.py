"""Censored results ("<0.1", ">100"): graded only where the bound decides; never read as the bound."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leukon
from leukon.rules.censored import grade_censored, interval
from leukon.rules.criteria import SCHEMES, scheme
from leukon.rules.grading import evaluate

V5 = "ctcae-v5"
ANC = "Neutrophil count decreased"


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("<0.1", "10^9/L", 4),  # every ANC below 0.1 is grade 4 (< 0.5)
        ("<0.5", "10^9/L", 4),  # below the grade 4 threshold itself: still grade 4
        ("<=0.5", "10^9/L", None),  # 0.5 is grade 3, 0.4 grade 4
        ("<1.0", "10^9/L", None),  # grade 3 or 4
        ("<100", "cells/uL", 4),
        ("< 100", "1/uL", 4),
        ("≤0.2", "K/uL", 4),
    ],
)
def test_censored_anc_under_ctcae(value, unit, expected):
    assert leukon.grade(V5, ANC, value, unit) == expected
    if expected is None:
        assert leukon.grade_detail(V5, ANC, value, unit).reason.startswith("not gradable: censored")


def test_censored_high_values():
    assert leukon.grade(V5, "Leukocytosis", ">100", "10^9/L") == 3
    assert leukon.grade(V5, "Leukocytosis", ">50", "10^9/L") is None  # 51 is grade 0, 150 grade 3
    # Above the LLN-dependent grade-1 range: the LLN decides, without it nothing can be told.
    assert leukon.grade(V5, ANC, ">2.0", "10^9/L", lln=1.5) == 0
    assert leukon.grade(V5, ANC, ">2.0", "10^9/L") is None


def test_a_censored_value_still_needs_its_unit():
    assert leukon.grade_detail(V5, ANC, "<0.1", None).reason.startswith("unit missing")


def test_interval_ends_sit_just_inside_a_strict_bound():
    lo, hi = interval("anc", "<", 0.5)
    assert lo == 0.0 and hi < 0.5 and hi > 0.4999999
    assert interval("wbc", ">=", 100.0) == (100.0, 1000.0)


TERMS = [(sid, t.term) for sid, s in SCHEMES.items() for t in s.terms.values() if t.kind == "count"]


@settings(max_examples=300, deadline=None)
@given(
    term=st.sampled_from(TERMS),
    op=st.sampled_from(["<", "<=", ">", ">="]),
    bound=st.integers(0, 3000).map(lambda c: c / 100),
    inside=st.floats(0, 1),
    lln=st.sampled_from([None, 1.5, 4.0]),
    age_days=st.sampled_from([10, 400, 3000, 20000]),
)
def test_a_censored_grade_holds_for_every_value_it_stands_for(term, op, bound, inside, lln, age_days):
    """When a censored value gets a grade, every value in its interval gets that same grade."""
    t = scheme(term[0]).term(term[1])
    if bound > 20 and t.analyte == "cd4":
        return
    r = grade_censored(t, op, bound, lln=lln, age_days=age_days)
    if r.grade is None:
        assert r.reason.startswith("not gradable: censored")
        return
    lo, hi = interval(t.analyte, op, bound)
    x = lo + (hi - lo) * inside
    assert evaluate(t, x, lln=lln, age_days=age_days).grade == r.grade


def test_the_vectorised_interval_matches_the_scalar_one():
    """The rule book's interval compiled to Polars (as `screen` grades a censored panel value) equals `interval`."""
    import polars as pl

    from leukon.panels.expressions import to_polars
    from leukon.rules.book import censored_interval

    cases = [(0.1, "<"), (0.5, "<"), (0.5, "<="), (100.0, ">"), (100.0, ">="), (2.0, "<")]
    df = pl.DataFrame({"wbc": [v for v, _ in cases], "wbc_censor": [c for _, c in cases]})
    lo, hi = censored_interval("wbc")
    got = df.select(lo=to_polars(lo), hi=to_polars(hi)).rows()
    assert got == [interval("wbc", c, v) for v, c in cases]
