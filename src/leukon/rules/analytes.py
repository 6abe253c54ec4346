"""The analyte catalogue: ids, canonical units, plausibility limits and codes (LOINC, OMOP, MIMIC-IV).

The data live in ``criteria/analytes.toml``; this module loads them once and answers look-ups.

>>> ANALYTES["anc"].unit
'10^9/L'
>>> by_loinc("751-8").id
'anc'
>>> by_mimic_itemid(51144).id
'bands_pct'
>>> by_loinc("0000-0") is None
True
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from leukon.errors import CriteriaError


@dataclass(frozen=True, slots=True)
class Analyte:
    id: str
    name: str
    dimension: str  # count | fraction | mass_concentration | temperature
    unit: str
    plausible_max: float
    plausible_min: float
    bare_max: float  # largest number accepted without a unit (canonical unit); see analytes.toml
    bare_hint: str  # the unit a larger bare number probably is in (cells/uL, g/L, [degF])
    bare_why: str
    loinc: tuple[str, ...]
    unverified_loinc: tuple[str, ...]
    omop: tuple[int, ...]
    mimic_itemid: tuple[int, ...]
    mimic_itemid_excluded: tuple[int, ...]
    aliases: tuple[str, ...]


DIMENSIONS = ("count", "fraction", "mass_concentration", "temperature")


def _load() -> dict[str, Analyte]:
    raw = tomllib.loads(resources.files("leukon.rules").joinpath("data", "analytes.toml").read_text("utf-8"))
    out: dict[str, Analyte] = {}
    for row in raw["analyte"]:
        if row["dimension"] not in DIMENSIONS:
            raise CriteriaError(f"analytes.toml: {row['id']}: unknown dimension {row['dimension']!r}")
        out[row["id"]] = Analyte(
            id=row["id"],
            name=row["name"],
            dimension=row["dimension"],
            unit=row["unit"],
            plausible_max=float(row["plausible_max"]),
            plausible_min=float(row.get("plausible_min", 0.0)),
            bare_max=float(row["bare_max"]),
            bare_hint=row["bare_hint"],
            bare_why=row["bare_why"],
            loinc=tuple(row["loinc"]),
            unverified_loinc=tuple(row.get("unverified_loinc", ())),
            omop=tuple(row["omop"]),
            mimic_itemid=tuple(row["mimic_itemid"]),
            mimic_itemid_excluded=tuple(row.get("mimic_itemid_excluded", ())),
            aliases=tuple(a.lower() for a in row.get("aliases", ())),
        )
    return out


ANALYTES: dict[str, Analyte] = _load()

#: White-cell lines with an absolute count and a percentage, in report order.
WHITE_LINES = ("neutrophils", "bands", "lymphocytes", "monocytes", "eosinophils", "basophils")
#: Absolute-count analyte id for each line (the neutrophil line's absolute count is the ANC).
ABSOLUTE = {
    "neutrophils": "anc",
    "bands": "bands",
    "lymphocytes": "lymphocytes",
    "monocytes": "monocytes",
    "eosinophils": "eosinophils",
    "basophils": "basophils",
}
PERCENT = {line: f"{line}_pct" for line in WHITE_LINES}


@cache
def _index() -> tuple[dict[str, str], dict[int, str], dict[str, str], dict[int, str]]:
    loinc, omop, alias, mimic = {}, {}, {}, {}
    for a in ANALYTES.values():
        for code in a.loinc:
            loinc[code] = a.id
        for cid in a.omop:
            omop[cid] = a.id
        for item in a.mimic_itemid:
            mimic[item] = a.id
        for name in (a.id, *a.aliases):
            alias[name] = a.id
    return loinc, omop, alias, mimic


def by_loinc(code: str) -> Analyte | None:
    """The analyte a LOINC code names, or None."""
    hit = _index()[0].get(code.strip())
    return ANALYTES[hit] if hit else None


def by_omop(concept_id: int) -> Analyte | None:
    """The analyte an OMOP measurement_concept_id names, or None."""
    hit = _index()[1].get(int(concept_id))
    return ANALYTES[hit] if hit else None


def by_mimic_itemid(itemid: int) -> Analyte | None:
    """The analyte a MIMIC-IV itemid names, or None (excluded items, such as 51697, give None)."""
    hit = _index()[3].get(int(itemid))
    return ANALYTES[hit] if hit else None


def by_name(name: str) -> Analyte | None:
    """The analyte an id, alias or LOINC code names (case-insensitive), or None."""
    key = name.strip().lower()
    hit = _index()[2].get(key) or _index()[0].get(key)
    return ANALYTES[hit] if hit else None


def code_table() -> dict[str, str]:
    """Every LOINC code, OMOP id (as text), MIMIC itemid (as text) and alias mapped to an analyte id."""
    loinc, omop, alias, mimic = _index()
    out = dict(alias)
    out.update(loinc)
    out.update({str(k): v for k, v in omop.items()})
    out.update({f"mimic:{k}": v for k, v in mimic.items()})
    return out
