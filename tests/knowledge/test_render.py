"""Renderers: HTML well-formed, self-contained and escaped; terminal within 80 columns; JSON; plain words."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from leukon import assess
from leukon.knowledge import explain, knowledge_base
from leukon.knowledge.topics import explain_topic
from leukon.outputs.explanation_html import to_html, to_html_page
from leukon.outputs.explanation_text import to_text

CASES = [
    dict(wbc=5.0, anc=1.0),
    dict(wbc=3.2, anc=2.1, lymphocytes=0.6),
    dict(wbc=2.1, anc=0.9, hemoglobin=8.4, platelets=62, age_years=70, sex="male"),
    dict(wbc=1.8, anc=0.05),
    dict(wbc=0.9, anc=0.2, temperature=38.2),
    dict(wbc=6.4, anc=3.6),
    dict(lymphocytes_pct=30),
]
CONTEXT = dict(medicines=["Clozaril 100 mg", "<script>alert('x')</script>"], conditions=["HIV & lupus"])


@pytest.fixture(params=[(c, aud) for c in range(len(CASES)) for aud in ("patient", "clinician")], ids=str)
def expl(request):
    case, audience = request.param
    return explain(assess(**CASES[case]), audience=audience, **CONTEXT)


def test_html_fragment_well_formed_and_escaped(expl):
    frag = to_html(expl)
    root = ET.fromstring(frag)  # raises on any unbalanced or unescaped markup
    assert root.tag == "section" and root.get("data-pattern") == expl.pattern
    assert [s.get("data-section") for s in root.findall("section")] == expl.ids
    assert "<script" not in frag and "&lt;script&gt;" in frag and "HIV &amp; lupus" in frag


def test_html_page_self_contained(expl):
    page = to_html_page(expl)
    root = ET.fromstring(page.split("\n", 1)[1])  # after the doctype
    assert root.tag == "html" and root.find("head/meta").get("charset") == "utf-8"
    assert not re.search(r"https?://|src=|href=|@import|url\(", page)
    assert "<style>" in page


def test_terminal_fits_80_columns(expl):
    text = to_text(expl)
    assert max(len(line) for line in text.splitlines()) <= 80
    for s in expl.sections:
        assert s.title.upper() in text.upper()


def test_json_round_trip(expl):
    d = json.loads(expl.to_json())
    assert [s["id"] for s in d["sections"]] == expl.ids
    assert d["context"]["matches"][0]["entry_id"] in ("med.clozapine", "cause.hiv", "cause.lupus")
    assert all(set(s) == {"id", "title", "text", "items", "entries"} for s in d["sections"])


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z][A-Za-z'-]*", text)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if _words(s)]


def readability(text: str) -> tuple[float, float, int]:
    """Average words a sentence, average letters a word, longest sentence in words."""
    sents, words = _sentences(text), _words(text)
    return len(words) / len(sents), sum(map(len, words)) / len(words), max(len(_words(s)) for s in sents)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_patient_text_is_plain(case):
    e = explain(assess(**CASES[case]), **CONTEXT)
    text = "\n".join(s.text + "\n" + "\n".join(s.items) for s in e.sections if s.id != "sources")
    per_sentence, per_word, longest = readability(text)
    assert per_sentence <= 15 and per_word <= 5.0 and longest <= 35, (per_sentence, per_word, longest)


def test_every_patient_entry_is_plain():
    for entry in knowledge_base().entries.values():
        _, per_word, longest = readability(entry.patient)
        assert longest <= 35, entry.id
    all_text = " ".join(e.patient for e in knowledge_base().entries.values())
    per_sentence, per_word, _ = readability(all_text)
    assert per_sentence <= 15 and per_word <= 5.0


@pytest.mark.parametrize("term", ["neutropenia", "leukopenia vs neutropenia", "filgrastim", "Clozaril"])
def test_topic_renders(term):
    e = explain_topic(term)
    assert max(len(line) for line in to_text(e).splitlines()) <= 80
    ET.fromstring(to_html(e))
    assert e.ids[-1] == "disclaimer" and e.section("sources").items


def test_docs_examples_are_current():
    from pathlib import Path

    from leukon.outputs.explanation_examples import markdown

    doc = Path(__file__).parents[2] / "docs" / "explanations.md"
    assert doc.exists(), (
        "docs/explanations.md is missing: python -m leukon.outputs.explanation_examples > docs/explanations.md"
    )
    assert doc.read_text(encoding="utf-8") == markdown(), (
        "docs/explanations.md is stale: python -m leukon.outputs.explanation_examples > docs/explanations.md"
    )
