"""FHIR R4 in: real Bundles and NDJSON written from the specification, read into the measurement contract."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon.errors import InputError
from leukon.pipelines.assess import assess_mapping
from leukon.pipelines.screen import screen
from leukon.sources import MEASUREMENTS_SCHEMA, detect_format, read
from leukon.sources.fhir import read_fhir, read_fhir_cbc

from .conftest import accounted

FHIR = Path(__file__).parents[1] / "data" / "fhir"


def reasons(r: pl.DataFrame) -> dict[int, str]:
    return dict(zip(r["source_row"].to_list(), r["reason"].to_list(), strict=True))


def test_spec_cbc_example_is_neutropenia_without_leukopenia() -> None:
    # The FHIR specification's CBC example values: WBC 4.6 (4.0-11.0) and ANC 0.9 (1.8-7.7) x10^3/uL.
    cbc = read_fhir_cbc(FHIR / "cbc-report-contained.json")
    assert cbc.values["wbc"] == {"value": 4.6, "unit": "10*3/uL", "lln": 4.0, "uln": 11.0}
    assert cbc.values["anc"] == {"value": 0.9, "unit": "10*3/uL", "lln": 1.8, "uln": 7.7}
    assert cbc.options == {"sex": "female", "age_days": (date(2024, 5, 2) - date(1968, 3, 14)).days}
    assert cbc.taken_at == datetime(2024, 5, 2, 6, 30)  # 08:30+02:00 in UTC
    a = assess_mapping(cbc.values, **cbc.options)
    codes = [f.code for f in a.findings]
    assert "neutropenia" in codes and "neutropenia_without_leukopenia" in codes and "leukopenia" not in codes
    assert a.values["anc"].range_origin == "lab" and a.grade("ctcae-v5", "Neutrophil count decreased") == 3
    # The red-cell count is not a white-cell analyte: a reject with its reason, not a silent drop.
    assert [x["reason"] for x in cbc.rejects] == [
        "LOINC 789-8 (Erythrocytes [#/volume] in Blood by Automated count) is not an analyte leukon reads"
    ]


def test_transaction_report_through_hasmember_panel() -> None:
    src = read(FHIR / "transaction-panel.json", format="fhir")
    m, r = accounted(src)
    assert m.schema == MEASUREMENTS_SCHEMA and r.height == 0 and src.rows_read == 7
    assert set(m["specimen_id"]) == {"DiagnosticReport/rep2"}  # the report groups its panel's members
    assert set(m["taken_at"]) == {datetime(2024, 6, 10, 7, 15)}  # effectivePeriod.start of the report
    assert set(m["patient_id"]) == {"p2"}  # urn:uuid subject resolved to the Patient's id
    wbc = m.filter(pl.col("analyte") == "wbc").row(0, named=True)
    assert (wbc["value"], wbc["unit"]) == (3100.0, "/uL")  # valueQuantity without a code: the unit text
    assert src.notes == ["resources without results skipped: 1 Encounter"]
    cbc = read_fhir_cbc(FHIR / "transaction-panel.json")
    a = assess_mapping(cbc.values, **cbc.options)
    assert a.values["anc"].method == "derived_with_bands" and a.values["anc"].value == pytest.approx(0.775)
    assert cbc.options["sex"] == "male"


def test_searchset_loose_observations_grouped_by_time() -> None:
    src = read_fhir(FHIR / "searchset.json")
    m, _ = accounted(src)
    assert m.height == 4 and m["specimen_id"].null_count() == 4
    assert src.notes == ["resources without results skipped: 1 OperationOutcome"]
    cbc = read_fhir_cbc(FHIR / "searchset.json")
    assert cbc.taken_at == datetime(2024, 1, 17, 9) and cbc.values["anc"]["value"] == 2.6
    assert cbc.notes[-1] == "2 CBCs in the input; the latest (2024-01-17 09:00) was assessed"
    assert cbc.options["age_days"] == (date(2024, 1, 17) - date(2016, 8, 20)).days


def test_bulk_ndjson_folder_and_urine_leukocytes(tmp_path: Path) -> None:
    src = read(FHIR / "bulk")  # a folder of .ndjson files is recognised as FHIR bulk export
    m, r = accounted(src)
    assert src.format == "fhir" and m.height == 4
    assert reasons(r) == {4: "LOINC 30405-5 is leukocytes in urine, not a blood count"}
    p = src.patients.collect()
    assert p.sort("patient_id").rows() == [
        ("b1", "female", date(1980, 1, 1), None),
        ("b2", "male", date(1990, 5, 5), None),
    ]
    # The batch path runs it unchanged: panels per report, the same findings as assess.
    res = screen(FHIR / "bulk", format="fhir", course=False)
    assert res.summary["accounted"] and res.summary["rows_read"] == 5 and res.panels.height == 2
    b1 = res.panels.filter(pl.col("patient_id") == "b1").row(0, named=True)
    assert "neutropenia" in b1["findings"] and "leukopenia" in b1["findings"] and b1["age_days"] == 16131


def test_malformed_entries_each_get_a_reason() -> None:
    src = read_fhir(FHIR / "malformed.json")
    m, r = accounted(src)
    assert m["analyte"].to_list() == ["wbc", "eosinophils"]
    assert m["censor"].to_list() == [None, "<"] and m["value"].to_list() == [2.9, 0.05]  # "<0.05" kept as a bound
    assert reasons(r) == {
        0: "invalid FHIR R4 Observation (status: Value for the field 'status' is required.)",
        2: "no value: dataAbsentReason 'not-performed'",
        3: "status 'preliminary': only final, amended or corrected results are read",
        4: "valueString is not a quantity; a count needs valueQuantity",
        6: "DiagnosticReport/bad-cbc: reference 'Observation/not-there' is not in the input",
        7: "DiagnosticReport/no-white has no usable white-cell result (WBC, ANC or differential); hemoglobin, "
        "platelets not assessed alone",
        8: "DiagnosticReport/no-white has no usable white-cell result (WBC, ANC or differential); hemoglobin, "
        "platelets not assessed alone",
        9: "DiagnosticReport/empty lists no results",
        10: "LOINC 30405-5 is leukocytes in urine, not a blood count",
        11: "no LOINC code on the Observation; map the lab's local codes with a mapping file (map=)",
    }
    raw = json.loads(r.filter(pl.col("source_row") == 6)["raw"][0])
    assert raw["reference"] == "Observation/not-there"
    # Gender "other" is not guessed: sex stays unknown.
    assert src.patients.collect()["sex"].to_list() == [None]


def test_local_code_map() -> None:
    m, _ = accounted(read_fhir(FHIR / "malformed.json", codes={"http://lab.example.org/codes|WBC": "wbc"}))
    assert sorted(m["value"].to_list()) == [0.05, 2.9, 6.0]
    with pytest.raises(InputError, match=r"^map: map \[names\] 'WBC': unknown analyte 'leukocytes'"):
        read_fhir(FHIR / "malformed.json", codes={"WBC": "leukocytes"})


def test_display_text_is_never_matched() -> None:
    obs = {"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/1"},
           "effectiveDateTime": "2024-01-01", "code": {"text": "WBC", "coding": [{"display": "White blood cells"}]},
           "valueQuantity": {"value": 4.0, "unit": "10*3/uL"}}  # fmt: skip
    m, r = accounted(read_fhir(obs))
    assert m.height == 0 and r["reason"][0].startswith("no LOINC code on the Observation")


def test_ndjson_with_a_broken_line_keeps_the_others() -> None:
    src = read(FHIR / "broken.ndjson")
    m, r = accounted(src)
    assert m.height == 2 and r["reason"][0].startswith("malformed JSON on broken.ndjson line 2")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.json", r"^input: truncated.json: malformed JSON at line 1"),
        ("not-fhir.json", r"^resourceType: not-fhir.json: a JSON object without resourceType is not a FHIR resource"),
    ],
)
def test_not_fhir_is_one_line_error(name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read(FHIR / name, format="fhir")


def test_invalid_bundle_type_is_refused() -> None:
    with pytest.raises(InputError, match=r"^Bundle: input: not a valid FHIR R4 Bundle \(type"):
        read_fhir({"resourceType": "Bundle", "type": "shopping-list", "entry": []})


def test_detection() -> None:
    assert detect_format(FHIR / "cbc-report-contained.json") == "fhir"
    assert detect_format(FHIR / "bulk") == "fhir"
    assert detect_format(FHIR / "not-fhir.json") is None
    assert read(FHIR / "searchset.json").format == "fhir"  # the default "long" gives way to a FHIR Bundle


def test_no_white_cells_is_not_assessed() -> None:
    bundle = json.loads((FHIR / "malformed.json").read_text())
    bundle["entry"] = [
        e for e in bundle["entry"] if e["resource"].get("id") in ("p9", "hgb-only", "plt-only", "no-white")
    ]
    with pytest.raises(InputError, match=r"^input: no usable white-cell result .* DiagnosticReport/no-white"):
        read_fhir_cbc(bundle)


_QTY = st.floats(min_value=0.0, max_value=50.0, allow_nan=False).map(lambda x: round(x, 2))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["6690-2", "751-8", "789-8", "30405-5", "770-8"]), _QTY,
                          st.sampled_from(["final", "preliminary", "amended"]), st.booleans()), max_size=12))  # fmt: skip
def test_every_observation_is_accounted_for(results) -> None:
    """Any mix of results, statuses and dangling references: rows read = used + rejected, no crash."""
    contained, refs = [], []
    for i, (code, value, status, dangling) in enumerate(results):
        if dangling:
            refs.append({"reference": f"Observation/missing-{i}"})
            continue
        contained.append({"resourceType": "Observation", "id": f"o{i}", "status": status,
                          "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                          "valueQuantity": {"value": value, "unit": "10*3/uL", "system": "http://unitsofmeasure.org",
                                            "code": "10*3/uL"}})  # fmt: skip
        refs.append({"reference": f"#o{i}"})
    report = {"resourceType": "DiagnosticReport", "status": "final", "code": {"coding": [{"code": "58410-2"}]},
              "subject": {"reference": "Patient/1"}, "effectiveDateTime": "2024-01-01T08:00:00Z",
              "contained": contained, "result": refs}  # fmt: skip
    src = read_fhir(report)
    m, r = accounted(src)
    assert src.rows_read == max(len(results), 1)
    readable = [
        i for i, (code, _, status, dangling) in enumerate(results)
        if not dangling and status != "preliminary" and code in ("6690-2", "751-8", "770-8")
    ]  # fmt: skip
    assert m.height == len(readable)  # blood white-cell results with a released status, and nothing else
    assert all("leukocytes in urine" in x for x in r.filter(pl.col("raw").str.contains("30405-5"))["reason"])


def test_follow_reads_fhir_unchanged(capsys) -> None:
    from leukon.cli import main

    assert main(["follow", str(FHIR / "searchset.json"), "--patient", "p3"]) == 0
    out = capsys.readouterr().out
    assert "nadir 0.4 on 2024-01-03" in out and "recovered on 2024-01-17" in out


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
_FIELDS = ["status", "code", "subject", "effectiveDateTime", "valueQuantity", "referenceRange", "dataAbsentReason",
           "hasMember", "specimen", "contained", "result"]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["Observation", "DiagnosticReport", "Patient", "Nonsense"]),
                          st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=5)), max_size=6))  # fmt: skip
def test_malformed_resources_never_crash(resources) -> None:
    """Resources with arbitrary JSON in their fields: every entry accounted for or one InputError; no traceback."""
    entries = [{"resource": {"resourceType": t, **fields}} for t, fields in resources]
    try:
        src = read_fhir({"resourceType": "Bundle", "type": "collection", "entry": entries})
    except InputError:
        return
    accounted(src)


def test_assess_picks_the_patient_in_a_bulk_export(capsys) -> None:
    from leukon.cli import main

    assert main(["assess", "--fhir", str(FHIR / "bulk"), "--patient", "b1", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["values"]["anc"]["value"] == 0.3 and doc["patient"]["sex"] == "female"
    assert main(["assess", "--fhir", str(FHIR / "bulk"), "--patient", "nobody"]) == 2
    assert "no usable white-cell result (WBC, ANC or differential) for patient 'nobody'" in capsys.readouterr().err


def test_a_report_pointing_at_an_invalid_observation_counts_it_once() -> None:
    bad = {
        "resourceType": "Observation",
        "id": "w",
        "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
        "valueQuantity": {"value": 4.0, "unit": "10*3/uL"},
    }  # no status: invalid R4
    panel = {"resourceType": "Observation", "id": "cbc", "status": "final", "subject": {"reference": "Patient/1"},
             "effectiveDateTime": "2024-01-01", "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
             "contained": [{**bad, "id": "n", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]}}],
             "hasMember": [{"reference": "Observation/w"}, {"reference": "#n"}]}  # fmt: skip
    src = read_fhir({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": bad}, {"resource": panel}]})
    m, r = accounted(src)
    assert src.rows_read == 2 and m["analyte"].to_list() == ["anc"]  # the contained member of a loose panel
    assert r["reason"].to_list() == ["invalid FHIR R4 Observation (status: Value for the field 'status' is required.)"]


def test_table_options_on_a_message_format_are_one_line_errors(tmp_path: Path, capsys) -> None:
    from leukon.cli import main

    assert main(["screen", str(FHIR / "searchset.json"), "--out", str(tmp_path), "--patient-id", "MRN"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "leukon screen: error: patient_id: not an option of the fhir format (it has no columns to name); options: map, codes"
    ]
