"""The JSON API answers exactly what the CLI answers, on the same input, through the same functions."""

import io
import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon.cli.app import main
from leukon.pipelines.assess import assess_mapping

PROBLEM = "application/problem+json"


def cli_assess(monkeypatch, capsys, doc: dict | str) -> tuple[int, dict | None, str]:
    """`leukon assess --json - --explain` on `doc`: (exit code, JSON printed, stderr)."""
    text = doc if isinstance(doc, str) else json.dumps(doc)
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    code = main(["assess", "--json", "-", "--explain"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err.strip()


CBCS = [
    {"wbc": {"value": 2.0, "unit": "K/uL"}, "anc": 0.7, "age_years": 56},
    {"wbc": 3100, "neutrophils_pct": 20, "bands_pct": 5, "lln": {"wbc": 3500}, "units": {"wbc": "/uL"},
     "sex": "female", "age_years": 34},
    {"anc": 0.3, "temperature": {"value": 101.3, "unit": "[degF]"}, "age_years": 60},
    {"wbc": 3.2, "anc": 2.1, "lymphocytes": 0.6, "age_years": 40},
    {"anc": 1.3, "ancestry": "duffy-null", "age_years": 30, "lln": {"anc": 1.8}},
    {"anc": 1.0, "age_days": 400, "schemes": ["daids-v2.1"]},
]  # fmt: skip


@pytest.mark.parametrize("doc", CBCS)
def test_assess_is_the_cli_document(client, monkeypatch, capsys, doc):
    code, expected, _ = cli_assess(monkeypatch, capsys, doc)
    assert code == 0
    r = client.post("/assess", json=doc)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == expected


def test_fever_with_neutropenia_is_an_emergency_with_an_urgent_section(client):
    r = client.post("/assess", json={"anc": 0.3, "temperature": {"value": 38.6, "unit": "Cel"}})
    doc = r.json()
    assert doc["emergency"] is True
    assert "febrile_neutropenia" in [f["code"] for f in doc["findings"]]
    assert doc["explanation"]["sections"][0]["id"] == "urgent"


def test_explanation_options_audience_medicines_and_html(client):
    body = {"anc": 0.4, "explanation": {"audience": "clinician", "medicines": ["Clozaril 100 mg"], "html": True}}
    doc = client.post("/assess", json=body).json()
    assert doc["explanation"]["audience"] == "clinician"
    assert "clozapine" in json.dumps(doc["explanation"]).lower()
    assert doc["explanation_html"].startswith('<section class="leukon-explanation"')
    assert "<style>" not in doc["explanation_html"]  # the page serves the CSS as a file (CSP: no inline style)
    assert "explanation" not in client.post("/assess", json={"anc": 0.4, "explanation": None}).json()


BAD = [
    {"wbc": -1},
    {"wbc": "abc"},
    {"wbc": "nan"},
    {"neutrophils_pct": 120, "wbc": 3},
    {"wbc": 4600, "units": {"wbc": "10^9/L"}},
    {"wbc": {"value": 3, "unit": "mg/dL"}},
    {"wbc": {"value": 3, "colour": "red"}},
    {"foo": 1},
    {"wbc": 3, "age_years": "old"},
    {"wbc": 3, "age_days": 1.5},
    {"wbc": 3, "sex": "x"},
    {"wbc": 3, "profile": "nope"},
    {"wbc": 3, "schemes": ["ctcae-v9"]},
    {"wbc": 3, "lln": {"wbc": 5}, "uln": {"wbc": 4}},
    {"wbc": 3, "lln": {"zzz": 5}},
    {},
]


@pytest.mark.parametrize("doc", BAD, ids=[json.dumps(d)[:40] for d in BAD])
def test_bad_input_is_a_problem_with_the_cli_message(client, monkeypatch, capsys, doc):
    code, _, err = cli_assess(monkeypatch, capsys, doc)
    assert code == 2 and err.startswith("leukon assess: error: ")
    r = client.post("/assess", json=doc)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    p = r.json()
    assert p["status"] == 422 and p["type"] == "about:blank"
    assert p["detail"] == err.removeprefix("leukon assess: error: ")
    assert p["field"] and p["field"].split(".")[0] in p["detail"]


def test_malformed_json_and_a_non_object_name_the_body(client):
    r = client.post("/assess", content=b'{"wbc": 3,', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "json"
    r = client.post("/assess", json=[1, 2])
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM and r.json()["field"]


def test_structural_errors_name_the_field(client):
    r = client.post("/assess", json={"wbc": 3, "units": ["wbc"]})
    assert r.status_code == 422 and r.json()["field"] == "units"
    r = client.post("/assess", json={"wbc": 3, "explanation": {"audience": "parrot"}})
    assert r.status_code == 422 and r.json()["field"] == "explanation.audience"


finite = st.floats(min_value=0, max_value=50, allow_nan=False).map(lambda x: round(x, 2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wbc=finite, anc=st.one_of(st.none(), finite), age=st.one_of(st.none(), st.integers(0, 100)))
def test_property_service_equals_the_library(client, wbc, anc, age):
    doc = {"wbc": wbc, "age_years": age} | ({} if anc is None else {"anc": anc})
    r = client.post("/assess", json=doc | {"explanation": None})
    try:
        expected = assess_mapping({k: v for k, v in doc.items() if k in ("wbc", "anc")}, age_years=age).to_dict()
    except ValueError as e:  # InputError: the service must say the same
        assert r.status_code == 422 and r.json()["detail"] == str(e)
        return
    assert r.status_code == 200 and r.json() == json.loads(json.dumps(expected))


GRADES = [
    {"scheme": "ctcae-v5", "term": "Neutrophil count decreased", "value": 700, "unit": "cells/uL"},
    {"scheme": "ctcae-v5", "term": "Neutrophil count decreased", "value": 0.7},  # bare: read in 10^9/L
    {"scheme": "ctcae-v5", "term": "White blood cell decreased", "value": 3.5, "lln": 4.0},
    {"scheme": "daids-v2.1", "term": "Absolute Neutrophil Count (ANC), Low", "value": 1000, "unit": "cells/uL",
     "age_days": 400},
    {"scheme": "daids-v2.1", "term": "Absolute Neutrophil Count (ANC), Low", "value": 1.0},  # no age
    {"scheme": "ctcae-v5", "term": "Neutrophil count decreased", "value": 700},  # bare 700: probably cells/uL
]  # fmt: skip


@pytest.mark.parametrize("body", GRADES)
def test_grade_is_the_cli_grade(client, capsys, body):
    flags = {"scheme": "--scheme", "term": "--term", "value": "--value", "unit": "--unit", "lln": "--lln",
             "age_days": "--age-days"}  # fmt: skip
    code = main(["grade", "--json", *[x for k, v in body.items() for x in (flags[k], str(v))]])
    out, err = capsys.readouterr()
    r = client.post("/grade", json=body)
    if code == 0:
        assert r.status_code == 200 and r.json() == json.loads(out)
    else:
        assert code == 2 and r.status_code == 422
        assert r.json()["detail"] == err.strip().removeprefix("leukon grade: error: ")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"scheme": "ctcae-v9", "term": "Neutrophil count decreased", "value": 0.7}, "scheme"),
        ({"scheme": "ctcae-v5", "term": "Neutrophil count low", "value": 0.7}, "term"),
        ({"scheme": "ctcae-v5", "term": "Neutrophil count decreased", "value": 0.7, "unit": "mg/dL"}, "anc"),
        ({"scheme": "ctcae-v5", "term": "Neutrophil count decreased", "value": -2}, "anc"),
        ({"scheme": "ctcae-v5", "term": "Neutrophil count decreased"}, "value"),
    ],
)
def test_grade_errors_name_the_field(client, body, field):
    r = client.post("/grade", json=body)
    assert r.status_code == 422 and r.json()["field"] == field


SERIES_CSV = "patient_id,taken_at,anc,wbc\n" + "".join(
    f"P1,2024-01-{d:02d},{a},{w}\n" for d, a, w in [(1, 3.1, 5.0), (5, 0.9, 2.6), (9, 0.3, 1.5), (13, 0.2, 1.4),
                                                    (17, 0.7, 2.2), (21, 1.6, 3.9), (25, 2.4, 4.8)]
)  # fmt: skip


def test_follow_csv_gives_the_cli_course_and_an_svg_chart(client, tmp_path, capsys):
    path = tmp_path / "series.csv"
    path.write_text(SERIES_CSV)
    assert main(["follow", str(path), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    r = client.post("/follow", json={"csv": SERIES_CSV})
    assert r.status_code == 200
    doc = r.json()
    svg = doc.pop("chart_svg")
    assert doc == expected
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<script" not in svg
    [patient] = doc["patients"]
    assert patient["episodes"][0]["nadir"] == 0.2


def test_follow_json_records_convert_units_like_the_cli(client):
    series = [{"patient_id": "P1", "taken_at": "2024-01-01", "anc": 2100, "unit": "cells/uL"},
              {"patient_id": "P1", "taken_at": "2024-01-04", "anc": 0.4}]  # fmt: skip
    doc = client.post("/follow", json={"series": series, "chart": False}).json()
    values = [c["value"] for c in doc["patients"][0]["courses"]["neutrophils"]["evidence"]] or None
    assert "chart_svg" not in doc
    assert doc["patients"][0]["episodes"][0]["nadir"] == 0.4, values


def test_follow_dates_nothing_settles_need_time_format(client):
    csv = "patient_id,taken_at,anc\nP1,03/01/2024,0.4\nP1,04/01/2024,1.2\n"
    r = client.post("/follow", json={"csv": csv, "chart": False})
    assert r.status_code == 422 and r.json()["field"] == "taken_at", r.text
    starts = {fmt: client.post("/follow", json={"csv": csv, "chart": False, "time_format": fmt}).json()["patients"][0][
        "episodes"][0]["start"] for fmt in ("%d/%m/%Y", "%m/%d/%Y")}  # fmt: skip
    assert starts == {"%d/%m/%Y": "2024-01-03T00:00:00", "%m/%d/%Y": "2024-03-01T00:00:00"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"csv": SERIES_CSV.replace("2024-01-05", "5th of Jan")}, "taken_at"),
        ({"csv": SERIES_CSV + "P2,2024-01-02,1.0,3.0\n"}, "patient_id"),
        ({"csv": SERIES_CSV, "patient_id": "P9"}, "patient"),
        ({"csv": SERIES_CSV, "series": []}, "series"),
        ({"series": [{"patient_id": "P1", "taken_at": "2024-01-01", "anc": -3}]}, "anc"),
        ({"csv": SERIES_CSV, "scheme": "who"}, "scheme"),
    ],
)
def test_follow_errors_name_the_field(client, body, field):
    r = client.post("/follow", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_screen_parquet_upload_accounts_for_every_row(client, tmp_path):
    rows = pl.DataFrame(
        {
            "patient_id": ["A", "A", "B", "B", "C"],
            "taken_at": ["2024-01-01 08:00"] * 5,
            "analyte": ["wbc", "anc", "wbc", "anc", "wbc"],
            "value": [2.0, 0.4, 6.1, 3.2, -5.0],
            "unit": ["10^9/L", "10^9/L", "10^9/L", "10^9/L", "10^9/L"],
        }
    )
    path = tmp_path / "labs.parquet"
    rows.write_parquet(path)
    with path.open("rb") as f:
        r = client.post("/screen", files={"file": ("labs.parquet", f, "application/octet-stream")},
                        data={"format": "long"})  # fmt: skip
    assert r.status_code == 200, r.text
    doc = r.json()
    s = doc["summary"]
    assert s["rows_read"] == 5 == s["rows_used"] + s["rows_rejected"]
    assert doc["rejects"]["rows"] == 1 and doc["panels"]["rows"] == 2
    findings = {p["patient_id"]: p["findings"] for p in doc["panels"]["records"]}
    assert "neutropenia" in findings["A"] and "neutropenia" not in findings["B"]


def test_screen_rejects_an_unknown_format_and_file_type(client):
    r = client.post("/screen", files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")}, data={"format": "xml"})
    assert r.status_code == 422 and r.json()["field"] == "format" and "'hl7v2'" in r.json()["detail"]
    r = client.post("/screen", files={"file": ("x.exe", b"MZ", "application/octet-stream")})
    assert r.status_code == 422 and r.json()["field"] == "file"
    r = client.post("/screen", data={"format": "long"})
    assert r.status_code == 422 and r.json()["field"] == "file"


@pytest.mark.parametrize("csv", ["a,b\n1,2\n", "patient_id,taken_at\n", '"unclosed,quote\n1,2', ""])
def test_follow_unreadable_csv_is_a_problem_without_paths(client, csv):
    r = client.post("/follow", json={"csv": csv})
    assert r.status_code == 422, r.text
    assert r.json()["field"] in ("csv", "taken_at", "patient_id", "anc")
    assert "/tmp" not in r.text and "leukon-follow" not in r.text


def test_follow_with_treatment_dates_counts_the_nadir_day(client):
    treatments = [{"patient_id": "P1", "date": "2024-01-02", "label": "cycle 1"}]
    doc = client.post("/follow", json={"csv": SERIES_CSV, "treatments": treatments, "chart": False}).json()
    episode = doc["patients"][0]["episodes"][0]
    assert episode["nadir_day_after_treatment"] == 11  # nadir 2024-01-13, 11 days after 2024-01-02


def test_screen_column_names_and_messages_name_the_upload(client):
    csv = b"MRN,drawn,test,result,units\nP1,2024-01-01 08:00,wbc,2.0,10^9/L\nP1,2024-01-01 08:00,anc,0.4,10^9/L\n"
    r = client.post("/screen", files={"file": ("my labs.csv", csv, "text/csv")}, data={"format": "long"})
    assert r.status_code == 422 and r.json()["field"] in ("patient_id", "taken_at")  # "drawn" is not guessed
    assert "'my labs.csv'" in r.json()["detail"] and "/tmp" not in r.text
    columns = '{"patient_id": "MRN", "taken_at": "drawn", "analyte": "test", "value": "result", "unit": "units"}'
    r = client.post("/screen", files={"file": ("my labs.csv", csv, "text/csv")}, data={"columns": columns})
    assert r.status_code == 200, r.text
    assert {"leukopenia", "neutropenia"} <= set(r.json()["panels"]["records"][0]["findings"])
    r = client.post("/screen", files={"file": ("x.csv", csv, "text/csv")}, data={"columns": '{"mrn": "MRN"}'})
    assert r.status_code == 422 and r.json()["field"] == "columns"


def test_screen_reads_a_fhir_bundle_upload(client):
    from pathlib import Path

    bundle = (Path(__file__).parents[1] / "data" / "fhir" / "cbc-report-contained.json").read_bytes()
    r = client.post("/screen", files={"file": ("report.json", bundle, "application/fhir+json")},
                    data={"format": "fhir"})  # fmt: skip
    assert r.status_code == 200, r.text
    s = r.json()["summary"]
    assert s["rows_read"] == s["rows_used"] + s["rows_rejected"] and r.json()["rejects"]["rows"] >= 1
