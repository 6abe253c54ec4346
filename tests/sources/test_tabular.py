from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from leukon.errors import InputError
from leukon.sources import MEASUREMENTS_SCHEMA, REJECTS_SCHEMA, read

from .conftest import accounted


def test_long_csv_with_loinc_codes(data: Path) -> None:
    src = read(data / "long.csv")
    m, r = accounted(src)
    assert src.rows_read == 19
    assert m.schema == MEASUREMENTS_SCHEMA
    assert r.schema == REJECTS_SCHEMA
    first = m.row(0, named=True)
    assert first["patient_id"] == "P001" and first["specimen_id"] == "A1001" and first["analyte"] == "wbc"
    assert first["lln"] == 4.0 and first["uln"] == 11.0
    assert dict(zip(r["source_row"], r["reason"], strict=True)) == {
        12: "unparseable time 'yesterday'",
        13: "unknown analyte code '9999-9'",
        14: "value not numeric 'abc'",
        15: "missing patient id",
    }
    assert '"Collected":"yesterday"' in r.filter(pl.col("source_row") == 12)["raw"][0]


def test_long_passes_units_duplicates_and_bad_values_through(data: Path) -> None:
    m, _ = accounted(read(data / "long.csv"))
    # Mixed and unknown units reach the kernel as written; it converts or rejects them.
    assert {"10^9/L", "/uL", "K/uL", "%", "g/dL", "mmol/L"} <= set(m["unit"].to_list())
    # A duplicated row keeps its own source_row; deciding what a duplicate is belongs to the kernel.
    dup = m.filter((pl.col("specimen_id") == "B2001") & (pl.col("analyte") == "anc"))
    assert dup["source_row"].to_list() == [10, 11]
    # Negative and empty values are passed as given (null), for the kernel to validate.
    c3 = m.filter(pl.col("specimen_id") == "C3001")
    assert c3["value"].to_list() == [4.2, -0.1, None]


def test_mixed_time_spellings(data: Path) -> None:
    m, _ = accounted(read(data / "long.csv"))
    times = m.filter(pl.col("patient_id") == "P002")["taken_at"].unique().to_list()
    assert [t.isoformat() for t in times] == ["2024-03-05T07:30:00"]


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_database_tables(dbs: dict[str, Path], kind: str, data: Path) -> None:
    from_db, _ = accounted(read(f"{dbs[kind]}:results"))
    from_csv, _ = accounted(read(data / "long.csv"))
    assert from_db.sort("source_row").equals(from_csv.sort("source_row"))
    assert read(dbs[kind], table="RESULTS").rows_read == 19


def test_database_with_two_tables_needs_a_name(dbs: dict[str, Path]) -> None:
    with pytest.raises(InputError, match=r"holds 2 tables \(.*\); name one as .*:TABLE"):
        read(dbs["duckdb"])
    with pytest.raises(InputError, match="has no table 'nope'"):
        read(f"{dbs['duckdb']}:nope")


def test_missing_column_names_field_and_suggests(tmp_path: Path) -> None:
    f = tmp_path / "lab.csv"
    f.write_text("patient,when,loinc,result,unit\nP1,2024-01-01 08:00,6690-2,4.1,K/uL\n")
    with pytest.raises(InputError) as exc:
        read(f)
    msg = str(exc.value)
    assert msg.startswith("taken_at: no time column in") and "--taken-at" in msg and "\n" not in msg
    src = read(f, taken_at="WHEN")
    assert accounted(src)[0]["taken_at"][0].hour == 8
    with pytest.raises(InputError, match=r"column 'result_value' is not in .* Did you mean 'result'\?"):
        read(f, taken_at="when", value="result_value")


def test_unknown_option_and_format(data: Path) -> None:
    with pytest.raises(InputError, match=r"^colour: not an option of the long format"):
        read(data / "long.csv", colour="red")
    with pytest.raises(InputError, match=r"^format: unknown format 'omopp'. Did you mean 'omop'"):
        read(data / "long.csv", format="omopp")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a CSV"),
    ],
)
def test_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "lab.csv"
    f.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read(f)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a directory"):
        read(tmp_path)


def test_header_only_is_zero_rows(tmp_path: Path) -> None:
    f = tmp_path / "lab.csv"
    f.write_text("patient_id,taken_at,analyte,value,unit\n")
    m, r = accounted(read(f))
    assert m.height == r.height == 0


def test_gzip_semicolon_and_explicit_time_format(tmp_path: Path) -> None:
    f = tmp_path / "lab.csv.gz"
    with gzip.open(f, "wt") as fh:
        fh.write("PID;Datum;Test;Wert;Einheit\nP1;03/04/2024 08:00;WBC;4,5;G/L\nP1;03/04/2024 08:00;ANC;2.1;G/L\n")
    src = read(f, patient_id="PID", taken_at="Datum", analyte="Test", value="Wert", unit="Einheit",
               time_format="%d/%m/%Y %H:%M")  # fmt: skip
    m, r = accounted(src)
    assert m["taken_at"][0].month == 4 and m["analyte"].to_list() == ["anc"]
    assert r["reason"].to_list() == ["value not numeric '4,5'"]
    assert any("gzip" in n for n in src.notes)


def test_bare_name_follows_its_unit(tmp_path: Path) -> None:
    f = tmp_path / "lab.csv"
    f.write_text(
        "patient_id,taken_at,analyte,value,unit\n"
        "P1,2024-01-01,Neutrophils,1.2,K/uL\nP1,2024-01-01,Neutrophils,40,%\n"
        "P1,2024-01-01,Bands,0.3,10^9/L\nP1,2024-01-01,Bands,5,%\nP1,2024-01-01,770-8,1.2,K/uL\n"
    )
    m, _ = accounted(read(f))
    # A LOINC code is explicit: 770-8 stays a percentage (with a wrong unit, for the kernel to reject).
    assert m["analyte"].to_list() == ["anc", "neutrophils_pct", "bands", "bands_pct", "neutrophils_pct"]


def test_patients_from_long_columns(tmp_path: Path) -> None:
    f = tmp_path / "lab.csv"
    f.write_text(
        "patient_id,taken_at,analyte,value,unit,sex,dob\n"
        "P1,2024-01-01,wbc,4,K/uL,F,1980-02-03\nP1,2024-02-01,wbc,4,K/uL,F,1980-02-03\n"
        "P2,2024-01-01,wbc,4,K/uL,,\n"
    )
    p = read(f).patients.collect().sort("patient_id")  # one row per patient, in no promised order
    assert p.rows() == [("P1", "female", date(1980, 2, 3), None), ("P2", None, None, None)]


def test_wide_csv(data: Path) -> None:
    src = read(data / "wide.csv", format="wide")
    m, r = accounted(src)
    assert src.rows_read == 6
    assert dict(zip(r["source_row"], r["reason"], strict=True)) == {
        3: "no analyte value in row",
        4: "unparseable time 'not a date'",
        5: "value not numeric 'abc'",
    }
    s1 = {
        row["analyte"]: (row["value"], row["unit"]) for row in m.filter(pl.col("source_row") == 0).iter_rows(named=True)
    }
    assert s1["wbc"] == (3.2, "10^9/L")  # unit from the header
    assert s1["anc"] == (1.1, "10^9/L")  # unit from the ANC_unit column
    assert s1["lymphocytes"] == (0.9, "K/uL")
    assert s1["neutrophils_pct"][0] == 34 and s1["bands_pct"][0] == 2
    assert src.dropped.collect().rows() == [(2, "ANC", "see note", "value not numeric 'see note'")]
    assert src.notes == ["ignored columns: ward"]


def test_wide_units_and_analytes_options(tmp_path: Path) -> None:
    f = tmp_path / "cbc.csv"
    f.write_text("id,drawn,Leuko,Neutro\nA,2024-01-01 08:00,3100,1200\n")
    src = read(f, format="wide", patient_id="id", taken_at="drawn", analytes={"Leuko": "wbc", "Neutro": "anc"},
               units={"leuko": "/uL", "Neutro": "cells/uL"})  # fmt: skip
    m, _ = accounted(src)
    assert m.select("analyte", "value", "unit").rows() == [("wbc", 3100.0, "/uL"), ("anc", 1200.0, "cells/uL")]
    # German short names are known now (Leuko, Neutro); columns named by no lab are still refused.
    assert accounted(read(f, format="wide", patient_id="id", taken_at="drawn"))[0]["analyte"].to_list() == [
        "wbc",
        "neutrophils_pct",  # no unit: a name that does not say count or % is read as the percentage
    ]
    g = tmp_path / "odd.csv"
    g.write_text("id,drawn,Q1,Q2\nA,2024-01-01 08:00,3100,1200\n")
    with pytest.raises(InputError, match=r"^analytes: no analyte columns recognised"):
        read(g, format="wide", patient_id="id", taken_at="drawn")
