"""The MASCC risk index for febrile neutropenia (Klastersky et al., J Clin Oncol 2000): which febrile neutropenic
adults are at low risk of serious complications. The weights are data (``data/mascc.toml``, each citing the
paper); this module reads the answers, refuses bad ones by name, and adds up the points.

>>> r = mascc_score({"burden_of_illness": "mild", "no_hypotension": True, "no_copd": True,
...                  "solid_tumour_or_no_previous_fungal_infection": True, "no_dehydration": True,
...                  "outpatient": False, "age_years": 64})
>>> r.score, r.risk
(21, 'low')
>>> r = mascc_score({"burden_of_illness": "moderate", "no_hypotension": True})   # 8 points known, 5 items unanswered
>>> r.score, (r.min_score, r.max_score), r.risk, r.missing[0]
(None, (8, 24), None, 'no_copd')

A missing answer is never taken as "no": the score is then a range, and the risk is given only when every way of
answering the missing items lands on the same side of 21.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from leukon.errors import CriteriaError, InputError, did_you_mean

YES = ("yes", "y", "true")
NO = ("no", "n", "false")


@dataclass(frozen=True, slots=True)
class FromNumber:
    """A measured number that answers a yes/no item (systolic pressure for hypotension, years for age < 60)."""

    key: str
    unit: str
    op: str  # ">=" or "<": the answer is yes when `number op bound`
    bound: float
    low: float  # plausible input limits, so a slip (SBP 9000) is refused, not scored
    high: float
    source: str

    def answer(self, x: float) -> bool:
        return x >= self.bound if self.op == ">=" else x < self.bound


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    question: str
    kind: str  # "yes_no" or "choice"
    points: Mapping  # yes_no: {True: n, False: 0}; choice: {choice: n}
    source: str
    aliases: Mapping  # other spellings -> canonical (a key for yes/no items, a choice for choice items)
    from_number: FromNumber | None = None

    @property
    def max_points(self) -> int:
        return max(self.points.values())


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    source: str
    max_score: int
    low_risk_min: int
    low_risk_source: str
    adult_min_years: int
    scope: str
    scope_source: str
    items: tuple[Item, ...]


@dataclass(frozen=True, slots=True)
class Counted:
    """One answered item: what was given, the points it earned, and where the points come from."""

    id: str
    question: str
    answer: str | bool
    points: int
    source: str
    read_from: str | None = None  # "systolic_bp 85 mmHg", "patient age 64 years" when derived from a number

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class MasccResult:
    """The index for one episode. `score` is None when an item is missing; `min_score`/`max_score` bound it
    then, and `risk` ("low" at 21 or more, else "high") is None when the missing items could tip it."""

    score: int | None
    min_score: int
    max_score: int
    risk: str | None
    counted: tuple[Counted, ...]
    missing: tuple[str, ...]
    low_risk_min: int
    source: str

    @property
    def complete(self) -> bool:
        return not self.missing

    def summary(self) -> str:
        """One line: the score and risk, or what is missing and what it leaves open."""
        t = self.low_risk_min
        if self.complete:
            side = f">= {t}" if self.risk == "low" else f"< {t}"
            return f"MASCC score {self.score} of {_index().max_score}: {self.risk} risk ({side}) [{self.source}]"
        missing = ", ".join(self.missing)
        if self.risk is not None:
            side = f"at least {self.min_score}" if self.risk == "low" else f"at most {self.max_score}"
            return (
                f"MASCC score not complete (no answer for {missing}); {self.risk} risk whatever they are: the score"
                f" is {side} [{self.source}]"
            )
        return (
            f"MASCC risk not assessed: no answer for {missing}; the score would be {self.min_score}-{self.max_score},"
            f" on either side of {t}"
        )

    def to_dict(self) -> dict:
        return {
            "score": self.score,
            "min_score": self.min_score,
            "max_score": self.max_score,
            "risk": self.risk,
            "low_risk_min": self.low_risk_min,
            "complete": self.complete,
            "counted": [c.to_dict() for c in self.counted],
            "missing": list(self.missing),
            "summary": self.summary(),
            "source": self.source,
            "scope": f"{_index().scope} [{_index().scope_source}]",
        }


def _fail(where: str, message: str) -> None:
    raise CriteriaError(f"mascc.toml / {where}: {message}")


def _item(raw: dict) -> Item:
    where = raw.get("id", "?")
    for key in ("id", "question", "kind", "source"):
        if not raw.get(key):
            _fail(where, f"every item needs {key}")
    kind = raw["kind"]
    if kind == "yes_no":
        pts = raw.get("points")
        if not isinstance(pts, int) or isinstance(pts, bool) or pts <= 0:
            _fail(where, "a yes/no item needs whole positive points")
        points = {True: pts, False: 0}
        aliases = {a: raw["id"] for a in raw.get("aliases", [])}
    elif kind == "choice":
        points = raw.get("choices") or {}
        if len(points) < 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in points.values()
        ):
            _fail(where, "a choice item needs two or more choices with whole points")
        aliases = dict(raw.get("aliases", {}))
        if not set(aliases.values()) <= set(points):
            _fail(where, "an alias must name one of the choices")
    else:
        _fail(where, f"kind must be yes_no or choice, not {kind!r}")
    fn = raw.get("from_number")
    number = None
    if fn is not None:
        if kind != "yes_no" or fn.get("op") not in (">=", "<") or not fn.get("source"):
            _fail(where, "from_number needs a yes/no item, op '>=' or '<', and a source")
        number = FromNumber(fn["key"], fn["unit"], fn["op"], float(fn["bound"]), fn["min"], fn["max"], fn["source"])
    return Item(raw["id"], raw["question"], kind, points, raw["source"], aliases, number)


@cache
def _index() -> Index:
    raw = tomllib.loads((Path(__file__).parent / "data" / "mascc.toml").read_text("utf-8"))
    head = raw["index"]
    items = tuple(_item(r) for r in raw["item"])
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        _fail("item", "item ids must be unique")
    total = sum(i.max_points for i in items)
    if total != head["max_score"]:
        _fail("index", f"the items add up to {total}, not the stated maximum {head['max_score']}")
    if not 0 < head["low_risk_min"] <= total:
        _fail("index", "low_risk_min must lie within the score's range")
    return Index(
        head["name"],
        head["source"],
        head["max_score"],
        head["low_risk_min"],
        head["low_risk_source"],
        head["adult_min_years"],
        head["scope"],
        head["scope_source"],
        items,
    )


def items() -> tuple[Item, ...]:
    """The index's items, in the paper's order."""
    return _index().items


def input_names() -> tuple[str, ...]:
    """Every key an answers mapping may hold: the items, their other spellings, and the numbers that answer them."""
    out = []
    for i in _index().items:
        out.append(i.id)
        if i.kind == "yes_no":
            out += list(i.aliases)
        if i.from_number:
            out.append(i.from_number.key)
    return tuple(out)


def _yes_no(field: str, v: object) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.strip().lower() in YES + NO:
        return v.strip().lower() in YES
    raise InputError(field, f"{v!r} is not a yes/no answer; give true or false (or leave it out when not known)")


def _choice(field: str, item: Item, v: object) -> str:
    if isinstance(v, str):
        c = v.strip().lower()
        c = item.aliases.get(c, c)
        if c in item.points:
            return c
    choices = list(item.points)
    raise InputError(field, f"{v!r} is not one of {', '.join(choices)}.{did_you_mean(str(v), choices)}")


def _number(field: str, fn: FromNumber, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise InputError(field, f"{v!r} is not a number of {fn.unit}")
    if not fn.low <= v <= fn.high:
        raise InputError(field, f"{v:g} {fn.unit} is outside {fn.low:g}-{fn.high:g} {fn.unit}; check the value")
    return float(v)


def mascc_score(answers: Mapping, *, age_days: int | None = None) -> MasccResult:
    """Score the answers (item id -> True/False, or a choice for the burden of illness; ``systolic_bp`` in mmHg
    and ``age_years`` may answer hypotension and age). `age_days`, the patient's age when known, answers the age
    item too. An item left out, or given as None, is missing. Raises InputError naming the field for an unknown
    key, an answer of the wrong kind, an implausible number, or two answers that disagree."""
    if not isinstance(answers, Mapping):
        raise InputError(
            "mascc", f"give the MASCC answers as a mapping of item to answer, not {type(answers).__name__}"
        )
    known = input_names()
    unknown = [k for k in answers if k not in known]
    if unknown:
        raise InputError(f"mascc.{unknown[0]}", f"unknown MASCC input.{did_you_mean(str(unknown[0]), list(known))}")
    idx = _index()
    counted: list[Counted] = []
    missing: list[str] = []
    for item in idx.items:
        answer, read_from = _answer(item, answers, age_days)
        if answer is None:
            missing.append(item.id)
            continue
        counted.append(Counted(item.id, item.question, answer, item.points[answer], item.source, read_from))
    got = sum(c.points for c in counted)
    top = got + sum(i.max_points for i in idx.items if i.id in missing)
    t = idx.low_risk_min
    risk = "low" if got >= t else "high" if top < t else None
    return MasccResult(got if not missing else None, got, top, risk, tuple(counted), tuple(missing), t, idx.source)


def _answer(item: Item, answers: Mapping, age_days: int | None):
    """(answer, read_from) for one item; answer None when it is missing. Every way of answering the item that was
    given must agree: a disagreement is an error naming the field, never a silent choice of one."""
    field = f"mascc.{item.id}"
    spellings = [k for k in (item.id, *(item.aliases if item.kind == "yes_no" else ())) if answers.get(k) is not None]
    if len(spellings) > 1:
        raise InputError(f"mascc.{spellings[1]}", f"{item.id} is given twice ({' and '.join(spellings)}); give it once")
    direct = None
    if spellings:
        field = f"mascc.{spellings[0]}"
        v = answers[spellings[0]]
        direct = _yes_no(field, v) if item.kind == "yes_no" else _choice(field, item, v)
    fn = item.from_number
    derived: list[tuple[bool, str, str]] = []  # (answer, how it was read, field)
    if fn is not None and answers.get(fn.key) is not None:
        x = _number(f"mascc.{fn.key}", fn, answers[fn.key])
        derived.append((fn.answer(x), f"{fn.key} {x:g} {fn.unit}", f"mascc.{fn.key}"))
    if fn is not None and fn.key == "age_years" and age_days is not None:
        years = math.floor(age_days / 365.25)
        derived.append((fn.answer(years), f"patient age {years} years", "age"))
    for value, how, _ in derived:
        if direct is not None and value != direct:
            raise InputError(field, f"{direct} disagrees with {how}, which answers {item.id} with {value}")
    if derived and any(d[0] != derived[0][0] for d in derived):
        raise InputError(derived[0][2], f"{derived[0][1]} and {derived[1][1]} disagree on {item.id}")
    if direct is not None:
        return direct, None
    if derived:
        return derived[0][0], derived[0][1]
    return None, None


def for_assessment(
    answers: Mapping | None, *, febrile_neutropenia: str | None, age_days: int | None
) -> tuple[MasccResult | None, str | None]:
    """What `assess` reports: (the result or None, a not-assessed message or None).

    The answers are checked whenever they are given (bad input is an error either way). The index is scored only
    for febrile neutropenia that is met or possible (`febrile_neutropenia` is that finding's certainty, "not
    assessed" when the CBC cannot tell, or None when it is not met), and only for adults: the index was built and validated in adults. An incomplete result
    is returned with a message naming what is missing."""
    if answers is None:
        return None, None
    result = mascc_score(answers, age_days=age_days)
    idx = _index()
    if febrile_neutropenia == "not assessed":
        return None, (
            "MASCC risk index not scored: whether this is febrile neutropenia could not be told (it needs a"
            " temperature, and an ANC or a WBC low enough to settle it); the index applies only to fever with"
            " neutropenia"
        )
    if febrile_neutropenia not in ("met", "possible"):
        return None, (
            "MASCC risk index not scored: febrile neutropenia is neither met nor possible in this CBC, and the index"
            " applies only to fever with neutropenia"
        )
    if age_days is not None and math.floor(age_days / 365.25) < idx.adult_min_years:
        return None, (
            f"MASCC risk index not scored: it is validated {idx.scope} (under {idx.adult_min_years} years here)"
            f" [{idx.scope_source}]"
        )
    if result.complete:
        return result, None
    return result, result.summary()


__all__ = ["Counted", "MasccResult", "for_assessment", "input_names", "items", "mascc_score"]
