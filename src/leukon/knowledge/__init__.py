"""Explaining a result: the knowledge base (data), context matching, and the explanation's renderers.

    explain(assessment, audience="patient", medicines=(), conditions=())  -> Explanation
    match_context(assessment, medicines=(), conditions=())                 -> Context
    lookup(term)                                                           -> Entry (``leukon explain TERM``)
    to_text / to_html / to_html_page / Explanation.to_dict                  renderers

The knowledge base lives in ``data/*.toml`` and is validated on load (`KnowledgeBaseError`).
"""

from .context import Context, ContextMatch, match_context
from .explain import explain
from .html import to_html, to_html_page
from .kb import Entry, KnowledgeBase, KnowledgeBaseError, Source, knowledge_base
from .lookup import UnknownTopicError, lookup
from .model import SECTION_IDS, Explanation, Section
from .terminal import print_explanation, to_text

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
    "print_explanation",
    "to_html",
    "to_html_page",
    "to_text",
]
