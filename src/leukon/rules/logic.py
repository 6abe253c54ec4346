"""A small expression language for the rule book, and its scalar compiler.

Every clinical rule (derived counts, consistency checks, range choice, findings, warnings, grades, reasons) is
written once as an `Expr` tree in `leukon.rules.book` and compiled twice: here to one plain Python function per
program (for `assess`, where a CBC must take well under a millisecond) and in `leukon.panels.expressions` to Polars
expressions (for `screen`). Both compilers implement the same four semantic rules, stated here once:

- a value is a number, a string, a bool or null; arithmetic with a null gives null;
- a comparison with a null side is False (never null), so conditions are two-valued and ``~`` is plain negation;
- ``when(c1, v1).when(c2, v2).otherwise(v)`` takes the first branch whose condition holds;
- ``coalesce`` takes the first non-null value; ``max_`` ignores nulls; ``tidy`` rounds to 15 significant digits
  (the float policy of `leukon.rules.units.tidy`).

Messages (reasons, warnings, not-assessed notes) are `Message` templates whose parameters are expressions; both
paths render them with the one `render` function below, so their text cannot drift apart.

>>> p = program([("anc", when(col("wbc").not_null() & col("pct").not_null(), tidy(col("wbc") * col("pct") / 100)))])
>>> p({"wbc": 2.0, "pct": 35.0})["anc"], p({"wbc": 2.0, "pct": None})["anc"]
(0.7, None)
>>> program([("low", col("anc") < col("lln"))])({"anc": 1.0, "lln": None})["low"]   # null side: False
False
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from leukon.rules.units import tidy as _tidy_value

__all__ = [
    "Choices",
    "Expr",
    "Message",
    "all_",
    "any_",
    "coalesce",
    "col",
    "function",
    "lit",
    "lookup",
    "max_",
    "program",
    "render",
    "render_message",
    "tidy",
    "when",
]


class Expr:
    """A node of a rule expression. Build with `col`, `lit`, `when`, operators and the helpers below."""

    __slots__ = ()

    # comparisons (two-valued: a null side gives False)
    def __lt__(self, other: Any) -> Expr:
        return Cmp("<", self, _lift(other))

    def __le__(self, other: Any) -> Expr:
        return Cmp("<=", self, _lift(other))

    def __gt__(self, other: Any) -> Expr:
        return Cmp(">", self, _lift(other))

    def __ge__(self, other: Any) -> Expr:
        return Cmp(">=", self, _lift(other))

    def eq(self, other: Any) -> Expr:
        return Cmp("==", self, _lift(other))

    def ne(self, other: Any) -> Expr:
        return Cmp("!=", self, _lift(other))

    def cmp(self, op: str, other: Any) -> Expr:
        """The comparison named by `op` (one of < <= > >= == !=), as criteria files write it."""
        return Cmp(op, self, _lift(other))

    # logic
    def __and__(self, other: Expr) -> Expr:
        return Logic("and", (self, other))

    def __or__(self, other: Expr) -> Expr:
        return Logic("or", (self, other))

    def __invert__(self) -> Expr:
        return Not(self)

    # arithmetic (null-propagating)
    def __add__(self, other: Any) -> Expr:
        return Arith("+", self, _lift(other))

    def __sub__(self, other: Any) -> Expr:
        return Arith("-", self, _lift(other))

    def __mul__(self, other: Any) -> Expr:
        return Arith("*", self, _lift(other))

    def __truediv__(self, other: Any) -> Expr:
        return Arith("/", self, _lift(other))

    def __radd__(self, other: Any) -> Expr:
        return Arith("+", _lift(other), self)

    def __rmul__(self, other: Any) -> Expr:
        return Arith("*", _lift(other), self)

    def is_null(self) -> Expr:
        return IsNull(self)

    def not_null(self) -> Expr:
        return Not(IsNull(self))

    def abs(self) -> Expr:
        return Func("abs", (self,))

    def floor(self) -> Expr:
        return Func("floor", (self,))

    def fill_null(self, value: Any) -> Expr:
        return Coalesce((self, _lift(value)))


class Col(Expr):
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"col({self.name!r})"


class Lit(Expr):
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return f"lit({self.value!r})"


class Cmp(Expr):
    __slots__ = ("a", "b", "op")

    def __init__(self, op: str, a: Expr, b: Expr):
        if op not in ("<", "<=", ">", ">=", "==", "!="):
            raise ValueError(f"unknown comparison {op!r}")
        self.op, self.a, self.b = op, a, b


class Logic(Expr):
    __slots__ = ("args", "op")

    def __init__(self, op: str, args: tuple[Expr, ...]):
        self.op, self.args = op, args


class Not(Expr):
    __slots__ = ("a",)

    def __init__(self, a: Expr):
        self.a = a


class IsNull(Expr):
    __slots__ = ("a",)

    def __init__(self, a: Expr):
        self.a = a


class Arith(Expr):
    __slots__ = ("a", "b", "op")

    def __init__(self, op: str, a: Expr, b: Expr):
        self.op, self.a, self.b = op, a, b


class Func(Expr):
    """abs, floor, tidy (15 significant digits) and max (ignoring nulls)."""

    __slots__ = ("args", "name")

    def __init__(self, name: str, args: tuple[Expr, ...]):
        self.name, self.args = name, args


class Coalesce(Expr):
    __slots__ = ("args",)

    def __init__(self, args: tuple[Expr, ...]):
        self.args = args


class When(Expr):
    __slots__ = ("branches", "default")

    def __init__(self, branches: tuple[tuple[Expr, Expr], ...], default: Expr):
        self.branches, self.default = branches, default

    def when(self, cond: Expr, value: Any) -> When:
        return When((*self.branches, (cond, _lift(value))), self.default)

    def otherwise(self, value: Any) -> When:
        return When(self.branches, _lift(value))


class Lookup(Expr):
    """``values[index]`` for an integer expression (null index or out of range: null)."""

    __slots__ = ("index", "values")

    def __init__(self, index: Expr, values: tuple):
        self.index, self.values = index, values


def col(name: str) -> Col:
    return Col(name)


def lit(value: Any) -> Lit:
    return Lit(value)


def _lift(x: Any) -> Expr:
    return x if isinstance(x, Expr) else Lit(x)


def when(cond: Expr, value: Any) -> When:
    return When(((cond, _lift(value)),), Lit(None))


def coalesce(*args: Any) -> Expr:
    return Coalesce(tuple(_lift(a) for a in args))


def max_(*args: Any) -> Expr:
    return Func("max", tuple(_lift(a) for a in args))


def tidy(x: Expr) -> Expr:
    return Func("tidy", (x,))


def lookup(index: Expr, values: Sequence) -> Expr:
    return Lookup(index, tuple(values))


def all_(conds: Iterable[Expr]) -> Expr:
    conds = tuple(conds)
    return Logic("and", conds) if conds else Lit(True)


def any_(conds: Iterable[Expr]) -> Expr:
    conds = tuple(conds)
    return Logic("or", conds) if conds else Lit(False)


def columns(e: Expr) -> set[str]:
    """The input columns an expression reads."""
    if isinstance(e, Col):
        return {e.name}
    out: set[str] = set()
    for child in _children(e):
        out |= columns(child)
    return out


def _children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Cmp | Arith):
        return (e.a, e.b)
    if isinstance(e, Not | IsNull):
        return (e.a,)
    if isinstance(e, Logic | Func | Coalesce):
        return e.args
    if isinstance(e, When):
        return (*[x for br in e.branches for x in br], e.default)
    if isinstance(e, Lookup):
        return (e.index,)
    return ()


# --- messages ---------------------------------------------------------------------------------------------------


class Message:
    """A text with ``{name}`` fields filled from expressions; numbers are written as ``format(x, 'g')``."""

    __slots__ = ("params", "template")

    def __init__(self, template: str, **params: Any):
        self.template = template
        self.params = {k: _lift(v) for k, v in params.items()}

    def __repr__(self) -> str:
        return f"Message({self.template!r})"


def _text(x: Any) -> str:
    if x is None:
        return "unknown"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return format(x, "g")
    return str(x)


def render(template: str, values: Mapping[str, Any]) -> str:
    """The one renderer of message templates, used by `assess` and `screen` alike."""
    return template.format(**{k: _text(v) for k, v in values.items()})


# --- the scalar compiler -----------------------------------------------------------------------------------------


def _floor(x):
    return None if x is None else math.floor(x)


def _max(*xs):
    return max((x for x in xs if x is not None), default=None)


def _tidy(x):
    return None if x is None else _tidy_value(x)


def _lookup(table, i):
    return table[i] if i is not None and 0 <= i < len(table) else None


_PYOPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "==", "!=": "!="}


class _Gen:
    """Turns an `Expr` tree into one Python expression; temporaries hold values used twice."""

    def __init__(self) -> None:
        self.n = 0
        self.consts: dict[str, Any] = {}
        self.locals: dict[str, str] = {}  # column name -> local variable holding it

    def local(self, name: str) -> str:
        if name not in self.locals:
            self.locals[name] = f"_v{len(self.locals)}"
        return self.locals[name]

    def prologue(self, written: set[str] = frozenset()) -> list[str]:
        """Read each input column once into its local (columns a program writes are bound when written)."""
        return [f"    {v} = r.get({k!r})" for k, v in self.locals.items() if k not in written]

    def tmp(self) -> str:
        self.n += 1
        return f"_t{self.n}"

    def const(self, value: Any) -> str:
        name = f"_c{len(self.consts)}"
        self.consts[name] = value
        return name

    def held(self, e: Expr) -> tuple[str | None, str]:
        """(code that evaluates `e` once, for its null test; the name that holds its value afterwards). A column's
        local or a literal is its own name; anything else is bound to a temporary (`(_t1 := ...)`), so it is
        computed once. The first item is None for a literal other than None: it needs no null test (and
        `5 is None` is a SyntaxWarning)."""
        code = self(e)
        if isinstance(e, Lit) and e.value is not None:
            return None, code
        if isinstance(e, Col | Lit):
            return code, code
        t = self.tmp()
        return f"({t} := {code})", t

    def __call__(self, e: Expr) -> str:
        if isinstance(e, Col):
            return self.local(e.name)
        if isinstance(e, Lit):
            v = e.value
            if v is None or isinstance(v, bool | int | str):
                return repr(v)
            if isinstance(v, float):
                return repr(v) if math.isfinite(v) else self.const(v)
            return self.const(v)
        if isinstance(e, Cmp):
            (a, ra), (b, rb) = self.held(e.a), self.held(e.b)
            known = [f"{x} is not None" for x in (a, b) if x is not None]
            return f"({' and '.join([*known, f'{ra} {_PYOPS[e.op]} {rb}'])})"
        if isinstance(e, Logic):
            return "(" + f" {e.op} ".join(self(x) for x in e.args) + ")"
        if isinstance(e, Not):
            return f"(not {self(e.a)})"
        if isinstance(e, IsNull):
            a, _ = self.held(e.a)
            return "False" if a is None else f"({a} is None)"
        if isinstance(e, Arith):
            (a, ra), (b, rb) = self.held(e.a), self.held(e.b)
            nulls = " or ".join(f"{x} is None" for x in (a, b) if x is not None)
            return f"(None if {nulls} else {ra} {e.op} {rb})" if nulls else f"({ra} {e.op} {rb})"
        if isinstance(e, Func):
            if e.name == "abs":
                a, ra = self.held(e.args[0])
                return f"abs({ra})" if a is None else f"(None if {a} is None else abs({ra}))"
            fn = {"floor": "_floor", "max": "_max", "tidy": "_tidy"}[e.name]
            return f"{fn}({', '.join(self(x) for x in e.args)})"
        if isinstance(e, Coalesce):
            out = self(e.args[-1])
            for x in reversed(e.args[:-1]):
                a, ra = self.held(x)
                out = ra if a is None else f"({ra} if {a} is not None else {out})"
            return out
        if isinstance(e, When):
            out = self(e.default)
            for cond, value in reversed(e.branches):
                out = f"({self(value)} if {self(cond)} else {out})"
            return out
        if isinstance(e, Lookup):
            return f"_lookup({self.const(e.values)}, {self(e.index)})"
        raise TypeError(f"not an expression: {e!r}")


Program = Callable[[dict], dict]


def program(steps: Sequence[tuple[str, Expr]], *, name: str = "rules") -> Program:
    """Compile named steps into one function that fills them into a row dict, in order (a later step may read an
    earlier one's name), as `with_columns` does step by step in the vectorised path."""
    gen = _Gen()
    body, written = [], set()
    for target, e in steps:
        code = gen(e)
        if target in gen.locals and target not in written:  # an input overwritten: read it before the first write
            body.insert(0, f"    {gen.locals[target]} = r.get({target!r})")
        body.append(f"    {gen.local(target)} = r[{target!r}] = {code}")
        written.add(target)
    head = gen.prologue(written)
    src = f"def _{name}(r):\n" + "\n".join(head + body or ["    pass"]) + "\n    return r\n"
    scope: dict[str, Any] = {"_floor": _floor, "_max": _max, "_tidy": _tidy, "_lookup": _lookup, **gen.consts}
    exec(compile(src, f"<leukon rule program {name}>", "exec"), scope)  # compiled from Expr trees, never from input
    fn = scope[f"_{name}"]
    fn.source = src  # type: ignore[attr-defined]
    return fn


def function(exprs: Sequence[Expr], *, name: str = "values") -> Callable[[Mapping], tuple]:
    """Compile expressions into one function of a row that returns their values as a tuple (the row is only read)."""
    gen = _Gen()
    items = ", ".join(gen(e) for e in exprs)
    head = "\n".join(gen.prologue())
    src = f"def _{name}(r):\n{head}\n    return ({items}{',' if len(exprs) == 1 else ''})\n"
    scope: dict[str, Any] = {"_floor": _floor, "_max": _max, "_tidy": _tidy, "_lookup": _lookup, **gen.consts}
    exec(compile(src, f"<leukon rule function {name}>", "exec"), scope)  # compiled from Expr trees, never from input
    fn = scope[f"_{name}"]
    fn.source = src  # type: ignore[attr-defined]
    return fn


class Choices:
    """Messages guarded by conditions; the first whose condition holds is the answer (a reason, a note)."""

    __slots__ = ("_conds", "_params", "items")

    def __init__(self, items: Iterable[tuple[Expr, Message]]):
        self.items = tuple(items)
        self._conds: Callable | None = None
        self._params: dict[int, Callable] = {}

    def first(self, row: Mapping) -> str | None:
        """The rendered text of the first message whose condition holds on `row`, or None."""
        if self._conds is None:
            self._conds = function([c for c, _ in self.items], name="conditions")
        for i, hit in enumerate(self._conds(row)):
            if hit:
                return render_message(self.items[i][1], row, self._params, i)
        return None


def render_message(msg: Message, row: Mapping, cache: dict | None = None, key: Any = None) -> str:
    """A message rendered on one row (its parameters evaluated by the scalar compiler)."""
    if not msg.params:
        return msg.template.format()
    fn = None if cache is None else cache.get(key)
    if fn is None:
        fn = function(list(msg.params.values()), name="params")
        if cache is not None:
            cache[key] = fn
    return render(msg.template, dict(zip(msg.params, fn(row), strict=True)))


# --- constant folding ----------------------------------------------------------------------------------------------


def simplify(e: Expr, nulls: frozenset[str] | set[str] = frozenset(), _memo: dict | None = None) -> Expr:
    """`e` with the columns in `nulls` known to be null everywhere, and constants folded under the semantics above
    (a comparison with a null side is False, arithmetic with a null is null, a branch whose condition is False is
    dropped). Both compilers then emit only what can matter: a table with no censored value, or one CBC, never pays
    for the censored-value rules."""
    memo = {} if _memo is None else _memo
    key = id(e)
    if key in memo:
        return memo[key][1]
    out = _fold(e, nulls, memo)
    memo[key] = (e, out)  # keep `e` alive so its id is not reused while the memo lives
    return out


def _is(e: Expr, value: Any) -> bool:
    return isinstance(e, Lit) and e.value is value


def _fold(e: Expr, nulls, memo) -> Expr:
    s = lambda x: simplify(x, nulls, memo)  # noqa: E731
    if isinstance(e, Col):
        return Lit(None) if e.name in nulls else e
    if isinstance(e, Lit):
        return e
    if isinstance(e, Cmp):
        a, b = s(e.a), s(e.b)
        if _is(a, None) or _is(b, None):
            return Lit(False)
        return Cmp(e.op, a, b)
    if isinstance(e, Logic):
        args = [s(x) for x in e.args]
        if e.op == "and":
            if any(_is(x, False) for x in args):
                return Lit(False)
            args = [x for x in args if not _is(x, True)]
            return Lit(True) if not args else args[0] if len(args) == 1 else Logic("and", tuple(args))
        if any(_is(x, True) for x in args):
            return Lit(True)
        args = [x for x in args if not _is(x, False)]
        return Lit(False) if not args else args[0] if len(args) == 1 else Logic("or", tuple(args))
    if isinstance(e, Not):
        a = s(e.a)
        if isinstance(a, Lit) and isinstance(a.value, bool):
            return Lit(not a.value)
        return Not(a)
    if isinstance(e, IsNull):
        a = s(e.a)
        if isinstance(a, Lit):
            return Lit(a.value is None)
        return IsNull(a)
    if isinstance(e, Arith):
        a, b = s(e.a), s(e.b)
        if _is(a, None) or _is(b, None):
            return Lit(None)
        return Arith(e.op, a, b)
    if isinstance(e, Func):
        args = tuple(s(x) for x in e.args)
        if e.name != "max" and _is(args[0], None):
            return Lit(None)
        return Func(e.name, args)
    if isinstance(e, Coalesce):
        args = [x for x in (s(x) for x in e.args) if not _is(x, None)]
        return Lit(None) if not args else args[0] if len(args) == 1 else Coalesce(tuple(args))
    if isinstance(e, When):
        branches = []
        for cond, value in e.branches:
            c = s(cond)
            if _is(c, False):
                continue
            if _is(c, True):
                return When(tuple(branches), s(value)) if branches else s(value)
            branches.append((c, s(value)))
        default = s(e.default)
        return When(tuple(branches), default) if branches else default
    if isinstance(e, Lookup):
        i = s(e.index)
        return Lit(None) if _is(i, None) else Lookup(i, e.values)
    raise TypeError(f"not an expression: {e!r}")
