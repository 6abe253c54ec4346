"""Numeric dates (03/04/2024) are read in the order their column settles, checked against the dates written."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leukon.errors import InputError
from leukon.sources import read

DATES = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2035, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)


def _write(times: list[str]) -> Path:
    d = Path(tempfile.mkdtemp())
    f = d / "labs.csv"
    f.write_text("patient_id,taken_at,analyte,value,unit\n" + "".join(f"p1,{t},wbc,3.1,10^9/L\n" for t in times))
    return f


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    dates=st.lists(DATES, min_size=1, max_size=12),
    settler=DATES.filter(lambda d: d.day > 12),
    day_first=st.booleans(),
    sep=st.sampled_from(["/", ".", "-"]),
    with_time=st.booleans(),
)
def test_dates_read_back_as_written(dates, settler, day_first, sep, with_time):
    """Whatever the order, separator and time part, a column with one day over 12 reads back exactly."""
    order = f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y"
    fmt = order + (" %H:%M" if with_time else "")
    written = [*dates, settler]
    expected = [d if with_time else d.replace(hour=0, minute=0) for d in written]
    src = read(str(_write([d.strftime(fmt) for d in written])))
    got = src.measurements.collect().sort("source_row")["taken_at"].to_list()
    assert got == expected
    assert src.time_format.startswith(f"taken_at read as {fmt} (")


@settings(max_examples=30, deadline=None, derandomize=True)
@given(dates=st.lists(DATES.filter(lambda d: d.day <= 12), min_size=1, max_size=10), sep=st.sampled_from(["/", "."]))
def test_column_without_evidence_is_refused(dates, sep):
    with pytest.raises(InputError, match="--time-format"):
        read(str(_write([d.strftime(f"%m{sep}%d{sep}%Y") for d in dates])))
