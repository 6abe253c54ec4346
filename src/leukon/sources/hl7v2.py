"""HL7 v2 ORU^R01 in: result messages as a lab system sends them, one or many a file, MLLP framing allowed.

>>> from leukon.sources import read                                   # doctest: +SKIP
>>> src = read("results.hl7", format="hl7v2", codes={"WBC": "wbc"})   # doctest: +SKIP

One input row is one OBX segment. Messages are parsed with python-hl7 (separators from MSH-1/MSH-2,
escape sequences undone); the fields read are those of HL7 v2.5.1 chapter 7:

- PID-3 patient id (first identifier), PID-7 birth date, PID-8 sex; PID-35 species.
- Each OBR starts a group (a specimen): OBR-3 filler order number (else OBR-2 placer number) is the
  specimen id, OBR-7 the observation time that OBX-14 may refine.
- OBX-3 is matched by LOINC (coding system LN, in the identifier or its alternate), or by a local code
  through `codes` ({"WBC": "wbc"} or {"99LAB|WBC": "wbc"}); never by the text. OBX-5 is the value (NM,
  or SN; "<^0.1" is kept as a bound with its operator in `censor`), OBX-6 its unit, OBX-7 the lab's
  range ("4.0-11.0", ">1.5", "<11", read by `leukon.sources.values.parse_range`), OBX-8 the lab's flags
  (kept in the raw record; leukon reads the range).
- OBX-11: F (final), C (corrected) and U (made final) are read; P (preliminary), I (pending), R, S, X,
  D, W, N are refused with the status.
- A message whose PID-35 names a species other than human, or whose ranges, specimen or notes name an
  animal, comes from a veterinary analyzer: all its results are refused, never graded on human criteria.
- An OBR group without a usable white-cell result refuses its other results, as a FHIR report does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from leukon.errors import InputError
from leukon.rules.analytes import by_loinc

from . import records
from .base import Source
from .cbc import NON_BLOOD_LEUKOCYTES, Cbc, latest_cbc
from .mapping import LocalMap
from .records import Record
from .values import OPERATORS, parse_range

#: OBX-11 result statuses read (HL7 table 0085): final, corrected, and "changed to final".
FINAL_STATUSES = {"F": "final", "C": "corrected", "U": "made final"}
STATUS_NAMES = {"P": "preliminary", "I": "pending", "R": "not verified", "S": "partial", "X": "cannot be obtained",
                "D": "deleted", "W": "wrong", "N": "not asked", "O": "order detail"}  # fmt: skip
LOINC_SYSTEMS = ("LN", "LOINC")
#: PID-35 values that mean a human subject (HL7 table 0446 leaves species codes to SNOMED CT: 337915000).
HUMAN = ("human", "homo sapiens", "337915000")
#: Animal names that, in a range, a specimen type or a note, show a veterinary analyzer's message.
_ANIMAL = re.compile(
    r"\b(canine|feline|equine|bovine|porcine|ovine|caprine|murine|avian|veterinary|dogs?|cats?|horses?|"
    r"cattle|pigs?|sheep|goats?|mice|mouse|rats?|rabbits?)\b",
    re.I,
)


def _part(seg, field: int, comp: int = 1) -> str | None:
    """Field `field`, component `comp` of the first repetition, as stripped text (None when empty)."""
    try:
        v = seg(field)(1)
        if not isinstance(v, str):
            v = v(comp)
        elif comp != 1:
            return None
        if not isinstance(v, str):
            v = v(1)
    except (IndexError, TypeError):
        return None
    v = str(v).strip()
    return v or None


def split_messages(text: str) -> list[str]:
    """Messages in `text`: MLLP frames (0x0B ... 0x1C 0x0D) or plain, with any line ending, split at MSH."""
    text = text.replace("\x0b", "\r").replace("\x1c", "\r").replace("\r\n", "\r").replace("\n", "\r")
    messages: list[list[str]] = []
    for seg in text.split("\r"):
        seg = seg.strip()
        if not seg or seg[:3] in ("FHS", "BHS", "BTS", "FTS"):  # batch envelope: carries no results
            continue
        if seg.startswith("MSH"):
            messages.append([seg])
        elif messages:
            messages[-1].append(seg)
        else:
            raise InputError("input", f"HL7 v2 text must start with an MSH segment, found {seg[:20]!r}")
    return ["\r".join(m) for m in messages]


def _time(ts: str | None) -> str | None:
    """An HL7 TS (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]) as ISO 8601 text; unreadable text is passed as written."""
    if not ts:
        return None
    import hl7

    try:
        return hl7.parse_datetime(ts).isoformat()
    except (ValueError, TypeError):
        return ts


class _Reader:
    def __init__(self, local: LocalMap) -> None:
        self.local = local
        self.out: list[Record] = []
        self.patients: list[tuple[str, str | None, str | None]] = []
        self.notes: list[str] = []

    def message(self, text: str, n: int) -> None:
        import hl7

        try:
            msg = hl7.parse(text)
            msh = msg.segment("MSH")
        except Exception as e:  # python-hl7 raises several types for a broken MSH: one reject, the file goes on
            why = f"message {n} is not valid HL7 v2 ({type(e).__name__}: {e}); check MSH-1/MSH-2"
            self.out.append(Record(reason=why, raw={"message": f"message {n}", "segment": text[:300]}))
            return
        control = _part(msh, 10) or f"message {n}"
        mtype = "^".join(x for x in (_part(msh, 9, 1), _part(msh, 9, 2)) if x)
        refused = None if mtype == "ORU^R01" else f"message type {mtype or 'missing'} is not ORU^R01"
        refused = refused or _non_human(msg)
        patient = sex = birth = None
        group: list[Record] = []
        group_name = ""
        specimen = obr_time = None
        obr_count = 0
        for seg in msg:
            kind = str(seg[0])
            if kind == "PID":
                patient, sex, birth = _part(seg, 3), _part(seg, 8), _part(seg, 7)
                if patient:
                    self.patients.append((patient, sex, (_time(birth) or "")[:10] or None))
            elif kind == "OBR":
                records.require_white_cells(group, group_name)
                obr_count += 1
                specimen = _part(seg, 3) or _part(seg, 2) or f"{control}/OBR-{_part(seg, 1) or obr_count}"
                obr_time = _time(_part(seg, 7))
                group, group_name = [], f"OBR {specimen} ({_part(seg, 4, 1) or 'no service code'})"
            elif kind == "OBX":
                rec = self.obx(msg, seg, patient, specimen, obr_time, refused, control)
                self.out.append(rec)
                group.append(rec)
        records.require_white_cells(group, group_name)

    def obx(self, msg, seg, patient, specimen, obr_time, refused, control) -> Record:
        code, analyte, reason = self.analyte(seg)
        raw = {
            "message": control,
            "segment": msg.unescape(str(seg))[:300],
            "flags": _part(seg, 8),
        }
        rec = Record(patient, specimen, _time(_part(seg, 14)) or obr_time, code, analyte, raw=raw)
        rec.flag = _part(seg, 8)  # the lab's reading, compared with leukon's by the single-report path
        rec.reason = refused or reason or _status(seg)
        if rec.reason:
            return rec
        vtype = (_part(seg, 2) or "").upper()
        if vtype == "SN":
            comparator, number = _part(seg, 5, 1), _part(seg, 5, 2)
            if comparator not in (None, "="):
                if comparator not in OPERATORS or _part(seg, 5, 3):  # "<>" or a ratio/range ("1^:^128")
                    rec.reason = f"structured value '{msg.unescape(str(seg(5)))}' is not a count leukon reads"
                    return rec
                rec.censor = OPERATORS[comparator]  # "<0.1" is kept as a bound, never read as 0.1
        else:
            number = _part(seg, 5)
            if vtype not in ("NM", "ST", "TX", ""):
                rec.reason = f"OBX-2 value type {vtype!r} is not a number"
                return rec
        if number is None:
            rec.reason = f"no value in OBX-5 for {analyte}"
            return rec
        try:
            rec.value = float(number)
        except ValueError:
            rec.reason = f"value not numeric {number[:40]!r}"
            return rec
        rec.unit = records.local_unit(self.local, _part(seg, 6, 1) or _part(seg, 6, 2))
        if rec.unit is None:  # a local code's default unit from the mapping file
            hit = records.local_code(self.local, [(_part(seg, 3, 3), _part(seg, 3, 1))])
            rec.unit = hit[2] if hit else None
        rng = msg.unescape(_part(seg, 7) or "")
        limits = parse_range(rng) if rng else None  # None: no range, or text that is not one ("see note")
        rec.lln, rec.uln = limits[:2] if limits else (None, None)
        return rec

    def analyte(self, seg) -> tuple[str | None, str | None, str | None]:
        """(code as written, analyte id, reason): LOINC in OBX-3 or its alternate, then the local map."""
        pairs = [(_part(seg, 3, 1), _part(seg, 3, 3)), (_part(seg, 3, 4), _part(seg, 3, 6))]
        for code, system in pairs:
            if code and system and system.upper() in LOINC_SYSTEMS:
                if code in NON_BLOOD_LEUKOCYTES:
                    return code, None, f"LOINC {code} is {NON_BLOOD_LEUKOCYTES[code]}, not a blood count"
                hit = by_loinc(code)
                if hit:
                    return code, hit.id, None
        hit = records.local_code(self.local, [(system, code) for code, system in pairs])
        if hit:
            return hit[0], hit[1], None
        code, system = pairs[0]
        if code is None:
            return None, None, "OBX-3 has no observation identifier"
        text = _part(seg, 3, 2)
        shown = f"{code}^{text or ''}^{system or ''}"
        if system and system.upper() in LOINC_SYSTEMS:
            return code, None, f"LOINC {code} ({text or 'no text'}) is not an analyte leukon reads"
        return code, None, f"OBX-3 {shown!r} is not a LOINC code and not in the local code map (map=)"


def _status(seg) -> str | None:
    s = (_part(seg, 11) or "").upper()
    if s in FINAL_STATUSES:
        return None
    if not s:
        return "OBX-11 result status missing: only final (F) or corrected (C) results are read"
    return f"OBX-11 status {s} ({STATUS_NAMES.get(s, 'unknown')}): only final (F) or corrected (C) results are read"


def _non_human(msg) -> str | None:
    """Why a message comes from a non-human subject (species or animal-specific ranges), or None."""
    for seg in msg:
        kind = str(seg[0])
        if kind == "PID":
            species = _part(seg, 35, 2) or _part(seg, 35, 1)
            if species and species.lower() not in HUMAN:
                return f"non-human subject (PID-35 species {species!r}): leukon's criteria are for people"
        texts = {"OBX": (7,), "NTE": (3,), "SPM": (4,), "OBR": (13, 15)}.get(kind, ())
        for f in texts:
            try:
                value = msg.unescape(str(seg(f)))
            except (IndexError, TypeError):
                continue
            m = _ANIMAL.search(value)
            if m:
                return f"non-human analyzer ({kind}-{f} names {m[0]!r}): leukon's criteria are for people"
    return None


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")  # HL7 v2 predates UTF-8; many feeds are 8-bit


def read_hl7v2(
    spec: str | Path,
    *,
    codes: Mapping[str, str] | None = None,
    map: str | Path | dict | LocalMap | None = None,
    text: str | None = None,
    **unknown: object,
) -> Source:
    """A `Source` from a file of HL7 v2 ORU^R01 messages (or from `text`).

    Local OBX-3 codes: `map` is a mapping file as for tables (`leukon.sources.mapping`), `codes` a dict
    ({"WBC": "wbc"} or {"99LAB|WBC": "wbc"}, the coding system before the bar).
    """
    records.no_other_options(unknown, "hl7v2")
    if text is None:
        path = Path(spec)
        if not path.is_file():
            raise InputError("input", f"{path} does not exist or is not a file; give a file of HL7 v2 messages")
        text = _read_text(path)
    messages = split_messages(text)
    if not messages:
        raise InputError("input", f"{spec}: no HL7 v2 message (no MSH segment) found")
    reader = _Reader(records.local_map(map, codes))
    for n, m in enumerate(messages, start=1):
        reader.message(m, n)
    pats = reader.patients
    return records.to_source(
        reader.out,
        format="hl7v2",
        label=str(spec),
        patients=records.patients_frame(pats) if pats else None,
        notes=reader.notes,
    )


def read_hl7v2_cbc(
    spec: str | Path, *, codes: Mapping[str, str] | None = None, map=None, text: str | None = None
) -> Cbc:
    """The latest CBC (OBR group) in an ORU^R01 file, as the mapping `assess_mapping` takes."""
    return latest_cbc(read_hl7v2(spec, codes=codes, map=map, text=text))
