"""Regenerate the binary fixtures (gzip CSV, Parquet) from the CSV ones beside this file.

Run from anywhere: python tests/data/sources/make_fixtures.py
"""

import gzip
import shutil
from pathlib import Path

import polars as pl

HERE = Path(__file__).parent


def main() -> None:
    with (HERE / "mimic_labevents.csv").open("rb") as src, gzip.open(HERE / "labevents.csv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    with (HERE / "mimic_patients.csv").open("rb") as src, gzip.open(HERE / "patients.csv.gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    # Parquet the way an OMOP export stores it: typed columns, a real datetime, integer ids.
    m = pl.read_csv(HERE / "omop_measurement.csv", try_parse_dates=True)
    m.write_parquet(HERE / "omop_measurement.parquet")
    # DuckDB and SQLite files are built per test run (tests/sources/conftest.py): DuckDB's storage
    # format changes between releases, so a stored file could stop opening.


if __name__ == "__main__":
    main()
