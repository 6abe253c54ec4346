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
from pathlib import Path

from leukon.errors import CriteriaError, LeukonError, UnknownSchemeError, UnknownTermError, did_you_mean
from leukon.rules.analytes import ANALYTES

OPS = ("<", "<=", ">", ">=")
LLN = "LLN"


def age_years(age_days: int) -> int:
    """Whole years from whole days, as DAIDS counts them: floor(age_days / 365.25)."""
    return math.floor(age_days / 365.25)


@dataclass(frozen=True, slots=True)
class AgeBand:
    """Inclusive age limits in days and/or whole years, and for newborns in hours of life; None means open.

    A band with hour limits applies only when the age in hours is known: in the first 72 h the neutrophil lower
    limit changes by the hour (Manroe et al., J Pediatr 1979), so whole days are not enough."""

    min_days: int | None = None
    max_days: int | None = None
    min_years: int | None = None
    max_years: int | None = None
    min_hours: int | None = None
    max_hours: int | None = None

    def contains(self, age_days: int, age_hours: int | None = None) -> bool:
        y = age_years(age_days)
        if self.needs_hours and age_hours is None:
            return False
        return not (
            (self.min_days is not None and age_days < self.min_days)
            or (self.max_days is not None and age_days > self.max_days)
            or (self.min_years is not None and y < self.min_years)
            or (self.max_years is not None and y > self.max_years)
            or (self.min_hours is not None and age_hours is not None and age_hours < self.min_hours)
            or (self.max_hours is not None and age_hours is not None and age_hours > self.max_hours)
        )

    @property
    def needs_hours(self) -> bool:
        return self.min_hours is not None or self.max_hours is not None

    @property
    def is_open(self) -> bool:
        return (
            self.min_days is None
            and self.max_days is None
            and self.min_years is None
            and self.max_years is None
            and not self.needs_hours
        )

    def span_days(self) -> float:
        """A width for choosing the most specific band (narrower wins)."""
        lo = max(self.min_days or 0, (self.min_years or 0) * 365.25, (self.min_hours or 0) / 24)
        hi = min(
            self.max_days if self.max_days is not None else math.inf,
            (self.max_years + 1) * 365.25 if self.max_years is not None else math.inf,
            (self.max_hours + 1) / 24 if self.max_hours is not None else math.inf,
        )
        return hi - lo

    @classmethod
    def from_row(cls, row: dict) -> AgeBand:
        return cls(
            row.get("min_age_days"),
            row.get("max_age_days"),
            row.get("min_age_years"),
            row.get("max_age_years"),
            row.get("min_age_hours"),
            row.get("max_age_hours"),
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
    folder = Path(__file__).parent / "data" / "schemes"
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
    raw = tomllib.loads((Path(__file__).parent / "data" / "profiles.toml").read_text("utf-8"))
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
PROFILES, _BUILT_IN_RANGES = _load_profiles()
#: Every range row, built-in first, then those of profiles registered at run time (`register_profiles`). A
#: list extended in place, so modules that imported it and the compiled range selectors see the new rows.
RANGES: list[RangeRow] = list(_BUILT_IN_RANGES)
BUILT_IN_PROFILES = frozenset(PROFILES)
DEFAULT_PROFILE = "standard"
#: Schemes whose ids the public `grade()` contract names; the others are leukon's own named criteria.
GRADING_SCHEMES = ("ctcae-v4", "ctcae-v5", "ctcae-v6", "daids-v2.1")


def scheme(scheme_id: str) -> Scheme:
    """The scheme with this id (case-insensitive); UnknownSchemeError lists the valid ones."""
    s = SCHEMES.get(scheme_id.strip().lower())
    if s is None:
        raise UnknownSchemeError(f"unknown scheme {scheme_id!r}.{did_you_mean(scheme_id, sorted(SCHEMES))}")
    return s


# --- your own reference ranges (issue 11): profiles from a TOML file, added beside the built-in ones ----------

#: Keys a row of a profiles file may hold; anything else is a typo and is refused.
_PROFILE_KEYS = {"id", "name", "description"}
_RANGE_KEYS = {"profile", "analyte", "lln", "uln", "unit", "source", "sex", "ancestry", "min_age_days",
               "max_age_days", "min_age_years", "max_age_years", "note", "min_age_hours", "max_age_hours"}  # fmt: skip
_ANCESTRIES = ("any", "duffy-null")
#: Profiles registered so far: id -> the rows it brought, so loading the same file twice is harmless.
_REGISTERED: dict[str, tuple[Profile, tuple[RangeRow, ...]]] = {}


def register_profiles(spec: str | Path | dict) -> list[str]:
    """Add reference-range profiles from a TOML file (or its parsed dict); return their ids.

    The file has the layout of the built-in ``profiles.toml``: ``[[profile]]`` tables (id, name,
    description) and ``[[range]]`` rows (profile, analyte, lln and/or uln, source; optional unit, sex,
    ancestry, min/max_age_days, min/max_age_years, note). Limits may be given in any unit of the analyte
    (``unit = "/uL"``) and are stored in the canonical unit. The new profiles are chosen by id
    (``profile="mylab"``) in assess, screen and follow alike; for an analyte or age the profile does not
    cover, the standard profile's rows apply, as for the built-in profiles.

    Validated on load; InputError (field ``profiles``) names the file, the row and the fix. Built-in ids
    cannot be redefined, and an id already registered with other rows is refused rather than replaced.
    """
    from leukon.errors import InputError

    label, raw = _read_profiles(spec)

    def fail(where: str, msg: str) -> None:
        raise InputError("profiles", f"{label}: {where}: {msg}")

    for key in sorted(set(raw) - {"profile", "range"}):
        fail(f"[{key}]", "unknown table; a profiles file has [[profile]] and [[range]] tables")
    profiles: dict[str, Profile] = {}
    for i, p in enumerate(raw.get("profile", ()), 1):
        where = f"[[profile]] #{i}"
        extra = sorted(set(p) - _PROFILE_KEYS)
        if extra:
            fail(where, f"unknown key {extra[0]!r}; use {', '.join(sorted(_PROFILE_KEYS))}")
        pid = str(p.get("id", "")).strip().lower()
        if not pid:
            fail(where, "give the profile an id")
        if pid in BUILT_IN_PROFILES:
            fail(where, f"{pid!r} is a built-in profile; give yours another id")
        if pid in profiles:
            fail(where, f"profile {pid!r} is defined twice")
        profiles[pid] = Profile(pid, str(p.get("name") or pid), str(p.get("description") or ""))
    if not profiles:
        fail("[[profile]]", "no profile defined; add [[profile]] with id, name and description")
    rows: dict[str, list[RangeRow]] = {pid: [] for pid in profiles}
    for i, r in enumerate(raw.get("range", ()), 1):
        row = _user_range(r, f"[[range]] #{i} ({r.get('profile', '?')} / {r.get('analyte', '?')})", profiles, fail)
        rows[row.profile].append(row)
    for pid, got in rows.items():
        if not got:
            fail(f"profile {pid!r}", "has no [[range]] rows")
    for pid, prof in profiles.items():
        new = (prof, tuple(rows[pid]))
        old = _REGISTERED.get(pid)
        if old is not None and old != new:
            fail(f"profile {pid!r}", "is already loaded with other ranges; give the changed profile another id")
    for pid, prof in profiles.items():
        if pid in _REGISTERED:
            continue
        _REGISTERED[pid] = (prof, tuple(rows[pid]))
        PROFILES[pid] = prof
        RANGES.extend(rows[pid])
    return list(profiles)


def _read_profiles(spec: str | Path | dict) -> tuple[str, dict]:
    from leukon.errors import InputError

    if isinstance(spec, dict):
        return "profiles table", spec
    path = Path(spec)
    try:
        return path.name, tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError("profiles", f"cannot read profiles file {str(spec)!r}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError("profiles", f"{path.name} is not valid TOML: {e}") from None


def _user_range(r: dict, where: str, profiles: dict[str, Profile], fail) -> RangeRow:
    """One validated [[range]] row of a user's profiles file, limits in the canonical unit."""
    from leukon.rules.units import conversion_for

    extra = sorted(set(r) - _RANGE_KEYS)
    if extra:
        fail(where, f"unknown key {extra[0]!r}; use {', '.join(sorted(_RANGE_KEYS))}")
    if str(r.get("profile", "")).strip().lower() not in profiles:
        fail(where, f"profile {r.get('profile')!r} is not defined in this file; add it as [[profile]]")
    analyte = r.get("analyte")
    if analyte not in ANALYTES:
        fail(where, f"unknown analyte {analyte!r}.{did_you_mean(str(analyte), list(ANALYTES))}")
    if not str(r.get("source", "")).strip():
        fail(where, 'every range cites its source (source = "...")')
    sex = r.get("sex", "any")
    if sex not in ("any", "female", "male"):
        fail(where, f"sex {sex!r} must be any, female or male")
    ancestry = r.get("ancestry", "any")
    if ancestry not in _ANCESTRIES:
        fail(where, f"ancestry {ancestry!r} must be one of {', '.join(_ANCESTRIES)}")
    limits = {}
    for side in ("lln", "uln"):
        v = r.get(side)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0):
            fail(where, f"{side} must be a number from 0 up, not {v!r}")
        limits[side] = v
    if limits["lln"] is None and limits["uln"] is None:
        fail(where, "give lln, uln or both")
    try:
        conv = conversion_for(analyte, r.get("unit"))
    except LeukonError as e:
        fail(where, str(e))
    lln, uln = (None if v is None else float(v) * conv.factor + conv.offset for v in (limits["lln"], limits["uln"]))
    if lln is not None and uln is not None and lln >= uln:
        fail(where, f"lln {limits['lln']} must be below uln {limits['uln']}")
    for key in ("min_age_days", "max_age_days", "min_age_years", "max_age_years", "min_age_hours", "max_age_hours"):
        v = r.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            fail(where, f"{key} must be a whole number from 0 up, not {v!r}")
    age = AgeBand.from_row(r)
    for lo, hi in (
        ("min_age_days", "max_age_days"),
        ("min_age_years", "max_age_years"),
        ("min_age_hours", "max_age_hours"),
    ):
        if r.get(lo) is not None and r.get(hi) is not None and r[lo] > r[hi]:
            fail(where, f"{lo} {r[lo]} is above {hi} {r[hi]}")
    return RangeRow(
        str(r["profile"]).strip().lower(),
        analyte,
        None if lln is None else round(lln, 12),
        None if uln is None else round(uln, 12),
        str(r["source"]),
        sex,
        ancestry,
        age,
        "V",
        str(r.get("note", "")),
    )
