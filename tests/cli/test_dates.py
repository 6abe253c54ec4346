"""Day/month order of numeric dates is read from the column, or refused; the summary says how times were read."""

from __future__ import annotations

import json

import polars as pl
import pytest

HEADER = "patient_id,taken_at,analyte,value,unit\n"


def _screen(leukon, tmp_path, times, *extra):
    f = tmp_path / "labs.csv"
    f.write_text(HEADER + "".join(f"p1,{t},wbc,3.1,10^9/L\n" for t in times))
    out = tmp_path / "out"
    return leukon("screen", f, "--out", out, "--no-course", *extra), out


@pytest.mark.parametrize(
    ("times", "fmt", "first"),
    [
        (["03/04/2024 08:00", "03/13/2024 09:30"], "%m/%d/%Y %H:%M", "2024-03-04 08:00:00"),  # US: a 13th day
        (["03/04/2024", "13/03/2024"], "%d/%m/%Y", "2024-04-03 00:00:00"),  # day first: a 13th month would be
        (["3.4.24 8:05", "28.2.24 23:10"], "%d.%m.%y %H:%M", "2024-04-03 08:05:00"),
        (["03/04/2024 8:00 PM", "12/31/2023 11:15 AM"], "%m/%d/%Y %I:%M %p", "2024-03-04 20:00:00"),
    ],
)
def test_order_settled_by_the_column(leukon, tmp_path, times, fmt, first):
    r, out = _screen(leukon, tmp_path, times)
    assert r.code == 0, r.err
    s = json.loads((out / "summary.json").read_text())
    assert s["time_format"].startswith(f"taken_at read as {fmt} (") and fmt in r.out
    assert s["rows_used"] == len(times)
    taken = pl.read_parquet(out / "panels.parquet").sort("taken_at")["taken_at"].dt.to_string("%Y-%m-%d %H:%M:%S")
    assert first in taken.to_list()


def test_ambiguous_column_is_refused(leukon, tmp_path):
    r, out = _screen(leukon, tmp_path, ["03/04/2024", "05/06/2024", "11/12/2024"])
    assert r.one_line_error() and "--time-format" in r.err and "'03/04/2024'" in r.err
    assert not out.exists()


def test_mixed_orders_are_refused(leukon, tmp_path):
    r, _ = _screen(leukon, tmp_path, ["13/01/2024", "01/13/2024"])
    assert r.one_line_error() and "mixes day-first" in r.err


def test_time_format_given_settles_it(leukon, tmp_path):
    r, out = _screen(leukon, tmp_path, ["03/04/2024", "05/06/2024"], "--time-format", "%d/%m/%Y")
    assert r.code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["time_format"] == "taken_at read with the given format %d/%m/%Y"
    taken = pl.read_parquet(out / "panels.parquet")["taken_at"].dt.month().sort().to_list()
    assert taken == [4, 6]


def test_iso_times_say_so(leukon, tmp_path):
    r, out = _screen(leukon, tmp_path, ["2024-03-04 08:00:00", "2024-03-13 09:30:00"])
    assert r.code == 0
    assert (
        json.loads((out / "summary.json").read_text())["time_format"] == "taken_at read as %Y-%m-%d %H:%M:%S (ISO 8601)"
    )
