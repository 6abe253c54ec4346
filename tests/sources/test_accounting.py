"""Every input row is used or rejected, never both, never neither: rows_read = used rows + rejects."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leukon.sources import read

from .conftest import accounted

CODES = ["6690-2", "751-8", "WBC", "Neutrophils", "bands", "9999-9", "", "  wbc  ", "3013650"]
TIMES = ["2024-01-02 08:00", "2024-01-02T08:00:00", "2024-01-02", "yesterday", "", "2024-02-30 08:00",
         "2024-01-02T08:00:00Z"]  # fmt: skip
VALUES = ["4.1", "0", "-1", "", "abc", "1e3", " 2.5 ", "<0.1"]
UNITS = ["10^9/L", "K/uL", "/uL", "%", "mmol/L", ""]
PATIENTS = ["P1", "P2", "", " "]
LIMITS = ["", "4.0", "low"]

row = st.tuples(*(st.sampled_from(x) for x in (PATIENTS, TIMES, CODES, VALUES, UNITS, LIMITS)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=30), dup=st.integers(0, 3))
def test_long_rows_are_all_accounted(rows: list[tuple[str, ...]], dup: int) -> None:
    rows = rows + rows[:dup]  # duplicated rows pass through with their own source_row
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "lab.csv"
        with f.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["patient_id", "taken_at", "analyte", "value", "unit", "lln"])
            w.writerows(rows)
        src = read(f)
        m, r = accounted(src)
        assert src.rows_read == len(rows)
        assert m["taken_at"].null_count() == 0 and m["patient_id"].null_count() == 0
        assert r["reason"].null_count() == 0
