"""CDS Hooks 2.0 logic: discovery, patient-view and order-sign on requests shaped as the specification shows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from leukon.errors import InputError
from leukon.outputs.cds_hooks import (
    ORDER_SIGN_ID,
    PATIENT_VIEW_ID,
    discovery,
    monitoring_interval_days,
    order_sign,
    patient_view,
)
from leukon.rules.criteria import scheme

FHIR = Path(__file__).parents[1] / "data" / "fhir"
SPEC_CBC = json.loads((FHIR / "cbc-report-contained.json").read_text())  # WBC 4.6, ANC 0.9 on 2024-05-02


def cbc_bundle(wbc: float, anc: float, when: str = "2024-05-02T08:00:00Z", temp: float | None = None) -> dict:
    """A searchset of loose Observations, as a FHIR server answers the prefetch query."""

    def obs(code: str, value: float, unit: str) -> dict:
        return {"resource": {"resourceType": "Observation", "status": "final",
                             "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                             "subject": {"reference": "Patient/pat-1"}, "effectiveDateTime": when,
                             "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                                               "code": unit}}}  # fmt: skip

    entries = [obs("6690-2", wbc, "10*3/uL"), obs("751-8", anc, "10*3/uL")]
    if temp is not None:
        entries.append(obs("8310-5", temp, "Cel"))
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def view(prefetch: dict, patient: str = "pat-1") -> dict:
    return {"hook": "patient-view", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/example", "patientId": patient}, "prefetch": prefetch}  # fmt: skip


def sign(prefetch: dict, medicine: str, patient: str = "pat-1") -> dict:
    order = {"resourceType": "MedicationRequest", "status": "draft", "intent": "order",
             "medicationCodeableConcept": {"text": medicine}, "subject": {"reference": f"Patient/{patient}"}}  # fmt: skip
    return {"hook": "order-sign", "hookInstance": "a2b3", "prefetch": prefetch,
            "context": {"userId": "Practitioner/example", "patientId": patient,
                        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": order}]}}}  # fmt: skip


def test_discovery_lists_both_hooks_with_prefetch() -> None:
    services = {s["id"]: s for s in discovery()["services"]}
    assert set(services) == {PATIENT_VIEW_ID, ORDER_SIGN_ID}
    assert services[PATIENT_VIEW_ID]["hook"] == "patient-view" and services[ORDER_SIGN_ID]["hook"] == "order-sign"
    for s in services.values():
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert "http://loinc.org|751-8" in s["prefetch"]["observations"]
        assert "http://loinc.org|58410-2" in s["prefetch"]["cbc"]
    json.dumps(discovery())  # a JSON document as it stands


def test_patient_view_spec_example_is_a_warning_with_grade_and_source() -> None:
    cards = patient_view(view({"cbc": SPEC_CBC}))["cards"]
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "warning" and len(card["summary"]) <= 140
    assert card["summary"].startswith("Neutropenia") and "CTCAE v5.0 grade 3" in card["summary"]
    assert "Neutropenia with a normal total white count" in card["detail"]
    assert card["source"]["url"].startswith("https://") and "CTCAE" in card["source"]["label"]


@pytest.mark.parametrize(
    ("wbc", "anc", "temp", "indicator"),
    [
        (6.0, 3.0, None, "info"),  # nothing low
        (3.0, 1.2, None, "warning"),  # leukopenia and neutropenia
        (0.8, 0.3, None, "critical"),  # CTCAE v5.0 grade 4
        (2.5, 0.4, 38.6, "critical"),  # febrile neutropenia
    ],
)
def test_patient_view_indicator(wbc: float, anc: float, temp: float | None, indicator: str) -> None:
    card = patient_view(view({"observations": cbc_bundle(wbc, anc, temp=temp)}))["cards"][0]
    assert card["indicator"] == indicator


def test_patient_view_takes_the_latest_cbc() -> None:
    older = cbc_bundle(1.0, 0.2, when="2024-01-01T08:00:00Z")
    newer = cbc_bundle(6.0, 3.0, when="2024-03-01T08:00:00Z")
    merged = {"resourceType": "Bundle", "type": "searchset", "entry": older["entry"] + newer["entry"]}
    card = patient_view(view({"observations": merged}))["cards"][0]
    assert card["indicator"] == "info" and "2024-03-01" in card["summary"]


def test_patient_view_without_cbc_or_with_unusable_cbc() -> None:
    empty = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    assert patient_view(view({"observations": empty})) == {"cards": []}
    bad = cbc_bundle(4.0, 2.0)
    for e in bad["entry"]:
        e["resource"]["status"] = "preliminary"
    card = patient_view(view({"observations": bad}))["cards"][0]
    assert card["indicator"] == "info" and card["summary"] == "White cells not assessed"
    assert "preliminary" in card["detail"]
    # Another patient's results are not this patient's CBC.
    assert (
        patient_view(view({"observations": cbc_bundle(1.0, 0.2)}, patient="someone-else"))["cards"][0]["summary"]
        == "White cells not assessed"
    )


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"hook": "order-select", "context": {"patientId": "1"}, "prefetch": {}}, "hook"),
        ({"hook": "patient-view", "context": {}, "prefetch": {}}, "context.patientId"),
        ({"hook": "patient-view", "context": {"patientId": "1"}}, "prefetch"),
        ({"hook": "patient-view", "context": {"patientId": "1"}, "prefetch": {"cbc": [1, 2]}}, "prefetch.cbc"),
    ],
)
def test_bad_requests_name_the_field(request_: dict, field: str) -> None:
    with pytest.raises(InputError) as e:
        patient_view(request_)
    assert e.value.field == field


def test_monitoring_intervals_come_from_the_clozapine_scheme() -> None:
    t = scheme("clozapine").term("ANC monitoring, general population")
    assert monitoring_interval_days(t.grade0_monitoring) == 7  # weekly in the first 6 months
    by_grade = {r.grade: monitoring_interval_days(r.monitoring) for r in t.rules}
    assert by_grade == {3: 1, 2: 1, 1: 3}  # daily, daily, three times a week
    with pytest.raises(ValueError, match="no monitoring frequency"):
        monitoring_interval_days("as the prescriber decides")


NOW = dt.datetime(2024, 5, 4, 12, tzinfo=dt.UTC)  # two days after the spec CBC


def test_order_sign_clozapine_with_low_anc_is_critical_with_the_label_action() -> None:
    cards = order_sign(sign({"cbc": SPEC_CBC}, "Clozaril 100 mg tablet"), now=NOW)["cards"]
    low = cards[0]
    assert low["indicator"] == "critical" and "moderate neutropenia" in low["summary"]
    assert "Interrupt clozapine" in low["detail"] and "clozapine" in low["source"]["label"].lower()
    # ANC 0.9 asks for daily counts; the last one is two days old, so a second card asks for a new count.
    stale = cards[1]
    assert stale["summary"].startswith("Last ANC is 2 days old; clozapine monitoring asks every 1 day")
    assert stale["suggestions"][0]["actions"][0]["resource"]["resourceType"] == "ServiceRequest"


def test_order_sign_clozapine_normal_anc_fresh_and_stale() -> None:
    prefetch = {"observations": cbc_bundle(6.0, 3.0, when="2024-05-01T08:00:00Z")}
    fresh = order_sign(sign(prefetch, "clozapine 25 mg"), now=dt.datetime(2024, 5, 6, tzinfo=dt.UTC))
    assert fresh == {"cards": []}  # 5 days old, weekly monitoring: nothing to say
    stale = order_sign(sign(prefetch, "clozapine 25 mg"), now=dt.datetime(2024, 5, 10, tzinfo=dt.UTC))["cards"]
    assert [c["indicator"] for c in stale] == ["warning"] and "every 7 days" in stale[0]["summary"]


def test_order_sign_chemotherapy() -> None:
    low = order_sign(sign({"observations": cbc_bundle(1.5, 0.4)}, "Carboplatin 450 mg IV"), now=NOW)["cards"]
    assert low[0]["indicator"] == "critical" and low[0]["summary"].startswith("ANC 0.4 is low before chemotherapy")
    ok = {"observations": cbc_bundle(6.0, 3.0, when="2024-04-01T08:00:00Z")}
    assert order_sign(sign(ok, "paclitaxel"), now=NOW) == {"cards": []}  # no interval unless the service sets one
    stale = order_sign(sign(ok, "paclitaxel"), now=NOW, chemo_max_age_days=7)["cards"]
    assert len(stale) == 1 and stale[0]["summary"].startswith("Last ANC is 33 days old")


def test_order_sign_other_medicines_and_missing_anc() -> None:
    assert order_sign(sign({"cbc": SPEC_CBC}, "paracetamol 1 g"), now=NOW) == {"cards": []}
    empty = {"observations": {"resourceType": "Bundle", "type": "searchset", "entry": []}}
    card = order_sign(sign(empty, "Clozaril"), now=NOW)["cards"][0]
    assert card["indicator"] == "warning" and card["summary"].startswith("No ANC on record before clozapine")


def test_odd_prefetch_shapes_are_input_errors_or_no_card() -> None:
    with pytest.raises(InputError) as e:
        patient_view(view({"cbc": {"resourceType": "Bundle", "type": "searchset", "entry": "x"}}))
    assert e.value.field == "prefetch.cbc"
    odd = {"resourceType": "Bundle", "type": "searchset", "entry": [5, "x", {"resource": {"resourceType": "Basic"}}]}
    assert patient_view(view({"observations": odd})) == {"cards": []}
