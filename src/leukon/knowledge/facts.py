"""The assessment's own numbers in words: values against their ranges, grades with their thresholds.

Thresholds are read from the criteria files through the assessment's grades, never written here.

>>> from leukon import assess
>>> a = assess(wbc=2.0, anc=0.7)
>>> grade_line(a.grade_result("ctcae-v5", "Neutrophil count decreased"), None)
'NCI CTCAE v5.0, Neutrophil count decreased: grade 3 (ANC >= 0.5 and < 1)'
>>> value_lines(a, "patient")[1]
'Neutrophils (ANC): 0.7, low. Normal range used here: 1.5 to 6.'
"""

from __future__ import annotations

from collections.abc import Iterable

from leukon.pipelines.assess import Assessment, Value
from leukon.rules.criteria import LLN, scheme
from leukon.rules.grading import GradeResult

#: Analytes worth a line, in reading order, with plain and short names.
SHOWN = {
    "wbc": ("Total white cells (WBC)", "WBC"),
    "anc": ("Neutrophils (ANC)", "ANC"),
    "lymphocytes": ("Lymphocytes", "ALC"),
    "monocytes": ("Monocytes", "AMC"),
    "eosinophils": ("Eosinophils", "AEC"),
    "basophils": ("Basophils", "ABC"),
    "bands": ("Young neutrophils (bands)", "Bands"),
    "cd4": ("CD4 T cells", "CD4"),
    "hemoglobin": ("Haemoglobin (red cells)", "Hb"),
    "platelets": ("Platelets", "Plt"),
}
_NOT = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}
UNITS_NOTE = "Counts are in thousands of cells per microlitre (10^9/L); haemoglobin in g/dL."


def _n(x: float | None) -> str:
    return "?" if x is None else f"{x:.4g}"


def _state(v: Value) -> str:
    if v.lln is not None and v.value < v.lln:
        return "low"
    if v.uln is not None and v.value > v.uln:
        return "high"
    return "normal" if v.lln is not None else "no range"


def value_lines(a: Assessment, audience: str) -> list[str]:
    """One line per shown analyte: its value, low/normal/high, and the range it was read against."""
    out = []
    t = a.values.get("temperature")
    if t is not None:
        out.append(f"Temperature: {_n(t.value)} degrees C" if audience == "patient" else f"Temp {_n(t.value)} C")
    for analyte, (plain, short) in SHOWN.items():
        v = a.values.get(analyte)
        if v is None:
            continue
        rng = f"{_n(v.lln)} to {_n(v.uln)}" if v.uln is not None else f"from {_n(v.lln)}"
        if audience == "patient":
            state = {"no range": "no normal range known"}.get(_state(v), _state(v))
            tail = f" Normal range used here: {rng}." if v.lln is not None else ""
            out.append(f"{plain}: {_n(v.value)}, {state}.{tail}")
        else:
            origin = "lab range" if v.range_origin == "lab" else f"profile '{a.profile['id']}'"
            how = "" if v.method == "measured" else f", {v.method.replace('_', ' ')}"
            ref = f"; LLN {_n(v.lln)}, ULN {_n(v.uln)} ({origin})" if v.lln is not None else "; no range"
            out.append(f"{short} {_n(v.value)} {v.unit}{how}{ref}: {_state(v)}")
    return out


def _bound(rule_bound: float | str, lln: float | None) -> float | None:
    return lln if rule_bound == LLN else float(rule_bound)


def threshold(g: GradeResult, age_days: int | None) -> str:
    """The band of the scheme's term that this grade covers, e.g. 'ANC >= 0.5 and < 1'."""
    term = scheme(g.scheme).term(g.term)
    band = term.band_for(age_days)
    if band is None or not band.rules or g.grade is None:
        return ""
    name = SHOWN.get(term.analyte, (term.analyte, term.analyte))[1]
    rules = band.rules
    if g.grade == 0:
        r = rules[-1]
        b = _bound(r.bound, g.lln)
        return "" if b is None else f"{name} {_NOT[r.op]} {_n(b)}"
    i = next((k for k, r in enumerate(rules) if r.grade == g.grade), None)
    if i is None:
        return ""
    upper = f"{rules[i].op} {_n(_bound(rules[i].bound, g.lln))}"
    if i == 0:
        return f"{name} {upper}"
    below = rules[i - 1]
    return f"{name} {_NOT[below.op]} {_n(_bound(below.bound, g.lln))} and {upper}"


def grade_line(g: GradeResult, age_days: int | None) -> str:
    """'<scheme name>, <term>: grade N (<threshold>)', or why it could not be graded."""
    head = f"{scheme(g.scheme).name}, {g.term}"
    if g.grade is None:
        return f"{head}: not gradable ({g.reason})"
    detail = [x for x in (g.label, threshold(g, age_days) or g.reason) if x]
    return f"{head}: grade {g.grade}" + (f" ({'; '.join(detail)})" if detail else "")


def grade_lines(a: Assessment, *, hide: Iterable[str] = ()) -> list[str]:
    """Clinician lines for every term graded above 0, or not gradable although its value was given.

    Febrile-neutropenia terms are listed only when a temperature was given; schemes in `hide` not at all.
    """
    has_temp = "temperature" in a.values
    return [
        grade_line(g, a.patient.get("age_days"))
        for g in a.grades
        if g.value is not None
        and g.grade != 0
        and g.scheme not in hide
        and (has_temp or scheme(g.scheme).term(g.term).kind != "febrile_neutropenia")
    ]
