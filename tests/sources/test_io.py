"""sources.io: the kind of a file from its bytes, tables already in memory, and read errors as one line."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pytest

import leukon
from leukon.errors import InputError
from leukon.sources.io import file_kind, frame_table, is_frame, open_table, polars_frame, read_errors

from .conftest import DATA

NOT_PARQUET = "a file named .parquet without the PAR1 signature of Parquet (damaged, or another format)"


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("a.csv", b"patient_id,taken_at\np1,2024-01-01\n", None),
        ("a.csv", b'\xef\xbb\xbf  {"resourceType": "Observation"}', "a JSON document"),
        ("a.csv", b"[1, 2]", "a JSON document"),
        ("a.csv", b"<html><body>login</body></html>", "an XML or HTML document"),
        ("a.txt", b"MSH|^~\\&|LAB|\r", "an HL7 v2 message (read it with --format hl7v2)"),
        ("a.csv", b"\xff\xfep\x00a\x00", "UTF-16 text"),
        ("a.parquet", b"patient_id,taken_at\n", NOT_PARQUET),
        ("a.zip", b"PK\x03\x04" + b"\x00" * 40, "a damaged zip archive"),
    ],
)
def test_file_kind(tmp_path, name, content, kind):
    f = tmp_path / name
    f.write_bytes(content)
    assert file_kind(f) == kind


def test_csv_named_parquet_is_not_read_as_csv_but_a_real_parquet_named_csv_is(tmp_path):
    real = tmp_path / "labs.csv"
    pl.read_csv(DATA / "long.csv").write_parquet(real)
    assert open_table(real).frame.collect().height == 19  # content wins over the name


def test_latin1_csv_is_read_and_the_odd_byte_kept_visible(tmp_path):
    f = tmp_path / "latin1.csv"
    f.write_bytes("patient_id,taken_at,analyte,value,unit\np1,2024-01-01,wbc,3100,/\xb5L\n".encode("latin-1"))
    rows = open_table(f).frame.collect()
    assert rows["unit"][0].startswith("/") and rows.height == 1


def _frames():
    df = pl.read_csv(DATA / "long.csv", infer_schema=False)
    return {"polars": df, "lazy": df.lazy(), "pandas": df.to_pandas()}


@pytest.mark.parametrize("kind", ["polars", "lazy", "pandas"])
def test_screen_accepts_dataframes_like_the_file(kind):
    frame = _frames()[kind]
    assert is_frame(frame)
    from_file = leukon.screen(DATA / "long.csv", course=False)
    from_frame = leukon.screen(frame, course=False)
    assert from_frame.panels.equals(from_file.panels)
    assert from_frame.rejects.select("source_row", "reason").equals(from_file.rejects.select("source_row", "reason"))
    assert from_frame.summary["rows_read"] == 19 and from_frame.summary["accounted"]
    assert from_frame.summary["input"] == "DataFrame"


def test_screen_of_a_typed_pandas_frame():
    """Numbers and datetimes as pandas keeps them (not text) are read the same way."""
    df = pd.DataFrame({"patient_id": ["p1", "p1"], "taken_at": pd.to_datetime(["2024-03-04 08:00", "2024-03-04 08:00"]),
                       "analyte": ["wbc", "anc"], "value": [2.1, 0.45], "unit": ["10^9/L", "10^9/L"]})  # fmt: skip
    r = leukon.screen(df, course=False)
    assert r.panels.height == 1 and r.panels["anc"][0] == 0.45 and "neutropenia" in r.panels["findings"][0]


def test_follow_accepts_a_pandas_frame():
    panels = pd.DataFrame({"patient_id": ["p1"] * 3, "specimen_id": ["a", "b", "c"],
                           "taken_at": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15"]),
                           "anc": [0.4, 0.8, 2.0], "anc_lln": [1.5] * 3})  # fmt: skip
    result = leukon.follow(panels)
    assert result.patients[0].patient_id == "p1" and result.patients[0].episodes[0].nadir == 0.4


def test_not_a_frame_is_one_error():
    with pytest.raises(InputError, match="pandas or Polars DataFrame"):
        polars_frame([1, 2, 3])
    with pytest.raises(InputError, match="source_row"):
        frame_table(pl.DataFrame({"source_row": [1]}))


def test_read_errors_name_the_file_and_pass_bugs_through(tmp_path):
    labs = str(tmp_path / "labs.csv")
    with (
        pytest.raises(InputError, match=r"labs.csv cannot be read past byte 18: an unterminated quote"),
        read_errors(labs),
    ):
        raise pl.exceptions.ComputeError("could not parse `x` ... The current offset in the file is 18 bytes.")
    with pytest.raises(pl.exceptions.ColumnNotFoundError), read_errors(labs):  # a bug is not disguised as bad input
        raise pl.exceptions.ColumnNotFoundError("anc")
