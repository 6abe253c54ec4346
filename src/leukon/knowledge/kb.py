"""The knowledge base: entries, sources and pattern stories loaded from ``data/*.toml`` and validated.

Every entry has an id, a kind, a title, text (one ``text`` or a ``patient`` and ``clinician`` pair) and
at least one source from ``data/sources.toml``; every id an entry or a pattern refers to must exist. A
broken file raises `KnowledgeBaseError` naming the entry and the problem, at import time.

>>> kb = knowledge_base()
>>> kb.entry("med.clozapine").brands[0], kb.entry("med.clozapine").lines
('Clozaril', ('neutrophils',))
>>> [s.name for s in kb.cited(["def.agranulocytosis"])]
['DifferenceBetween.com', 'Medscape']
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from leukon.rules.book import FINDING_LABELS

from ..errors import LeukonError
from . import AUDIENCES
from .names import NameIndex, tokens

KINDS = (
    "cell", "definition", "normal_value", "symptom", "cause", "mechanism", "medicine", "course",
    "diagnosis", "treatment", "prevention", "urgent", "note",
)  # fmt: skip
#: Cell lines an entry concerns; "all" = every line (and red cells and platelets for marrow causes).
LINES = ("neutrophils", "lymphocytes", "monocytes", "eosinophils", "basophils", "all")
COURSES = ("acute", "chronic")
APPLIES_TO = ("both", "leukopenia", "neutropenia")
ROLES = ("cause", "treatment")
URGENT_POSITIONS = ("first", "after_summary", "end")
#: Pattern lists that hold entry ids; each becomes the explanation section of the same name.
PATTERN_LISTS = ("summary", "difference", "causes", "next_steps", "treatment", "prevention", "urgent")

_ENTRY_KEYS = {
    "id", "kind", "title", "text", "patient", "clinician", "sources", "names", "generic", "brands", "lines",
    "course", "findings", "see_also", "compares", "applies_to", "role",
}  # fmt: skip
_PATTERN_KEYS = {
    "id", "headline_patient", "headline_clinician", "summary_patient", "summary_clinician",
    "difference_patient", "difference_clinician", "symptoms", "urgent_position", *PATTERN_LISTS,
}  # fmt: skip
_FILES = ("sources.toml", "basics.toml", "symptoms.toml", "causes.toml", "medicines.toml", "care.toml", "patterns.toml")


class KnowledgeBaseError(LeukonError, ValueError):
    """A knowledge-base file that does not validate: a missing field, an unknown id or source."""


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    name: str
    title: str
    evidence: str = "V"  # V = read in the source; R = general knowledge, not read in a source

    def cite(self) -> str:
        return f"{self.name}: {self.title}" + (
            " (general knowledge, not read in a source)" if self.evidence == "R" else ""
        )

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "title": self.title, "evidence": self.evidence}


@dataclass(frozen=True, slots=True)
class Entry:
    """One fact or topic, in patient and clinician wording, with its sources and tags."""

    id: str
    kind: str
    title: str
    patient: str
    clinician: str
    sources: tuple[str, ...]
    names: tuple[str, ...] = ()
    generic: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    course: tuple[str, ...] = ()
    findings: tuple[str, ...] = ()
    see_also: tuple[str, ...] = ()
    compares: tuple[str, ...] = ()
    applies_to: str | None = None
    role: str | None = None

    def text(self, audience: str) -> str:
        return self.clinician if audience == "clinician" else self.patient

    @property
    def all_names(self) -> tuple[str, ...]:
        """Everything a person might type for this entry: names, generic and brand names (not the title)."""
        return (*self.names, *self.generic, *self.brands)

    def to_dict(self, audience: str | None = None) -> dict:
        d = {f: getattr(self, f) for f in self.__slots__ if f not in ("patient", "clinician")}
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}
        if audience is None:
            d["patient"], d["clinician"] = self.patient, self.clinician
        else:
            d["text"] = self.text(audience)
        return d


@dataclass(frozen=True, slots=True)
class Pattern:
    """The story for one pattern of findings: wording per audience and entry ids per section."""

    id: str
    headline: Mapping[str, str]
    summary_text: Mapping[str, str]
    difference_text: Mapping[str, str]
    lists: Mapping[str, tuple[str, ...]]
    symptoms: tuple[str, ...]
    urgent_position: str


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (cached indexes key on it)
class KnowledgeBase:
    sources: dict[str, Source]
    entries: dict[str, Entry]
    patterns: dict[str, Pattern]
    index: NameIndex = field(repr=False)

    def entry(self, entry_id: str) -> Entry:
        try:
            return self.entries[entry_id]
        except KeyError:
            raise KnowledgeBaseError(f"no knowledge-base entry {entry_id!r}") from None

    def of_kind(self, *kinds: str) -> list[Entry]:
        return [e for e in self.entries.values() if e.kind in kinds]

    def cited(self, entry_ids: Iterable[str]) -> list[Source]:
        """The sources of these entries, each once, in the order first cited."""
        seen: dict[str, Source] = {}
        for eid in entry_ids:
            for sid in self.entry(eid).sources:
                seen.setdefault(sid, self.sources[sid])
        return list(seen.values())


def _fail(where: str, msg: str) -> KnowledgeBaseError:
    return KnowledgeBaseError(f"knowledge base: {where}: {msg}")


def _tuple(raw: dict, key: str, where: str, allowed: Iterable[str] | None = None) -> tuple[str, ...]:
    v = raw.get(key, ())
    if isinstance(v, str) or not all(isinstance(x, str) and x for x in v):
        raise _fail(where, f"{key} must be a list of non-empty strings")
    if allowed is not None:
        bad = [x for x in v if x not in allowed]
        if bad:
            raise _fail(where, f"{key} has unknown value(s) {bad}; allowed: {sorted(allowed)}")
    return tuple(v)


def _entry(raw: dict, sources: Mapping[str, Source]) -> Entry:
    where = f"entry {raw.get('id', '?')!r}"
    extra = set(raw) - _ENTRY_KEYS
    if extra:
        raise _fail(where, f"unknown field(s) {sorted(extra)}")
    for key in ("id", "kind", "title"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _fail(where, f"{key} missing")
    if raw["kind"] not in KINDS:
        raise _fail(where, f"kind {raw['kind']!r} is not one of {KINDS}")
    text = raw.get("text")
    patient, clinician = raw.get("patient", text), raw.get("clinician", text)
    if text is not None and ("patient" in raw or "clinician" in raw):
        raise _fail(where, "give either text, or patient and clinician, not both")
    if not (isinstance(patient, str) and patient.strip() and isinstance(clinician, str) and clinician.strip()):
        raise _fail(where, "text missing: give text, or both patient and clinician")
    cited = _tuple(raw, "sources", where)
    if not cited:
        raise _fail(where, "no source: every entry cites at least one")
    unknown = [s for s in cited if s not in sources]
    if unknown:
        raise _fail(where, f"unknown source(s) {unknown}; known: {sorted(sources)}")
    e = Entry(
        id=raw["id"],
        kind=raw["kind"],
        title=raw["title"],
        patient=patient.strip(),
        clinician=clinician.strip(),
        sources=cited,
        names=_tuple(raw, "names", where),
        generic=_tuple(raw, "generic", where),
        brands=_tuple(raw, "brands", where),
        lines=_tuple(raw, "lines", where, LINES),
        course=_tuple(raw, "course", where, COURSES),
        findings=_tuple(raw, "findings", where, FINDING_LABELS),
        see_also=_tuple(raw, "see_also", where),
        compares=_tuple(raw, "compares", where),
        applies_to=raw.get("applies_to"),
        role=raw.get("role"),
    )
    if e.kind == "symptom" and e.applies_to not in APPLIES_TO:
        raise _fail(where, f"a symptom needs applies_to, one of {APPLIES_TO}")
    if e.kind == "medicine" and e.role not in ROLES:
        raise _fail(where, f"a medicine needs role, one of {ROLES}")
    if e.role is not None and e.role not in ROLES:
        raise _fail(where, f"role must be one of {ROLES}")
    if (
        e.kind in ("cause", "medicine")
        and e.role != "treatment"
        and not (e.lines and (e.course or e.kind == "medicine"))
    ):
        raise _fail(where, "a cause needs the cell lines it lowers and its course (acute/chronic)")
    return e


def _pattern(raw: dict) -> Pattern:
    where = f"pattern {raw.get('id', '?')!r}"
    extra = set(raw) - _PATTERN_KEYS
    missing = _PATTERN_KEYS - set(raw)
    if extra or missing:
        raise _fail(where, f"unknown field(s) {sorted(extra)}; missing field(s) {sorted(missing)}")
    if raw["urgent_position"] not in URGENT_POSITIONS:
        raise _fail(where, f"urgent_position must be one of {URGENT_POSITIONS}")
    texts = {}
    for part in ("headline", "summary", "difference"):
        texts[part] = {a: raw[f"{part}_{a}"] for a in AUDIENCES}
        if not all(isinstance(t, str) and t.strip() for t in texts[part].values()):
            raise _fail(where, f"{part} text missing")
    return Pattern(
        id=raw["id"],
        headline=texts["headline"],
        summary_text=texts["summary"],
        difference_text=texts["difference"],
        lists={k: _tuple(raw, k, where) for k in PATTERN_LISTS},
        symptoms=_tuple(raw, "symptoms", where, APPLIES_TO),
        urgent_position=raw["urgent_position"],
    )


def build(raw: Mapping) -> KnowledgeBase:
    """Validate raw data ({"source": [...], "entry": [...], "pattern": [...]}) into a KnowledgeBase."""
    sources: dict[str, Source] = {}
    for s in raw.get("source", ()):
        if not s.get("id") or not s.get("name") or not s.get("title") or s["id"] in sources:
            raise _fail(f"source {s.get('id', '?')!r}", "needs a unique id, a name and a title")
        sources[s["id"]] = Source(s["id"], s["name"], s["title"], s.get("evidence", "V"))
    entries: dict[str, Entry] = {}
    for r in raw.get("entry", ()):
        e = _entry(r, sources)
        if e.id in entries:
            raise _fail(f"entry {e.id!r}", "duplicate id")
        entries[e.id] = e
    patterns: dict[str, Pattern] = {}
    for r in raw.get("pattern", ()):
        p = _pattern(r)
        if p.id in patterns:
            raise _fail(f"pattern {p.id!r}", "duplicate id")
        patterns[p.id] = p
    refs = [
        (f"entry {e.id!r} {k}", x) for e in entries.values() for k in ("see_also", "compares") for x in getattr(e, k)
    ]
    refs += [(f"pattern {p.id!r} {k}", x) for p in patterns.values() for k, xs in p.lists.items() for x in xs]
    for where, ref in refs:
        if ref not in entries:
            raise _fail(where, f"refers to unknown entry {ref!r}")
    unused = set(sources) - {s for e in entries.values() for s in e.sources}
    if unused:
        raise _fail("sources", f"source(s) {sorted(unused)} are never cited")
    owners: dict[tuple[str, ...], str] = {}
    for e in entries.values():
        for name in e.all_names:
            key = tokens(name)
            if owners.setdefault(key, e.id) != e.id:
                raise _fail(f"entry {e.id!r}", f"name {name!r} already belongs to {owners[key]!r}")
    index = NameIndex((n, e.id) for e in entries.values() for n in e.all_names)
    return KnowledgeBase(sources, entries, patterns, index)


def raw_data() -> dict:
    """The knowledge base's files merged into one mapping (a fresh copy each call)."""
    folder = Path(__file__).parent / "data"
    merged: dict[str, list] = {"source": [], "entry": [], "pattern": []}
    for name in _FILES:
        doc = tomllib.loads(folder.joinpath(name).read_text("utf-8"))
        unknown = set(doc) - set(merged)
        if unknown:
            raise _fail(name, f"unknown table(s) {sorted(unknown)}")
        for k, rows in doc.items():
            merged[k].extend(rows)
    return merged


@functools.cache
def knowledge_base() -> KnowledgeBase:
    """The validated knowledge base shipped with leukon (loaded once)."""
    return build(raw_data())
