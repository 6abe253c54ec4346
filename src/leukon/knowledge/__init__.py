"""Explaining a result: the knowledge base (data) and context matching;
the renderers live in `leukon.outputs` (explanation_text, explanation_html).

    explain(assessment, audience="patient", medicines=(), conditions=())  -> Explanation
    match_context(assessment, medicines=(), conditions=())                 -> Context
    lookup(term)                                                           -> Entry (``leukon explain TERM``)

The knowledge base lives in ``data/*.toml`` and is validated on load (`KnowledgeBaseError`).
"""

from typing import TYPE_CHECKING

from leukon._lazy import lazy_names

#: Who an explanation is written for; here, so that a command line offering the choice need not load the base.
AUDIENCES = ("patient", "clinician")

#: Public name -> the module that defines it, imported on first access: the knowledge base and its matching take
#: about 13 ms to import, which `leukon assess` without --explain does not need.
_LAZY = {
    **dict.fromkeys(("Context", "ContextMatch", "match_context"), "leukon.knowledge.context"),
    "explain": "leukon.knowledge.explanations",
    **dict.fromkeys(
        ("Entry", "KnowledgeBase", "KnowledgeBaseError", "Source", "knowledge_base"), "leukon.knowledge.kb"
    ),
    **dict.fromkeys(("UnknownTopicError", "lookup"), "leukon.knowledge.topics"),
    **dict.fromkeys(("SECTION_IDS", "Explanation", "Section"), "leukon.knowledge.model"),
}

if TYPE_CHECKING:  # static tools see the names as eager imports
    from .context import Context, ContextMatch, match_context
    from .explanations import explain
    from .kb import Entry, KnowledgeBase, KnowledgeBaseError, Source, knowledge_base
    from .model import SECTION_IDS, Explanation, Section
    from .topics import UnknownTopicError, lookup

__all__ = [
    "AUDIENCES",
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

__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
