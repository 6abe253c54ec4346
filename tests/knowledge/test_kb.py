"""The knowledge base validates on load, and a broken copy fails loudly with the entry named."""

from __future__ import annotations

import copy

import pytest

from leukon.knowledge.kb import KINDS, KnowledgeBaseError, build, knowledge_base, raw_data
from leukon.knowledge.patterns import PATTERNS
from leukon.rules.book import FINDING_LABELS


def test_every_entry_has_id_text_and_known_sources():
    kb = knowledge_base()
    assert len(kb.entries) > 100
    for e in kb.entries.values():
        assert e.id and e.kind in KINDS and e.title
        assert e.patient.strip() and e.clinician.strip()
        assert e.sources and all(s in kb.sources for s in e.sources)
        assert all(f in FINDING_LABELS for f in e.findings)
        assert all(r in kb.entries for r in (*e.see_also, *e.compares))


def test_every_pattern_has_a_story_and_its_ids_exist():
    kb = knowledge_base()
    assert set(kb.patterns) == set(PATTERNS)
    for p in kb.patterns.values():
        assert all(i in kb.entries for ids in p.lists.values() for i in ids)


def test_gcsf_is_a_treatment_not_a_cause():
    kb = knowledge_base()
    for eid in ("med.filgrastim", "med.pegfilgrastim"):
        assert kb.entry(eid).role == "treatment"
    assert "Neupogen" in kb.entry("med.filgrastim").brands
    assert "Neulasta" in kb.entry("med.pegfilgrastim").brands


def _broken(mutate) -> dict:
    raw = copy.deepcopy(raw_data())
    mutate(raw)
    return raw


def _entry(raw: dict, eid: str) -> dict:
    return next(e for e in raw["entry"] if e["id"] == eid)


BREAKS = {
    "no source": (lambda r: _entry(r, "def.neutropenia").update(sources=[]), "def.neutropenia.*no source"),
    "unknown source": (lambda r: _entry(r, "def.neutropenia").update(sources=["WIKI"]), "unknown source"),
    "no text": (lambda r: [_entry(r, "def.monocytopenia").pop("text")], "def.monocytopenia.*text missing"),
    "no id": (lambda r: [_entry(r, "def.monocytopenia").pop("id")], "id missing"),
    "dangling see_also": (
        lambda r: _entry(r, "def.neutropenia").update(see_also=["def.nope"]),
        "unknown entry 'def.nope'",
    ),
    "dangling pattern id": (lambda r: r["pattern"][0]["causes"].append("cause.nope"), "unknown entry 'cause.nope'"),
    "duplicate id": (lambda r: r["entry"].append(copy.deepcopy(_entry(r, "def.basopenia"))), "duplicate id"),
    "typo field": (lambda r: _entry(r, "def.neutropenia").update(sorces=["VW"]), "unknown field"),
    "bad line": (lambda r: _entry(r, "cause.hiv").update(lines=["t-cells"]), "lines has unknown value"),
    "bad finding": (lambda r: _entry(r, "cause.hiv").update(findings=["aids"]), "findings has unknown value"),
    "symptom without column": (lambda r: [_entry(r, "symptom.fevers").pop("applies_to")], "applies_to"),
    "cause without lines": (lambda r: [_entry(r, "cause.hiv").pop("lines")], "cell lines"),
    "name used twice": (lambda r: _entry(r, "cause.lupus")["names"].append("HIV"), "name 'hiv' already belongs to"),
    "pattern field missing": (lambda r: r["pattern"][0].pop("urgent_position"), "missing field"),
}


@pytest.mark.parametrize("case", sorted(BREAKS))
def test_broken_knowledge_base_fails_loudly(case):
    mutate, message = BREAKS[case]
    with pytest.raises(KnowledgeBaseError, match=message):
        build(_broken(mutate))


def test_unmodified_copy_builds():
    assert len(build(raw_data()).entries) == len(knowledge_base().entries)
