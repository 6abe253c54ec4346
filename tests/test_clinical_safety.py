"""Issue 9: no missed fever emergency, no silent normal, ranges right at every age, each at and around its boundary,
through the one-CBC path (`assess`) and the table path (`screen`), which read the same rule book."""

import polars as pl
import pytest

from leukon import InputError, assess
from leukon.pipelines.screen import screen_source


@pytest.fixture
def screen_one(one_specimen):
    """Screen one adult specimen ({analyte: (value, unit, lab LLN)}): (panel, grades, rejects)."""

    def run(values: dict, age_days: int | None = 40 * 365) -> tuple[dict, pl.DataFrame, pl.DataFrame]:
        results = [{"analyte": a, "value": v, "unit": u, "lln": lo} for a, (v, u, lo) in values.items()]
        r = screen_source(
            one_specimen(results, age_days=age_days), schemes=("ctcae-v5", "idsa-2011"), profile="standard"
        )
        return (r.panels.row(0, named=True) if r.panels.height else {}), r.grades, r.rejects

    return run


# 1. fever with no differential ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wbc", "ctcae", "idsa"),
    [(0.4, 3, 1), (0.49, 3, 1), (0.5, 3, None), (0.8, 3, None), (0.99, 3, None), (1.0, None, None), (3.0, None, None)],
)
def test_fever_without_differential_is_bounded_by_the_wbc(wbc, ctcae, idsa, screen_one):
    a = assess(wbc=wbc, temperature=39.0, age_years=40)
    assert a.grade("ctcae-v5", "Febrile neutropenia") == ctcae
    assert a.grade("idsa-2011", "Febrile neutropenia") == idsa
    panel, grades, _ = screen_one({"wbc": (wbc, "10^9/L", None), "temperature": (39.0, "Cel", None)})
    g = {
        r["scheme"]: (r["grade"], r["reason"])
        for r in grades.filter(pl.col("term") == "Febrile neutropenia").to_dicts()
    }
    assert g["ctcae-v5"] == (ctcae, a.grade_result("ctcae-v5", "Febrile neutropenia").reason)
    if ctcae:
        assert a.emergency and a.has("febrile_neutropenia") and "febrile_neutropenia" in panel["findings"]
        assert "cannot exceed the WBC" in a.finding("febrile_neutropenia").detail
    else:
        assert not a.emergency
        notes = [n for n in a.not_assessed if n.code == "febrile_neutropenia"]
        assert notes and "no ANC" in notes[0].message
        assert "febrile_neutropenia" in panel["not_assessed"]


def test_fever_needs_a_temperature_and_yes_no_is_met_or_not_met():
    a = assess(anc=3.0, age_years=40)
    r = a.grade_result("idsa-2011", "Febrile neutropenia")
    assert r.grade is None and "no temperature" in r.reason
    assert assess(anc=3.0, temperature=39.0).grade_result("idsa-2011", "Febrile neutropenia").label == "not met"
    assert assess(anc=0.3, temperature=39.0).grade_result("idsa-2011", "Febrile neutropenia").label == "met"


# 8. IDSA expected fall -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("anc", [0.4, 0.9, 1.0, 1.4, 3.0])
def test_expected_fall_counts_whatever_the_current_anc(anc):
    a = assess(anc=anc, temperature=38.5, anc_expected_fall=True)
    assert a.grade("idsa-2011", "Febrile neutropenia") == 1
    assert a.has("febrile_neutropenia")
    b = assess(anc=anc, temperature=38.5)
    assert b.grade("idsa-2011", "Febrile neutropenia") == (1 if anc < 0.5 else 0)


# 4. newborns by the hour ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "anc", "low"), [(12, 7.79, True), (12, 7.8, False), (24, 6.0, True), (18, 8.0, False)]
)
def test_newborn_anc_by_the_hour(hours, anc, low):
    a = assess(anc=anc, age_hours=hours)
    assert a.has("neutropenia") is low
    assert a.values["anc"].lln == 7.8


@pytest.mark.parametrize("days", [0, 1, 2])
def test_whole_days_in_the_first_72_hours_are_not_enough(days, screen_one):
    a = assess(anc=6.0, age_days=days)
    assert not a.has("neutropenia")
    note = next(n for n in a.not_assessed if n.code == "neutropenia")
    assert "hours" in note.message
    panel, _, _ = screen_one({"anc": (6.0, "10^9/L", None)}, age_days=days)
    assert "neutropenia" in panel["not_assessed"] and "neutropenia" not in panel["findings"]


@pytest.mark.parametrize("hours", [3, 30, 71])
def test_uncovered_hours_are_not_assessed(hours):
    a = assess(anc=6.0, age_hours=hours)
    assert not a.has("neutropenia")
    assert any(n.code == "neutropenia" and f"hour {hours}" in n.message for n in a.not_assessed)


def test_day_three_uses_manroe_settled_limit():
    assert assess(anc=1.7, age_hours=72).has("neutropenia")
    assert not assess(anc=1.75, age_days=3).has("neutropenia")


@pytest.mark.parametrize("years", [0, 0.5, 0.99])
def test_age_years_under_one_asks_for_days(years):
    with pytest.raises(InputError, match="age_days"):
        assess(anc=1.0, age_years=years)


def test_age_hours_must_agree_with_days():
    with pytest.raises(InputError, match="age_hours"):
        assess(anc=1.0, age_hours=30, age_days=0)


# 5. lab limits that cannot fit the value's unit ----------------------------------------------------------------


def test_lab_limit_in_another_unit_is_refused(screen_one):
    with pytest.raises(InputError, match=r"^wbc\.lln: .*value's unit"):
        assess(wbc=(3100, "/uL"), lln={"wbc": 4.0})
    assert assess(wbc=(3100, "/uL"), lln={"wbc": 4000}).has("leukopenia")
    _, _, rejects = screen_one({"wbc": (3100, "/uL", 4.0)})
    assert rejects.height == 1 and rejects["reason"][0].startswith("wbc.lln:")


# 6. ANC above WBC ----------------------------------------------------------------------------------------------


def test_anc_above_wbc_draws_no_conclusion(screen_one):
    a = assess(wbc=2.0, anc=3.0, age_years=40)
    assert not a.has("leukopenia") and not a.has("neutropenia")
    assert any(w.code == "absolute_above_wbc" for w in a.warnings)
    assert {n.code for n in a.not_assessed} >= {"leukopenia", "neutropenia"}
    panel, _, _ = screen_one({"wbc": (2.0, "10^9/L", None), "anc": (3.0, "10^9/L", None)})
    assert panel["findings"] == [] and {"leukopenia", "neutropenia"} <= set(panel["not_assessed"])


# 7. agranulocytosis --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("anc", "found", "severity"), [(0.5, False, None), (0.49, True, "severe"), (0.1, True, "severe"),
                                                        (0.09, True, "profound")])  # fmt: skip
def test_agranulocytosis_below_half(anc, found, severity, screen_one):
    a = assess(anc=anc, age_years=40)
    f = a.finding("agranulocytosis")
    assert (f is not None) is found
    if f:
        assert f.severity == severity and "Andres" in f.source and "same day" in f.detail
    panel, _, _ = screen_one({"anc": (anc, "10^9/L", None)})
    assert ("agranulocytosis" in panel["findings"]) is found


def test_cli_flags_for_hours_and_expected_fall(capsys):
    from leukon.cli import main

    assert main(["assess", "--anc", "6.0", "--age-hours", "12"]) == 0
    assert main(["assess", "--anc", "0.8", "--temp", "38.5", "--anc-expected-fall", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"emergency": true' in out and "expected to fall below 0.5 within 48 h" in out
