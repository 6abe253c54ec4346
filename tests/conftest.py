"""Shared fixtures: one specimen's results as a source in the measurement contract, as an adapter hands it on."""

import datetime as dt
from types import SimpleNamespace

import polars as pl
import pytest

from leukon.measurements.normalize import MEASUREMENT_SCHEMA, REJECT_SCHEMA

TAKEN = dt.datetime(2024, 3, 15, 8, 30)
PATIENTS_SCHEMA = {"patient_id": pl.String, "sex": pl.String, "birth_date": pl.Date, "ancestry": pl.String}


def specimen(results: list[dict], *, age_days: int | None = None, sex: str | None = None, ancestry: str | None = None):
    """A source holding one specimen of patient "p" taken at TAKEN: each result a dict of analyte, value, unit and
    optionally lln, uln and censor; the patient's birth date set `age_days` before the specimen."""
    rows = [
        {"source_row": i, "patient_id": "p", "specimen_id": "s", "taken_at": TAKEN, "lln": None, "uln": None,
         "censor": None, **r}
        for i, r in enumerate(results)
    ]  # fmt: skip
    birth = None if age_days is None else TAKEN.date() - dt.timedelta(days=age_days)
    patients = pl.LazyFrame(
        {"patient_id": ["p"], "sex": [sex], "birth_date": [birth], "ancestry": [ancestry]}, schema=PATIENTS_SCHEMA
    )
    return SimpleNamespace(measurements=pl.DataFrame(rows, schema=MEASUREMENT_SCHEMA).lazy(),
                           rejects=pl.LazyFrame(schema=REJECT_SCHEMA), patients=patients, rows_read=len(rows),
                           label="t", format="long", notes=[])  # fmt: skip


@pytest.fixture(scope="session")
def one_specimen():
    """The `specimen` builder (session-scoped, so hypothesis tests can use it)."""
    return specimen
