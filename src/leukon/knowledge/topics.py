"""`leukon explain TERM`: find the knowledge-base entry a question is about, and explain it.

Accepts a name ("neutropenia", "Neulasta"), a question ("what is neutropenia?"), a comparison
("leukopenia vs neutropenia") or a near miss ("neutropenai"); otherwise `UnknownTopicError` with suggestions.

>>> lookup("What is neutropenia?").id, lookup("leukopenia vs. neutropenia").id, lookup("Neulasta").id
('def.neutropenia', 'def.difference', 'med.pegfilgrastim')
>>> lookup("agranulocitosis").id
'def.agranulocytosis'
"""

from __future__ import annotations

import re

from leukon.pipelines.assess import DISCLAIMER

from ..errors import LeukonError
from .kb import Entry, KnowledgeBase, knowledge_base
from .model import Explanation, Section
from .names import normalise

_QUESTION = re.compile(
    r"^(what\s+(is|are|does)|whats|define|definition\s+of|tell\s+me\s+about|explain|meaning\s+of|"
    r"what\s+is\s+the\s+difference\s+between|difference\s+between|compare)\s+"
)
_ARTICLE = re.compile(r"^(a|an|the)\s+")
_SPLIT = re.compile(r"\s+(?:vs|versus|v|or|and|compared\s+(?:to|with))\s+")
#: Shown when nothing is even close.
POPULAR = ("neutropenia", "leukopenia", "leukopenia vs neutropenia", "agranulocytosis", "filgrastim")


class UnknownTopicError(LeukonError, LookupError):
    """No entry matches the question; the message suggests the nearest topics."""


def _clean(term: str) -> str:
    q = normalise(term)
    q = _QUESTION.sub("", q)
    q = _ARTICLE.sub("", q)
    q = re.sub(r"\s+(mean|means)$", "", q)
    return q.strip()


def _one(q: str, kb: KnowledgeBase) -> Entry | None:
    eid = kb.index.owner(q)
    if eid is None:
        eid = next((e.id for e in kb.entries.values() if normalise(e.title) == q), None)
    if eid is None:
        hits = kb.index.find(q)
        if hits:
            eid = max(hits, key=lambda h: len(h.text)).entry_id
    if eid is None:
        close = kb.index.close(q, n=1, cutoff=0.8)
        eid = close[0] if close else None
    return kb.entry(eid) if eid else None


def lookup(term: str, kb: KnowledgeBase | None = None) -> Entry:
    """The entry `term` asks about; raises UnknownTopicError (with suggestions) when none matches."""
    kb = kb or knowledge_base()
    q = _clean(term)
    direct = kb.index.owner(q)
    if direct:
        return kb.entry(direct)
    parts = [p for p in _SPLIT.split(q) if p]
    if len(parts) >= 2:
        found = [e for e in (_one(p, kb) for p in parts) if e is not None]
        ids = {e.id for e in found}
        pair = next((e for e in kb.entries.values() if e.compares and set(e.compares) == ids), None)
        if pair or found:
            return pair or found[0]
    hit = _one(q, kb) if q else None
    if hit is None:
        raise UnknownTopicError(f"nothing in leukon's notes matches {term!r}. {suggest(term, kb)}")
    return hit


def suggest(term: str, kb: KnowledgeBase | None = None) -> str:
    """'Did you mean ...?' from the nearest names, or a few popular topics."""
    kb = kb or knowledge_base()
    ids = kb.index.close(_clean(term), n=3, cutoff=0.5)
    names = [kb.entry(i).title for i in ids] or list(POPULAR)
    lead = "Did you mean" if ids else "Try"
    return f"{lead}: {', '.join(repr(n) for n in names)}?"


def explain_topic(term: str, *, audience: str = "patient", kb: KnowledgeBase | None = None) -> Explanation:
    """One topic as an Explanation: the entry (and what it compares), related names, sources, disclaimer."""
    kb = kb or knowledge_base()
    e = lookup(term, kb)
    patient = audience == "patient"
    used = [e.id, *e.compares]
    paras = [e.text(audience)] + [kb.entry(c).text(audience) for c in e.compares]
    items = []
    if e.generic or e.brands:
        items.append("Also known as: " + ", ".join((*e.generic, *e.brands)))
    if e.role == "treatment":
        items.append("This is a treatment that raises white cells, not a cause of low counts.")
    if e.lines and e.kind in ("cause", "medicine") and e.role != "treatment":
        lines = "all kinds of blood cells" if "all" in e.lines else ", ".join(e.lines)
        items.append(f"Can lower: {lines}" + (f" ({' or '.join(e.course)})" if e.course and not patient else ""))
    related = [r for r in e.see_also if r not in used]
    if related:
        items.append("See also: " + "; ".join(kb.entry(r).title for r in related))
    title = "What it means" if patient else "Summary"
    sections = [Section("summary", title, "\n\n".join(paras), tuple(items), tuple(used))]
    if e.compares:
        rows = kb.of_kind("symptom")
        sections.append(
            Section(
                "symptoms",
                "Which symptoms go with which" if patient else "Symptom table",
                "How the sources link each symptom to leukopenia, neutropenia or both.",
                tuple(f"{r.title}: {r.applies_to}" for r in rows),
                tuple(r.id for r in rows),
            )
        )
    cited = [s.cite() for s in kb.cited(x for s in sections for x in s.entries)]
    sections.append(Section("sources", "Where this comes from" if patient else "Sources", "", tuple(cited)))
    sections.append(Section("disclaimer", "Please note" if patient else "Disclaimer", DISCLAIMER))
    return Explanation(audience=audience, pattern=f"topic:{e.id}", headline=e.title, sections=tuple(sections))
