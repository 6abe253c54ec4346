"""`screen` (vectorised kernel) and `assess` (scalar path) agree on every generated CBC.

Same findings, same neutropenia severity, same derived counts and methods, the same grade under every
scheme and term, and the same verdict on bad input (assess raises InputError exactly when screen rejects).
"""

import datetime as dt
from types import SimpleNamespace

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon import InputError, assess_mapping
from leukon.measurements.normalize import MEASUREMENT_SCHEMA, REJECT_SCHEMA
from leukon.pipelines.screen import screen_source
from leukon.rules.analytes import ANALYTES

SCHEMES = ("ctcae-v4", "ctcae-v5", "ctcae-v6", "daids-v2.1", "clinical", "clozapine", "idsa-2011")
UNITS = {
    "count": [("10^9/L", 1.0), ("K/uL", 1.0), ("/uL", 1e-3), ("cells/mm3", 1e-3), ("G/L", 1.0), ("10^8/L", 0.1)],
    "fraction": [("%", 1.0)],
    "mass_concentration": [("g/dL", 1.0), ("g/L", 0.1)],
    "temperature": [("Cel", 1.0)],
}
RANGE = {"wbc": 15, "anc": 8, "bands": 1.5, "lymphocytes": 5, "monocytes": 1.5, "eosinophils": 0.8, "basophils": 0.3,
         "cd4": 1.5, "hemoglobin": 18, "platelets": 500, "temperature": 41}  # fmt: skip
TAKEN = dt.datetime(2024, 3, 15, 8, 30)


@st.composite
def cbcs(draw):
    chosen = draw(st.sets(st.sampled_from(list(ANALYTES)), min_size=1, max_size=9))
    if draw(st.booleans()):
        chosen |= {"wbc", "neutrophils_pct"}
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
            entry["lln"] = round(draw(st.floats(0.1, 5.0)), 2) / factor
        values[a] = entry
    age = draw(st.one_of(st.none(), st.integers(0, 12), st.integers(13, 800), st.integers(800, 32000)))
    sex = draw(st.sampled_from([None, "female", "male"]))
    ancestry = draw(st.sampled_from([None, None, "duffy-null"]))
    profile = draw(st.sampled_from(["standard", "standard", "nih", "lls"]))
    return values, age, sex, ancestry, profile


def _screen(values, age, sex, ancestry, profile):
    rows = []
    for i, (a, e) in enumerate(values.items()):
        rows.append({"source_row": i, "patient_id": "p", "specimen_id": "s1", "taken_at": TAKEN, "analyte": a,
                     "value": e["value"], "unit": e["unit"], "lln": e.get("lln"), "uln": None})  # fmt: skip
    m = pl.DataFrame(rows, schema=MEASUREMENT_SCHEMA).lazy()
    birth = None if age is None else TAKEN.date() - dt.timedelta(days=age)
    patients = pl.LazyFrame(
        {"patient_id": ["p"], "sex": [sex], "birth_date": [birth], "ancestry": [ancestry]},
        schema={"patient_id": pl.String, "sex": pl.String, "birth_date": pl.Date, "ancestry": pl.String},
    )
    src = SimpleNamespace(measurements=m, rejects=pl.LazyFrame(schema=REJECT_SCHEMA), patients=patients,
                          rows_read=len(rows), label="t", format="long", notes=[])  # fmt: skip
    return screen_source(src, schemes=SCHEMES, profile=profile)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cbcs())
def test_screen_and_assess_agree(case):
    values, age, sex, ancestry, profile = case
    result = _screen(values, age, sex, ancestry, profile)
    try:
        a = assess_mapping(values, age_days=age, sex=sex, ancestry=ancestry, profile=profile)
    except InputError as e:
        # assess refuses the whole CBC; screen rejects that result (and keeps the others)
        assert result.rejects.height >= 1, e
        assert any(e.field in r for r in result.rejects["raw"].to_list())
        return
    assert result.rejects.height == 0
    assert result.panels.height == 1
    panel = result.panels.row(0, named=True)
    assert sorted(panel["findings"]) == sorted(f.code for f in a.findings)
    assert ("duffy_null_range" in panel["warnings"]) == any(w.code == "duffy_null_range" for w in a.warnings)
    f = a.finding("neutropenia")
    assert panel["neutropenia_severity"] == (f.severity if f else None)
    for analyte, v in a.values.items():
        assert panel[analyte] == v.value, analyte
        if f"{analyte}_method" in panel:
            assert panel[f"{analyte}_method"] == v.method
        if analyte != "temperature":
            assert panel[f"{analyte}_lln"] == v.lln, analyte
            assert panel[f"{analyte}_uln"] == v.uln, analyte
    kernel = {(g["scheme"], g["term"]): g["grade"] for g in result.grades.iter_rows(named=True)}
    for g in a.grades:
        if (g.scheme, g.term) in kernel:
            assert kernel[(g.scheme, g.term)] == g.grade, (g.scheme, g.term, g.reason)
        else:  # screen lists only the terms whose analyte the specimen has
            assert g.value is None or g.term == "Febrile neutropenia"
