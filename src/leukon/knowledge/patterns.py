"""Which story an assessment tells, and which cell lines it shows low or normal.

>>> from leukon import assess
>>> detect(assess(wbc=3.2, anc=2.1, lymphocytes=0.6, age_years=41))
'leukopenia_without_neutropenia'
>>> detect(assess(wbc=6.4, anc=3.6))
'normal'
>>> sorted(lines_of(assess(wbc=3.2, anc=2.1, lymphocytes=0.6, age_years=41)).low)
['lymphocytes']
"""

from __future__ import annotations

from dataclasses import dataclass

from leukon.pipelines.assess import Assessment

#: Pattern ids, most urgent first; `detect` returns the first that applies. patterns.toml has one story each.
PATTERNS = (
    "febrile_neutropenia", "agranulocytosis", "leukopenia_and_neutropenia", "neutropenia_without_leukopenia",
    "leukopenia_without_neutropenia", "neutropenia", "leukopenia", "other_cytopenia", "normal", "not_assessed",
)  # fmt: skip
#: The analyte behind each white-cell line, and the finding that says it is low.
LINE_ANALYTE = {
    "neutrophils": ("anc", "neutropenia"),
    "lymphocytes": ("lymphocytes", "lymphopenia"),
    "monocytes": ("monocytes", "monocytopenia"),
    "eosinophils": ("eosinophils", "eosinopenia"),
    "basophils": ("basophils", "basopenia"),
}
OTHER_LINE_FINDINGS = ("lymphopenia", "monocytopenia", "eosinopenia", "basopenia")


@dataclass(frozen=True, slots=True)
class Lines:
    """White-cell lines found low, lines measured within range, and whether the total (WBC) is low."""

    low: frozenset[str]
    normal: frozenset[str]
    leukopenia: bool
    other_cytopenia: bool  # anaemia or thrombocytopenia as well

    @property
    def any_low(self) -> bool:
        return bool(self.low) or self.leukopenia


def lines_of(a: Assessment) -> Lines:
    low, normal = set(), set()
    for line, (analyte, code) in LINE_ANALYTE.items():
        v = a.values.get(analyte)
        if a.has(code):
            low.add(line)
        elif v is not None and v.lln is not None and v.value >= v.lln:
            normal.add(line)
    return Lines(frozenset(low), frozenset(normal), a.has("leukopenia"), a.has("anemia") or a.has("thrombocytopenia"))


def detect(a: Assessment) -> str:
    """The pattern id for this assessment (one of PATTERNS)."""
    if a.has("febrile_neutropenia"):
        return "febrile_neutropenia"
    if a.has("agranulocytosis"):
        return "agranulocytosis"
    if a.has("leukopenia") and a.has("neutropenia"):
        return "leukopenia_and_neutropenia"
    if a.has("neutropenia_without_leukopenia"):
        return "neutropenia_without_leukopenia"
    if a.has("leukopenia_without_neutropenia"):
        return "leukopenia_without_neutropenia"
    if a.has("neutropenia"):
        return "neutropenia"
    if a.has("leukopenia"):
        return "leukopenia"
    if any(a.has(c) for c in OTHER_LINE_FINDINGS):
        return "other_cytopenia"
    unassessed = {n.code for n in a.not_assessed}
    if {"leukopenia", "neutropenia"} <= unassessed:
        return "not_assessed"
    return "normal"
