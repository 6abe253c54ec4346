"""One CBC through the panel stages: derived counts and the reference range of every value, from the rule book's
steps compiled to plain Python (`leukon.panels.build` compiles the same steps to Polars for tables).

>>> row = panel_row({"wbc": 2.0, "neutrophils_pct": 30.0, "bands_pct": 5.0}, age_days=40 * 365)
>>> row["anc"], row["anc_method"], row["anc_lln"], row["anc_range"]
(0.7, 'derived_with_bands', 1.5, 'profile')
>>> panel_row({"wbc": 3.1}, lab={"wbc": (3.5, None)})["wbc_range"]
'lab'
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from leukon.rules import book, criteria
from leukon.rules.analytes import ANALYTES
from leukon.rules.logic import program, simplify
from leukon.rules.ranges import range_rows


@lru_cache(maxsize=4)
def _panel_program(n_ranges: int):
    del n_ranges  # part of the key: range rows registered later (criteria.register_profiles) compile anew
    # one CBC's values are exact (a censored one is left out before this), so the censored-value rules fold away
    nulls = frozenset(f"{a}_censor" for a in ANALYTES)
    memo: dict = {}
    steps = [(name, simplify(e, nulls, memo)) for name, e in book.derive_steps() + book.range_steps()]
    return program(steps, name="panel")


def panel_row(
    measured: Mapping[str, float],
    *,
    lab: Mapping[str, tuple[float | None, float | None]] | None = None,
    profile: str = criteria.DEFAULT_PROFILE,
    age_days: int | None = None,
    sex: str | None = None,
    ancestry: str | None = None,
    age_hours: int | None = None,
) -> dict:
    """The panel as a dict of columns, as `leukon.panels.build.build_panels` makes one row of a table."""
    row: dict = dict.fromkeys(ANALYTES)
    row.update(
        dict.fromkeys(f"{a}_censor" for a in ANALYTES)
    )  # one CBC's values are exact (censored ones are left out)
    row.update(measured)
    for a in ANALYTES:
        lo, hi = (lab or {}).get(a, (None, None))
        row[f"{a}_lab_lln"], row[f"{a}_lab_uln"] = lo, hi
    row.update(age_days=age_days, sex=sex, ancestry=ancestry, profile=profile, age_hours=age_hours)
    row.update(range_rows(profile, age_days, sex, ancestry, age_hours))
    return _panel_program(len(criteria.RANGES))(row)


def range_of(row: Mapping, analyte: str) -> dict:
    """The range a panel row used for one analyte: limits, origin, and the profile row's source and evidence."""
    origin = row[f"{analyte}_range"]
    i = row[f"{analyte}_range_row"]
    r = criteria.RANGES[i] if i is not None else None
    if origin == "lab":
        return {"lln": row[f"{analyte}_lln"], "uln": row[f"{analyte}_uln"], "origin": "lab", "profile": None,
                "source": book.LAB_RANGE_SOURCE, "evidence": "V", "note": ""}  # fmt: skip
    if origin is None or r is None:
        return {}
    return {"lln": r.lln, "uln": r.uln, "origin": "profile", "profile": r.profile, "source": r.source,
            "evidence": r.evidence, "note": r.note}  # fmt: skip
