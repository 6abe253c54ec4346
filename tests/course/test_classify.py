import datetime as dt

import numpy as np

from leukon.course import CourseParams, Line, follow


def label(p, line="neutrophils"):
    return follow(p).patients[0].courses[line]


def test_no_neutropenia(s):
    c = label(s.panels(range(0, 100, 10), [3.0] * 10))
    assert c.label == "none" and c.evidence == () and "all 10 count(s)" in c.reason


def test_single_acute_episode(s):
    c = label(s.panels([0, 30, 33, 36, 40, 60], [3.5, 1.1, 0.7, 1.0, 2.2, 3.1]))
    assert c.label == "acute" and c.n_episodes == 1
    assert [e.value for e in c.evidence] == [1.1, 0.7, 1.0]
    assert "recovered" in c.reason


def test_one_count_is_acute_and_says_so(s):
    c = label(s.panels([0], [0.9]))
    assert c.label == "acute" and "one count only" in c.reason and "still low" in c.reason


def test_chronic_three_occasions_over_three_months(s):
    # Every 14 days for 6 months around ANC 1.0, never recovering.
    rng = np.random.default_rng(3)
    days = list(range(0, 183, 14))
    c = label(s.panels(days, np.clip(1.0 + rng.normal(0, 0.15, len(days)), 0.6, 1.4)))
    assert c.label == "chronic" and c.n_episodes == 1
    assert len(c.evidence) == len(days)
    assert "without recovery" in c.reason


def test_three_low_counts_under_three_months_is_not_chronic(s):
    assert label(s.panels([0, 30, 60, 88], [1.0, 1.1, 1.2, 1.0])).label == "acute"
    # Calendar months: 1 Jan to 1 Apr is 3 months.
    assert label(s.panels([0, 40, 80, 91], [1.0, 1.1, 1.2, 1.3])).label == "chronic"


def test_long_episode_without_three_months_of_low_counts_is_indeterminate(s):
    # Low on days 0, 44, 88 (under 3 months apart), recovered only on day 100: neither acute nor chronic.
    c = label(s.panels([0, 44, 88, 100], [1.0, 1.45, 1.2, 1.6]))
    assert c.label == "indeterminate" and "span only" in c.reason
    # Hysteresis holds the episode open across a count between entry and exit; two low counts only.
    line = Line("neutrophils", "anc", "Neutrophil count decreased", 1.0, 1.5)
    r = follow(s.panels([0, 40, 80, 110], [0.9, 1.2, 0.8, 1.6]), params=CourseParams(lines=(line,)))
    c = r.patients[0].courses["neutrophils"]
    assert c.label == "indeterminate" and len(c.evidence) == 2


def test_severe_chronic(s):
    days = list(range(0, 120, 7))
    c = label(s.panels(days, [0.3] * len(days)))
    assert c.label == "severe chronic" and "more than 3 months" in c.reason
    assert all(e.value < 0.5 for e in c.evidence) and len(c.evidence) == len(days)
    # Exactly three months below 0.5 is not "more than three months": chronic only.
    d2 = [0, 30, 60, 91]  # 1 Jan .. 1 Apr
    assert label(s.panels(d2, [0.3] * 4)).label == "chronic"


def test_recurrent_chemotherapy_cycles(chemo):
    c = follow(chemo).patients[0].courses["neutrophils"]
    assert c.label == "recurrent" and c.n_episodes == 3


def test_gap_of_months_splits_and_labels_are_honest(s):
    c = label(s.panels([0, 150], [1.0, 1.0]))
    assert c.label == "recurrent" and c.n_episodes == 2


def test_lines_are_labelled_separately(s):
    p = s.panels(range(0, 60, 5), [3.0] * 12, [3.5] * 12)
    r = follow(p).patients[0]
    assert r.courses["neutrophils"].label == "none"
    assert r.courses["white cells"].label == "acute"  # low WBC with a normal ANC (e.g. lymphopenia)
    assert r.courses["lymphocytes"].label == "no data"


def test_evidence_dates_are_the_counts(s):
    c = label(s.panels([0, 10], [0.9, 2.0]))
    assert c.evidence[0].at == s.T0 and c.evidence[0].specimen_id == "p1-000"
    assert isinstance(c.evidence[0].at, dt.datetime)
