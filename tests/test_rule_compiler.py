"""The rule book's Python compiler (`leukon.rules.logic.function`) against a direct reading of the same expression
trees: null-safe comparisons and arithmetic, coalesce and when, over columns, temporaries and literals (None
included), on generated trees and rows (hypothesis)."""

import operator
import warnings

from hypothesis import given, settings
from hypothesis import strategies as st

from leukon.rules.logic import (
    Arith,
    Cmp,
    Coalesce,
    Col,
    Expr,
    Func,
    IsNull,
    Lit,
    Logic,
    Not,
    When,
    function,
)

COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
           "!=": operator.ne}  # fmt: skip
ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def read(e: Expr, row: dict):
    """What an expression means on one row: a comparison with a null is false, arithmetic with a null is null."""
    if isinstance(e, Col):
        return row.get(e.name)
    if isinstance(e, Lit):
        return e.value
    if isinstance(e, Cmp):
        a, b = read(e.a, row), read(e.b, row)
        return a is not None and b is not None and COMPARE[e.op](a, b)
    if isinstance(e, Arith):
        a, b = read(e.a, row), read(e.b, row)
        return None if a is None or b is None else ARITH[e.op](a, b)
    if isinstance(e, Func):
        a = read(e.args[0], row)
        return None if a is None else abs(a)
    if isinstance(e, Coalesce):
        values = [read(x, row) for x in e.args]
        return next((v for v in values[:-1] if v is not None), values[-1])
    if isinstance(e, When):
        for cond, value in e.branches:
            if read(cond, row):
                return read(value, row)
        return read(e.default, row)
    if isinstance(e, Logic):
        values = [read(x, row) for x in e.args]
        return all(values) if e.op == "and" else any(values)
    if isinstance(e, Not):
        return not read(e.a, row)
    if isinstance(e, IsNull):
        return read(e.a, row) is None
    raise TypeError(e)


NUMBERS = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.25]))
LEAVES = st.one_of(st.sampled_from([Col("x"), Col("y"), Col("z")]), NUMBERS.map(Lit))


def _numeric(children):
    pair = st.tuples(children, children)
    return st.one_of(
        st.builds(lambda op, ab: Arith(op, *ab), st.sampled_from(sorted(ARITH)), pair),
        children.map(lambda a: Func("abs", (a,))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Coalesce(tuple(xs))),
        st.builds(lambda c, v, d: When(((Cmp("<", *c), v),), d), pair, children, children),
    )


NUMERIC = st.recursive(LEAVES, _numeric, max_leaves=8)


def _boolean(children):
    return st.one_of(
        st.builds(lambda op, xs: Logic(op, tuple(xs)), st.sampled_from(["and", "or"]),
                  st.lists(children, min_size=2, max_size=3)),
        children.map(Not),
    )  # fmt: skip


CONDITIONS = st.recursive(
    st.one_of(st.builds(Cmp, st.sampled_from(sorted(COMPARE)), NUMERIC, NUMERIC), NUMERIC.map(IsNull)),
    _boolean,
    max_leaves=6,
)
ROWS = st.fixed_dictionaries({"x": NUMBERS, "y": NUMBERS, "z": NUMBERS})


@settings(max_examples=400, deadline=None)
@given(NUMERIC, CONDITIONS, st.lists(ROWS, min_size=1, max_size=6))
def test_compiled_rules_mean_what_the_trees_say(value, condition, rows):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # `5 is None` in generated code would be a SyntaxWarning
        compiled = function([value, condition], name="check")
    for row in rows:
        assert compiled(row) == (read(value, row), read(condition, row)), compiled.source


def test_columns_and_literals_are_read_without_temporaries():
    compiled = function([Cmp("<", Col("anc"), Lit(0.5)), Arith("*", Col("wbc"), Lit(1000))])
    assert ":=" not in compiled.source
    assert compiled({"anc": 0.4, "wbc": 2.0}) == (True, 2000.0)
    assert compiled({"anc": None, "wbc": None}) == (False, None)
