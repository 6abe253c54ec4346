"""Slices of whole patients as ranges of input rows, for inputs that keep each patient's rows together.

A chunked screen needs slices that never split a patient. For any input, `leukon.pipelines.spill` makes them in
one pass that writes every slice to temporary files (about a second for 10 M results, on top of reading them).
Many lab extracts come sorted or grouped by patient, though; then a slice can simply be a range of rows, cut
where one patient's rows end and the next one's begin, and read straight from the input: Parquet reads a range
of rows without decoding the rows before it, and numbers them as in the whole file.

`row_ranges` finds such cuts from the patient id column alone (one column read, the ids cleaned as the source
cleans them), and returns None when the input does not keep each patient's rows in one run, or cannot be read
by range: the caller spills instead.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl

from leukon.frames import run_starts

#: Give up on ranges when the patient id changes on more than this share of rows: the input is then not grouped
#: by patient (a shuffled table changes on almost every row), and the exact check below would cost a hash of
#: every id for nothing.
MAX_RUN_SHARE = 0.5
#: Rows looked at before reading every id (a few row groups of a Parquet file).
PROBE_ROWS = 100_000


def row_ranges(source, n: int) -> list[tuple[int, int]] | None:
    """Up to `n` (start, end) ranges of input rows covering every row, each holding whole patients and about as
    many rows as the others; None when the source cannot be read by range or its patients' rows are not each in
    one run (the spill is then used).

    A row without a patient id stays with the rows around it (it is rejected wherever it lands)."""
    if n < 2 or not getattr(source, "by_rows", False) or getattr(source, "checked", None) is None:
        return None
    # A look at the first rows first: a shuffled input is refused for the price of reading those alone.
    if _runs(source, PROBE_ROWS) is None:
        return None
    found = _runs(source)
    if found is None:
        return None
    begins, total = found
    if total == 0:
        return None
    targets = [total * k // n for k in range(1, n)]
    cuts = sorted(set(int(begins[i]) for i in np.searchsorted(begins, targets) if i < len(begins)) - {0})
    bounds = [0, *cuts, total]
    return list(pairwise(bounds))


def _runs(source, limit: int | None = None) -> tuple[np.ndarray, int] | None:
    """The rows where each patient's run begins and the rows read (the first `limit` rows, or all), or None when
    the id changes on too many rows or a patient has two runs."""
    ids = source.checked if limit is None else source.checked.head(limit)
    # The ids as 64-bit hashes (8 bytes a row, never the text: 100 M ids would take 1.6 GB). Two patients with one
    # hash can only look like one: a run that may hold two patients is never cut, and a patient whose hash comes
    # back in a later run is refused below, so a collision can cost the ranges but never split a patient.
    ids = ids.select(h=pl.col("patient_id").hash(seed=0), known=pl.col("patient_id").is_not_null()).collect(
        engine="streaming"
    )
    total = ids.height
    # Rows without a patient are left out of the runs, and stay with the rows before them.
    known = ids["known"]
    kept = None if known.all() else known.arg_true()
    hashes = ids.select("h") if kept is None else ids.select("h").filter(known)
    del ids, known
    h, starts = hashes["h"], hashes.select(run_starts(["h"])).to_series()
    runs = int(starts.sum())
    if runs > MAX_RUN_SHARE * total:
        return None
    # Each patient in one run: as many distinct ids as runs (a patient seen in two runs makes fewer).
    if h.filter(starts).n_unique() != runs:
        return None
    begins = starts.arg_true()  # rows where a patient's run begins
    return (begins if kept is None else kept.gather(begins)).to_numpy(), total
