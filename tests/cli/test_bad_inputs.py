"""Files that are not what they claim, empty tables, rejected rows: one line naming the problem and the fix."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import polars as pl
import pytest

from .conftest import DATA

HEADER = "patient_id,taken_at,analyte,value,unit\n"
UNTERMINATED = 'p1,2024-01-01,wbc,"3.1,10^9/L\np1,2024-01-02,anc,1,10^9/L\n'


def _xlsx(path):
    """A minimal Office Open XML workbook: the zip layout Excel writes (content types, workbook, one sheet)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"/>')  # fmt: skip
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")


def _truncated_parquet(path):
    pl.read_csv(DATA / "long.csv").write_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "make", "says"),
    [
        ("records.csv", lambda p: p.write_text('[{"patient_id": "p1", "wbc": 3.1}]'), "JSON document"),
        ("book.csv", _xlsx, "Excel workbook (.xlsx)"),
        ("book.xlsx", _xlsx, "Save As > CSV UTF-8"),
        ("old.csv", lambda p: p.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 500), "Excel 97-2003"),
        ("labs.parquet", lambda p: p.write_bytes(b"patient_id\x00\xff\xfe" * 50), "PAR1"),
        ("labs.parquet", _truncated_parquet, "truncated or damaged Parquet"),
        ("utf16.csv", lambda p: p.write_bytes(HEADER.encode("utf-16")), "UTF-16"),
        ("scan.csv", lambda p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "PDF"),
        ("quote.csv", lambda p: p.write_text(HEADER + UNTERMINATED), "unterminated quote"),
    ],
)
def test_wrong_kind_of_file_is_named(leukon, tmp_path, name, make, says):
    f = tmp_path / name
    make(f)
    r = leukon("screen", f, "--out", tmp_path / "out")
    assert r.one_line_error(), r.err
    assert says in r.err and "internal error" not in r.err
    assert not (tmp_path / "out").exists()


def test_header_only_file_exits_2(leukon, tmp_path):
    f = tmp_path / "header.csv"
    f.write_text(HEADER)
    r = leukon("screen", f, "--out", tmp_path / "out")
    assert r.code == 2 and "no data rows" in r.err.splitlines()[-1]


def test_every_row_rejected_exits_2_with_the_reasons(leukon, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(HEADER + "p1,2024-01-01,zzz,3.1,10^9/L\np2,2024-01-02,wbc,abc,10^9/L\n")
    out = tmp_path / "out"
    r = leukon("screen", f, "--out", out)
    assert r.code == 2 and "none of the 2 rows" in r.err.splitlines()[-1]
    assert "unknown analyte code" in r.out and "value not numeric" in r.out  # the reasons, at the terminal
    assert pl.read_parquet(out / "rejects.parquet").height == 2  # and in the rejects


def test_reject_reasons_have_real_counts_and_examples(leukon, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: each example on one line
    f = tmp_path / "labs.csv"
    rows = ["p1,2024-01-01 08:00,wbc,3.1,10^9/L", "p1,2024-01-01 08:00,cd4,180,mg/dL", "p1,2024-01-02 08:00,cd4,1,mmol/L",
            "p2,2024-01-01 08:00,wbc,x1,10^9/L", "p2,2024-01-01 09:00,wbc,??,10^9/L"]  # fmt: skip
    f.write_text(HEADER + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    r = leukon("screen", f, "--out", out, "--no-course")
    assert r.code == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["rejected_by_reason"] == {"unit is not a cell count per volume for cd4": 2, "value not numeric": 2}
    ex = s["reject_examples"]["unit is not a cell count per volume for cd4"]
    assert ex["example"] == "unit 'mg/dL' is not a cell count per volume for cd4" and ex["source_row"] == 1
    text = json.dumps(s) + r.out
    assert "..." not in text and "cdN" not in text
    assert "unit 'mg/dL' is not a cell count per volume for cd4" in r.out
    rejects = pl.read_parquet(out / "rejects.parquet")
    raw = json.loads(rejects.filter(pl.col("source_row") == 1)["raw"][0])
    assert raw == {"patient_id": "p1", "taken_at": "2024-01-01 08:00", "analyte": "cd4", "value": "180",
                   "unit": "mg/dL"}  # fmt: skip  # the row as read, not the converted values


def test_binary_json_to_assess(leukon, tmp_path):
    f = tmp_path / "cbc.json"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    r = leukon("assess", "--json", f)
    assert r.one_line_error() and "not text" in r.err


def test_binary_json_on_stdin(leukon, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe{\x00")))
    r = leukon("assess", "--json", "-")
    assert r.one_line_error() and "not text" in r.err
