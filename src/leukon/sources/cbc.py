"""One CBC out of a message: the latest specimen of a `Source`, as the mapping `assess_mapping` takes.

FHIR and HL7 v2 carry single reports to the bedside path (`leukon assess --fhir FILE`, CDS Hooks). Their
adapters already produce the measurement contract for `screen`; this module picks one specimen from it,
so the single-report path reads exactly the rows the batch path would (the same codes, statuses, limits
and reject reasons). Units and limits are passed as written: `assess_mapping` converts and checks them.

>>> import datetime as dt, polars as pl
>>> from leukon.sources.records import Record, to_source
>>> src = to_source([Record("p1", "r1", "2024-05-01T08:00", "6690-2", "wbc", 4.6, "10*3/uL", 4.0, 11.0),
...                  Record("p1", "r1", "2024-05-01T08:00", "751-8", "anc", 0.9, "10*3/uL")],
...                 format="demo", label="demo", patients=None)
>>> cbc = latest_cbc(src)
>>> cbc.values["wbc"], cbc.specimen_id
({'value': 4.6, 'unit': '10*3/uL', 'lln': 4.0, 'uln': 11.0}, 'r1')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from leukon.errors import InputError
from leukon.rules.analytes import ABSOLUTE, PERCENT

from .base import Source

#: Analytes that make a CBC a white-cell result: without one of them there is nothing to assess.
WHITE_CELL_ANALYTES = frozenset({"wbc", *ABSOLUTE.values(), *PERCENT.values()})
#: Leukocyte counts in other specimens: refused by code, never read as blood WBC (30405-5 from the issue;
#: 5821-4, urine sediment per high-power field, from general LOINC knowledge).
NON_BLOOD_LEUKOCYTES = {
    "30405-5": "leukocytes in urine",
    "5821-4": "leukocytes in urine sediment",
}


@dataclass
class Cbc:
    """One specimen's results: `values` for `assess_mapping(values, **options)`, and what was left out."""

    values: dict[str, dict]
    options: dict
    patient_id: str | None
    specimen_id: str | None
    taken_at: dt.datetime | None
    rejects: list[dict] = field(default_factory=list)  # {"raw": ..., "reason": ...} of the whole input
    notes: list[str] = field(default_factory=list)
    lab_flags: dict[str, str] = field(default_factory=dict)  # analyte -> the lab's flag (OBX-8, interpretation)


def latest_cbc(source: Source, *, patient_id: str | None = None) -> Cbc:
    """The most recent specimen (of `patient_id` when given) with a white-cell result, as a `Cbc`.

    Raises InputError when nothing usable is there, quoting the first reject reasons, so a report whose
    only WBC was preliminary says so instead of looking normal.
    """
    m, r = source.collect()
    rejects = [{"raw": raw, "reason": reason} for raw, reason in r.select("raw", "reason").iter_rows()]
    if patient_id is not None:
        m = m.filter(pl.col("patient_id") == patient_id)
    m = m.with_columns(
        _key=pl.coalesce(pl.col("specimen_id"), pl.col("taken_at").dt.to_string("%Y-%m-%dT%H:%M:%S")),
        _white=pl.col("analyte").cast(pl.String).is_in(list(WHITE_CELL_ANALYTES)),
    )
    groups = (
        m.group_by("patient_id", "_key", maintain_order=True)
        .agg(pl.col("taken_at").max(), pl.col("_white").any())
        .filter(pl.col("_white"))
        .sort("taken_at", nulls_last=False, maintain_order=True)
    )
    if groups.is_empty():
        why = "; ".join(dict.fromkeys(x["reason"] for x in rejects[:5])) or "no results"
        whose = f" for patient {patient_id!r}" if patient_id is not None else ""
        raise InputError(
            "input", f"no usable white-cell result (WBC, ANC or differential){whose} in {source.label}: {why}"
        )
    pid, key, taken, _ = groups.row(-1)
    rows = m.filter((pl.col("patient_id") == pid) & (pl.col("_key") == key))
    notes = list(source.notes)
    if groups.height > 1:
        notes.append(f"{groups.height} CBCs in the input; the latest ({taken:%Y-%m-%d %H:%M}) was assessed")
    values: dict[str, dict] = {}
    for row in rows.iter_rows(named=True):
        a = str(row["analyte"])
        if row.get("censor"):  # a bound ("<0.1"): assess_mapping reads exact values, so say what was left out
            notes.append(f"{a} {row['censor']}{row['value']:g} {row['unit'] or ''} is censored (a bound); not assessed")
            continue
        given = {"value": row["value"], "unit": row["unit"], "lln": row["lln"], "uln": row["uln"]}
        given = {k: v for k, v in given.items() if v is not None}
        if a in values and values[a] != given:
            raise InputError(
                a, f"conflicting results in one specimen ({values[a]} and {given}); ask the lab which holds"
            )
        values[a] = given
    options = _patient_options(source, pid, taken)
    return Cbc(values, options, pid, rows["specimen_id"][0], taken, rejects, notes, _lab_flags(source, rows, values))


def _lab_flags(source: Source, rows: pl.DataFrame, values: dict) -> dict[str, str]:
    """The lab's flags of the chosen rows, where the adapter kept them (a `flag` column riding along)."""
    if source.checked is None or "flag" not in source.checked.collect_schema().names():
        return {}
    flags = (
        source.checked.filter(pl.col("source_row").is_in(rows["source_row"].implode()), pl.col("flag").is_not_null())
        .select(pl.col("analyte").cast(pl.String), "flag")
        .collect()
    )
    return {a: f for a, f in flags.iter_rows() if a in values}


def _patient_options(source: Source, patient_id: str, taken: dt.datetime | None) -> dict:
    """sex, age_days and ancestry for `assess_mapping`, from the source's patients table when it has this patient."""
    if source.patients is None:
        return {}
    p = source.patients.filter(pl.col("patient_id") == patient_id).collect()
    if p.is_empty():
        return {}
    out: dict = {}
    sex, birth, ancestry = p["sex"][0], p["birth_date"][0], p["ancestry"][0]
    if sex is not None:
        out["sex"] = sex
    if ancestry is not None:
        out["ancestry"] = ancestry
    if birth is not None and taken is not None and (taken.date() - birth).days >= 0:
        out["age_days"] = (taken.date() - birth).days  # as the panels compute it (whole days to the specimen date)
    return out
