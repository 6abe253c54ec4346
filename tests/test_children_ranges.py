"""Children's ranges by age, read through `leukon.assess(..., age_days=...)` at and around every band edge.

Each case gives a value just below the lower limit (the finding holds) and one at it (it does not: a value equal
to the LLN is normal). Sources, as profiles.toml cites them:
- haemoglobin: WHO, Haemoglobin concentrations for the diagnosis of anaemia (2011): 11.0 g/dL at 6-59 months,
  11.5 at 5-11 years, 12.0 at 12-14 years, then women 12.0 and men 13.0; no cut-off under 6 months;
- WBC: Davis's Comprehensive Handbook of Laboratory and Diagnostic Tests (Van Leeuwen & Bladh): 1-23 months
  6.1-17.5, 2-10 years 4.5-13.5, 11 years on 4.5-11.1; leukon's adult row (4.0-11.0) from 18 years; no row in
  the first month.
Whole years are floor(days / 365.25), so year N starts on day ceil(N * 365.25): 2 y = 731, 5 y = 1827,
11 y = 4018, 12 y = 4383, 15 y = 5479, 18 y = 6575; 6 months = 183 days, 1 month = 31 days.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leukon


def first_day_of_year(years: int) -> int:
    return math.ceil(years * 365.25)


# (age_days, sex, expected LLN in g/dL)
HEMOGLOBIN = [
    (183, None, 11.0),  # 6 months: the first WHO band
    (400, None, 11.0),
    (1826, None, 11.0),  # 4 years 364 days: still 6-59 months
    (1827, None, 11.5),  # 5 years
    (4382, None, 11.5),  # 11 years
    (4383, None, 12.0),  # 12 years
    (5478, "male", 12.0),  # 14 years: no sex split yet
    (5478, "female", 12.0),
    (5479, "male", 13.0),  # 15 years: adult men
    (5479, "female", 12.0),  # adult women
    (5479, None, 12.0),  # sex unknown: the lower cut-off, so anaemia is not over-called
    (30000, "male", 13.0),
]

# (age_days, expected LLN, expected ULN) in 10^9/L
WBC = [
    (31, 6.1, 17.5),  # 1 month
    (200, 6.1, 17.5),
    (730, 6.1, 17.5),  # 23 months and some days: the last day before the second birthday
    (731, 4.5, 13.5),  # 2 years
    (4017, 4.5, 13.5),  # 10 years
    (4018, 4.5, 11.1),  # 11 years
    (6574, 4.5, 11.1),  # 17 years
    (6575, 4.0, 11.0),  # 18 years: the adult row
]


@pytest.mark.parametrize(("age_days", "sex", "lln"), HEMOGLOBIN)
def test_hemoglobin_just_below_the_who_cut_off_is_anaemia_and_at_it_is_not(age_days, sex, lln):
    below = leukon.assess(wbc=7.0, hemoglobin=round(lln - 0.1, 1), age_days=age_days, sex=sex)
    at = leukon.assess(wbc=7.0, hemoglobin=lln, age_days=age_days, sex=sex)
    assert below.has("anemia") and not at.has("anemia")
    v = at.values["hemoglobin"]
    assert (v.lln, v.uln, v.range_origin, v.range_evidence) == (lln, None, "profile", "V")
    assert "WHO" in v.range_source and "2011" in v.range_source
    assert not any(n.code == "anemia" for n in at.not_assessed)


@pytest.mark.parametrize("age_days", [0, 1, 30, 120, 182])
def test_hemoglobin_under_six_months_is_not_assessed_with_the_reason(age_days):
    a = leukon.assess(wbc=7.0, hemoglobin=6.0, age_days=age_days)  # very low, yet no cut-off to read it against
    assert not a.has("anemia")
    note = next(n for n in a.not_assessed if n.code == "anemia")
    assert "no reference range" in note.message and "at this age" in note.message
    assert a.values["hemoglobin"].lln is None


@pytest.mark.parametrize(("age_days", "lln", "uln"), WBC)
def test_wbc_just_below_the_childrens_lln_is_leukopenia_and_at_it_is_not(age_days, lln, uln):
    below = leukon.assess(wbc=round(lln - 0.1, 1), age_days=age_days)
    at = leukon.assess(wbc=lln, age_days=age_days)
    assert below.has("leukopenia") and not at.has("leukopenia")
    assert (at.values["wbc"].lln, at.values["wbc"].uln) == (lln, uln)
    # and the upper end of the band: at the ULN normal, above it leukocytosis
    assert not leukon.assess(wbc=uln, age_days=age_days).has("leukocytosis")
    assert leukon.assess(wbc=round(uln + 0.1, 1), age_days=age_days).has("leukocytosis")


@pytest.mark.parametrize("age_days", WBC[:7])
def test_childrens_wbc_rows_cite_the_paediatric_table(age_days):
    v = leukon.assess(wbc=8.0, age_days=age_days[0]).values["wbc"]
    assert "Davis's" in v.range_source and v.range_evidence == "V"


@pytest.mark.parametrize("age_days", [0, 1, 14, 30])
def test_wbc_in_the_first_month_is_not_assessed_never_normal(age_days):
    for wbc in (2.0, 12.0):
        a = leukon.assess(wbc=wbc, age_days=age_days)
        assert not a.has("leukopenia") and not a.has("leukocytosis")
        note = next(n for n in a.not_assessed if n.code == "leukopenia")
        assert "reference range" in note.message
        # CTCAE grades 2-4 have fixed cut-offs; below them only the grade-1 range needs the missing LLN
        assert a.grade("ctcae-v5", "White blood cell decreased") == (2 if wbc == 2.0 else None)


def test_the_old_single_childrens_range_no_longer_applies():
    """A 5-year-old with WBC 4.8 was leukopenic under the old 5.0-10.0; the paediatric table's 4.5 says not."""
    a = leukon.assess(wbc=4.8, age_years=5)
    assert not a.has("leukopenia") and a.values["wbc"].lln == 4.5
    # a 1-year-old with 5.5 is now low (6.1), where 5.0-10.0 called it normal
    assert leukon.assess(wbc=5.5, age_years=1).has("leukopenia")


def test_age_in_years_lands_in_the_same_band_as_its_first_day():
    for years, lln in ((1, 11.0), (4, 11.0), (5, 11.5), (11, 11.5), (12, 12.0), (14, 12.0)):
        a = leukon.assess(wbc=7.0, hemoglobin=10.0, age_years=years)
        b = leukon.assess(wbc=7.0, hemoglobin=10.0, age_days=first_day_of_year(years))
        assert a.values["hemoglobin"].lln == b.values["hemoglobin"].lln == lln


def who_hemoglobin_lln(age_days: int, sex: str | None) -> float | None:
    """The WHO 2011 cut-offs written out by hand: the oracle the profile rows must match."""
    years = math.floor(age_days / 365.25)
    if age_days < 183:
        return None
    if years <= 4:
        return 11.0
    if years <= 11:
        return 11.5
    if years <= 14:
        return 12.0
    return 13.0 if sex == "male" else 12.0


def davis_wbc_lln(age_days: int) -> float | None:
    years = math.floor(age_days / 365.25)
    if age_days < 31:
        return None
    if years <= 1:
        return 6.1
    if years <= 17:
        return 4.5
    return 4.0


@settings(max_examples=150, deadline=None)
@given(
    age_days=st.integers(0, 20 * 366),
    sex=st.sampled_from([None, "female", "male"]),
    hb_tenths=st.integers(50, 180),
    wbc_tenths=st.integers(5, 200),
)
def test_findings_follow_the_hand_written_tables_at_every_age(age_days, sex, hb_tenths, wbc_tenths):
    hb, wbc = hb_tenths / 10, wbc_tenths / 10
    a = leukon.assess(wbc=wbc, hemoglobin=hb, age_days=age_days, sex=sex)
    hb_lln, wbc_lln = who_hemoglobin_lln(age_days, sex), davis_wbc_lln(age_days)
    assert a.values["hemoglobin"].lln == hb_lln and a.values["wbc"].lln == wbc_lln
    assert a.has("anemia") == (hb_lln is not None and hb < hb_lln)
    assert a.has("leukopenia") == (wbc_lln is not None and wbc < wbc_lln)
    # cannot tell is said, never a silent normal
    assert any(n.code == "anemia" for n in a.not_assessed) == (hb_lln is None)
    assert any(n.code == "leukopenia" for n in a.not_assessed) == (wbc_lln is None)


# ---- the table path: screen reads the same rows -----------------------------------------------------------------

TABLE = [  # (age_days, sex, analyte LOINC, value, expected finding or None, finding code)
    *[(d, s, "718-7", round(lln - 0.1, 1), "anemia", "anemia") for d, s, lln in HEMOGLOBIN],
    *[(d, s, "718-7", lln, None, "anemia") for d, s, lln in HEMOGLOBIN],
    *[(d, None, "6690-2", round(lln - 0.1, 1), "leukopenia", "leukopenia") for d, lln, _ in WBC],
    *[(d, None, "6690-2", lln, None, "leukopenia") for d, lln, _ in WBC],
    (182, None, "718-7", 6.0, None, "anemia"),  # no WHO cut-off under 6 months
    (30, None, "6690-2", 2.0, None, "leukopenia"),  # no WBC row in the first month
]


def test_screen_reads_the_childrens_bands_as_assess_does(tmp_path):
    import datetime as dt

    taken = dt.date(2024, 6, 1)
    lines = ["patient_id,specimen_id,taken_at,birth_date,sex,analyte,value,unit"]
    for i, (d, sex, code, value, _, _) in enumerate(TABLE):
        birth = taken - dt.timedelta(days=d)
        lines.append(
            f"P{i},S{i},{taken} 08:00,{birth},{sex or ''},{code},{value},{'g/dL' if code == '718-7' else '10^9/L'}"
        )
    f = tmp_path / "children.csv"
    f.write_text("\n".join(lines) + "\n")
    r = leukon.screen(str(f), format="long")
    panels = {p["patient_id"]: p for p in r.panels.iter_rows(named=True)}
    assert len(panels) == len(TABLE)
    for i, (d, sex, code, value, expected, finding) in enumerate(TABLE):
        p = panels[f"P{i}"]
        assert p["age_days"] == d
        assert (finding in p["findings"]) == (expected is not None), (d, sex, code, value)
        analyte = "hemoglobin" if code == "718-7" else "wbc"
        a = leukon.assess(**{analyte: value}, age_days=d, sex=sex)
        assert p["findings"] == [x.code for x in a.findings] and p["not_assessed"] == list(
            dict.fromkeys(n.code for n in a.not_assessed)
        )


@settings(max_examples=300, deadline=None)
@given(
    age_days=st.integers(0, 120 * 366),
    analyte=st.sampled_from(["anc", "wbc", "lymphocytes", "hemoglobin", "platelets", "monocytes"]),
    sex=st.sampled_from([None, "female", "male"]),
    ancestry=st.sampled_from([None, "duffy-null"]),
)
def test_ages_between_two_breaks_select_the_same_range(age_days, analyte, sex, ancestry):
    """The course looks a range up once per interval between `age_breaks`, not once per day of life: that is only
    right if every age of an interval gets the range its first day gets."""
    from leukon.rules.ranges import age_breaks, reference_range, same_range_age

    first = same_range_age(age_days)
    assert first in age_breaks() and first <= age_days
    kw = {"sex": sex, "ancestry": ancestry}
    assert reference_range(analyte, age_days=first, **kw) == reference_range(analyte, age_days=age_days, **kw)
