"""`assess` on one CBC: findings by pattern, derived values, ranges, warnings, JSON."""

import json

import pytest

from leukon import InputError, assess


def codes(a):
    return [f.code for f in a.findings]


def test_published_example():
    a = assess(wbc=2.0, anc=0.7, age_years=56)
    assert a.grade("ctcae-v5", "White blood cell decreased") == 2
    assert a.grade("ctcae-v5", "Neutrophil count decreased") == 3
    assert codes(a) == ["leukopenia", "neutropenia"]
    assert a.finding("neutropenia").severity == "moderate"


def test_neutropenia_without_leukopenia():
    a = assess(wbc=5.2, anc=1.1, age_years=30)
    assert codes(a) == ["neutropenia", "neutropenia_without_leukopenia"]


def test_leukopenia_without_neutropenia_names_the_lymphopenia_pattern():
    a = assess(wbc=3.2, anc=2.1, lymphocytes=0.6, age_years=41)
    assert "leukopenia_without_neutropenia" in codes(a)
    assert "lymphopenia" in codes(a)
    assert "lymphopenia pattern" in a.finding("leukopenia_without_neutropenia").detail


def test_agranulocytosis_and_profound():
    a = assess(wbc=1.8, anc=0.05, age_years=38)
    assert "agranulocytosis" in codes(a)
    assert a.finding("neutropenia").severity == "profound"
    assert a.grade("clozapine", "ANC monitoring, general population") == 3


def test_left_shift_from_bands_percent():
    a = assess(wbc=12.0, neutrophils_pct=70, bands_pct=12, age_years=50)
    assert "left_shift" in codes(a)
    assert "leukocytosis" in codes(a)


def test_cytopenias_across_lines():
    a = assess(wbc=2.1, anc=0.9, hemoglobin=8.4, platelets=62, age_years=70, sex="male")
    assert {"anemia", "thrombocytopenia", "pancytopenia"} <= set(codes(a))
    b = assess(wbc=2.1, anc=0.9, hemoglobin=8.4, age_years=70, sex="male")
    assert "bicytopenia" in codes(b) and "pancytopenia" not in codes(b)
    assert "cannot be excluded" in b.finding("bicytopenia").detail


def test_febrile_neutropenia_is_an_emergency_under_both_definitions():
    a = assess(anc=0.3, temperature=38.5, age_years=60)
    assert a.emergency and "febrile_neutropenia" in codes(a)
    assert a.grade("ctcae-v5", "Febrile neutropenia") == 3
    assert a.grade("idsa-2011", "Febrile neutropenia") == 1


def test_febrile_neutropenia_edges_differ_between_ctcae_and_idsa():
    # 38.3 C exactly: CTCAE needs > 38.3 (single) while IDSA takes >= 38.3
    a = assess(anc=0.3, temperature=38.3, fever_sustained=False)
    assert a.grade("ctcae-v5", "Febrile neutropenia") == 0
    assert a.grade("idsa-2011", "Febrile neutropenia") == 1
    # ANC 0.8 is < 1.0 (CTCAE) but not < 0.5 (IDSA) unless a fall is expected
    b = assess(anc=0.8, temperature=38.6)
    assert b.grade("ctcae-v5", "Febrile neutropenia") == 3
    assert b.grade("idsa-2011", "Febrile neutropenia") == 0
    c = assess(anc=0.8, temperature=38.6, anc_expected_fall=True)
    assert c.grade("idsa-2011", "Febrile neutropenia") == 1


def test_fever_of_unknown_duration_is_possible_febrile_neutropenia():
    a = assess(anc=0.3, temperature=38.1)
    f = a.finding("febrile_neutropenia")
    assert f is not None and f.certainty == "possible" and f.emergency
    assert a.grade("ctcae-v5", "Febrile neutropenia") is None
    assert assess(anc=0.3, temperature=38.1, fever_sustained=True).grade("ctcae-v5", "Febrile neutropenia") == 3
    assert not assess(anc=0.3, temperature=37.2).emergency


def test_fahrenheit_temperature():
    a = assess(anc=(200, "cells/uL"), temperature=(101.3, "°F"))
    assert a.values["temperature"].value == pytest.approx(38.5, abs=0.01)
    assert a.emergency


def test_derived_anc_methods():
    a = assess(wbc=(3100, "/uL"), neutrophils_pct=20, bands_pct=5)
    assert a.values["anc"].value == 0.775 and a.values["anc"].method == "derived_with_bands"
    b = assess(wbc=3.1, neutrophils_pct=25)
    assert b.values["anc"].value == 0.775 and b.values["anc"].method == "derived_without_bands"
    c = assess(wbc=3.1, anc=0.8, neutrophils_pct=25)
    assert c.values["anc"].method == "measured"
    d = assess(wbc=4.0, lymphocytes_pct=25)
    assert d.values["lymphocytes"].value == 1.0 and d.values["lymphocytes"].method == "derived"


def test_consistency_warnings():
    a = assess(wbc=4.0, neutrophils_pct=60, lymphocytes_pct=30, monocytes_pct=5, eosinophils_pct=20, basophils_pct=1)
    assert "differential_sum" in [w.code for w in a.warnings]
    b = assess(wbc=4.0, anc=1.0, neutrophils_pct=60)  # derived 2.4 vs measured 1.0
    assert "anc_mismatch" in [w.code for w in b.warnings]
    c = assess(wbc=2.0, anc=3.0)
    assert "absolute_above_wbc" in [w.code for w in c.warnings]
    ok = assess(wbc=4.0, neutrophils_pct=60, lymphocytes_pct=30, monocytes_pct=6, eosinophils_pct=3, basophils_pct=1)
    assert "differential_sum" not in [w.code for w in ok.warnings]


def test_profiles_and_lab_range():
    duffy = assess(wbc=3.4, anc=1.3, age_years=29, ancestry="duffy-null")
    assert codes(duffy) == []
    assert duffy.values["anc"].lln == 1.21 and "Hibbs" in duffy.values["anc"].range_source
    plain = assess(wbc=3.4, anc=1.3, age_years=29)
    assert codes(plain) == ["leukopenia", "neutropenia"]
    lab = assess(wbc=3.4, anc=1.3, lln={"wbc": 3.2, "anc": 1.2}, age_years=29)
    assert codes(lab) == [] and lab.values["wbc"].range_origin == "lab"
    nih = assess(wbc=4.5, anc=2.2, profile="nih", age_years=40)
    assert codes(nih) == ["leukopenia", "neutropenia"]
    lls_f = assess(wbc=3.7, profile="lls", sex="female", age_years=40)
    lls_m = assess(wbc=3.7, profile="lls", sex="male", age_years=40)
    assert "leukopenia" not in codes(lls_f) and "leukopenia" in codes(lls_m)


def test_lab_range_wins_but_duffy_null_is_noted():
    a = assess(anc=1.3, lln={"anc": 1.8}, ancestry="duffy-null", age_years=30)
    assert "neutropenia" in codes(a) and a.values["anc"].range_origin == "lab"
    note = next(w for w in a.warnings if w.code == "duffy_null_range")
    assert "1.21" in note.message and "Hibbs" in note.message
    assert not any(
        w.code == "duffy_null_range"
        for w in assess(anc=1.0, lln={"anc": 1.8}, ancestry="duffy-null", age_years=30).warnings
    )
    assert not any(w.code == "duffy_null_range" for w in assess(anc=1.3, lln={"anc": 1.8}, age_years=30).warnings)


def test_infant_ranges_and_missing_range_is_said():
    infant = assess(wbc=7.5, anc=1.2, age_days=120)
    assert "neutropenia" not in codes(infant)  # 2 weeks-1 year: < 1.0
    assert assess(anc=0.9, age_days=120).finding("neutropenia")
    assert infant.values["wbc"].lln == 6.1 and "leukopenia" not in codes(infant)  # 1-23 months: 6.1-17.5
    newborn = assess(wbc=7.5, anc=1.2, age_days=20)  # no WBC range in the first month
    assert any(n.code == "leukopenia" and "reference range" in n.message for n in newborn.not_assessed)
    assert newborn.grade("ctcae-v5", "White blood cell decreased") is None


def test_lab_lln_in_another_unit():
    a = assess(wbc=(3500, "/uL"), lln={"wbc": 4000}, units={})
    assert a.values["wbc"].lln == 4.0
    assert a.grade("ctcae-v5", "White blood cell decreased") == 1


def test_cannot_tell_is_never_normal():
    a = assess(lymphocytes=2.0)
    assert {n.code for n in a.not_assessed} >= {"leukopenia", "neutropenia"}
    assert a.grade("ctcae-v5", "Neutrophil count decreased") is None


def test_missing_age_is_warned_and_daids_not_gradable():
    a = assess(wbc=1.2, anc=0.3)
    assert any(w.code == "age_missing" for w in a.warnings)
    assert a.grade("daids-v2.1", "WBC, Decreased") is None
    with pytest.raises(InputError, match="age") as e:
        assess(wbc=1.2, schemes=["daids-v2.1"])
    assert e.value.field == "age"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"wbc": -1}, "wbc"),
        ({"wbc": float("nan")}, "wbc"),
        ({"wbc": 3.0, "neutrophils_pct": 120}, "neutrophils_pct"),
        ({"wbc": 1500}, "wbc"),
        ({"wbc": (3, "mg/dL")}, "wbc"),
        ({"wbc": 3, "sex": "x"}, "sex"),
        ({"wbc": 3, "profile": "nope"}, "profile"),
        ({"wbc": 3, "age_years": -2}, "age_years"),
        ({"wbc": 3, "age_days": 1.5}, "age_days"),
        ({}, "values"),
        ({"wbc": 3, "lln": {"wbc": 5, "bogus": 1}}, "lln"),
        ({"wbc": {"value": 3, "uint": "K/uL"}}, "wbc"),
    ],
)
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(InputError) as e:
        assess(**kwargs)
    assert e.value.field == field


def test_json_round_trip():
    a = assess(wbc=2.0, anc=0.7, temperature=38.6, age_years=50, sex="female")
    doc = json.loads(a.to_json())
    assert doc["emergency"] is True
    assert {f["code"] for f in doc["findings"]} >= {"leukopenia", "neutropenia", "febrile_neutropenia"}
    assert doc["values"]["anc"]["method"] == "measured"
    assert doc["profile"]["id"] == "standard"
    assert "not a diagnosis" in doc["disclaimer"]
    g = next(g for g in doc["grades"] if g["scheme"] == "ctcae-v5" and g["term"] == "Neutrophil count decreased")
    assert g["grade"] == 3
