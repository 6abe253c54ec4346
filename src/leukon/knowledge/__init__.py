"""Explaining a result: the knowledge base (data) and context matching;
the renderers live in `leukon.outputs` (explanation_text, explanation_html).

    explain(assessment, audience="patient", medicines=(), conditions=())  -> Explanation
    match_context(assessment, medicines=(), conditions=())                 -> Context
    lookup(term)                                                           -> Entry (``leukon explain TERM``)

The knowledge base lives in ``data/*.toml`` and is validated on load (`KnowledgeBaseError`).
"""

from .context import Context, ContextMatch, match_context
from .explain import explain
from .kb import Entry, KnowledgeBase, KnowledgeBaseError, Source, knowledge_base
from .lookup import UnknownTopicError, lookup
from .model import SECTION_IDS, Explanation, Section

__all__ = [
    "SECTION_IDS",
    "Context",
    "ContextMatch",
    "Entry",
    "Explanation",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Section",
    "Source",
    "UnknownTopicError",
    "explain",
    "knowledge_base",
    "lookup",
    "match_context",
]
