"""Choose the reference range (LLN, ULN) for a result: the lab's own range wins, then the profile's.

>>> r = reference_range("anc", age_days=40 * 365, ancestry="duffy-null")
>>> (r.lln, r.uln, r.origin)
(1.21, 5.39, 'profile')
>>> reference_range("wbc", lab_lln=3.6, lab_uln=10.5).origin
'lab'
>>> reference_range("wbc", age_days=20) is None   # no WBC range in the first month: say so, never guess
True
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import lru_cache

from leukon.errors import InputError, did_you_mean
from leukon.rules import book, criteria
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import DEFAULT_PROFILE, PROFILES, age_years
from leukon.rules.logic import program

SEXES = ("female", "male")
ANCESTRIES = ("duffy-null",)
#: Ways the Duffy-null phenotype is written (after lower-casing and turning spaces and _ into -).
DUFFY_NULL_SPELLINGS = ("duffy-null", "danc", "ben", "benign-ethnic-neutropenia", "fy(a-b-)")


@dataclass(frozen=True, slots=True)
class ReferenceRange:
    lln: float | None
    uln: float | None
    origin: str  # "lab" or "profile"
    profile: str | None
    source: str
    evidence: str = "V"
    note: str = ""


def check_profile(profile: str) -> str:
    p = profile.strip().lower()
    if p not in PROFILES:
        raise InputError("profile", f"unknown profile {profile!r}.{did_you_mean(profile, sorted(PROFILES))}")
    return p


def check_sex(sex: str | None) -> str | None:
    if sex is None:
        return None
    s = sex.strip().lower()
    s = {"f": "female", "m": "male", "woman": "female", "man": "male"}.get(s, s)
    if s in ("", "unknown", "u", "other"):
        return None
    if s not in SEXES:
        raise InputError("sex", f"{sex!r} is not recognised; use female, male or leave it out")
    return s


def check_ancestry(ancestry: str | None) -> str | None:
    if ancestry is None:
        return None
    a = ancestry.strip().lower().replace("_", "-").replace(" ", "-")
    if a in ("", "unknown", "other", "duffy-positive", "not-duffy-null"):
        return None
    if a in DUFFY_NULL_SPELLINGS:
        return "duffy-null"
    raise InputError(
        "ancestry", f"{ancestry!r} is not recognised; use duffy-null (Duffy-null phenotype) or leave it out"
    )


@lru_cache(maxsize=16)
def _rows_program(profile: str, n_rows: int):
    del n_rows  # part of the key: profiles registered later compile anew
    return program(book.range_row_steps(profile), name="range_rows")


@lru_cache(maxsize=8192)
def _range_rows(profile: str, n_rows: int, age_days, sex, ancestry, age_hours) -> dict:
    row = {"age_days": age_days, "sex": sex, "ancestry": ancestry, "age_hours": age_hours}
    out = _rows_program(profile, n_rows)(row)
    return {k: v for k, v in out.items() if k.endswith("_row")}


def range_rows(
    profile: str, age_days: int | None, sex: str | None, ancestry: str | None, age_hours: int | None = None
) -> dict[str, int | None]:
    """Which profile row (an index in `criteria.RANGES`) applies to each analyte, as `<analyte>_range_row`, for
    these demographics: the rule book's `range_row_steps`, the same selection `screen` compiles to Polars."""
    return _range_rows(profile, len(criteria.RANGES), age_days, sex, ancestry, age_hours)


def _profile_range(analyte: str, profile: str, sex, age_days, ancestry, age_hours=None):
    i = range_rows(profile, age_days, sex, ancestry, age_hours).get(f"{analyte}_range_row")
    if i is None:
        return None
    row = criteria.RANGES[i]
    return ReferenceRange(row.lln, row.uln, "profile", row.profile, row.source, row.evidence, row.note)


def reference_range(
    analyte: str,
    *,
    profile: str = DEFAULT_PROFILE,
    sex: str | None = None,
    age_days: int | None = None,
    ancestry: str | None = None,
    lab_lln: float | None = None,
    lab_uln: float | None = None,
    age_hours: int | None = None,
) -> ReferenceRange | None:
    """The range that applies to one result, or None when no profile covers this analyte and age.

    A lab limit given with the result wins for that side; the other side comes from the profile. Newborn ANC limits
    in the first 72 h need `age_hours`.
    """
    prof = _profile_range(analyte, profile, sex, age_days, ancestry, age_hours)
    if lab_lln is None and lab_uln is None:
        return prof
    return ReferenceRange(
        lab_lln if lab_lln is not None else (prof.lln if prof else None),
        lab_uln if lab_uln is not None else (prof.uln if prof else None),
        "lab",
        None,
        book.LAB_RANGE_SOURCE,
    )


def age_breaks() -> tuple[int, ...]:
    """Ages in days at which some profile row starts or stops applying, in order, starting at 0.

    Every age from one break up to the next selects the same rows, so a table of millions of ages needs only one
    range lookup per interval (`same_range_age`): the day limits of the bands, and for the year limits the first
    day of that whole year (floor(days / 365.25), as `criteria.age_years` counts them). Hour-of-life limits are
    not breaks: they depend on the age in hours, not in days."""
    return _age_breaks(len(criteria.RANGES))


@lru_cache(maxsize=8)
def _age_breaks(n_rows: int) -> tuple[int, ...]:
    del n_rows  # part of the key: profiles registered later add rows
    out = {0}
    for r in criteria.RANGES:
        a = r.age
        out |= {d for d in (a.min_days, None if a.max_days is None else a.max_days + 1) if d is not None}
        for y in (a.min_years, None if a.max_years is None else a.max_years + 1):
            if y is not None:
                out.add(math.ceil(y * book.DAYS_PER_YEAR))
    return tuple(sorted(d for d in out if d >= 0))


def same_range_age(age_days: int) -> int:
    """The first age of `age_days`'s interval between `age_breaks` (ages below 0 are kept as they are): both
    select the same profile rows.

    >>> same_range_age(40 * 365) == same_range_age(41 * 365)
    True
    >>> reference_range("anc", age_days=same_range_age(200)) == reference_range("anc", age_days=200)
    True
    """
    if age_days < 0:
        return age_days
    breaks = age_breaks()
    return breaks[bisect.bisect_right(breaks, age_days) - 1]


#: A lab limit more than this factor away from the usual adult limit cannot be in the value's unit (WBC 3100 /uL
#: with LLN 4.0 would make the LLN 0.004 x 10^9/L, a 1000-fold slip): leukon's margin, wide enough for any age, lab
#: or line, narrow enough to catch a limit given in another unit than its value.
LIMIT_MAGNITUDE = 100.0


def usual_limit(analyte: str, side: str) -> float | None:
    """The standard profile's adult limit for a count (None for percentages, temperature, or no such limit): the
    yardstick for a lab limit's magnitude."""
    if ANALYTES[analyte].dimension != "count":
        return None
    usual = _profile_range(analyte, DEFAULT_PROFILE, None, book.ADULT_AGE_DAYS, None)
    return getattr(usual, side, None) if usual else None


def lab_limit_problem(analyte: str, side: str, given: object, unit: str | None, canonical: float) -> str | None:
    """Why a lab limit cannot be applied (its magnitude does not fit the value's unit), or None when it fits.
    `canonical` is the limit converted with the value's unit; `side` is "lln" or "uln"."""
    a = ANALYTES[analyte]
    ref = usual_limit(analyte, side)
    if not ref or canonical <= 0 or (canonical / ref <= LIMIT_MAGNITUDE and ref / canonical <= LIMIT_MAGNITUDE):
        return None
    shown = unit or a.unit
    return (
        f"{side.upper()} {given} {shown} is {canonical:g} {a.unit}, far from any usual {analyte} limit ({ref:g});"
        f" the limits must be in the value's unit ({shown})"
    )


__all__ = [
    "LIMIT_MAGNITUDE",
    "ReferenceRange",
    "age_breaks",
    "age_years",
    "check_ancestry",
    "check_profile",
    "check_sex",
    "lab_limit_problem",
    "reference_range",
    "same_range_age",
]
