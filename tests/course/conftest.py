"""Constructed series with known answers, as panels tables (the screening stage's contract)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

T0 = dt.datetime(2024, 1, 1, 8, 0)


def panels(days, anc, wbc=None, patient="p1", t0=T0, lymphocytes=None) -> pl.DataFrame:
    """A panels table: one row per specimen, days counted from t0 (fractions allowed)."""
    days = list(days)
    cols = {
        "patient_id": [patient] * len(days),
        "specimen_id": [f"{patient}-{i:03d}" for i in range(len(days))],
        "taken_at": [t0 + dt.timedelta(days=float(d)) for d in days],
        "anc": [None if a is None else float(a) for a in anc],
        "wbc": [None if w is None else float(w) for w in (wbc if wbc is not None else [None] * len(days))],
    }
    if lymphocytes is not None:
        cols["lymphocytes"] = [float(x) for x in lymphocytes]
    return pl.DataFrame(cols, schema_overrides={"taken_at": pl.Datetime("us"), "anc": pl.Float64, "wbc": pl.Float64})


def chemo_anc(day_in_cycle: float) -> float:
    """ANC after a myelosuppressive cycle: 4.0 until day 3, log-linear fall to 0.2 on day 12, back by day 19."""
    c = day_in_cycle
    if c <= 3 or c >= 19:
        return 4.0
    if c <= 12:
        return math.exp(math.log(4.0) + (math.log(0.2) - math.log(4.0)) * (c - 3) / 9)
    return math.exp(math.log(0.2) + (math.log(4.0) - math.log(0.2)) * (c - 12) / 7)


def chemo_series(cycles: int = 3, length: int = 21) -> pl.DataFrame:
    days = list(range(cycles * length))
    anc = [chemo_anc(d % length) for d in days]
    return panels(days, anc, [a * 1.6 + 1.2 for a in anc])


def cyclic_anc(days, period=21.0, seed=0) -> np.ndarray:
    """Cyclic neutropenia: ANC swinging between about 0.15 and 4.5 on a log scale, with 25 % noise."""
    rng = np.random.default_rng(seed)
    d = np.asarray(days, float)
    return np.exp(0.3 + 1.7 * np.cos(2 * np.pi * d / period) + rng.normal(0, 0.25, len(d)))


def three_a_week(weeks: int) -> list[int]:
    return [7 * w + k for w in range(weeks) for k in (0, 2, 4)]


@pytest.fixture
def chemo() -> pl.DataFrame:
    return chemo_series()


@pytest.fixture
def chemo_treatments() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "patient_id": ["p1"] * 3,
            "date": [(T0 + dt.timedelta(days=d)).date() for d in (0, 21, 42)],
            "label": ["cyclophosphamide"] * 3,
        }
    )


@pytest.fixture
def s():
    """The builders above, for tests (conftest modules cannot be imported under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        T0=T0,
        panels=panels,
        chemo_anc=chemo_anc,
        chemo_series=chemo_series,
        cyclic_anc=cyclic_anc,
        three_a_week=three_a_week,
    )
