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

from dataclasses import dataclass
from functools import lru_cache

from leukon.errors import InputError, did_you_mean
from leukon.rules import book, criteria
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
def _range_rows(profile: str, n_rows: int, age_days: int | None, sex: str | None, ancestry: str | None) -> dict:
    out = _rows_program(profile, n_rows)({"age_days": age_days, "sex": sex, "ancestry": ancestry})
    return {k: v for k, v in out.items() if k.endswith("_row")}


def range_rows(profile: str, age_days: int | None, sex: str | None, ancestry: str | None) -> dict[str, int | None]:
    """Which profile row (an index in `criteria.RANGES`) applies to each analyte, as `<analyte>_range_row`, for
    these demographics: the rule book's `range_row_steps`, the same selection `screen` compiles to Polars."""
    return _range_rows(profile, len(criteria.RANGES), age_days, sex, ancestry)


def _profile_range(analyte: str, profile: str, sex: str | None, age_days: int | None, ancestry: str | None):
    i = range_rows(profile, age_days, sex, ancestry).get(f"{analyte}_range_row")
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
) -> ReferenceRange | None:
    """The range that applies to one result, or None when no profile covers this analyte and age.

    A lab limit given with the result wins for that side; the other side comes from the profile.
    """
    prof = _profile_range(analyte, profile, sex, age_days, ancestry)
    if lab_lln is None and lab_uln is None:
        return prof
    return ReferenceRange(
        lab_lln if lab_lln is not None else (prof.lln if prof else None),
        lab_uln if lab_uln is not None else (prof.uln if prof else None),
        "lab",
        None,
        "the laboratory's reference range given with the result",
    )


__all__ = ["ReferenceRange", "age_years", "check_ancestry", "check_profile", "check_sex", "reference_range"]
