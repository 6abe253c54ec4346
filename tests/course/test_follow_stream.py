"""`follow_stream`: a cohort's courses built a batch of patients at a time equal `follow`'s, with errors first."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from leukon.course import follow, follow_stream
from leukon.errors import InputError


@pytest.fixture
def cohort(s) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Seven patients of different kinds, given out of order: chemotherapy cycles (with and without their
    treatment dates), cyclic neutropenia, a single low count, empty counts, and one patient's rows interleaved
    with another's; treatments include a patient with no counts."""
    chemo = s.chemo_series()
    days = s.three_a_week(20)
    parts = [
        chemo.with_columns(patient_id=pl.lit("p7")),
        s.panels(days, s.cyclic_anc(days), patient="p3"),
        chemo.with_columns(patient_id=pl.lit("p1")),
        s.panels([0], [0.4], patient="p5"),
        s.panels([0, 1], [None, None], patient="p2"),
        s.panels([0, 3, 9], [1.1, 0.3, 2.0], [3.0, 1.9, 4.4], patient="p6"),
        s.panels([1, 4, 10], [0.9, 0.2, 2.4], [2.9, 1.5, 4.1], patient="p4"),
    ]
    panels = pl.concat(parts)
    mixed = panels.filter(pl.col("patient_id").is_in(["p4", "p6"]))
    panels = pl.concat([panels.filter(~pl.col("patient_id").is_in(["p4", "p6"])), mixed.sort("taken_at")])
    start = s.T0.date()
    treatments = pl.DataFrame(
        {
            "patient_id": ["p1", "p1", "p1", "p9", "p6"],
            "date": [start, start + dt.timedelta(days=21), start + dt.timedelta(days=42), start, start],
            "label": ["cyclophosphamide"] * 3 + ["other", "filgrastim"],
        }
    )
    return panels, treatments


@pytest.mark.parametrize("batch", [1, 2, 3, 7, 100])
def test_batches_give_follow_s_courses_in_patient_order(cohort, batch):
    panels, treatments = cohort
    whole = follow(panels, treatments=treatments)
    stream = follow_stream(panels, treatments=treatments, batch=batch)
    assert stream.patient_ids == [f"p{i}" for i in range(1, 8)]
    got = [p.to_dict(include_series=True) for p in stream]
    assert got == [p.to_dict(include_series=True) for p in whole.patients]
    assert {p.patient_id: p.cyclic.verdict for p in whole.patients}["p3"] == "cyclic"  # the fixture covers it
    assert [e.treatment.label for e in whole.patient("p1").episodes_of("neutrophils")] == ["cyclophosphamide"] * 3


def test_stream_json_is_follow_s_document(cohort):
    panels, treatments = cohort
    whole = json.dumps(follow(panels, treatments=treatments).to_dict(), indent=2, ensure_ascii=False) + "\n"
    stream = follow_stream(panels, treatments=treatments, batch=2)
    assert b"".join(stream.json_pieces()).decode("utf-8") == whole
    with pytest.raises(RuntimeError, match="read once"):
        next(iter(stream))


def test_one_patient_and_no_patients(cohort):
    panels, _ = cohort
    stream = follow_stream(panels, "p4", batch=1)
    assert stream.patient_ids == ["p4"]
    assert [p.to_dict() for p in stream] == [p.to_dict() for p in follow(panels, "p4").patients]
    empty = follow_stream(panels.clear())
    assert empty.patient_ids == [] and list(empty) == []


def test_bad_values_in_a_later_batch_are_refused_before_any_course(cohort):
    """A bad sex, ancestry or profile raises when the stream is made, not after earlier batches were written."""
    panels, _ = cohort
    for column, bad in (("sex", "unknown-sex"), ("ancestry", "martian"), ("profile", "no-such-profile")):
        marked = panels.with_columns(pl.when(pl.col("patient_id") == "p7").then(pl.lit(bad)).alias(column))
        with pytest.raises(InputError) as whole:
            follow(marked)
        with pytest.raises(InputError) as streamed:
            follow_stream(marked, batch=1)
        assert str(streamed.value) == str(whole.value) and column in str(whole.value)
    with pytest.raises(ValueError, match="batch"):
        follow_stream(panels, batch=0)
