"""The person's medicines and conditions (free text) matched to known causes, and whether each fits.

A cause fits when it lowers a line the assessment found low ("all" fits any low line); it possibly fits
when only the total is low and the line it lowers was not measured; otherwise it does not fit. Treatments
(G-CSF) are reported as treatments, never as causes. Names leukon does not know are returned as
unrecognised, not guessed.

>>> from leukon import assess
>>> c = match_context(assess(wbc=1.8, anc=0.05), medicines=["Clozaril 100 mg", "vitamin D"])
>>> [(m.title, m.fit) for m in c.matches], c.unrecognised
([('Clozapine', 'fits')], ('vitamin D',))
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from leukon.pipelines.assess import Assessment

from .kb import Entry, KnowledgeBase, knowledge_base
from .names import NameIndex
from .patterns import Lines, lines_of

#: Fit codes, best first; matches are listed in this order.
FITS = ("fits", "possible", "no_low_count", "does_not_fit", "treatment", "context")


@dataclass(frozen=True, slots=True)
class ContextMatch:
    """One recognised medicine or condition: what it is, which lines it lowers, and how it fits."""

    given: str
    given_as: str  # medicine | condition
    entry_id: str
    title: str
    role: str  # cause | treatment | context
    lines: tuple[str, ...]
    fit: str  # one of FITS

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__slots__}
        return d | {"lines": list(self.lines)}


@dataclass(frozen=True, slots=True)
class Context:
    matches: tuple[ContextMatch, ...] = ()
    unrecognised: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"matches": [m.to_dict() for m in self.matches], "unrecognised": list(self.unrecognised)}


def _matchable(e: Entry) -> bool:
    return e.kind in ("cause", "medicine", "note") or e.role == "treatment"


@functools.cache
def _index(kb: KnowledgeBase) -> NameIndex:
    return NameIndex((n, e.id) for e in kb.entries.values() if _matchable(e) for n in e.all_names)


def fit(entry: Entry, lines: Lines | None) -> str:
    """How a known cause fits the lines found: fits, possible, no_low_count or does_not_fit."""
    if entry.role == "treatment":
        return "treatment"
    if entry.kind == "note":
        return "context"
    if lines is None or not lines.any_low:
        return "no_low_count"
    lowers = set(entry.lines)
    if "all" in lowers or lowers & lines.low:
        return "fits"
    if lines.leukopenia and not lowers <= lines.normal:
        return "possible"
    return "does_not_fit"


def match_context(
    assessment: Assessment | None,
    *,
    medicines: Iterable[str] = (),
    conditions: Iterable[str] = (),
    kb: KnowledgeBase | None = None,
) -> Context:
    """Recognised medicines and conditions, best fit first; unknown names kept aside, as given."""
    kb = kb or knowledge_base()
    index = _index(kb)
    lines = lines_of(assessment) if assessment is not None else None
    found: dict[str, ContextMatch] = {}
    unrecognised: list[str] = []
    for given_as, items in (("medicine", medicines), ("condition", conditions)):
        for text in items:
            if not text or not text.strip():
                continue
            ids = [h.entry_id for h in index.find(text)] or index.close(text, n=1, cutoff=0.85)
            if not ids:
                unrecognised.append(text.strip())
            for eid in ids:
                e = kb.entry(eid)
                role = e.role or ("context" if e.kind == "note" else "cause")
                found.setdefault(eid, ContextMatch(text.strip(), given_as, eid, e.title, role, e.lines, fit(e, lines)))
    ordered = sorted(found.values(), key=lambda m: FITS.index(m.fit))  # stable: input order within a fit
    return Context(tuple(ordered), tuple(unrecognised))
