"""FHIR $assess and CDS Hooks over HTTP: the same answers as the CLI and the pure hook functions."""

import json
from pathlib import Path

import pytest

from leukon.cli.app import main
from leukon.outputs.cds_hooks import ORDER_SIGN_ID, PATIENT_VIEW_ID, discovery, patient_view

FHIR = Path(__file__).parents[1] / "data" / "fhir"
REPORT = FHIR / "cbc-report-contained.json"  # WBC 4.6, ANC 0.9 on 2024-05-02, and a red-cell count


def test_fhir_assess_is_the_cli_bundle_plus_what_was_not_used(client, capsys):
    assert main(["assess", "--fhir", str(REPORT), "--output", "fhir"]) == 0
    out, err = capsys.readouterr()
    expected = json.loads(out)
    r = client.post("/fhir/$assess", content=REPORT.read_bytes(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/fhir+json"
    bundle = r.json()
    *entries, outcome = bundle["entry"]
    assert {**bundle, "entry": entries} == expected
    assert outcome["resource"]["resourceType"] == "OperationOutcome"
    issues = [i["diagnostics"] for i in outcome["resource"]["issue"]]
    lines = err.splitlines()
    not_used = [x.removeprefix("leukon: ") for x in lines if x.startswith("leukon: not used: ")]
    notes = [x.removeprefix("leukon: note: ") for x in lines if x.startswith("leukon: note: ")]
    assert not_used and issues == not_used + notes  # every line the CLI printed to stderr, in the Bundle
    kinds = {e["resource"]["resourceType"] for e in entries}
    assert {"Patient", "Observation", "DiagnosticReport"} <= kinds


@pytest.mark.parametrize(
    "doc, field",
    [
        ({"resourceType": "Patient", "id": "x"}, "resourceType"),
        ({"wbc": 4.6, "anc": 0.9}, "resourceType"),
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, "input"),
    ],
)
def test_fhir_assess_errors_name_the_field(client, doc, field):
    r = client.post("/fhir/$assess", json=doc)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["field"] == field


def _view(prefetch: dict | None) -> dict:
    req = {
        "hook": "patient-view",
        "hookInstance": "d1577c69",
        "context": {"userId": "Practitioner/1", "patientId": "pat-1"},
    }
    return req | ({} if prefetch is None else {"prefetch": prefetch})


def test_cds_discovery_and_patient_view(client):
    assert client.get("/cds-services").json() == discovery()
    request = _view({"cbc": json.loads(REPORT.read_text())})
    r = client.post(f"/cds-services/{PATIENT_VIEW_ID}", json=request)
    assert r.status_code == 200
    assert r.json() == patient_view(request)
    [card] = r.json()["cards"]
    assert card["indicator"] == "warning" and card["summary"].startswith("Neutropenia")


def test_cds_without_prefetch_is_412_and_unknown_service_404(client):
    r = client.post(f"/cds-services/{PATIENT_VIEW_ID}", json=_view(None))
    assert r.status_code == 412 and r.json()["field"] == "prefetch" and r.json()["status"] == 412
    r = client.post("/cds-services/nope", json=_view(None))
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.post(f"/cds-services/{ORDER_SIGN_ID}", json=_view({"cbc": {}}))
    assert r.status_code == 422 and r.json()["field"] == "hook"


def test_hooks_need_the_token_but_discovery_does_not(make_client):
    client = make_client(token="t0k")
    assert client.get("/cds-services").status_code == 200
    assert client.post(f"/cds-services/{PATIENT_VIEW_ID}", json=_view(None)).status_code == 401
    assert client.post("/fhir/$assess", json={"resourceType": "Bundle"}).status_code == 401
