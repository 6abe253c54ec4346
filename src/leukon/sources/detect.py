"""Recognise message formats by their first bytes: a FHIR JSON resource or NDJSON, or HL7 v2 text.

Tables (CSV, Parquet, databases) are recognised by `leukon.sources.io`; this module only answers whether
a file is one of the message formats, so `leukon screen FILE` needs no `--format` for them.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.hl7").write_text("MSH|^~&|LAB"), (d / "b.json").write_text('{"resourceType": "Bundle"}')
>>> detect_format(d / "a.hl7"), detect_format(d / "b.json")
('hl7v2', 'fhir')
"""

from __future__ import annotations

import re
from pathlib import Path

_FHIR = re.compile(rb'^\s*\{\s*"resourceType"\s*:|^\s*\{[^\n]{0,4000}"resourceType"\s*:')


def detect_format(path: str | Path) -> str | None:
    """'fhir', 'hl7v2' or None (not a message format, or not a readable file)."""
    p = Path(path)
    if p.is_dir():
        return "fhir" if any(p.glob("*.ndjson")) else None
    try:
        with p.open("rb") as fh:
            head = fh.read(4096)
    except OSError:
        return None
    body = head.lstrip(b"\xef\xbb\xbf\x0b \t\r\n")
    if body.startswith((b"MSH|", b"FHS|", b"BHS|")):
        return "hl7v2"
    if _FHIR.match(head.lstrip(b"\xef\xbb\xbf")):
        return "fhir"
    return None
