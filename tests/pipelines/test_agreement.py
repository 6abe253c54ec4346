"""`screen` (rules compiled to Polars) and `assess` (the same rules compiled to Python) agree on every generated CBC,
stage by stage: derived values and methods; the range of every value (limits and origin); findings, severity,
warnings and not-assessed items with their messages; every grade under every scheme with its reason; and the
verdict on bad input (assess raises InputError exactly when screen rejects).
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon import InputError, assess_mapping
from leukon.findings.frame import classify_panels
from leukon.measurements.normalize import normalize
from leukon.panels.build import build_panels
from leukon.pipelines.screen import screen_source
from leukon.rules import book
from leukon.rules.analytes import ANALYTES
from leukon.rules.logic import render_message
from leukon.rules.ranges import usual_limit

SCHEMES = ("ctcae-v4", "ctcae-v5", "ctcae-v6", "daids-v2.1", "clinical", "clozapine", "idsa-2011")
UNITS = {
    "count": [("10^9/L", 1.0), ("K/uL", 1.0), ("/uL", 1e-3), ("cells/mm3", 1e-3), ("G/L", 1.0), ("10^8/L", 0.1)],
    "fraction": [("%", 1.0)],
    "mass_concentration": [("g/dL", 1.0), ("g/L", 0.1)],
    "temperature": [("Cel", 1.0)],
}
RANGE = {"wbc": 15, "anc": 8, "bands": 1.5, "lymphocytes": 5, "monocytes": 1.5, "eosinophils": 0.8, "basophils": 0.3,
         "cd4": 1.5, "hemoglobin": 18, "platelets": 500, "temperature": 41}  # fmt: skip


@st.composite
def cbcs(draw):
    chosen = draw(st.sets(st.sampled_from(list(ANALYTES)), min_size=1, max_size=9))
    if draw(st.booleans()):
        chosen |= {"wbc", "neutrophils_pct"}
    if draw(st.integers(0, 3)) == 0:
        chosen |= {"temperature"}
    values = {}
    for a in sorted(chosen):
        dim = ANALYTES[a].dimension
        if dim == "fraction":
            canonical = draw(st.floats(0, 100).map(lambda x: round(x, 1)))
        elif a == "temperature":
            canonical = draw(st.floats(35.5, 40.5).map(lambda x: round(x, 1)))
        else:
            canonical = draw(
                st.one_of(
                    st.floats(0, RANGE[a]).map(lambda x: round(x, 3)), st.floats(0, 0.3).map(lambda x: round(x, 2))
                )
            )
        if draw(st.integers(0, 30)) == 0:
            canonical = draw(st.sampled_from([-1.0, 5000.0, 150.0]))  # bad input now and then
        unit, factor = draw(st.sampled_from(UNITS[dim]))
        entry = {"value": canonical / factor if dim != "temperature" else canonical, "unit": unit}
        if dim == "count" and draw(st.integers(0, 3)) == 0:
            usual = usual_limit(a, "lln") or 1.0
            lo = round(usual * draw(st.floats(0.3, 1.5)), 3)
            if draw(st.integers(0, 10)) == 0:
                lo = usual * 1e-3  # a limit given in another unit than its value: refused by both paths
            entry["lln"] = lo / factor
            if draw(st.booleans()):
                entry["uln"] = round(lo * draw(st.floats(1.5, 4.0)), 3) / factor
        values[a] = entry
    age = draw(st.one_of(st.none(), st.integers(0, 12), st.integers(13, 800), st.integers(800, 32000)))
    sex = draw(st.sampled_from([None, "female", "male"]))
    ancestry = draw(st.sampled_from([None, None, "duffy-null"]))
    profile = draw(st.sampled_from(["standard", "standard", "nih", "lls"]))
    return values, age, sex, ancestry, profile


def _source(specimen, values, age, sex, ancestry):
    """A CBC as given to assess ({analyte: {value, unit, lln, uln}}) as one specimen in the measurement contract."""
    results = [{"analyte": a, "value": e["value"], "unit": e["unit"], "lln": e.get("lln"), "uln": e.get("uln")}
               for a, e in values.items()]  # fmt: skip
    return specimen(results, age_days=age, sex=sex, ancestry=ancestry)


def _kernel_row(src, profile) -> dict:
    """The kernel's panel with every internal column (range rows, fever inputs) after classification."""
    used, _ = normalize(src.measurements)
    panels, _, _ = build_panels(used, src.patients, profile=profile)
    return classify_panels(panels, profile).collect().row(0, named=True)


def _assess(values, age, sex, ancestry, profile):
    return assess_mapping(values, age_days=age, sex=sex, ancestry=ancestry, profile=profile)


def _codes(notes) -> list[str]:
    return list(dict.fromkeys(n.code for n in notes))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cbcs())
def test_screen_and_assess_agree_end_to_end(one_specimen, case):
    values, age, sex, ancestry, profile = case
    result = screen_source(_source(one_specimen, values, age, sex, ancestry), schemes=SCHEMES, profile=profile)
    try:
        a = _assess(*case)
    except InputError as e:
        # assess refuses the whole CBC; screen rejects that result (and keeps the others)
        assert result.rejects.height >= 1, e
        assert any(e.field in r for r in result.rejects["reason"].to_list() + result.rejects["raw"].to_list())
        return
    assert result.rejects.height == 0
    assert result.panels.height == 1
    panel = result.panels.row(0, named=True)
    assert panel["findings"] == [f.code for f in a.findings]
    assert panel["warnings"] == _codes(a.warnings)
    assert panel["not_assessed"] == _codes(a.not_assessed)
    f = a.finding("neutropenia")
    assert panel["neutropenia_severity"] == (f.severity if f else None)
    kernel = {(g["scheme"], g["term"]): (g["grade"], g["reason"]) for g in result.grades.iter_rows(named=True)}
    for g in a.grades:
        if (g.scheme, g.term) in kernel:
            assert kernel[(g.scheme, g.term)] == (g.grade, g.reason), (g.scheme, g.term)
        else:  # screen lists only the terms whose inputs the specimen has
            assert g.value is None or (g.term == "Febrile neutropenia" and "temperature" not in a.values), g


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cbcs())
def test_stages_agree(one_specimen, case):
    """Per stage, on the kernel's internal columns: values and methods, ranges, then every rule's verdict and text."""
    values, age, sex, ancestry, profile = case
    try:
        a = _assess(*case)
    except InputError:
        return
    row = _kernel_row(_source(one_specimen, values, age, sex, ancestry), profile)
    # stage: panels (derived values, methods, ranges)
    for analyte in ANALYTES:
        v = a.values.get(analyte)
        assert row[analyte] == (v.value if v else None), analyte
        if f"{analyte}_method" in row:
            assert row[f"{analyte}_method"] == (v.method if v else None), analyte
        if v is not None and analyte != "temperature":
            assert (row[f"{analyte}_lln"], row[f"{analyte}_uln"], row[f"{analyte}_range"]) == (
                v.lln, v.uln, v.range_origin,
            ), analyte  # fmt: skip
    # stage: findings (codes, severity, evidence texts)
    assert row["findings"] == [f.code for f in a.findings]
    for f in a.findings:
        if f.detail and f.code != "febrile_neutropenia":
            texts = {render_message(r.detail, row) for r in book.finding_rules() if r.code == f.code and r.detail}
            assert f.detail in texts, f.code
    # stage: warnings and not-assessed items, with the same messages rendered from the kernel's columns
    wrules = {(r.code, r.field): r for r in book.warning_rules(profile)}
    assert row["warnings"] == _codes(a.warnings)
    for w in a.warnings:
        assert render_message(wrules[(w.code, w.field)].message, row) == w.message
    nrules = book.not_assessed_rules()
    assert row["not_assessed"] == _codes(a.not_assessed)
    for n in a.not_assessed:
        texts = {render_message(r.message, row) for r in nrules if r.code == n.code and r.field == n.field}
        assert n.message in texts


@pytest.mark.parametrize(
    "values",
    [
        {"wbc": {"value": 0.8, "unit": "10^9/L"}, "temperature": {"value": 39.0, "unit": "Cel"}},
        {"anc": {"value": 0.3, "unit": "10^9/L"}, "temperature": {"value": 38.1, "unit": "Cel"}},
        {"wbc": {"value": 3.0, "unit": "10^9/L"}, "temperature": {"value": 39.0, "unit": "Cel"}},
    ],
)
def test_fever_reasons_agree(one_specimen, values):
    """Febrile neutropenia reasons are the same text in both paths (they were null in screen)."""
    a = _assess(values, 40 * 365, None, None, "standard")
    result = screen_source(_source(one_specimen, values, 40 * 365, None, None), schemes=SCHEMES, profile="standard")
    kernel = {(g["scheme"], g["term"]): (g["grade"], g["reason"]) for g in result.grades.iter_rows(named=True)}
    fever = [g for g in a.grades if g.term == "Febrile neutropenia"]
    assert fever and all(g.reason for g in fever)
    for g in fever:
        assert kernel[(g.scheme, g.term)] == (g.grade, g.reason)
