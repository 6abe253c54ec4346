import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leukon.course import CourseParams, Line, episodes
from leukon.errors import InputError

NEUT = pl.col("line") == "neutrophils"


def test_worked_example_every_field(s):
    # day:    0    5    6    7    8    9    10   12   13
    anc = [3.0, 1.2, 0.4, 0.3, 0.6, 0.7, 0.9, 1.6, 2.0]
    e = episodes(s.panels([0, 5, 6, 7, 8, 9, 10, 12, 13], anc)).filter(NEUT)
    assert e.height == 1
    r = e.row(0, named=True)
    assert r["start"] == s.T0 + dt.timedelta(days=5)
    assert r["end"] == s.T0 + dt.timedelta(days=12)  # the first count >= 1.5 ends it
    assert (r["ongoing"], r["end_reason"], r["n_counts"]) == (False, "recovery", 6)
    assert (r["nadir"], r["nadir_at"]) == (0.3, s.T0 + dt.timedelta(days=7))
    assert r["duration_days"] == 7.0
    assert r["worst_grade"] == 4 and r["grade_source"] == "nadir"
    # 1.2 -> 0.4 over a day crosses 0.5 at 7/8 of it; 0.4 -> 0.3 below all day; 0.3 -> 0.6 crosses at 2/3.
    assert r["days_below_0_5"] == pytest.approx(0.125 + 1 + 2 / 3)
    assert r["days_below_0_1"] == 0
    # ASTCT: the first of 3 consecutive days >= 0.5 after the nadir: days 8, 9, 10.
    assert r["recovery_day"] == (s.T0 + dt.timedelta(days=8)).date()


def test_recovery_day_needs_consecutive_days_and_run_length_is_a_parameter(s):
    days = [0, 1, 2, 4, 5, 6, 7]  # day 3 missing breaks the first run
    anc = [0.2, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0]
    e = episodes(s.panels(days, anc)).filter(NEUT)
    assert e["recovery_day"][0] == (s.T0 + dt.timedelta(days=4)).date()
    one_day = episodes(s.panels(days, anc), params=CourseParams(recovery_run_days=1)).filter(NEUT)
    assert one_day["recovery_day"][0] == (s.T0 + dt.timedelta(days=1)).date()


def test_no_recovery_day_when_nadir_never_below_the_level(s):
    e = episodes(s.panels([0, 1, 2, 3, 4], [1.2, 0.9, 0.8, 0.9, 1.8])).filter(NEUT)
    assert e["recovery_day"].to_list() == [None]


def test_hysteresis_entry_below_exit(s):
    line = Line("neutrophils", "anc", "Neutrophil count decreased", 1.0, 1.5, recovery_level=0.5)
    p = CourseParams(lines=(line,))
    # 1.2 alone does not start an episode; 0.9 does; 1.2 and 1.4 keep it going; 1.6 ends it.
    e = episodes(s.panels(range(6), [1.2, 0.9, 1.2, 1.4, 1.6, 1.2]), params=p)
    assert e.height == 1
    assert e["n_counts"][0] == 3 and e["end"][0] == s.T0 + dt.timedelta(days=4)
    with pytest.raises(InputError):
        CourseParams(lines=(Line("x", "anc", "Neutrophil count decreased", 2.0, 1.0),))


def test_confirmed_recovery(s):
    anc = [0.8, 1.6, 0.9, 1.7, 1.8, 0.7]
    assert episodes(s.panels(range(6), anc)).filter(NEUT).height == 3
    e = episodes(s.panels(range(6), anc), params=CourseParams(confirm_recovery=2)).filter(NEUT)
    assert e.height == 2 and e["end"][0] == s.T0 + dt.timedelta(days=3)


def test_gap_bridging_is_configurable(s):
    p = s.panels([0, 40, 80], [1.0, 1.1, 1.2])
    assert episodes(p).filter(NEUT).height == 1  # default bridges 45 days
    split = episodes(p, params=CourseParams(max_gap_days=30)).filter(NEUT)
    assert split.height == 3 and split["end_reason"].to_list() == ["gap", "gap", "end of series"]
    assert split["ongoing"].to_list() == [False, False, True]


def test_grade_column_wins_over_the_nadir(s):
    p = s.panels([0, 1, 2], [1.2, 0.9, 2.0]).with_columns(pl.Series("grade_ctcae_v5_anc", [2, 4, 0], pl.Int8))
    r = episodes(p).filter(NEUT).row(0, named=True)
    assert (r["worst_grade"], r["grade_source"]) == (4, "column")
    # Another scheme has no such column: graded from the nadir (0.9 -> CTCAE v4 grade 3).
    assert episodes(p, scheme="ctcae-v4").filter(NEUT)["worst_grade"][0] == 3


def test_removed_term_gives_no_grade_with_the_reason(s):
    p = s.panels([0, 1], [3.0, 3.0]).with_columns(pl.Series("lymphocytes", [0.3, 2.0]))
    r = episodes(p, scheme="ctcae-v6").filter(pl.col("line") == "lymphocytes").row(0, named=True)
    assert r["worst_grade"] is None and "removed" in r["grade_reason"]


def test_one_count_all_normal_and_nulls(s):
    assert episodes(s.panels([0], [0.4])).filter(NEUT)["ongoing"].to_list() == [True]
    assert episodes(s.panels(range(5), [3.0, 2.5, 4.0, 5.0, 3.3])).height == 0
    # A null ANC is skipped, not read as low; NaN and negative values are unusable too.
    assert episodes(s.panels(range(4), [3.0, None, float("nan"), -1.0])).height == 0


def test_duplicate_timestamps_and_input_order_do_not_change_the_result(s):
    p = s.panels([0, 1, 1, 1, 2, 3], [3.0, 1.4, 0.6, 1.6, 0.8, 2.0])
    a = episodes(p)
    for seed in range(5):
        assert episodes(p.sample(fraction=1.0, shuffle=True, seed=seed)).equals(a)
    # Same-time counts are taken in specimen order, so 1.4 (s-001), 0.6, then 1.6 ends the first episode.
    assert a.filter(NEUT).height == 2


def test_patients_and_lines_are_separate(s):
    p = pl.concat([s.panels([0, 1], [0.4, 2.0], [3.0, 5.0], patient="a"), s.panels([0, 1], [2.0, 0.4], patient="b")])
    e = episodes(p)
    assert e.select("patient_id", "line", "episode").rows() == [
        ("a", "neutrophils", 1),
        ("a", "white cells", 1),
        ("b", "neutrophils", 1),
    ]


def test_contract_errors_name_the_column(s):
    with pytest.raises(InputError, match="Did you mean 'taken'"):
        episodes(s.panels([0], [1.0]).rename({"taken_at": "taken"}))
    with pytest.raises(InputError, match="no count column"):
        episodes(s.panels([0], [1.0]).drop("anc", "wbc"))


def test_lazyframe_string_dates_and_empty_input(s):
    p = s.panels([0, 1, 2], [0.4, 0.3, 2.0]).with_columns(pl.col("taken_at").dt.strftime("%Y-%m-%dT%H:%M:%S"))
    assert episodes(p.lazy()).filter(NEUT)["nadir"].to_list() == [0.3]
    assert episodes(s.panels([], [])).height == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 6.0, allow_nan=False), min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_episode_invariants(values, rnd):
    import datetime as dt

    days = sorted(rnd.sample(range(200), len(values)))
    p = pl.DataFrame(
        {
            "patient_id": "p",
            "specimen_id": [str(i) for i in range(len(values))],
            "taken_at": [dt.datetime(2024, 1, 1) + dt.timedelta(days=d) for d in days],
            "anc": values,
        }
    )
    e = episodes(p)
    low = [v for v in values if v < 1.5]
    # Every low count lies in exactly one episode, episodes never overlap, and the nadir is the lowest low count.
    assert (e.height == 0) == (not low)
    if low:
        assert e["nadir"].min() == min(low)
        assert e["n_counts"].sum() >= len(low)
        assert (e["start"].shift(-1).drop_nulls() > e["last_low_at"].head(e.height - 1)).all()
    assert e.equals(episodes(p.reverse()))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(st.floats(0, 12, allow_nan=False), st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0])),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["ctcae-v5", "ctcae-v6", "clinical", "daids-v2.1"]),
    st.sampled_from([None, 4.0, 1.2]),
)
def test_interval_grading_matches_the_scalar_grader(values, scheme_id, lln):
    import numpy as np

    from leukon.course.episodes import _grades_of
    from leukon.rules.criteria import scheme
    from leukon.rules.grading import evaluate

    for name in ("Neutrophil count decreased", "White blood cell decreased"):
        try:
            term = scheme(scheme_id).term(name)
        except KeyError:
            continue
        got = _grades_of(term, np.unique(np.asarray(values)), lln)
        assert [g for g, _ in got] == [evaluate(term, v, lln=lln).grade for v in np.unique(values).tolist()]
