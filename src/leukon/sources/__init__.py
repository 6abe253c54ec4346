"""Input adapters: lab tables in, one measurement contract out.

>>> from leukon.sources import read          # doctest: +SKIP
>>> src = read("labevents.csv.gz", format="mimic-iv", patients="patients.csv.gz")  # doctest: +SKIP
>>> src.measurements.collect()               # doctest: +SKIP

Every format returns a `Source`:

- `measurements` (lazy): source_row UInt64, patient_id Utf8, specimen_id Utf8 (nullable), taken_at
  Datetime(us), analyte Utf8 (a leukon analyte id), value Float64 (as given, may be null or negative),
  unit Utf8 (raw text, nullable), lln Float64, uln Float64;
- `rejects` (lazy): source_row UInt64, raw Utf8 (the input row's fields as JSON), reason Utf8;
- `patients` (lazy or None): patient_id Utf8, sex 'female' | 'male' | null, birth_date Date;
- `rows_read` (int, one pass, cached) and `row_count` (the same as a lazy one-row frame), with
  ``rows_read == measurements' distinct source_row + rejects rows``, always;
- `dropped` (wide only): bad cells of rows that were otherwise used; `notes`: remarks for the run summary.

Units are passed through as written; converting them is the kernel's job. Duplicate rows are passed
through with their own source_row; the kernel decides what a duplicate is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from .base import MEASUREMENTS_SCHEMA, PATIENTS_SCHEMA, REJECTS_SCHEMA, Source
from .detect import detect_format
from .io import Table
from .mimic import read_mimic
from .omop import read_omop
from .tabular import read_long, read_wide

__all__ = [
    "FORMATS",
    "MEASUREMENTS_SCHEMA",
    "PATIENTS_SCHEMA",
    "REJECTS_SCHEMA",
    "Source",
    "detect_format",
    "read",
    "read_fhir",
    "read_hl7v2",
    "read_long",
    "read_mimic",
    "read_omop",
    "read_wide",
]


def read_fhir(spec: Any, **options: Any) -> Source:
    """FHIR R4 Observations (`leukon.sources.fhir.read_fhir`, imported when first used: a table run needs none)."""
    from .fhir import read_fhir

    return read_fhir(spec, **options)


def read_hl7v2(spec: Any, **options: Any) -> Source:
    """HL7 v2 ORU^R01 messages (`leukon.sources.hl7v2.read_hl7v2`, imported when first used)."""
    from .hl7v2 import read_hl7v2

    return read_hl7v2(spec, **options)


FORMATS = {"long": read_long, "wide": read_wide, "omop": read_omop, "mimic-iv": read_mimic, "fhir": read_fhir,
           "hl7v2": read_hl7v2}  # fmt: skip


def read(path: str | Path | Table, format: str = "long", **options: Any) -> Source:
    """Read a lab table in `format` (long, wide, omop, mimic-iv) from CSV, CSV.gz, Parquet, or a
    DuckDB/SQLite table given as ``file.duckdb:table`` (or ``table=``), or rows already in memory as a
    `Table` (how `leukon.spark` reads one partition).

    Options name columns (``patient_id="MRN"``), a `time_format` (only that format is then accepted),
    a `patients` file (PERSON for OMOP, patients.csv.gz for MIMIC-IV), and for wide tables `analytes`
    ({column: analyte}) and `units` ({column: unit}). Raises InputError naming the field at fault.
    """
    fmt = format.lower().replace("_", "-")
    fmt = {"mimic": "mimic-iv", "mimiciv": "mimic-iv", "omop-cdm": "omop", "hl7": "hl7v2", "hl7-v2": "hl7v2"}.get(
        fmt, fmt
    )
    if fmt in ("auto", "long") and not isinstance(path, Table):
        fmt = detect_format(path) or "long"  # a FHIR Bundle or an MSH segment is never a long table
    if fmt not in FORMATS:
        from ..errors import did_you_mean

        raise InputError("format", f"unknown format {format!r}.{did_you_mean(format, list(FORMATS))}")
    return FORMATS[fmt](path if isinstance(path, Table) else str(path), **options)
