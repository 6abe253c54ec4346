"""The course reads each specimen's own lower limit: Duffy-null adults, infants, lab ranges, and no range at all.

The same ANC series, 1.25-1.35 x 10^9/L every 14 days for 18 weeks, is read against the limit that applies:
- a Duffy-null adult: inside the Duffy-null interval 1.21-5.39 (Hibbs et al., Blood 2025): no episode;
- any other adult: below 1.5 on every count for over 3 months: chronic neutropenia;
- an infant (2 weeks to 1 year, LLN 1.0): no episode (values 1.1-1.2 here);
- the lab's own limit wins over the profile, either way.
A WBC in the first month of life has no range in the standard profile: "not assessed", never "none"; from
31 days each count is read against its age band (Davis's handbook: 6.1 up to the second birthday, then 4.5).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leukon
from leukon.cli.app import main
from leukon.course import CourseParams, Line, episodes, patients_table
from leukon.errors import InputError

DATA = Path(__file__).parents[1] / "data" / "course"
T0 = dt.datetime(2024, 1, 1, 8)
ANC = [1.25, 1.31, 1.35, 1.28, 1.33, 1.30, 1.26, 1.34, 1.29, 1.32]
ADULT_DAYS = 40 * 365


def series(patient: str, anc, *, age0: int = ADULT_DAYS, ancestry: str | None = None, **cols) -> pl.DataFrame:
    """A counts table: one row every 14 days, with the specimen's age and ancestry as screen writes them."""
    n = len(anc)
    return pl.DataFrame(
        {
            "patient_id": patient,
            "specimen_id": [f"{patient}-{i:02d}" for i in range(n)],
            "taken_at": [T0 + dt.timedelta(days=14 * i) for i in range(n)],
            "age_days": [age0 + 14 * i for i in range(n)],
            "ancestry": pl.Series([ancestry] * n, dtype=pl.String),
            "anc": [float(a) for a in anc],
            **cols,
        }
    )


def course(df: pl.DataFrame, line: str = "neutrophils", **kw):
    return leukon.follow(df, **kw).patients[0].courses[line]


# ---- leukon.follow on a counts table -----------------------------------------------------------------


def test_duffy_null_adult_within_the_duffy_null_interval_has_no_episode():
    r = leukon.follow(series("D", ANC, ancestry="duffy-null")).patients[0]
    c = r.courses["neutrophils"]
    assert c.label == "none" and r.episodes_of("neutrophils") == ()
    assert [(x.lln, x.origin, x.n_counts) for x in c.limits] == [(1.21, "profile", len(ANC))]
    assert "Hibbs" in c.limits[0].source and "Duffy-null" in c.limits[0].source
    assert "1.21" in c.reason and "Hibbs" in c.reason
    info = next(i for i in r.lines if i.name == "neutrophils")
    assert (info.lln, info.uln, info.lln_origin) == (1.21, 5.39, "profile")


def test_the_same_series_in_another_adult_is_chronic_neutropenia():
    r = leukon.follow(series("A", ANC)).patients[0]
    c = r.courses["neutrophils"]
    assert c.label == "chronic" and len(c.evidence) == len(ANC)
    assert all(e.lln == 1.5 for e in c.evidence)
    assert "below the lower limit 1.5" in c.reason
    (e,) = r.episodes_of("neutrophils")
    assert (e.lln, e.lln_origin, e.ongoing) == (1.5, "profile", True)
    assert "standard profile" in e.lln_source


def test_spellings_of_the_duffy_null_phenotype_are_read_and_nonsense_is_named():
    assert course(series("D", ANC, ancestry="Duffy null")).label == "none"
    assert course(series("D", ANC, ancestry="BEN")).label == "none"
    with pytest.raises(InputError, match="ancestry"):
        leukon.follow(series("D", ANC, ancestry="martian"))


def test_infant_with_anc_above_the_infant_limit_has_no_episode():
    infant = series("I", [a - 0.15 for a in ANC], age0=60)  # ages 60-186 days, ANC 1.10-1.20
    r = leukon.follow(infant).patients[0]
    assert r.courses["neutrophils"].label == "none" and r.episodes == ()
    (lim,) = r.courses["neutrophils"].limits
    assert lim.lln == 1.0 and "2 weeks to 1 year" in lim.source
    # The same counts a year later (after the first birthday, LLN 1.5) are chronic neutropenia.
    assert course(series("I", [a - 0.15 for a in ANC], age0=400)).label == "chronic"


def test_limits_change_with_age_within_one_series():
    # ANC 1.2 throughout, ages 300-496 days: normal while an infant, low from the first birthday (LLN 1.0 -> 1.5).
    r = leukon.follow(series("I", [1.2] * 15, age0=300)).patients[0]
    (e,) = r.episodes_of("neutrophils")
    assert e.start == T0 + dt.timedelta(days=14 * 5)  # age 370 days: the first count after one year
    assert (e.lln, e.n_counts) == (1.5, 10)
    c = r.courses["neutrophils"]
    assert [(x.lln, x.n_counts) for x in c.limits] == [(1.0, 5), (1.5, 10)]
    assert c.label == "chronic" and "each count's own lower limit (1-1.5 x 10^9/L" in c.reason


def test_wbc_in_the_first_month_is_not_assessed_with_the_reason():
    df = series("I", [1.2, 1.25, 1.3], age0=2, wbc=[3.4] * 3)  # ages 2, 16 and 30 days
    r = leukon.follow(df).patients[0]
    c = r.courses["white cells"]
    assert c.label == "not assessed" and c.n_not_assessed == 3 and c.limits == ()
    assert "no reference range for wbc at ages 2-30 days" in c.reason
    assert r.episodes_of("white cells") == ()
    assert all(x.lln is None for x in r.series["white cells"])
    assert patients_table(df)["label_white_cells"].to_list() == ["not assessed"]


def test_wbc_in_infancy_is_read_against_the_infant_band():
    df = series("I", [a - 0.15 for a in ANC], age0=60, wbc=[3.4] * len(ANC))  # ages 60-186 days
    c = course(df, "white cells")
    assert c.label == "chronic" and c.n_not_assessed == 0
    assert [(x.lln, x.n_counts) for x in c.limits] == [(6.1, len(ANC))]


def test_counts_before_and_after_the_first_month_mix_not_assessed_and_assessed():
    df = series("I", ANC, age0=3, wbc=[3.4] * len(ANC))  # WBC 3.4: no range before 31 days, low after
    c = course(df, "white cells")
    assert c.n_not_assessed == 2 and "ages 3-17 days" in c.not_assessed_reason
    assert "2 count(s) not assessed" in c.reason
    assert [(x.lln, x.n_counts) for x in c.limits] == [(6.1, 8)]  # 1-23 months: 6.1-17.5


def test_counts_either_side_of_the_second_birthday_read_their_own_limit():
    df = series("T", ANC, age0=670, wbc=[5.0] * len(ANC))  # ages 670-796 days; 2 years = day 731
    c = course(df, "white cells")
    assert [(x.lln, x.n_counts) for x in c.limits] == [(4.5, 5), (6.1, 5)]
    assert c.label == "acute" and c.n_episodes == 1 and c.n_not_assessed == 0


def test_lab_range_wins_over_the_profile_both_ways():
    lab_low = series("L", ANC, anc_lln=[1.2] * len(ANC), anc_range=["lab"] * len(ANC))
    c = course(lab_low)
    assert c.label == "none" and [(x.lln, x.origin) for x in c.limits] == [(1.2, "lab")]
    assert "the lab's range" in c.reason
    lab_high = series("H", [a + 0.4 for a in ANC], anc_lln=[1.8] * len(ANC), anc_range=["lab"] * len(ANC))
    r = leukon.follow(lab_high).patients[0]
    assert r.courses["neutrophils"].label == "chronic"
    assert (r.episodes[0].lln, r.episodes[0].lln_origin) == (1.8, "lab")


def test_an_empty_given_limit_is_not_assessed_not_replaced_by_a_guess():
    df = series("G", ANC, anc_lln=[None] * len(ANC))
    c = course(df)
    assert c.label == "not assessed" and "anc_lln is empty" in c.reason
    # Without a range column the limit is "given", whatever made it.
    assert course(series("G", ANC, anc_lln=[1.5] * len(ANC))).limits[0].origin == "given"


def test_a_profile_limit_without_its_context_is_not_given_another_rows_source():
    n = len(ANC)
    given = {"anc_lln": [1.21] * n, "anc_range": ["profile"] * n}
    with_context = course(series("D", ANC, ancestry="duffy-null", **given))
    assert with_context.label == "none" and "Hibbs" in with_context.limits[0].source
    bare = series("D", ANC, **given).drop("age_days", "ancestry")  # the adult context would say 1.5, not 1.21
    (lim,) = course(bare).limits
    assert (lim.lln, lim.origin) == (1.21, "profile") and "before `follow`" in lim.source


def test_fixed_cut_off_overrides_the_specimen_range():
    duffy = series("D", ANC, ancestry="duffy-null")
    fixed = Line("neutrophils", "anc", "Neutrophil count decreased", 1.5, 1.5, recovery_level=0.5, severe_chronic=0.5)
    c = course(duffy, params=CourseParams(lines=(fixed,)))
    assert c.label == "chronic" and "the fixed cut-off 1.5" in c.reason
    # A fixed LLN (CourseParams.lln) replaces every specimen's limit, for entry and for grade 1.
    c2 = course(series("A", ANC), params=CourseParams(lln={"anc": 1.2}))
    assert c2.label == "none" and [(x.lln, x.origin) for x in c2.limits] == [(1.2, "fixed")]
    with pytest.raises(InputError, match="lln"):
        CourseParams(lln={"anc": -1})
    with pytest.raises(InputError, match="profile"):
        CourseParams(profile="martian")


def test_profile_column_and_default_profile_choose_the_range():
    nih = series("N", [2.2] * 10)  # nih profile: ANC 2.5-6.0 for everyone
    assert course(nih).label == "none"
    assert course(nih, params=CourseParams(profile="nih")).label == "chronic"
    assert course(nih.with_columns(pl.lit("nih").alias("profile"))).label == "chronic"


def test_episode_table_names_the_limit_and_json_carries_it():
    df = pl.concat([series("A", ANC), series("D", ANC, ancestry="duffy-null")], how="diagonal")
    e = episodes(df).filter(pl.col("line") == "neutrophils")
    assert e["patient_id"].to_list() == ["A"]
    assert e.select("lln", "lln_origin").row(0) == (1.5, "profile")
    d = json.loads(json.dumps(leukon.follow(df).to_dict(include_series=True)))
    a, dn = d["patients"]
    assert a["episodes"][0]["lln"] == 1.5 and a["series"]["neutrophils"][0]["lln"] == 1.5
    assert dn["courses"]["neutrophils"]["limits"][0]["lln"] == 1.21
    assert d["params"]["lines"][0]["entry"] is None
    assert d["params"]["lines"][0]["entry_rule"] == "below the specimen's lower limit of normal"


def test_cyclic_nadirs_are_judged_against_each_specimen_limit(s):
    import numpy as np

    days = s.three_a_week(8)
    rng = np.random.default_rng(4)
    # A 21-day rhythm whose nadirs sit near 1.3: below the general adult limit, inside the Duffy-null interval.
    anc = np.exp(np.log(2.4) + 0.6 * np.cos(2 * np.pi * np.asarray(days) / 21) + rng.normal(0, 0.03, len(days)))
    base = s.panels(days, anc).with_columns(pl.lit(ADULT_DAYS).alias("age_days"))
    adult = leukon.follow(base).patients[0].cyclic
    duffy = leukon.follow(base.with_columns(pl.lit("duffy-null").alias("ancestry"))).patients[0].cyclic
    assert adult.verdict == "cyclic" and all(n.lln == 1.5 for n in adult.nadirs)
    assert duffy.verdict == "not cyclic" and "below 1.21" in duffy.reason
    assert adult.period_days == duffy.period_days  # the same rhythm; only the reading of the nadirs differs


def test_reference_range_is_called_once_per_distinct_context(monkeypatch):
    import leukon.course.limits as limits

    calls = []
    real = limits.reference_range

    def counting(analyte, **kw):
        calls.append((analyte, tuple(sorted(kw.items()))))
        return real(analyte, **kw)

    monkeypatch.setattr(limits, "reference_range", counting)
    # 3 patients x 10 counts, but only 2 distinct (age, ancestry) contexts per analyte: same age for all.
    df = pl.concat(
        [
            series(p, ANC, ancestry=a, wbc=[5.0] * 10).with_columns(pl.lit(ADULT_DAYS).alias("age_days"))
            for p, a in (("a", None), ("b", "duffy-null"), ("c", None))
        ]
    )
    leukon.follow(df)
    assert len(calls) == len(set(calls)) == 2 * 2  # 2 contexts x 2 analytes present (anc, wbc)


# ---- properties ---------------------------------------------------------------------------------------


def test_limits_chosen_here_agree_with_the_screening_stage(tmp_path):
    """A counts table with only age, sex and ancestry gets, count by count, the limits screen's panels carry."""
    from leukon import synth
    from leukon.course.episodes import prepare, with_limits
    from leukon.course.limits import lln_column

    cohort = synth.cohort(400, seed=3, dirt=0.0).with_columns(pl.lit(None, pl.Float64).alias(c) for c in ("lln", "uln"))
    panels = leukon.screen(str(synth.write(cohort, tmp_path / "c.parquet")), format="long", course=False).panels
    bare = panels.drop(c for c in panels.columns if c.endswith(("_lln", "_uln", "_range")))
    p = CourseParams()
    mine = with_limits(prepare(bare, p), p)[0].collect()
    key = ["patient_id", "specimen_id"]
    both = panels.join(mine.select(*key, *(lln_column(c) for c in ("anc", "wbc", "lymphocytes"))), on=key)
    assert both.height == panels.height > 1000
    assert both["age_days"].n_unique() > 100 and set(both["ancestry"].drop_nulls()) == {"duffy-null"}
    for c in ("anc", "wbc", "lymphocytes"):
        assert both[f"{c}_lln"].equals(both[lln_column(c)], null_equal=True), c
    # And so the course labels agree too, patient by patient.
    assert patients_table(bare).equals(patients_table(panels))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.0, 4.0, allow_nan=False), st.sampled_from([1.0, 1.21, 1.5, 1.8, 2.5])),
        min_size=1,
        max_size=25,
    )
)
def test_every_count_below_its_own_limit_is_in_an_episode_and_no_episode_starts_at_or_above_it(pairs):
    values, llns = zip(*pairs, strict=True)
    df = series("p", values, anc_lln=list(llns), anc_range=["lab"] * len(values))
    e = episodes(df).filter(pl.col("line") == "neutrophils")
    low = [v for v, lo in pairs if v < lo]
    assert (e.height == 0) == (not low)
    if low:
        assert e["n_counts"].sum() >= len(low) and e["nadir"].min() <= min(low)
        by_time = {T0 + dt.timedelta(days=14 * i): (v, lo) for i, (v, lo) in enumerate(pairs)}
        assert all(by_time[t][0] < by_time[t][1] for t in e["start"])  # each episode opens on a low count
        assert e["lln_origin"].to_list() == ["lab"] * e.height


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 4.0, allow_nan=False), min_size=1, max_size=25), st.sampled_from([1.0, 1.21, 1.5]))
def test_one_limit_for_every_count_equals_the_same_fixed_cut_off(values, lln):
    given_limit = series("p", values, anc_lln=[lln] * len(values))
    fixed = CourseParams(
        lines=(Line("neutrophils", "anc", "Neutrophil count decreased", lln, lln, recovery_level=0.5),),
        lln={"anc": lln},
    )
    a = episodes(given_limit).filter(pl.col("line") == "neutrophils").drop("lln_origin", "lln_source")
    b = episodes(series("p", values), params=fixed).drop("lln_origin", "lln_source")
    assert a.equals(b)


# ---- leukon follow on a raw long results CSV (the screen path) ---------------------------------------


def test_follow_command_on_a_raw_results_csv_reads_each_specimen_range(capsys):
    assert main(["follow", str(DATA / "ranges_long.csv"), "--json"]) == 0
    d = {p["patient_id"]: p for p in json.loads(capsys.readouterr().out)["patients"]}
    label = {pid: p["courses"]["neutrophils"]["label"] for pid, p in d.items()}
    assert label == {
        "ADULT": "chronic",
        "DUFFY": "none",
        "DUFFY_LAB": "chronic",  # the lab's range wins (as in the findings), and the reason says what that means
        "INFANT": "none",
        "LAB_HIGH": "chronic",
        "LAB_LOW": "none",
        "NEWBORN": "none",
    }
    lim = {
        pid: [(x["lln"], x["origin"]) for x in p["courses"]["neutrophils"]["limits"]]
        for pid, p in d.items()
        if pid != "NEWBORN"  # neonatal ANC limits change by the day; the WBC is what this patient is for
    }
    assert lim == {
        "ADULT": [(1.5, "profile")],
        "DUFFY": [(1.21, "profile")],
        "DUFFY_LAB": [(1.5, "lab")],
        "INFANT": [(1.0, "profile")],
        "LAB_HIGH": [(1.8, "lab")],
        "LAB_LOW": [(1.2, "lab")],
    }
    wbc = d["INFANT"]["courses"]["white cells"]  # ages 60-186 days: WBC 3.4 below the 1-23 month band's 6.1
    assert wbc["label"] == "chronic" and wbc["n_not_assessed"] == 0
    assert [x["lln"] for x in wbc["limits"]] == [6.1]
    newborn = d["NEWBORN"]["courses"]["white cells"]  # ages 3-27 days: no WBC range in the first month
    assert newborn["label"] == "not assessed" and newborn["n_not_assessed"] == 9 and newborn["limits"] == []
    assert "no reference range for wbc at ages 3-27 days" in newborn["reason"]
    assert not [e for e in d["NEWBORN"]["episodes"] if e["line"] == "white cells"]
    assert d["ADULT"]["courses"]["white cells"]["label"] == "none"
    assert d["ADULT"]["episodes"][0]["lln_origin"] == "profile"
    duffy_lab = d["DUFFY_LAB"]["courses"]["neutrophils"]["reason"]
    assert "10 low count(s) are low only by the lab's range and lie within the Duffy-null" in duffy_lab
    assert "Duffy-null" not in d["ADULT"]["courses"]["neutrophils"]["reason"]


def test_follow_command_text_names_the_limit(capsys):
    assert main(["follow", str(DATA / "ranges_long.csv"), "--patient", "DUFFY"]) == 0
    out = capsys.readouterr().out
    assert "neutrophils: none" in out and "1.21" in out and "Hibbs et al., Blood 2025" in out


def test_screen_patients_table_reads_the_panel_ranges(tmp_path):
    r = leukon.screen(str(DATA / "ranges_long.csv"), format="long")
    row = {x["patient_id"]: x for x in r.patients.iter_rows(named=True)}
    assert row["DUFFY"]["label_neutrophils"] == "none" and row["ADULT"]["label_neutrophils"] == "chronic"
    assert row["INFANT"]["label_neutrophils"] == "none" and row["INFANT"]["label_white_cells"] == "chronic"
    assert row["LAB_LOW"]["label_neutrophils"] == "none" and row["LAB_HIGH"]["label_neutrophils"] == "chronic"
    assert row["NEWBORN"]["label_white_cells"] == "not assessed" and row["NEWBORN"]["n_episodes_white_cells"] == 0
    assert set(r.episodes["patient_id"]) == {"ADULT", "DUFFY_LAB", "INFANT", "LAB_HIGH"}  # INFANT: WBC 3.4 < 6.1


def test_follow_command_names_an_unknown_ancestry_in_one_line(tmp_path, capsys):
    f = tmp_path / "counts.csv"
    series("D", ANC, ancestry="martian").write_csv(f)
    assert main(["follow", str(f)]) == 2
    err = capsys.readouterr().err
    assert "ancestry" in err and "martian" in err and err.count("\n") == 1 and "Traceback" not in err


def test_follow_command_on_a_counts_csv_with_age_and_ancestry(tmp_path, capsys):
    f = tmp_path / "counts.csv"
    pl.concat([series("A", ANC), series("D", ANC, ancestry="duffy-null")]).write_csv(f)
    assert main(["follow", str(f), "--json"]) == 0
    d = {p["patient_id"]: p["courses"]["neutrophils"]["label"] for p in json.loads(capsys.readouterr().out)["patients"]}
    assert d == {"A": "chronic", "D": "none"}
