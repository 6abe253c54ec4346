"""FHIR R4 out: an `Assessment` as a Bundle (type collection) that an EHR can file and a FHIR reader can re-read.

>>> import leukon
>>> a = leukon.assess(wbc=4.6, anc=0.9, lln={"anc": 1.8}, schemes=["ctcae-v5"])
>>> b = to_fhir(a, effective="2024-05-02T08:30:00Z")
>>> [e["resource"]["resourceType"] for e in b["entry"]][:3], len(b["entry"]) == 1 + 2 + len(a.grades) + 1
(['Patient', 'Observation', 'Observation'], True)
>>> [c["code"] for c in b["entry"][2]["resource"]["interpretation"][0]["coding"]]
['L']

What the Bundle holds:

- the Patient (gender; birthDate computed from the age at the count, since FHIR has no age-at-result;
  the Duffy-null phenotype as the extension `ANCESTRY_URL`). Not carried: a non-default reference profile
  and whether a fever was sustained (the reader assumes the defaults);
- one Observation per value in its canonical unit (UCUM code), with `interpretation` (L, LL, N or H, HL7
  v3 ObservationInterpretation) against the range used, written as `referenceRange`. A range from a leukon
  profile carries the extension `RANGE_ORIGIN_URL` = "profile" and names its source, so a reader does not
  mistake it for the lab's own range. LL (critically low) means the count meets grade 4 of the scheme's
  term in CTCAE v5.0 (NCI, 2017), when that scheme was graded;
- derived counts (ANC from the differential) as Observations with `derivedFrom` the inputs and the
  formula as `method`;
- one Observation per graded scheme term: `valueInteger` the grade, `method` the scheme, `derivedFrom`
  the value graded; a term leukon could not grade has a `dataAbsentReason` and the reason as text;
- a DiagnosticReport whose conclusion lists the findings (with SNOMED CT codes where the OHDSI PhenotypeLibrary gives one),
  warnings and what was not assessed.

Everything leukon computed is tagged `LEUKON_TAG`: reading the Bundle back (`leukon.sources.fhir`) takes
the measured values and ignores leukon's own output, so `out -> in` gives the same assessment. Every
resource is validated against the R4B models of `fhir.resources` before the Bundle is returned.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from leukon.pipelines.assess import Assessment
from leukon.rules.analytes import ABSOLUTE, ANALYTES, PERCENT, WHITE_LINES
from leukon.rules.criteria import SCHEMES
from leukon.sources.fhir import ANCESTRY_URL, LEUKON_TAG, LOINC, RANGE_ORIGIN_URL, UCUM

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
_INTERPRETATION_NAMES = {"L": "Low", "LL": "Critical low", "N": "Normal", "H": "High"}
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
SNOMED = "http://snomed.info/sct"
#: Finding codes with a SNOMED CT concept (read in the OHDSI PhenotypeLibrary).
FINDING_SNOMED = {
    "neutropenia": ("165517008", "Neutropenia"),
    "leukopenia": ("84828003", "Leukopenia"),
    "agranulocytosis": ("17182001", "Agranulocytosis"),
    "febrile_neutropenia": ("409089005", "Febrile neutropenia"),
    "pancytopenia": ("127034005", "Pancytopenia"),
}
#: UCUM codes of leukon's canonical units.
UCUM_CODES = {"10^9/L": "10*9/L", "%": "%", "g/dL": "g/dL", "Cel": "Cel"}
#: A derived ANC is not an automated count: it takes the method-unspecified code (LOINC 751-8, Neutrophils [#/volume] in Blood).
DERIVED_LOINC = {"anc": "26499-4"}
#: The scheme whose grade 4 marks a value as critically low (LL).
CRITICAL_SCHEME, CRITICAL_GRADE = "ctcae-v5", 4
_NS = uuid.UUID("4a1f1c56-3b0c-5c53-9a5e-6c65756b6f6e")  # leukon's namespace for reproducible ids


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, '|'.join(str(p) for p in parts))}"


def _effective(effective: dt.datetime | str | None) -> str:
    if effective is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    if isinstance(effective, dt.datetime):
        return (effective if effective.tzinfo else effective.replace(tzinfo=dt.UTC)).isoformat()
    return effective


def interpretation(assessment: Assessment, analyte: str) -> str | None:
    """L, LL, N or H for a value against the range it was read against; None without a range."""
    v = assessment.values[analyte]
    if v.lln is None and v.uln is None:
        return None
    if v.lln is not None and v.value < v.lln:
        critical = any(
            g.scheme == CRITICAL_SCHEME and g.analyte == analyte and g.grade == CRITICAL_GRADE
            for g in assessment.grades
        )
        return "LL" if critical else "L"
    if v.uln is not None and v.value > v.uln:
        return "H"
    return "N"


def _inputs_of(assessment: Assessment, analyte: str) -> list[str]:
    """The measured values a derived count came from (WBC, the line's percentage, and bands for the ANC)."""
    line = next((ln for ln in WHITE_LINES if ABSOLUTE[ln] == analyte), None)
    if line is None:
        return []
    want = ["wbc", PERCENT[line]]
    if line == "neutrophils" and assessment.values[analyte].method == "derived_with_bands":
        want += ["bands_pct", "bands"]
    return [a for a in want if a in assessment.values and assessment.values[a].method == "measured"]


def _quantity(value: float, unit: str) -> dict:
    q: dict[str, Any] = {"value": value, "unit": unit}
    if unit in UCUM_CODES:
        q |= {"system": UCUM, "code": UCUM_CODES[unit]}
    return q


def _reference_range(v) -> list[dict]:
    if v.lln is None and v.uln is None:
        return []
    rr: dict[str, Any] = {}
    if v.lln is not None:
        rr["low"] = _quantity(v.lln, v.unit)
    if v.uln is not None:
        rr["high"] = _quantity(v.uln, v.unit)
    if v.range_origin == "lab":
        rr["type"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/referencerange-meaning",
                                   "code": "normal"}]}  # fmt: skip
    else:
        rr["extension"] = [{"url": RANGE_ORIGIN_URL, "valueCode": "profile"}]
        rr["text"] = f"leukon reference profile: {v.range_source}"
    return [rr]


def to_fhir(
    assessment: Assessment,
    *,
    effective: dt.datetime | str | None = None,
    patient_id: str | None = None,
) -> dict:
    """The assessment as a FHIR R4 Bundle (a JSON-ready dict), validated against the R4B models.

    `effective` is the time of the count (ISO 8601 text or a datetime; now, in UTC, when omitted);
    `patient_id` names the Patient (a stable id derived from the content when omitted).
    """
    when = _effective(effective)
    pid = patient_id or str(uuid.uuid5(_NS, assessment.to_json()))[:18]
    patient_url = _urn("patient", pid)
    subject = {"reference": patient_url}
    entries: list[dict] = [{"fullUrl": patient_url, "resource": _patient(assessment, pid, when)}]
    urls = {analyte: _urn(pid, when, "value", analyte) for analyte in assessment.values}
    for analyte, v in assessment.values.items():
        entries.append(
            {"fullUrl": urls[analyte], "resource": _value_observation(assessment, analyte, v, subject, when, urls)}
        )
    for g in assessment.grades:
        url = _urn(pid, when, "grade", g.scheme, g.term)
        entries.append({"fullUrl": url, "resource": _grade_observation(g, subject, when, urls)})
    report_url = _urn(pid, when, "report")
    entries.append(
        {"fullUrl": report_url, "resource": _report(assessment, subject, when, [e["fullUrl"] for e in entries[1:]])}
    )
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": when, "entry": entries}
    validate(bundle)
    return bundle


def to_fhir_json(assessment: Assessment, **options: Any) -> str:
    """`to_fhir` as indented JSON text."""
    return json.dumps(to_fhir(assessment, **options), ensure_ascii=False, indent=2)


def validate(bundle: dict) -> None:
    """Raise ValueError naming the first field that makes `bundle` invalid FHIR R4 (a bug in this module)."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    try:
        Bundle.model_validate(bundle)
    except ValidationError as e:
        raise ValueError(f"leukon wrote an invalid FHIR Bundle: {e.errors()[0]}") from None


def _tag() -> dict:
    return {"tag": [dict(LEUKON_TAG, display="computed by leukon")]}


def _patient(assessment: Assessment, pid: str, when: str) -> dict:
    p: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    sex = assessment.patient.get("sex")
    p["gender"] = sex if sex in ("female", "male") else "unknown"
    if assessment.patient.get("ancestry"):
        p["extension"] = [{"url": ANCESTRY_URL, "valueCode": assessment.patient["ancestry"]}]
    age = assessment.patient.get("age_days")
    if age is not None:
        day = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).date()
        p["birthDate"] = (day - dt.timedelta(days=int(age))).isoformat()
    return p


def _value_observation(assessment: Assessment, analyte: str, v, subject: dict, when: str, urls: dict) -> dict:
    a = ANALYTES[analyte]
    derived = v.method != "measured"
    code = DERIVED_LOINC.get(analyte, a.loinc[0]) if derived else a.loinc[0]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs" if analyte == "temperature" else "laboratory"}]}],
        "code": {"coding": [{"system": LOINC, "code": code}], "text": a.name},
        "subject": subject,
        "effectiveDateTime": when,
        "valueQuantity": _quantity(v.value, v.unit),
    }  # fmt: skip
    flag = interpretation(assessment, analyte)
    if flag:
        obs["interpretation"] = [
            {"coding": [{"system": INTERPRETATION, "code": flag, "display": _INTERPRETATION_NAMES[flag]}]}
        ]
    rr = _reference_range(v)
    if rr:
        obs["referenceRange"] = rr
    if derived:
        obs["meta"] = _tag()
        inputs = _inputs_of(assessment, analyte)
        obs["derivedFrom"] = [{"reference": urls[i]} for i in inputs]
        formula = {"derived_with_bands": "WBC x (neutrophils % + bands %) / 100",
                   "derived_without_bands": "WBC x neutrophils % / 100 (no bands given)"}.get(
                       v.method, "WBC x percentage / 100")  # fmt: skip
        obs["method"] = {"text": f"calculated by leukon from the differential: {formula} ({v.method})"}
    return obs


def _grade_observation(g, subject: dict, when: str, urls: dict) -> dict:
    s = SCHEMES[g.scheme]
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": _tag(),
        "status": "final",
        "code": {"coding": [{"system": "urn:leukon:term", "code": f"{g.scheme}/{g.term}"}],
                 "text": f"{g.term}: grade ({s.name})"},
        "subject": subject,
        "effectiveDateTime": when,
        "method": {"coding": [{"system": "urn:leukon:scheme", "code": g.scheme, "display": s.name}], "text": s.source},
    }  # fmt: skip
    if g.grade is None:
        obs["dataAbsentReason"] = {"coding": [{"system": DATA_ABSENT, "code": "unknown"}], "text": g.reason}
    else:
        obs["valueInteger"] = g.grade
    notes = [x for x in (g.label, g.action, g.monitoring) if x]
    if notes:
        obs["note"] = [{"text": x} for x in notes]
    graded = [g.analyte, "temperature"] if s.term(g.term).kind == "febrile_neutropenia" else [g.analyte]
    sources = [urls[a] for a in graded if a in urls]
    if sources:
        obs["derivedFrom"] = [{"reference": u} for u in sources]
    return obs


def _report(assessment: Assessment, subject: dict, when: str, results: list[str]) -> dict:
    lines = [f"{f.label}" + (f" ({f.detail})" if f.detail else "") for f in assessment.findings] or [
        "no white-cell finding"
    ]
    lines += [f"warning: {w.message}" for w in assessment.warnings]
    lines += [f"not assessed: {n.message}" for n in assessment.not_assessed]
    lines.append(assessment.disclaimer)
    codes = [
        {"coding": [{"system": SNOMED, "code": FINDING_SNOMED[f.code][0], "display": FINDING_SNOMED[f.code][1]}]}
        for f in assessment.findings
        if f.code in FINDING_SNOMED
    ]
    rep: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "meta": _tag(),
        "status": "final",
        "code": {
            "coding": [{"system": LOINC, "code": "58410-2"}],
            "text": "White-cell interpretation of a CBC by leukon",
        },
        "subject": subject,
        "effectiveDateTime": when,
        "result": [{"reference": u} for u in results],
        "conclusion": "\n".join(lines),
    }
    if codes:
        rep["conclusionCode"] = codes
    return rep
