"""Your own reference-range profiles from a TOML file: validated on load, used by assess and screen alike."""

from pathlib import Path

import pytest

import leukon
from leukon.errors import InputError
from leukon.rules import criteria
from leukon.rules.criteria import register_profiles
from leukon.rules.ranges import reference_range

EXPORTS = Path(__file__).parent / "data" / "exports"
NORTHSIDE = EXPORTS / "profiles_northside.toml"


@pytest.fixture(scope="module")
def northside() -> str:
    (pid,) = register_profiles(NORTHSIDE)
    return pid


def test_a_registered_profile_is_chosen_by_id(northside):
    r = reference_range("wbc", profile=northside, age_days=40 * 365)
    assert (r.lln, r.uln, r.profile) == (3.4, 10.8, northside)
    # A limit written in cells/uL is stored in 10^9/L; sex and ancestry pick their own rows.
    assert reference_range("wbc", profile=northside, age_days=40 * 365, sex="female").lln == 3.2
    assert reference_range("anc", profile=northside, age_days=40 * 365, ancestry="duffy-null").lln == 1.0
    # What the profile does not cover falls back to the standard profile, as for the built-in profiles.
    assert reference_range("platelets", profile=northside, age_days=40 * 365).profile == "standard"


def test_assess_reads_a_count_against_the_registered_profile(northside):
    ours = leukon.assess(wbc=3.6, anc=2.0, age_years=50, profile=northside)
    standard = leukon.assess(wbc=3.6, anc=2.0, age_years=50)
    assert not ours.has("leukopenia") and standard.has("leukopenia")
    assert ours.values["wbc"].lln == 3.4 and ours.profile["id"] == northside


def test_screen_reads_a_table_against_the_registered_profile(northside, tmp_path):
    f = tmp_path / "labs.csv"
    f.write_text(
        "patient_id,taken_at,analyte,value,unit,sex,birth_date\n"
        "p1,2024-05-01 08:00,wbc,3.6,10^9/L,male,1970-01-01\n"
        "p1,2024-05-01 08:00,anc,2.0,10^9/L,male,1970-01-01\n"
    )
    ours = leukon.screen(f, format="long", profile=northside)
    standard = leukon.screen(f, format="long")
    p_ours, p_std = ours.panels.row(0, named=True), standard.panels.row(0, named=True)
    assert p_ours["wbc_lln"] == 3.4 and "leukopenia" not in p_ours["findings"]
    assert p_std["wbc_lln"] == 4.0 and "leukopenia" in p_std["findings"]


def test_loading_the_same_file_twice_is_harmless(northside):
    before = len(criteria.RANGES)
    assert register_profiles(NORTHSIDE) == [northside]
    assert len(criteria.RANGES) == before


GOOD_ROW = {"profile": "t", "analyte": "wbc", "lln": 3.0, "uln": 10.0, "source": "test lab"}


def _file(rows: list[dict], pid: str = "t") -> dict:
    rows = [{**r, "profile": pid if r["profile"] == "t" else r["profile"]} for r in rows]
    return {"profile": [{"id": pid, "name": "Test", "description": ""}], "range": rows}


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (_file([{**GOOD_ROW, "lln": 12.0}]), "lln 12.0 must be below uln 10.0"),
        (_file([{**GOOD_ROW, "analyte": "neutrophil"}]), "unknown analyte 'neutrophil'"),
        (_file([{**GOOD_ROW, "source": ""}]), "cites its source"),
        (_file([{**GOOD_ROW, "lower": 3.0}]), "unknown key 'lower'"),
        (_file([{**GOOD_ROW, "sex": "f"}]), "sex 'f'"),
        (_file([{**GOOD_ROW, "ancestry": "african"}]), "ancestry 'african'"),
        (_file([{**GOOD_ROW, "unit": "mg/dL"}]), "mg/dL"),
        (_file([{**GOOD_ROW, "lln": -1}]), "lln must be a number from 0 up"),
        (_file([{**GOOD_ROW, "min_age_years": 18, "max_age_years": 1}]), "min_age_years 18 is above"),
        (_file([{**GOOD_ROW, "profile": "other"}]), "profile 'other' is not defined"),
        (_file([]), "has no [[range]] rows"),
        (_file([GOOD_ROW], pid="standard"), "built-in profile"),
        ({"range": [GOOD_ROW]}, "no profile defined"),
        ({**_file([GOOD_ROW]), "ranges": []}, "unknown table"),
    ],
)
def test_a_bad_profiles_file_is_one_clear_error(doc, fragment):
    with pytest.raises(InputError) as e:
        register_profiles(doc)
    assert e.value.field == "profiles" and fragment in str(e.value) and "\n" not in str(e.value)


def test_a_changed_profile_under_a_loaded_id_is_refused():
    register_profiles(_file([GOOD_ROW], pid="t-changed"))
    with pytest.raises(InputError, match="already loaded with other ranges"):
        register_profiles(_file([{**GOOD_ROW, "uln": 11.0}], pid="t-changed"))


def test_an_unreadable_profiles_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "p.toml"
    bad.write_text("[[profile]\nid = 1")
    with pytest.raises(InputError, match="not valid TOML"):
        register_profiles(bad)
    with pytest.raises(InputError, match="cannot read profiles file"):
        register_profiles(tmp_path / "missing.toml")


def test_an_unregistered_profile_is_still_unknown():
    with pytest.raises(InputError, match="unknown profile"):
        leukon.assess(wbc=3.6, profile="not-registered-anywhere")
