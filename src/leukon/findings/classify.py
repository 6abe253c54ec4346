"""Findings for one CBC: which cytopenias (and related patterns) the counts show, each with its evidence.

A finding is stated only when the value and the range it needs are known; otherwise the reason goes to
`not_assessed`, so "cannot tell" is never read as "normal".
"""

from __future__ import annotations

from dataclasses import dataclass

from leukon.panels.derive import Note
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import scheme
from leukon.rules.grading import GradeResult, evaluate
from leukon.rules.ranges import ReferenceRange

#: Finding codes (the JSON contract) and their plain names.
FINDING_LABELS = {
    "leukopenia": "Leukopenia (low total white cells)",
    "neutropenia": "Neutropenia (low neutrophils)",
    "lymphopenia": "Lymphopenia (low lymphocytes)",
    "monocytopenia": "Monocytopenia (low monocytes)",
    "eosinopenia": "Eosinopenia (low eosinophils)",
    "basopenia": "Basopenia (low basophils)",
    "agranulocytosis": "Agranulocytosis (neutrophils almost absent)",
    "neutropenia_without_leukopenia": "Neutropenia with a normal total white count",
    "leukopenia_without_neutropenia": "Leukopenia without neutropenia",
    "left_shift": "Left shift (raised immature band neutrophils)",
    "anemia": "Anaemia (low haemoglobin)",
    "thrombocytopenia": "Thrombocytopenia (low platelets)",
    "bicytopenia": "Bicytopenia (two blood cell lines low)",
    "pancytopenia": "Pancytopenia (all three blood cell lines low)",
    "leukocytosis": "Leukocytosis (high total white cells)",
    "febrile_neutropenia": "Febrile neutropenia: a medical emergency",
}
#: Lines whose absolute count below the LLN gives a finding of that name.
LOW_FINDINGS = {
    "wbc": "leukopenia",
    "anc": "neutropenia",
    "lymphocytes": "lymphopenia",
    "monocytes": "monocytopenia",
    "eosinophils": "eosinopenia",
    "basophils": "basopenia",
    "hemoglobin": "anemia",
    "platelets": "thrombocytopenia",
}
#: Agranulocytosis: ANC below 0.1 x 10^9/L ("virtual absence of neutrophils ... typically lower than
#: 100/uL", Medscape; clinical-criteria.md (c)). Some texts use < 0.5; that range is "severe" here.
AGRANULOCYTOSIS_BELOW = 0.1
AGRANULOCYTOSIS_SOURCE = "Medscape: agranulocytosis is a virtual absence of neutrophils, ANC typically below 100/uL"
#: Left shift: bands above 0.5 x 10^9/L or above 5 % of white cells (Verywell Health: bands 0-500/mm3, 0-5 %).
LEFT_SHIFT_SOURCE = "Verywell Health: band neutrophils 0-500/mm3 and 0-5 % of white cells"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    label: str
    analyte: str | None = None
    value: float | None = None
    unit: str | None = None
    comparator: str | None = None
    threshold: float | None = None
    basis: str | None = None
    source: str | None = None
    severity: str | None = None
    emergency: bool = False
    certainty: str = "met"  # met | possible
    detail: str = ""

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


def _basis(r: ReferenceRange) -> str:
    return "laboratory range" if r.origin == "lab" else f"reference profile '{r.profile}'"


def classify(
    values: dict[str, tuple[float, str]],
    ranges: dict[str, ReferenceRange | None],
    *,
    temperature: float | None = None,
    fever: list[GradeResult] | None = None,
) -> tuple[list[Finding], list[Note]]:
    """Findings and what could not be assessed, from canonical values (with methods) and their ranges."""
    found: dict[str, Finding] = {}
    missing: list[Note] = []

    def value(a: str) -> float | None:
        return values[a][0] if a in values else None

    for analyte, code in LOW_FINDINGS.items():
        v, r = value(analyte), ranges.get(analyte)
        name = ANALYTES[analyte].name
        if v is None:
            if analyte in ("wbc", "anc"):
                why = "no WBC given" if analyte == "wbc" else "no ANC, and no WBC with neutrophil % to derive it"
                missing.append(Note(code, f"{code} not assessed: {why}", analyte))
            continue
        if r is None or r.lln is None:
            missing.append(
                Note(
                    code,
                    f"{code} not assessed: no reference range for {name} at this age; give the lab's LLN",
                    analyte,
                )
            )
            continue
        if v < r.lln:
            found[code] = Finding(
                code,
                FINDING_LABELS[code],
                analyte,
                v,
                ANALYTES[analyte].unit,
                "<",
                r.lln,
                _basis(r),
                r.source,
            )
    anc = value("anc")
    if "neutropenia" in found and anc is not None:
        sev = evaluate(scheme("clinical").term("Neutropenia severity"), anc)
        f = found["neutropenia"]
        label = sev.label if sev.grade else None  # grade 0 here: below this range but not below 1.5
        found["neutropenia"] = _with(f, severity=label or "below the reference range, above 1.5")
    if anc is not None and anc < AGRANULOCYTOSIS_BELOW:
        found["agranulocytosis"] = Finding(
            "agranulocytosis",
            FINDING_LABELS["agranulocytosis"],
            "anc",
            anc,
            "10^9/L",
            "<",
            AGRANULOCYTOSIS_BELOW,
            "definition",
            AGRANULOCYTOSIS_SOURCE,
            severity="profound",
            emergency=False,
        )
    wbc_known = "wbc" in values and ranges.get("wbc") is not None and ranges["wbc"].lln is not None  # type: ignore[union-attr]
    anc_known = anc is not None and ranges.get("anc") is not None and ranges["anc"].lln is not None  # type: ignore[union-attr]
    if "neutropenia" in found and wbc_known and "leukopenia" not in found:
        found["neutropenia_without_leukopenia"] = _pattern(
            "neutropenia_without_leukopenia", "the ANC is low although the total white count is within range"
        )
    if "leukopenia" in found and anc_known and "neutropenia" not in found:
        detail = "the total white count is low while the ANC is within range"
        if "lymphopenia" in found:
            detail += "; low lymphocytes account for it (the lymphopenia pattern, as in HIV)"
        found["leukopenia_without_neutropenia"] = _pattern("leukopenia_without_neutropenia", detail)
    bands, bands_pct = value("bands"), value("bands_pct")
    r_b, r_bp = ranges.get("bands"), ranges.get("bands_pct")
    if bands is not None and r_b and r_b.uln is not None and bands > r_b.uln:
        found["left_shift"] = Finding(
            "left_shift",
            FINDING_LABELS["left_shift"],
            "bands",
            bands,
            "10^9/L",
            ">",
            r_b.uln,
            _basis(r_b),
            LEFT_SHIFT_SOURCE,
        )
    elif bands_pct is not None and r_bp and r_bp.uln is not None and bands_pct > r_bp.uln:
        found["left_shift"] = Finding(
            "left_shift",
            FINDING_LABELS["left_shift"],
            "bands_pct",
            bands_pct,
            "%",
            ">",
            r_bp.uln,
            _basis(r_bp),
            LEFT_SHIFT_SOURCE,
        )
    wbc, r_w = value("wbc"), ranges.get("wbc")
    if wbc is not None and r_w and r_w.uln is not None and wbc > r_w.uln:
        found["leukocytosis"] = Finding(
            "leukocytosis",
            FINDING_LABELS["leukocytosis"],
            "wbc",
            wbc,
            "10^9/L",
            ">",
            r_w.uln,
            _basis(r_w),
            r_w.source,
        )
    _lines(found, values, missing)
    _febrile(found, fever or [], temperature)
    order = list(FINDING_LABELS)
    return sorted(found.values(), key=lambda f: order.index(f.code)), missing


def _with(f: Finding, **changes) -> Finding:
    from dataclasses import replace

    return replace(f, **changes)


def _pattern(code: str, detail: str) -> Finding:
    return Finding(code, FINDING_LABELS[code], basis="pattern of the findings above", detail=detail)


def _lines(found: dict[str, Finding], values: dict, missing: list[Note]) -> None:
    """Bicytopenia / pancytopenia across the white, red and platelet lines."""
    low = {
        "white cells": "leukopenia" in found or "neutropenia" in found,
        "haemoglobin": "anemia" in found,
        "platelets": "thrombocytopenia" in found,
    }
    known = {
        "white cells": "wbc" in values or "anc" in values,
        "haemoglobin": "hemoglobin" in values,
        "platelets": "platelets" in values,
    }
    n_low = sum(low.values())
    names = [k for k, v in low.items() if v]
    if n_low == 3:
        found["pancytopenia"] = Finding(
            "pancytopenia",
            FINDING_LABELS["pancytopenia"],
            basis="pattern of the findings above",
            detail="low: " + ", ".join(names),
        )
    elif n_low == 2:
        unknown = [k for k, v in known.items() if not v]
        extra = f"; {unknown[0]} not measured, so pancytopenia cannot be excluded" if unknown else ""
        found["bicytopenia"] = Finding(
            "bicytopenia",
            FINDING_LABELS["bicytopenia"],
            basis="pattern of the findings above",
            detail="low: " + " and ".join(names) + extra,
        )
    if not all(known.values()) and n_low >= 1:
        absent = [k for k, v in known.items() if not v]
        missing.append(
            Note(
                "pancytopenia",
                "bicytopenia/pancytopenia not fully assessed: no " + " or ".join(absent) + " value",
                None,
            )
        )


def _febrile(found: dict[str, Finding], fever: list[GradeResult], temperature: float | None) -> None:
    met = [g for g in fever if g.grade]
    possible = [
        g
        for g in fever
        if g.grade is None and g.value is not None and temperature is not None and "lasted" in (g.reason or "")
    ]
    if not met and not possible:
        return
    which = met or possible
    by_reason: dict[str, list[str]] = {}
    for g in which:  # CTCAE v4, v5 and v6 share one definition: name it once
        by_reason.setdefault(g.reason or "", []).append(g.scheme)
    names = "; ".join(f"{'/'.join(ids)} ({why})" if why else "/".join(ids) for why, ids in by_reason.items())
    found["febrile_neutropenia"] = Finding(
        "febrile_neutropenia",
        FINDING_LABELS["febrile_neutropenia"],
        "anc",
        which[0].value,
        "10^9/L",
        basis="febrile neutropenia criteria",
        source=names,
        emergency=True,
        certainty="met" if met else "possible",
        detail=("meets " if met else "may meet ") + names + "; seek urgent care now",
    )
