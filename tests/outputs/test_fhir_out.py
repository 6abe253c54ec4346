"""FHIR R4 out: the Bundle validates, says what leukon computed, and reads back to the same assessment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leukon
from leukon.cli import main
from leukon.outputs.fhir import RANGE_ORIGIN_URL, to_fhir, validate
from leukon.pipelines.assess import assess_mapping
from leukon.sources.fhir import read_fhir, read_fhir_cbc

FHIR = Path(__file__).parents[1] / "data" / "fhir"
WHEN = "2024-05-02T08:30:00Z"


def by_code(bundle: dict) -> dict[str, dict]:
    """Value Observations by their LOINC code (grades and the report are left out)."""
    out = {}
    for e in bundle["entry"]:
        r = e["resource"]
        coding = (r.get("code") or {}).get("coding") or [{}]
        if r["resourceType"] == "Observation" and coding[0].get("system") == "http://loinc.org":
            out[coding[0]["code"]] = r | {"fullUrl": e["fullUrl"]}
    return out


def comparable(a) -> dict:
    """An assessment as a dict, without the raw value and unit as typed (FHIR carries the canonical unit)."""
    d = a.to_dict()
    for v in d["values"].values():
        v.pop("raw_value")
        v.pop("raw_unit")
    return d


def round_trip(a):
    cbc = read_fhir_cbc(to_fhir(a, effective=WHEN))
    return assess_mapping(cbc.values, **cbc.options)


def test_bundle_is_valid_r4_and_interprets_against_the_range_used() -> None:
    a = leukon.assess(wbc=12.5, anc=0.3, lymphocytes=1.0, lln={"wbc": 4.0, "anc": 1.8}, uln={"wbc": 11.0}, age_years=50)
    b = to_fhir(a, effective=WHEN)
    Bundle.model_validate(b)  # the same models the reader validates with
    obs = by_code(b)
    flag = {code: o["interpretation"][0]["coding"][0]["code"] for code, o in obs.items() if "interpretation" in o}
    assert flag == {"6690-2": "H", "751-8": "LL", "731-0": "N"}  # ANC 0.3: CTCAE v5 grade 4, so critically low
    assert obs["751-8"]["referenceRange"][0]["type"]["coding"][0]["code"] == "normal"  # the lab's own range
    profile_rr = obs["731-0"]["referenceRange"][0]  # lymphocytes: a leukon profile range, marked as such
    assert profile_rr["extension"] == [{"url": RANGE_ORIGIN_URL, "valueCode": "profile"}]
    assert "interpretation" in obs["751-8"] and obs["751-8"]["valueQuantity"]["code"] == "10*9/L"


def test_low_but_not_critical_is_L() -> None:
    b = to_fhir(leukon.assess(wbc=4.6, anc=0.9, lln={"anc": 1.8}), effective=WHEN)
    assert by_code(b)["751-8"]["interpretation"][0]["coding"][0]["code"] == "L"
    assert by_code(b)["6690-2"]["interpretation"][0]["coding"][0]["code"] == "N"


def test_derived_anc_references_its_inputs() -> None:
    a = leukon.assess(wbc=(3100, "/uL"), neutrophils_pct=20, bands_pct=5, age_years=34)
    obs = by_code(to_fhir(a, effective=WHEN))
    anc = obs["26499-4"]  # a calculated ANC is not an automated count
    assert {r["reference"] for r in anc["derivedFrom"]} == {obs[c]["fullUrl"] for c in ("6690-2", "770-8", "26508-2")}
    assert "WBC x (neutrophils % + bands %) / 100" in anc["method"]["text"]
    assert anc["meta"]["tag"][0]["code"] == "leukon-output" and anc["valueQuantity"]["value"] == pytest.approx(0.775)


def test_one_observation_per_grade_with_the_scheme_as_method() -> None:
    a = leukon.assess(wbc=2.0, anc=1.6)  # no age: DAIDS cannot grade
    b = to_fhir(a, effective=WHEN)
    grades = [
        e["resource"]
        for e in b["entry"]
        if e["resource"].get("method", {}).get("coding", [{}])[0].get("system") == "urn:leukon:scheme"
    ]
    assert len(grades) == len(a.grades)
    daids = next(
        g for g in grades if g["code"]["coding"][0]["code"] == "daids-v2.1/Absolute Neutrophil Count (ANC), Low"
    )
    assert "valueInteger" not in daids and daids["dataAbsentReason"]["text"].startswith("age needed")
    wbc5 = next(g for g in grades if g["code"]["coding"][0]["code"] == "ctcae-v5/White blood cell decreased")
    assert wbc5["valueInteger"] == 2 and wbc5["method"]["coding"][0]["code"] == "ctcae-v5"
    report = b["entry"][-1]["resource"]
    assert report["resourceType"] == "DiagnosticReport"
    assert {c["coding"][0]["code"] for c in report["conclusionCode"]} == {"84828003"}  # leukopenia (SNOMED CT)


def test_round_trip_spec_example_and_derived() -> None:
    cbc = read_fhir_cbc(FHIR / "cbc-report-contained.json")
    a = assess_mapping(cbc.values, **cbc.options)
    assert comparable(round_trip(a)) == comparable(a)
    d = leukon.assess(wbc=(3100, "/uL"), neutrophils_pct=20, bands_pct=5, age_years=34, sex="female", temperature=38.6)
    assert comparable(round_trip(d)) == comparable(d)


def test_reading_back_ignores_leukons_own_output() -> None:
    src = read_fhir(to_fhir(leukon.assess(wbc=2.0, neutrophils_pct=30), effective=WHEN))
    m, r = src.collect()
    assert sorted(m["analyte"].cast(str).to_list()) == ["neutrophils_pct", "wbc"]
    assert set(r["reason"]) == {"leukon's own output (a derived count or a grade), not a lab result"}


def test_validate_names_the_problem() -> None:
    with pytest.raises(ValueError, match="invalid FHIR Bundle"):
        validate(
            {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {"resourceType": "Observation"}}]}
        )


_COUNT = st.floats(min_value=0.05, max_value=30, allow_nan=False).map(lambda x: round(x, 2))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    wbc=_COUNT,
    anc=st.none() | _COUNT,
    pct=st.none() | st.integers(0, 90),
    lab_lln=st.none() | st.floats(0.5, 4.0).map(lambda x: round(x, 1)),
    sex=st.sampled_from([None, "female", "male"]),
    age_days=st.none() | st.integers(1, 36000),
    ancestry=st.sampled_from([None, "duffy-null"]),
)
def test_round_trip_property(wbc, anc, pct, lab_lln, sex, age_days, ancestry) -> None:
    """out -> in gives the same assessment for any CBC: values, ranges, findings, grades, warnings."""
    values = (
        {"wbc": wbc} | ({"anc": anc} if anc is not None else {}) | ({"neutrophils_pct": pct} if pct is not None else {})
    )
    lln = {"wbc": lab_lln} if lab_lln else None
    a = assess_mapping(values, lln=lln, sex=sex, age_days=age_days, ancestry=ancestry)
    assert comparable(round_trip(a)) == comparable(a)


def test_cli_assess_output_fhir_reads_back(capsys) -> None:
    assert main(["assess", "--hl7", str(FHIR.parent / "hl7v2" / "oru-cbc.hl7"), "--output", "fhir"]) == 0
    out = capsys.readouterr()
    bundle = json.loads(out.out)
    assert bundle["entry"][0]["resource"]["id"] == "PAT1001"
    assert "leukon: not used: LOINC 789-8" in out.err  # what the message held but leukon did not use
    cbc = read_fhir_cbc(bundle)
    assert cbc.values["anc"]["value"] == 0.9 and cbc.values["anc"]["lln"] == 1.8


def test_cli_assess_fhir_errors_are_one_line(capsys) -> None:
    assert main(["assess", "--fhir", str(FHIR / "truncated.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "malformed JSON" in err[0]
    assert main(["assess", "--fhir", str(FHIR / "cbc-report-contained.json"), "--wbc", "3"]) == 2
    assert "values come from the message" in capsys.readouterr().err
