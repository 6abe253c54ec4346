import datetime as dt
import json

import polars as pl
import pytest

from leukon.course import FollowResult, PatientCourse, follow
from leukon.errors import InputError, UnknownSchemeError


def test_chemotherapy_three_cycles_nadir_day_10_to_14_and_recovery(chemo, chemo_treatments):
    p = follow(chemo, "p1", treatments=chemo_treatments).patient("p1")
    eps = p.episodes_of("neutrophils")
    assert len(eps) == 3
    for e, day0 in zip(eps, (0, 21, 42), strict=True):
        assert 10 <= e.nadir_day_after_treatment <= 14
        assert e.treatment.label == "cyclophosphamide" and e.treatment.date == (
            dt.date(2024, 1, 1) + dt.timedelta(days=day0)
        )
        assert e.end_reason == "recovery" and not e.ongoing
        assert e.worst_grade == 4 and e.nadir < 0.5
        assert e.recovery_day is not None and e.nadir_at.date() < e.recovery_day <= e.end.date()
        assert e.days_below["0.5"] > 0 and e.days_below["0.1"] == 0
    assert p.courses["neutrophils"].label == "recurrent"


def test_result_is_json_serialisable_and_typed(chemo, chemo_treatments):
    r = follow(chemo, treatments=chemo_treatments)
    assert isinstance(r, FollowResult) and isinstance(r.patients[0], PatientCourse)
    d = json.loads(json.dumps(r.to_dict(include_series=True)))
    p = d["patients"][0]
    assert p["courses"]["neutrophils"]["label"] == "recurrent"
    assert p["episodes"][0]["recovery_day"] == "2024-01-16"
    assert p["cyclic"]["verdict"] == "explained by treatment"
    assert len(p["series"]["neutrophils"]) == chemo.height
    assert "not a diagnosis" in d["note"]


def test_all_patients_sorted_and_patient_filter(s):
    p = pl.concat([s.panels([0], [2.0], patient="b"), s.panels([0], [0.4], patient="a")])
    assert [x.patient_id for x in follow(p).patients] == ["a", "b"]
    assert [x.patient_id for x in follow(p, "b").patients] == ["b"]
    with pytest.raises(InputError, match="no counts for patient 'c'"):
        follow(p, "c")
    with pytest.raises(UnknownSchemeError):
        follow(p, scheme="ctcae-v9")


def test_patient_with_only_empty_counts_gets_no_data(s):
    r = follow(s.panels([0, 1], [None, None])).patients[0]
    assert {c.label for c in r.courses.values()} == {"no data"}
    assert r.cyclic.verdict == "no data" and r.episodes == ()


def test_bad_treatments_are_named(chemo):
    with pytest.raises(InputError, match="date"):
        follow(chemo, treatments=pl.DataFrame({"patient_id": ["p1"], "when": ["2024-01-01"]}))
    with pytest.raises(InputError, match="dates like"):
        follow(chemo, treatments=pl.DataFrame({"patient_id": ["p1"], "date": ["soon"]}))


def test_treatment_of_another_patient_is_ignored(chemo, chemo_treatments):
    other = chemo_treatments.with_columns(pl.lit("zz").alias("patient_id"))
    p = follow(chemo, treatments=other).patients[0]
    assert p.treatments == () and p.cyclic.verdict == "cyclic"


def test_patients_table_one_row_per_patient(s, chemo):
    from leukon.course import patients_table

    days = s.three_a_week(8)
    p = pl.concat(
        [
            chemo,
            s.panels(days, s.cyclic_anc(days), patient="cyc"),
            s.panels([0], [3.0], patient="n"),
            s.panels([0, 1], [None, None], patient="e"),
        ]
    )
    t = patients_table(p)
    assert t["patient_id"].to_list() == ["cyc", "e", "n", "p1"]
    row = {r["patient_id"]: r for r in t.iter_rows(named=True)}
    assert row["cyc"]["cyclic"] == "cyclic" and abs(row["cyc"]["cyclic_period_days"] - 21) <= 2
    assert row["e"]["label_neutrophils"] == "no data" and row["e"]["cyclic"] == "no data"
    assert row["n"]["label_neutrophils"] == "none" and row["n"]["cyclic"] == "insufficient data"
    assert (
        row["p1"]["label_neutrophils"],
        row["p1"]["n_episodes_neutrophils"],
        row["p1"]["worst_grade_neutrophils"],
    ) == (
        "recurrent",
        3,
        4,
    )
    assert row["p1"]["label_lymphocytes"] == "no data"
    # The table agrees with follow() patient by patient.
    f = follow(p)
    assert [x.courses["neutrophils"].label for x in f.patients] == t["label_neutrophils"].to_list()
    assert [x.cyclic.verdict for x in f.patients] == t["cyclic"].to_list()


def test_text_times_are_read_as_screen_reads_them():
    """Numeric dates nothing settles are refused, not guessed; `time_format` settles them; ISO shapes mix."""
    df = pl.DataFrame({"patient_id": ["p1"] * 3, "taken_at": [f"0{d}/01/2024 08:00" for d in (3, 4, 5)],
                       "anc": [0.4, 1.2, 1.3]})  # fmt: skip
    with pytest.raises(InputError, match=r"month-first \(US\) or day-first"):
        follow(df)
    first = {fmt: follow(df, time_format=fmt).patient("p1").episodes_of("neutrophils")[0].start
             for fmt in ("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M")}  # fmt: skip
    assert first == {"%d/%m/%Y %H:%M": dt.datetime(2024, 1, 3, 8), "%m/%d/%Y %H:%M": dt.datetime(2024, 3, 1, 8)}
    iso = df.with_columns(taken_at=pl.Series(["2024-01-03 08:00", "2024-01-04T09:00:00+01:00", "2024-01-05"]))
    assert follow(iso).patient("p1").episodes_of("neutrophils")[0].start == dt.datetime(2024, 1, 3, 8)


def test_treatment_dates_are_iso_not_guessed():
    df = pl.DataFrame({"patient_id": ["p1"] * 2, "taken_at": ["2024-01-03", "2024-01-04"], "anc": [0.4, 1.2]})
    with pytest.raises(InputError, match="dates like 2024-03-01"):
        follow(df, treatments=pl.DataFrame({"patient_id": ["p1"], "date": ["03/01/2024"], "label": ["chemo"]}))
    ok = pl.DataFrame({"patient_id": ["p1"], "date": ["2024-01-01 09:30"], "label": ["chemo"]})
    assert follow(df, treatments=ok).patient("p1").episodes_of("neutrophils")[0].treatment.date == dt.date(2024, 1, 1)


def test_a_series_is_made_into_counts_only_when_read():
    """`PatientCourse.series` maps each line to its counts, made when a line is first read: the text and JSON
    outputs never read it, and a cohort's counts made up front were a sixth of `follow`'s time."""
    import datetime as dt
    import pickle

    from leukon.course.model import Count, CountSeries

    class NotToBeRead(list):
        def __iter__(self):
            raise AssertionError("a line nobody asked for was made into counts")

    at = dt.datetime(2024, 1, 1)
    series = CountSeries({"neutrophils": [[at, 0.4, "S1", 1.5, True, False, 1]], "white cells": NotToBeRead()})
    assert list(series) == ["neutrophils", "white cells"] and len(series) == 2
    assert series["neutrophils"] == (Count(at, 0.4, "S1", 1.5),)
    assert series["neutrophils"] is series["neutrophils"]  # made once
    assert series.get("lymphocytes", ()) == ()
    done = CountSeries({"neutrophils": [[at, 0.4, "S1", 1.5]]})
    assert done == {"neutrophils": (Count(at, 0.4, "S1", 1.5),)}
    assert pickle.loads(pickle.dumps(done)) == done


def test_series_rows_keep_every_row_of_a_patient_and_line_in_order():
    """Each (patient, line) gets all its counts in their order, whether they come in one run or several."""
    import datetime as dt

    import polars as pl

    from leukon.course.follow import _COUNT_FIELDS, _series_rows

    at = [dt.datetime(2024, 1, d) for d in (1, 2, 3, 4)]
    columns = {"patient_id": ["P1", "P1", "P2", "P1"], "line": "n", "taken_at": at, "value": [0.4, 0.5, 2.0, 0.6],
               "specimen_id": ["a", "b", "c", "d"], "lln": 1.5, "low": True, "lab_range_only": False, "ep_no": 1}  # fmt: skip
    counts = pl.DataFrame(columns).select("patient_id", "line", *_COUNT_FIELDS)
    rows = _series_rows(counts)
    assert [r[1] for r in rows[("P1", "n")]] == [0.4, 0.5, 0.6]
    assert [r[1] for r in rows[("P2", "n")]] == [2.0]
    assert _series_rows(counts.clear()) == {}
