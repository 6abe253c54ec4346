from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from leukon.errors import InputError
from leukon.sources import MEASUREMENTS_SCHEMA, read

from .conftest import accounted


@pytest.mark.parametrize("name", ["omop_measurement.csv", "omop_measurement.parquet"])
def test_omop_measurement(data: Path, name: str) -> None:
    src = read(data / name, format="omop", patients=data / "omop_person.csv")
    m, r = accounted(src)
    assert src.rows_read == 10 and m.schema == MEASUREMENTS_SCHEMA
    assert dict(zip(r["source_row"], r["reason"], strict=True)) == {
        6: "censored value (operator_concept_id 4171756)",  # "<0.1" is not 0.1
        7: "unknown analyte code '3020630'",  # creatinine
    }
    rows = {row["source_row"]: row for row in m.iter_rows(named=True)}
    assert rows[0]["analyte"] == "wbc" and rows[0]["unit"] == "10*3/uL"  # from unit_concept_id 8848
    assert rows[0]["patient_id"] == "42" and rows[0]["specimen_id"] is None
    assert rows[2]["unit"] == "%"  # unit_source_value wins
    assert rows[5]["taken_at"].hour == 0  # measurement_date only
    assert rows[8]["analyte"] == "wbc" and rows[8]["unit"] == "omop-unit:9436"  # concept 0: source value
    assert rows[9]["unit"] == "cells/uL" and rows[9]["value"] == 2900


def test_omop_csv_and_parquet_agree(data: Path) -> None:
    a, _ = accounted(read(data / "omop_measurement.csv", format="omop"))
    b, _ = accounted(read(data / "omop_measurement.parquet", format="omop"))
    assert a.equals(b)


def test_omop_person(data: Path) -> None:
    p = read(data / "omop_measurement.csv", format="omop", patients=data / "omop_person.csv").patients.collect()
    # Missing day -> the 15th, missing month -> July (half a month / half a year at most).
    assert p.rows() == [("42", "female", date(1961, 4, 15), None), ("77", "male", date(1988, 7, 15), None)]


def test_omop_missing_concept_column(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("person_id,measurement_date,value_as_number\n1,2024-01-01,3\n")
    with pytest.raises(InputError, match=r"^code: no code column"):
        read(f, format="omop")


def test_mimic_labevents_gz(data: Path) -> None:
    src = read(data / "labevents.csv.gz", format="mimic-iv", patients=data / "patients.csv.gz")
    m, r = accounted(src)
    assert src.rows_read == 12
    assert r["reason"].to_list() == [
        "unknown itemid 50912",
        "excluded MIMIC itemid 51697 (not usable as anc; see analytes.toml)",
        "value not numeric '___'",
    ]
    first = m.row(0, named=True)
    assert first["specimen_id"] == "2345866" and first["analyte"] == "wbc" and first["unit"] == "K/uL"
    assert (first["lln"], first["uln"]) == (4.0, 11.0)
    assert set(m["analyte"]) >= {"anc", "neutrophils_pct", "bands_pct", "lymphocytes_pct", "platelets"}
    p = src.patients.collect()
    # Born between anchor_year - anchor_age - 1 and anchor_year - anchor_age: 1 January of the latter.
    assert p.rows() == [("10000032", "female", date(2128, 1, 1), None), ("10000068", "male", date(2141, 1, 1), None)]


def test_mimic_plain_csv_matches_gzip(data: Path) -> None:
    a, _ = accounted(read(data / "mimic_labevents.csv", format="mimic"))
    b, _ = accounted(read(data / "labevents.csv.gz", format="mimic-iv"))
    assert a.equals(b)
    assert a.filter(pl.col("analyte") == "anc")["value"].to_list() == [0.35, 4.21]
