"""The explanation as data: sections with stable ids, each with text, items and the entries it used."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .context import Context

#: Section ids, in the order they are shown (urgent moves first for febrile neutropenia).
SECTION_IDS = (
    "urgent", "summary", "difference", "symptoms", "possible_causes", "next_steps", "treatment", "prevention",
    "sources", "disclaimer",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    text: str  # paragraphs separated by a blank line
    items: tuple[str, ...] = ()
    entries: tuple[str, ...] = ()  # knowledge-base entry ids used

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p]

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "text": self.text, "items": list(self.items),
                "entries": list(self.entries)}  # fmt: skip


@dataclass(frozen=True)
class Explanation:
    """What a result means for one audience ("patient" or "clinician"); `sections` in display order."""

    audience: str
    pattern: str
    headline: str
    sections: tuple[Section, ...]
    emergency: bool = False
    context: Context = field(default_factory=Context)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.sections]

    def section(self, section_id: str) -> Section | None:
        return next((s for s in self.sections if s.id == section_id), None)

    @property
    def entries(self) -> list[str]:
        """Every knowledge-base entry used, once, in order of use."""
        return list(dict.fromkeys(e for s in self.sections for e in s.entries))

    def to_dict(self) -> dict:
        return {
            "audience": self.audience,
            "pattern": self.pattern,
            "headline": self.headline,
            "emergency": self.emergency,
            "sections": [s.to_dict() for s in self.sections],
            "context": self.context.to_dict(),
            "entries": self.entries,
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)
