"""Times the column's format misses are read as year-first ISO 8601, each value on its own.

A value's reading must not depend on its neighbours: Polars' format inference, used before, took its
pattern from the first value it met, so a stray "02/01/2024" in an ISO column was read day-first.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leukon.sources import read
from leukon.sources.base import TIME_FORMATS, iso_time, with_time

T = dt.datetime

READ = [
    ("2024-01-02", T(2024, 1, 2)),
    ("2024/01/02", T(2024, 1, 2)),
    ("2024.01.02", T(2024, 1, 2)),
    ("2024-1-2", T(2024, 1, 2)),
    ("2024-01-02T08:05", T(2024, 1, 2, 8, 5)),
    ("2024-01-02 8:05", T(2024, 1, 2, 8, 5)),
    ("2024-01-02T0805", T(2024, 1, 2, 8, 5)),
    ("2024-01-02 08:05:09", T(2024, 1, 2, 8, 5, 9)),
    ("2024-01-02 080509", T(2024, 1, 2, 8, 5, 9)),
    ("2024-01-02T08:05:09.25", T(2024, 1, 2, 8, 5, 9, 250000)),
    ("2024-01-02 08:05:09.123456789", T(2024, 1, 2, 8, 5, 9, 123456)),  # cut to microseconds
    # zoned times are converted to UTC
    ("2024-01-02T08:05:09Z", T(2024, 1, 2, 8, 5, 9)),
    ("2024-01-02T08:05+01:00", T(2024, 1, 2, 7, 5)),
    ("2024-01-02 08:05:09.5-0500", T(2024, 1, 2, 13, 5, 9, 500000)),
    ("2024-01-02T08:05+01", T(2024, 1, 2, 7, 5)),
    ("2024-01-01T00:30:00+02:00", T(2023, 12, 31, 22, 30)),  # across midnight and the year
]

NOT_READ = [
    "02/01/2024",  # day or month first: only the whole column can settle which (resolve_time_format)
    "1/2/2024 08:00",
    "02.01.2024",
    "02-01-2024T08:00",
    "20240102",  # no separators
    "2024-02-30",  # no such day
    "2024-13-01",
    "2024-01-02 25:00",
    "2024-01-02 08:00 AM",
    "2024-01-02 08:00 UTC",
    "yesterday",
    "2 Jan 2024",
]


def _read(values: list[str | None]) -> list[dt.datetime | None]:
    return pl.DataFrame({"t": values}, schema={"t": pl.String}).select(iso_time(pl.col("t"))).to_series().to_list()


@pytest.mark.parametrize(("value", "expected"), READ)
def test_year_first_times_are_read(value: str, expected: dt.datetime) -> None:
    assert _read([value]) == [expected]


@pytest.mark.parametrize("value", NOT_READ)
def test_other_times_are_not_guessed(value: str) -> None:
    assert _read([value]) == [None]


def test_empty_and_all_null_columns() -> None:
    assert _read([]) == []
    assert _read([None, None]) == [None, None]


VALUES = st.sampled_from([v for v, _ in READ] + NOT_READ + [None])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(values=st.lists(VALUES, max_size=30), fmt=st.sampled_from([None, *TIME_FORMATS]))
def test_a_value_is_read_the_same_whatever_its_neighbours(values: list[str | None], fmt: str | None) -> None:
    """The staged reading of a column (its format, then ISO on the rest) equals each value read alone, and
    reversing the column reverses the times."""
    lf = pl.LazyFrame({"t": values}, schema={"t": pl.String})
    whole = with_time(lf, "t", "out", pl.String, fmt=fmt, only=False).collect()["out"].to_list()
    alone = [with_time(lf.slice(i, 1), "t", "out", pl.String, fmt=fmt, only=False).collect()["out"][0]
             for i in range(len(values))]  # fmt: skip
    assert whole == alone
    # a format read first is only a fast path: every value reads as it does value by value
    assert whole == _read(values)
    backwards = pl.LazyFrame({"t": values[::-1]}, schema={"t": pl.String})
    assert with_time(backwards, "t", "out", pl.String, fmt=fmt, only=False).collect()["out"].to_list() == whole[::-1]


def test_a_stray_day_first_date_in_an_iso_file_is_rejected_not_guessed() -> None:
    """Before, the stray row was read as 2 January; now it is a reject that quotes it."""
    times = [f"2024-03-{d:02d} 08:00" for d in range(1, 20)] + ["02/01/2024 08:00", "2024-03-20T09:15:00+01:00"]
    f = Path(tempfile.mkdtemp()) / "labs.csv"
    f.write_text("patient_id,taken_at,analyte,value,unit\n" + "".join(f"p1,{t},wbc,3.1,10^9/L\n" for t in times))
    src = read(f)
    m, r = src.collect()
    assert src.rows_read == len(times) == m.height + r.height
    assert r["source_row"].to_list() == [19]
    assert r["reason"].to_list() == ["unparseable time '02/01/2024 08:00'"]
    assert m.sort("source_row")["taken_at"].to_list()[-1] == T(2024, 3, 20, 8, 15)  # the zoned one, in UTC


def test_a_column_in_two_shapes_is_read_whole() -> None:
    """No one format reads 90 % of the sample: the commoner shape is read first, the rest value by value."""
    times = [f"2024-03-{d:02d} 08:00" if d % 3 else f"2024-03-{d:02d}T08:00:00+00:00" for d in range(1, 29)]
    f = Path(tempfile.mkdtemp()) / "labs.csv"
    f.write_text("patient_id,taken_at,analyte,value,unit\n" + "".join(f"p1,{t},wbc,3.1,10^9/L\n" for t in times))
    src = read(f)
    m, r = src.collect()
    assert r.height == 0
    assert m.sort("source_row")["taken_at"].to_list() == [T(2024, 3, d, 8) for d in range(1, 29)]
    assert src.time_format == "taken_at read as ISO 8601, value by value"


def _labs(times: list[str]) -> Path:
    f = Path(tempfile.mkdtemp()) / "labs.csv"
    f.write_text("patient_id,taken_at,analyte,value,unit\n" + "".join(f"p1,{t},wbc,3.1,10^9/L\n" for t in times))
    return f


def test_a_zoned_column_takes_the_fixed_format_and_comes_out_in_utc() -> None:
    times = [f"2024-03-{d:02d}T08:00:00+01:00" for d in range(1, 20)] + ["2024-03-20T08:00:00Z"]
    src = read(_labs(times))
    m, r = src.collect()
    assert r.height == 0
    assert src.time_format == "taken_at read as %Y-%m-%dT%H:%M:%S%.f%#z (ISO 8601)"
    assert m.schema["taken_at"] == pl.Datetime("us")  # naive, in UTC, like every other time
    assert m.sort("source_row")["taken_at"].to_list() == [T(2024, 3, d, 7) for d in range(1, 20)] + [T(2024, 3, 20, 8)]


def test_a_given_format_with_a_zone_gives_utc_times() -> None:
    src = read(_labs(["2024-03-01 08:00 +0200", "2024-03-02 08:00 -0500"]), time_format="%Y-%m-%d %H:%M %z")
    m, _ = src.collect()
    assert m.schema["taken_at"] == pl.Datetime("us")
    assert m.sort("source_row")["taken_at"].to_list() == [T(2024, 3, 1, 6), T(2024, 3, 2, 13)]
