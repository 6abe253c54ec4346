"""`leukon assess --json FILE`: one CBC or a list of CBCs; a bad CBC is reported by its index, the rest assessed."""

from __future__ import annotations

import json

import pytest


def _write(tmp_path, doc) -> str:
    f = tmp_path / "cbcs.json"
    f.write_text(json.dumps(doc))
    return str(f)


def test_list_of_cbcs_in_order(leukon, tmp_path):
    cbcs = [{"wbc": 2.0, "anc": 0.7, "age_years": 56}, {"wbc": 6.4, "anc": 3.6, "age_years": 45},
            {"anc": {"value": 300, "unit": "cells/uL"}, "temperature": 38.9}]  # fmt: skip
    r = leukon("assess", "--json", _write(tmp_path, cbcs))
    assert r.code == 0 and r.err == ""
    out = json.loads(r.out)
    assert [d["index"] for d in out] == [0, 1, 2]
    assert [f["code"] for f in out[0]["findings"]] == ["leukopenia", "neutropenia"]
    assert out[1]["findings"] == []
    assert out[2]["emergency"] is True and out[2]["values"]["anc"]["value"] == 0.3


def test_bad_cbc_reported_by_index_others_still_assessed(leukon, tmp_path):
    cbcs = [{"wbc": 2.0}, {"wbc": -1}, "not an object", {"anc": 0.4}]
    r = leukon("assess", "--json", _write(tmp_path, cbcs))
    assert r.code == 2 and r.err.count("\n") == 1  # one line; stdout still holds every result
    assert "CBC 1 of the list" in r.err and "and 1 more" in r.err
    out = json.loads(r.out)
    assert out[0]["findings"][0]["code"] == "leukopenia"
    assert out[1] == {"index": 1, "error": {"field": "wbc", "message": out[1]["error"]["message"]}}
    assert "negative" in out[1]["error"]["message"] or "wbc" in out[1]["error"]["message"]
    assert out[2]["error"]["field"] == "CBC 2"
    assert out[3]["findings"][0]["code"] == "neutropenia"


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ([], "holds no CBC"),
        (42, "expected a JSON object"),
        ({"wbc": [1, 2]}, "wbc: expected a number"),
        ({"wbc": True}, "wbc: expected a number"),
        ({"age_years": "old"}, "age_years: expected int or float"),
        ({"wbc": 3, "units": ["x"]}, "units: expected dict"),
        ({"wbc": {"value": [3]}}, "wbc.value"),
        ({"wbc": 3, "schemes": [1]}, "schemes"),
    ],
)
def test_malformed_cbcs_are_one_line(leukon, tmp_path, doc, fragment):
    r = leukon("assess", "--json", _write(tmp_path, doc))
    assert r.code == 2 and r.err.count("\n") == 1 and fragment in r.err and "Traceback" not in r.err
