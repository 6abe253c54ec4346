"""`assess`: one CBC in, findings, grades under every scheme, derived values and warnings out.

>>> a = assess(wbc=2.0, anc=0.7)
>>> a.grade("ctcae-v5", "White blood cell decreased"), a.grade("ctcae-v5", "Neutrophil count decreased")
(2, 3)
>>> [f.code for f in a.findings]
['leukopenia', 'neutropenia']
>>> assess(wbc=(3100, "/uL"), neutrophils_pct=20, bands_pct=5).values["anc"].method
'derived_with_bands'
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from leukon.errors import InputError
from leukon.findings.classify import classify
from leukon.findings.model import Finding, Note
from leukon.panels.scalar import panel_row, range_of
from leukon.rules.analytes import ANALYTES
from leukon.rules.book import fever_terms
from leukon.rules.criteria import DEFAULT_PROFILE, PROFILES, scheme
from leukon.rules.grading import GradeResult, grade_row
from leukon.rules.mascc import MasccResult, for_assessment
from leukon.rules.ranges import check_ancestry, check_profile, check_sex, lab_limit_problem
from leukon.rules.units import check_value

DISCLAIMER = (
    "leukon reads numbers against published criteria; it is not a diagnosis. "
    "Talk to a clinician about what these results mean for you."
)
#: Schemes graded when the caller names none.
DEFAULT_SCHEMES = ("ctcae-v5", "ctcae-v4", "ctcae-v6", "daids-v2.1", "clinical", "clozapine", "idsa-2011")
MAX_AGE_DAYS = 130 * 366

InputValue = float | int | str | tuple | Mapping | None


@dataclass(frozen=True, slots=True)
class Value:
    """One analyte's value in its canonical unit, how it was obtained, and the range it was read against."""

    analyte: str
    value: float
    unit: str
    method: str
    raw_value: float | None = None
    raw_unit: str | None = None
    lln: float | None = None
    uln: float | None = None
    range_origin: str | None = None
    range_source: str | None = None
    range_evidence: str | None = None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True)
class Assessment:
    """The answer for one CBC. `grades` holds one entry per scheme and term; grade None = not gradable."""

    patient: dict
    profile: dict
    values: dict[str, Value]
    findings: list[Finding]
    grades: list[GradeResult]
    warnings: list[Note] = field(default_factory=list)
    not_assessed: list[Note] = field(default_factory=list)
    disclaimer: str = DISCLAIMER
    #: The MASCC risk index, when febrile neutropenia is met or possible and its answers were given.
    mascc: MasccResult | None = None

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    def finding(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)

    def grade_result(self, scheme_id: str, term: str) -> GradeResult:
        t = scheme(scheme_id).term(term)
        for g in self.grades:
            if g.scheme == t.scheme and g.term == t.term:
                return g
        raise KeyError(f"{scheme_id} / {term} was not graded in this assessment")

    def grade(self, scheme_id: str, term: str) -> int | None:
        return self.grade_result(scheme_id, term).grade

    @property
    def emergency(self) -> bool:
        return any(f.emergency for f in self.findings)

    def to_dict(self) -> dict:
        return {
            "patient": self.patient,
            "profile": self.profile,
            "values": {k: v.to_dict() for k, v in self.values.items()},
            "findings": [f.to_dict() for f in self.findings],
            "grades": [g.to_dict() for g in self.grades],
            "warnings": [w.to_dict() for w in self.warnings],
            "not_assessed": [n.to_dict() for n in self.not_assessed],
            "mascc": self.mascc.to_dict() if self.mascc else None,
            "emergency": self.emergency,
            "disclaimer": self.disclaimer,
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)


def _unpack(analyte: str, given: InputValue, unit: str | None, lln, uln):
    """Accept 3.1, "3.1", (3100, "/uL"), or {"value": .., "unit": .., "lln": .., "uln": ..}."""
    if isinstance(given, Mapping):
        unknown = set(given) - {"value", "unit", "lln", "uln"}
        if unknown:
            raise InputError(analyte, f"unknown key(s) {sorted(unknown)}; use value, unit, lln, uln")
        if "value" not in given:
            raise InputError(analyte, "no 'value' given")
        return given["value"], given.get("unit", unit), given.get("lln", lln), given.get("uln", uln)
    if isinstance(given, tuple):
        if len(given) != 2:
            raise InputError(analyte, "give a (value, unit) pair")
        return given[0], given[1], lln, uln
    return given, unit, lln, uln


MAX_AGE_HOURS = 28 * 24  # hours of life are asked for newborns; four weeks is plenty


def _age(age_days, age_years, age_hours=None) -> tuple[int | None, int | None]:
    """(age in whole days, age in hours when given). Hours decide the newborn ANC limit in the first 72 h."""
    if age_hours is not None:
        if isinstance(age_hours, bool) or not isinstance(age_hours, int | float) or not math.isfinite(age_hours):
            raise InputError("age_hours", f"{age_hours!r} is not a number of hours")
        if age_hours < 0 or age_hours > MAX_AGE_HOURS:
            raise InputError("age_hours", f"{age_hours!r} must be between 0 and {MAX_AGE_HOURS} hours of life")
        hours = math.floor(age_hours)
        days = hours // 24
        if age_days is not None and _age(age_days, None)[0] != days:
            raise InputError("age_hours", f"{age_hours} hours is day {days} of life, but age_days says {age_days}")
        return days, hours
    if age_days is not None:
        if isinstance(age_days, bool) or not isinstance(age_days, int | float) or not math.isfinite(age_days):
            raise InputError("age_days", f"{age_days!r} is not a number of days")
        if age_days < 0 or age_days > MAX_AGE_DAYS or age_days != int(age_days):
            raise InputError("age_days", f"{age_days!r} must be a whole number of days between 0 and {MAX_AGE_DAYS}")
        return int(age_days), None
    if age_years is not None:
        if isinstance(age_years, bool) or not isinstance(age_years, int | float) or not math.isfinite(age_years):
            raise InputError("age_years", f"{age_years!r} is not a number of years")
        if age_years < 0 or age_years > 130:
            raise InputError("age_years", f"{age_years!r} must be between 0 and 130")
        if age_years < 1:  # "0 years" means "under one year", not day 0: infant limits change by day and hour
            raise InputError(
                "age_years", f"{age_years!r} years is under one year: give age_days (and age_hours in the first 3 days)"
            )
        return math.ceil(age_years * 365.25), None  # so whole years map back to themselves: floor(days / 365.25)
    return None, None


def assess(
    *,
    wbc: InputValue = None,
    anc: InputValue = None,
    neutrophils_pct: InputValue = None,
    bands: InputValue = None,
    bands_pct: InputValue = None,
    lymphocytes: InputValue = None,
    lymphocytes_pct: InputValue = None,
    monocytes: InputValue = None,
    monocytes_pct: InputValue = None,
    eosinophils: InputValue = None,
    eosinophils_pct: InputValue = None,
    basophils: InputValue = None,
    basophils_pct: InputValue = None,
    cd4: InputValue = None,
    hemoglobin: InputValue = None,
    platelets: InputValue = None,
    temperature: InputValue = None,
    units: Mapping[str, str] | None = None,
    lln: Mapping[str, float] | None = None,
    uln: Mapping[str, float] | None = None,
    age_days: int | None = None,
    age_years: float | None = None,
    age_hours: float | None = None,
    sex: str | None = None,
    ancestry: str | None = None,
    profile: str = DEFAULT_PROFILE,
    fever_sustained: bool | None = None,
    anc_expected_fall: bool = False,
    schemes: Iterable[str] | None = None,
    mascc: Mapping | None = None,
) -> Assessment:
    """Assess one CBC.

    Counts default to 10^9/L, percentages to %, haemoglobin to g/dL and temperature to degrees C; give
    another unit with ``units={"wbc": "/uL"}`` or as ``wbc=(3100, "/uL")``. ``lln``/``uln`` hold the lab's
    own limits (in the value's unit), which win over the profile. ``fever_sustained`` says whether a
    temperature of 38.0 C or more lasted over an hour. ``mascc`` holds the MASCC risk-index answers
    (`leukon.rules.mascc`), scored when febrile neutropenia is met or possible; a missing answer is said, never
    taken as "no". Raises InputError naming the field for bad input.
    """
    given = {
        "wbc": wbc, "anc": anc, "neutrophils_pct": neutrophils_pct, "bands": bands, "bands_pct": bands_pct,
        "lymphocytes": lymphocytes, "lymphocytes_pct": lymphocytes_pct, "monocytes": monocytes,
        "monocytes_pct": monocytes_pct, "eosinophils": eosinophils, "eosinophils_pct": eosinophils_pct,
        "basophils": basophils, "basophils_pct": basophils_pct, "cd4": cd4, "hemoglobin": hemoglobin,
        "platelets": platelets, "temperature": temperature,
    }  # fmt: skip
    return assess_mapping(
        {k: v for k, v in given.items() if v is not None},
        units=units, lln=lln, uln=uln, age_days=age_days, age_years=age_years, age_hours=age_hours, sex=sex,
        ancestry=ancestry,
        profile=profile, fever_sustained=fever_sustained, anc_expected_fall=anc_expected_fall, schemes=schemes,
        mascc=mascc,
    )  # fmt: skip


def assess_mapping(
    given: Mapping[str, InputValue],
    *,
    units: Mapping[str, str] | None = None,
    lln: Mapping[str, float] | None = None,
    uln: Mapping[str, float] | None = None,
    age_days: int | None = None,
    age_years: float | None = None,
    age_hours: float | None = None,
    sex: str | None = None,
    ancestry: str | None = None,
    profile: str = DEFAULT_PROFILE,
    fever_sustained: bool | None = None,
    anc_expected_fall: bool = False,
    schemes: Iterable[str] | None = None,
    mascc: Mapping | None = None,
) -> Assessment:
    """`assess` over a mapping of analyte id to value (the form a JSON report takes)."""
    units, lln, uln = dict(units or {}), dict(lln or {}), dict(uln or {})
    for name, table in (("units", units), ("lln", lln), ("uln", uln)):
        for k in table:
            if k not in ANALYTES:
                raise InputError(name, f"unknown analyte {k!r} in {name}")
    profile = check_profile(profile)
    sex, ancestry = check_sex(sex), check_ancestry(ancestry)
    age, hours = _age(age_days, age_years, age_hours)
    scheme_ids = _schemes(schemes, age)

    measured: dict[str, float] = {}
    raw: dict[str, tuple] = {}
    lab: dict[str, tuple[float | None, float | None]] = {}
    for analyte, g in given.items():
        if analyte not in ANALYTES:
            raise InputError(analyte, f"unknown analyte; use one of {', '.join(ANALYTES)}")
        v, u, lo, hi = _unpack(analyte, g, units.get(analyte), lln.get(analyte), uln.get(analyte))
        if v is None:
            continue
        measured[analyte] = check_value(analyte, v, u)
        raw[analyte] = (v, u)
        lo_c = None if lo is None else _lab_limit(analyte, "lln", lo, u)
        hi_c = None if hi is None else _lab_limit(analyte, "uln", hi, u)
        if lo_c is not None and hi_c is not None and lo_c >= hi_c:
            raise InputError(f"{analyte}.lln", f"LLN {lo} is not below ULN {hi}")
        if lo_c is not None or hi_c is not None:
            lab[analyte] = (lo_c, hi_c)
    if not measured:
        raise InputError("values", "no values given; give at least a WBC or an ANC")

    row = panel_row(measured, lab=lab, profile=profile, age_days=age, sex=sex, ancestry=ancestry, age_hours=hours)
    row["fever_sustained"], row["anc_expected_fall"] = fever_sustained, anc_expected_fall
    values = {a: _value(a, row, raw.get(a)) for a in ANALYTES if row[a] is not None}

    grades = grade_row(row, scheme_ids)
    fever_keys = {(t.scheme, t.term) for t in fever_terms()}
    fever = [g for g in grades if (g.scheme, g.term) in fever_keys]
    if len(fever) < len(fever_keys):  # the finding reads every scheme's definition, whichever were asked for
        fever = grade_row(row, tuple(t.scheme for t in fever_terms()))
    findings, warnings, not_assessed = classify(row, profile=profile, fever=fever)
    fn = next((f.certainty for f in findings if f.code == "febrile_neutropenia"), None)
    if fn is None and (row["temperature"] is None or any(n.code == "febrile_neutropenia" for n in not_assessed)):
        fn = "not assessed"
    mascc_result, mascc_note = for_assessment(mascc, febrile_neutropenia=fn, age_days=age)
    if mascc_note:
        not_assessed.append(Note("mascc", mascc_note, "mascc"))
    return Assessment(
        patient={"age_days": age, "age_hours": hours, "sex": sex, "ancestry": ancestry},
        profile={"id": profile, "name": PROFILES[profile].name, "description": PROFILES[profile].description},
        values=values,
        findings=findings,
        grades=grades,
        warnings=warnings,
        not_assessed=not_assessed,
        mascc=mascc_result,
    )


def _lab_limit(analyte: str, side: str, given, unit: str | None) -> float:
    """A lab limit in canonical units, refused when its magnitude cannot fit the value's unit."""
    v = check_value(analyte, given, unit)
    problem = lab_limit_problem(analyte, side, given, unit, v)
    if problem:
        raise InputError(f"{analyte}.{side}", problem)
    return v


def _value(analyte: str, row: dict, raw: tuple | None) -> Value:
    raw_value, raw_unit = raw if raw else (None, None)
    method = row.get(f"{analyte}_method") or "measured"
    v = row[analyte]
    rng = range_of(row, analyte) if analyte != "temperature" else {}
    if not rng:  # temperature has no range of interest beside the fever rules
        return Value(analyte, v, ANALYTES[analyte].unit, method, raw_value, raw_unit)
    return Value(
        analyte,
        v,
        ANALYTES[analyte].unit,
        method,
        raw_value,
        raw_unit,
        rng["lln"],
        rng["uln"],
        rng["origin"],
        rng["source"],
        rng["evidence"],
    )


def _schemes(schemes: Iterable[str] | None, age: int | None) -> tuple[str, ...]:
    if schemes is None:
        return DEFAULT_SCHEMES
    ids = tuple(dict.fromkeys(scheme(s).id for s in schemes))
    if "daids-v2.1" in ids and age is None:
        raise InputError("age", "DAIDS v2.1 grades by age; give age_days or age_years")
    return ids
