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
from pathlib import Path

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
    raw = tomllib.loads((Path(__file__).parent / "data" / "analytes.toml").read_text("utf-8"))
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


# --- local names (issue 11): names.toml, folded so spelling variants meet --------------------------------

#: Words that say "absolute count" or "percentage of white cells", in the four languages of names.toml.
_COUNT_WORDS = {"#", "abs", "absolute", "absolut", "absolus", "absolue", "absolutos", "absoluto", "absolutas",
                "count", "cnt", "ct", "zahl", "numeration", "recuento", "nombre"}  # fmt: skip
_PERCENT_WORDS = {"%", "percent", "pct", "perc", "prozent", "pourcentage", "porcentaje", "relative", "rel"}
#: Words that do not change which analyte a name means.
_NOISE_WORDS = {"of", "the", "de", "des", "du", "der", "die", "la", "el", "los", "y", "and", "in", "blood", "bld",
                "auto", "automated", "manual", "man", "whole", "total", "totales", "totaux", "result", "value"}  # fmt: skip


def fold_name(name: str) -> str:
    """A test name folded so its spellings meet: case, accents, punctuation, word order and plurals.

    >>> fold_name("Neutrophils (Absolute)") == fold_name("Abs Neutrophil") == fold_name("NEUTROPHIL#")
    True
    >>> fold_name("Neut %") == fold_name("neut%") == fold_name("Neut Percent")
    True
    """
    import re
    import unicodedata

    s = unicodedata.normalize("NFKD", name.strip().casefold())  # casefold: "Weiße" and "WEISSE" meet
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = re.sub(r"([#%])", r" \1 ", s)
    words = set()
    for w in re.split(r"[^a-z0-9#%]+", s):
        if not w or w in _NOISE_WORDS:
            continue
        if w in _COUNT_WORDS:
            w = "#"
        elif w in _PERCENT_WORDS:
            w = "%"
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        words.add(w)
    return " ".join(sorted(words))


@dataclass(frozen=True, slots=True)
class NameHit:
    """What a local name means: one analyte, or a white-cell line whose unit decides (count or %)."""

    analyte: str | None = None
    either: str | None = None

    def resolve(self, unit: str | None) -> str:
        """The analyte id, choosing between a line's absolute count and percentage by the unit."""
        if self.analyte:
            return self.analyte
        from leukon.rules.units import parse_unit

        assert self.either is not None
        if unit and str(unit).strip() and parse_unit("count", str(unit)) is not None:
            return ABSOLUTE[self.either]
        return PERCENT[self.either]


@cache
def _names() -> tuple[dict[str, NameHit], dict[str, str]]:
    """(folded name -> hit, folded name -> a display spelling) from names.toml, then the catalogue aliases."""
    raw = tomllib.loads((Path(__file__).parent / "data" / "names.toml").read_text("utf-8"))
    index: dict[str, NameHit] = {}
    shown: dict[str, str] = {}

    def add(name: str, hit: NameHit, where: str, strict: bool = True) -> None:
        key = fold_name(name)
        if not key:
            raise CriteriaError(f"{where}: name {name!r} folds to nothing")
        if key in index and index[key] != hit:
            if not strict:
                return
            raise CriteriaError(f"{where}: {name!r} also names {index[key]}; a name must mean one thing")
        index.setdefault(key, hit)
        shown.setdefault(key, name)

    for row in raw["name"]:
        hit = NameHit(row.get("analyte"), row.get("either"))
        where = f"names.toml / {hit.analyte or hit.either}"
        if (hit.analyte is None) == (hit.either is None):
            raise CriteriaError(f"{where}: give analyte or either, not both")
        if hit.analyte is not None and hit.analyte not in ANALYTES:
            raise CriteriaError(f"{where}: unknown analyte {hit.analyte!r}")
        if hit.either is not None and hit.either not in ABSOLUTE:
            raise CriteriaError(f"{where}: either must be a white-cell line ({', '.join(ABSOLUTE)})")
        for lang in ("en", "de", "fr", "es"):
            for name in row.get(lang, ()):
                add(name, hit, where)
    lines = {v: k for k, v in ABSOLUTE.items()} | {v: k for k, v in PERCENT.items()}
    for a in ANALYTES.values():
        for alias in a.aliases:
            key = fold_name(alias)
            marked = "#" in key.split() or "%" in key.split()
            hit = NameHit(either=lines[a.id]) if a.id in lines and not marked else NameHit(a.id)
            add(alias, hit, "analytes.toml aliases", strict=False)
    return index, shown


def by_local_name(name: str) -> NameHit | None:
    """What a test name as a laboratory prints it means (names.toml and the aliases), or None.

    >>> by_local_name("Neutrophils (Absolute)").resolve("K/uL")
    'anc'
    >>> by_local_name("Lymphozyten").resolve("G/l"), by_local_name("Lymphozyten").resolve("%")
    ('lymphocytes', 'lymphocytes_pct')
    >>> by_local_name("Glucose") is None
    True
    """
    return _names()[0].get(fold_name(name))


def closest_names(name: str, n: int = 3) -> list[str]:
    """The known test names nearest to `name` (for "did you mean" in a reject reason)."""
    import difflib

    index, shown = _names()
    keys = difflib.get_close_matches(fold_name(name), list(index), n=n, cutoff=0.7)
    return [shown[k] for k in keys]
