"""Grading schemes and reference profiles, loaded from the TOML files beside this module and validated.

Rules live once, as data: ``schemes/*.toml`` (one file a scheme; ``based_on`` reuses another scheme's
terms) and ``profiles.toml``. Both the single-report path and the vectorised kernel read these objects.

>>> scheme("ctcae-v5").term("neutrophil COUNT decreased").rules[0]
Rule(grade=4, op='<', bound=0.5, label=None, action=None, monitoring=None)
>>> sorted(SCHEMES)[:3]
['clinical', 'clozapine', 'ctcae-v4']
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources

from leukon.errors import CriteriaError, UnknownSchemeError, UnknownTermError, did_you_mean
from leukon.rules.analytes import ANALYTES

OPS = ("<", "<=", ">", ">=")
LLN = "LLN"


def age_years(age_days: int) -> int:
    """Whole years from whole days, as DAIDS counts them: floor(age_days / 365.25)."""
    return math.floor(age_days / 365.25)


@dataclass(frozen=True, slots=True)
class AgeBand:
    """Inclusive age limits in days and/or whole years; None means open."""

    min_days: int | None = None
    max_days: int | None = None
    min_years: int | None = None
    max_years: int | None = None

    def contains(self, age_days: int) -> bool:
        y = age_years(age_days)
        return not (
            (self.min_days is not None and age_days < self.min_days)
            or (self.max_days is not None and age_days > self.max_days)
            or (self.min_years is not None and y < self.min_years)
            or (self.max_years is not None and y > self.max_years)
        )

    @property
    def is_open(self) -> bool:
        return self.min_days is None and self.max_days is None and self.min_years is None and self.max_years is None

    def span_days(self) -> float:
        """A width for choosing the most specific band (narrower wins)."""
        lo = max(self.min_days or 0, (self.min_years or 0) * 365.25)
        hi = min(
            self.max_days if self.max_days is not None else math.inf,
            (self.max_years + 1) * 365.25 if self.max_years is not None else math.inf,
        )
        return hi - lo

    @classmethod
    def from_row(cls, row: dict) -> AgeBand:
        return cls(
            row.get("min_age_days"),
            row.get("max_age_days"),
            row.get("min_age_years"),
            row.get("max_age_years"),
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """One grade's condition: value <op> bound, where bound is a number in 10^9/L or "LLN"."""

    grade: int
    op: str
    bound: float | str
    label: str | None = None
    action: str | None = None
    monitoring: str | None = None


@dataclass(frozen=True, slots=True)
class Band:
    """The rules for one age band of a term (a term without age bands has one open band)."""

    age: AgeBand
    rules: tuple[Rule, ...]
    label: str = ""
    verbatim: tuple[str, ...] = ()
    not_gradable: str | None = None


@dataclass(frozen=True, slots=True)
class FeverRule:
    """Febrile neutropenia: ANC below a bound together with a single or a sustained fever."""

    grade: int
    anc_op: str
    anc_bound: float
    single_op: str
    single_c: float
    sustained_op: str
    sustained_c: float
    sustained_hours: float
    anc_expected_fall_bound: float | None = None


@dataclass(frozen=True, slots=True)
class Term:
    scheme: str
    term: str
    analyte: str
    bands: tuple[Band, ...]
    kind: str = "count"  # count | febrile_neutropenia
    comment: str = ""
    verbatim: tuple[str, ...] = ()
    grade0_label: str | None = None
    grade0_action: str | None = None
    grade0_monitoring: str | None = None
    fever: FeverRule | None = None
    needs_age: bool = False

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules of the only band (for terms without age bands)."""
        if len(self.bands) != 1:
            raise CriteriaError(f"{self.scheme} / {self.term}: rules depend on age; use band_for(age_days)")
        return self.bands[0].rules

    @property
    def uses_lln(self) -> bool:
        return any(r.bound == LLN for b in self.bands for r in b.rules)

    def band_for(self, age_days: int | None) -> Band | None:
        if not self.needs_age:
            return self.bands[0]
        if age_days is None:
            return None
        return next((b for b in self.bands if b.age.contains(age_days)), None)

    def label_of(self, grade: int | None) -> str | None:
        if grade is None:
            return None
        if grade == 0:
            return self.grade0_label
        for b in self.bands:
            for r in b.rules:
                if r.grade == grade and r.label:
                    return r.label
        return None


@dataclass(frozen=True, slots=True)
class Scheme:
    id: str
    name: str
    source: str
    terms: dict[str, Term]  # keyed by lower-case term name
    removed_terms: tuple[str, ...] = ()

    def term(self, name: str) -> Term:
        t = self.terms.get(name.strip().lower())
        if t is None:
            removed = next((r for r in self.removed_terms if r.lower() == name.strip().lower()), None)
            if removed:
                raise UnknownTermError(f"term {removed!r} was removed from {self.name}; it cannot be graded there.")
            valid = [t.term for t in self.terms.values()]
            raise UnknownTermError(f"unknown term {name!r} for scheme {self.id!r}.{did_you_mean(name, valid)}")
        return t


@dataclass(frozen=True, slots=True)
class RangeRow:
    profile: str
    analyte: str
    lln: float | None
    uln: float | None
    source: str
    sex: str = "any"
    ancestry: str = "any"
    age: AgeBand = field(default_factory=AgeBand)
    evidence: str = "V"
    note: str = ""


@dataclass(frozen=True, slots=True)
class Profile:
    id: str
    name: str
    description: str


def _check(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise CriteriaError(f"{where}: {msg}")


def _rules(rows: list[dict], where: str) -> tuple[Rule, ...]:
    rules = []
    for r in rows:
        _check(r.get("op") in OPS, where, f"op must be one of {OPS}, got {r.get('op')!r}")
        b = r.get("bound")
        _check(b == LLN or isinstance(b, int | float), where, f"bound must be a number or 'LLN', got {b!r}")
        rules.append(
            Rule(
                int(r["grade"]),
                r["op"],
                float(b) if b != LLN else LLN,
                r.get("label"),
                r.get("action"),
                r.get("monitoring"),
            )
        )
    grades = [r.grade for r in rules]
    _check(grades == sorted(grades, reverse=True), where, "rules must be listed most severe first")
    _check(len(set(grades)) == len(grades), where, "each grade appears once")
    # Numeric bounds must step monotonically so a lower value never gets a milder grade.
    nums = [r.bound for r in rules if r.bound != LLN]
    low_side = all(r.op in ("<", "<=") for r in rules)
    high_side = all(r.op in (">", ">=") for r in rules)
    _check(low_side or high_side, where, "a term's rules must all look at one side (low or high)")
    if low_side:
        _check(nums == sorted(nums), where, "low-side bounds must rise from the most severe grade")
    else:
        _check(nums == sorted(nums, reverse=True), where, "high-side bounds must fall from the most severe grade")
    return tuple(rules)


def _term(scheme_id: str, raw: dict, needs_age: bool) -> Term:
    where = f"{scheme_id}.toml / {raw.get('term', '?')}"
    _check(bool(raw.get("term")), where, "term name missing")
    _check(raw.get("analyte") in ANALYTES, where, f"unknown analyte {raw.get('analyte')!r}")
    kind = raw.get("kind", "count")
    fever = None
    bands: list[Band] = []
    if kind == "febrile_neutropenia":
        fever = FeverRule(**raw["fever"])
        _check(fever.anc_op in OPS and fever.single_op in OPS and fever.sustained_op in OPS, where, "bad op")
        bands.append(Band(AgeBand(), ()))
    elif "band" in raw:
        for b in raw["band"]:
            age = AgeBand.from_row(b)
            _check(not age.is_open, f"{where} band", "an age band needs an age limit")
            bands.append(
                Band(
                    age,
                    _rules(b.get("grades", []), where) if not b.get("not_gradable") else (),
                    b.get("label", ""),
                    tuple(b.get("verbatim", ())),
                    b.get("not_gradable"),
                )
            )
    else:
        _check(bool(raw.get("grades")), where, "a term needs grades, bands or a fever rule")
        bands.append(Band(AgeBand(), _rules(raw["grades"], where)))
    return Term(
        scheme=scheme_id,
        term=raw["term"],
        analyte=raw["analyte"],
        bands=tuple(bands),
        kind=kind,
        comment=raw.get("comment", ""),
        verbatim=tuple(raw.get("verbatim", ())),
        grade0_label=raw.get("grade0_label"),
        grade0_action=raw.get("grade0_action"),
        grade0_monitoring=raw.get("grade0_monitoring"),
        fever=fever,
        needs_age=needs_age and "band" in raw,
    )


def _load_schemes() -> dict[str, Scheme]:
    folder = resources.files("leukon.rules").joinpath("data", "schemes")
    raw_files = {}
    for f in folder.iterdir():
        if f.name.endswith(".toml"):
            raw = tomllib.loads(f.read_text("utf-8"))
            _check(raw.get("id") == f.name[: -len(".toml")], f.name, "id must match the file name")
            _check(bool(raw.get("source")), f.name, "every scheme cites its source")
            raw_files[raw["id"]] = raw
    out: dict[str, Scheme] = {}

    def build(sid: str) -> Scheme:
        if sid in out:
            return out[sid]
        raw = raw_files[sid]
        terms: dict[str, Term] = {}
        if "based_on" in raw:
            _check(raw["based_on"] in raw_files, f"{sid}.toml", f"based_on {raw['based_on']!r} does not exist")
            base = build(raw["based_on"])
            terms = {k: _retag(t, sid) for k, t in base.terms.items()}
        for name in raw.get("removed_terms", ()):
            _check(name.lower() in terms, f"{sid}.toml", f"removed term {name!r} is not in the base scheme")
            del terms[name.lower()]
        for t in raw.get("term", ()):
            terms[t["term"].lower()] = _term(sid, t, raw.get("needs_age", False))
        out[sid] = Scheme(sid, raw["name"], raw["source"], terms, tuple(raw.get("removed_terms", ())))
        return out[sid]

    for sid in sorted(raw_files):
        build(sid)
    return out


def _retag(t: Term, scheme_id: str) -> Term:
    from dataclasses import replace

    return replace(t, scheme=scheme_id)


def _load_profiles() -> tuple[dict[str, Profile], tuple[RangeRow, ...]]:
    raw = tomllib.loads(resources.files("leukon.rules").joinpath("data", "profiles.toml").read_text("utf-8"))
    profiles = {p["id"]: Profile(p["id"], p["name"], p["description"]) for p in raw["profile"]}
    rows = []
    for r in raw["range"]:
        where = f"profiles.toml / {r.get('profile')} / {r.get('analyte')}"
        _check(r.get("profile") in profiles, where, "unknown profile")
        _check(r.get("analyte") in ANALYTES, where, "unknown analyte")
        _check(bool(r.get("source")), where, "every range cites its source")
        _check(r.get("sex", "any") in ("any", "female", "male"), where, "sex is any, female or male")
        lln, uln = r.get("lln"), r.get("uln")
        _check(lln is None or uln is None or lln < uln, where, "lln must be below uln")
        rows.append(
            RangeRow(
                r["profile"],
                r["analyte"],
                None if lln is None else float(lln),
                None if uln is None else float(uln),
                r["source"],
                r.get("sex", "any"),
                r.get("ancestry", "any"),
                AgeBand.from_row(r),
                r.get("evidence", "V"),
                r.get("note", ""),
            )
        )
    return profiles, tuple(rows)


SCHEMES: dict[str, Scheme] = _load_schemes()
PROFILES, RANGES = _load_profiles()
DEFAULT_PROFILE = "standard"
#: Schemes whose ids the public `grade()` contract names; the others are leukon's own named criteria.
GRADING_SCHEMES = ("ctcae-v4", "ctcae-v5", "ctcae-v6", "daids-v2.1")


def scheme(scheme_id: str) -> Scheme:
    """The scheme with this id (case-insensitive); UnknownSchemeError lists the valid ones."""
    s = SCHEMES.get(scheme_id.strip().lower())
    if s is None:
        raise UnknownSchemeError(f"unknown scheme {scheme_id!r}.{did_you_mean(scheme_id, sorted(SCHEMES))}")
    return s
