"""Free-text names to knowledge-base entries: one normaliser, one index, used by context matching and lookup.

Text is lower-cased, accents and punctuation dropped, doses and dosing words removed, and plural "s"
trimmed, so "Clozaril 100 mg", "CLOZARIL" and "clozaril tablets" read alike.

>>> tokens("Clozapine 100 mg twice daily")
('clozapine',)
>>> tokens("Sjögren's syndrome")
('sjogren', 'syndrome')
>>> index = NameIndex([("clozapine", "med.clozapine"), ("heavy metal", "med.heavy_metals")])
>>> [(h.entry_id, h.text) for h in index.find("heavy metals and Clozapine 25mg")]
[('med.heavy_metals', 'heavy metal'), ('med.clozapine', 'clozapine')]
>>> index.close("clozapin")
['med.clozapine']
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

#: Words that describe a dose or how a medicine is taken, never what it is.
DOSE_WORDS = frozenset(
    [
        "mg",
        "mcg",
        "ug",
        "g",
        "gram",
        "grams",
        "ml",
        "l",
        "iu",
        "unit",
        "units",
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "daily",
        "bid",
        "tid",
        "qid",
        "qd",
        "od",
        "bd",
        "prn",
        "once",
        "twice",
        "weekly",
        "monthly",
        "a",
        "an",
        "the",
        "of",
        "day",
        "per",
        "x",
        "times",
        "dose",
        "doses",
        "po",
        "oral",
        "injection",
        "injections",
        "infusion",
        "patch",
        "my",
        "on",
        "taking",
        "take",
        "takes",
        "i",
        "im",
        "sc",
        "iv",
        "for",
        "with",
    ]
)
_NUMERIC = re.compile(r"^\d+[a-z]{0,4}$")


def normalise(text: str) -> str:
    """Lower case, no accents, apostrophes dropped, other punctuation to spaces, spaces collapsed."""
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    t = re.sub(r"['’`]", "", t)
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


def _stem(token: str) -> str:
    return token[:-1] if len(token) > 4 and token.endswith("s") and not token.endswith("ss") else token


def tokens(text: str) -> tuple[str, ...]:
    """The words that identify a thing: no doses, no dosing words, plural 's' trimmed."""
    return tuple(_stem(t) for t in normalise(text).split() if t not in DOSE_WORDS and not _NUMERIC.match(t))


@dataclass(frozen=True, slots=True)
class NameHit:
    entry_id: str
    text: str  # the matched words, normalised


class NameIndex:
    """Names (any case, any punctuation) mapped to entry ids; finds the longest names inside free text."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._keys: dict[tuple[str, ...], str] = {}
        for name, entry_id in pairs:
            key = tokens(name)
            if key:
                self._keys.setdefault(key, entry_id)
        self._longest = max((len(k) for k in self._keys), default=0)
        self._joined = {" ".join(k): v for k, v in self._keys.items()}

    def owner(self, name: str) -> str | None:
        """The entry id that owns exactly this name, if any."""
        return self._keys.get(tokens(name))

    def find(self, text: str) -> list[NameHit]:
        """Every known name inside `text`, longest first, left to right, without overlaps."""
        words, hits, i = tokens(text), [], 0
        while i < len(words):
            for size in range(min(self._longest, len(words) - i), 0, -1):
                key = words[i : i + size]
                if key in self._keys:
                    hits.append(NameHit(self._keys[key], " ".join(key)))
                    i += size
                    break
            else:
                i += 1
        return hits

    def close(self, text: str, *, n: int = 3, cutoff: float = 0.8) -> list[str]:
        """Entry ids whose names are spelled closest to `text` (typos), best first, without repeats."""
        words = tokens(text)
        found: list[str] = []
        probes = [" ".join(words)] + [w for w in words if len(w) >= 5]
        for probe in probes:
            for name in difflib.get_close_matches(probe, list(self._joined), n=n, cutoff=cutoff):
                if self._joined[name] not in found:
                    found.append(self._joined[name])
        return found[:n]
