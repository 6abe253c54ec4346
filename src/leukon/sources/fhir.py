"""FHIR R4 in: Bundles (collection, transaction, searchset, ...), single resources and bulk-export NDJSON.

>>> from leukon.sources import read                                  # doctest: +SKIP
>>> src = read("cbc-bundle.json", format="fhir")                    # doctest: +SKIP

One input row is one result: an Observation that carries (or should carry) a value, a result reference
that points nowhere, or a report that lists no result. Each becomes a measurement or a reject with its
reason, so rows read = rows used + rows rejected as for every other format.

- Analytes are matched by LOINC code only (`leukon.rules.analytes.by_loinc`), never by display text;
  `codes={"system|code": "wbc"}` maps a lab's local codes. Urine and other non-blood leukocyte codes are
  refused by name, so a urine WBC is never read as a blood count.
- DiagnosticReport.result and Observation.hasMember (the CBC panels 58410-2, 57021-8, 57782-5, 69742-5
  and their kin) are followed to contained (`#id`), bundled (`urn:uuid:...`, `Observation/id`, absolute
  URLs) or NDJSON-neighbour Observations. The report (or panel) groups the results into one specimen and
  lends them its effective time and subject when an Observation has none.
- valueQuantity: the UCUM code when the system is UCUM, else the unit text; a comparator (`<0.1`) is a
  censored value, kept with its operator in `censor` as the other formats keep it. referenceRange (normal, or untyped) gives the lab's LLN and ULN.
- status final, amended or corrected is read; preliminary, registered, cancelled, entered-in-error and
  unknown are refused with the status. A dataAbsentReason is refused with its code.
- Patient.gender and Patient.birthDate fill the patients table (age is computed per specimen), and the
  `ANCESTRY_URL` extension the Duffy-null phenotype.
- A report or panel with no usable white-cell result (WBC, ANC or differential) refuses its other results
  ("not assessed alone"): a haemoglobin without white cells is not a white-cell assessment.
- Observations that leukon itself wrote (tagged `LEUKON_TAG`: derived counts, grades) are refused as
  leukon's own output, so reading `leukon assess --output fhir` back recomputes them from the inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from leukon.measurements.normalize import CENSOR_OPERATORS
from leukon.rules.analytes import ANALYTES, by_loinc
from leukon.rules.units import parse_unit

from . import records
from ._fhir_load import Document, Loaded, load
from .base import Source
from .cbc import NON_BLOOD_LEUKOCYTES, Cbc, latest_cbc
from .mapping import LocalMap
from .records import Record

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: CBC panel codes (LOINC panels seen together in public eCQM value sets).
CBC_PANELS = {
    "58410-2": "CBC panel - Blood by Automated count",
    "57021-8": "CBC W Auto Differential panel - Blood",
    "57022-6": "CBC W Reflex Manual Differential panel - Blood",
    "57782-5": "CBC W Ordered Manual Differential panel - Blood",
    "69742-5": "CBC W Differential panel, method unspecified - Blood",
    "24317-0": "Hemogram and platelets WO differential panel - Blood",
}
#: Statuses whose value is a released result (FHIR R4 ObservationStatus).
FINAL_STATUSES = ("final", "amended", "corrected")
#: The meta.tag leukon puts on what it writes (outputs/fhir.py), and the referenceRange extension that says a
#: range came from a leukon profile rather than the lab (such a range is not read back as the lab's).
LEUKON_TAG = {"system": "urn:leukon:fhir", "code": "leukon-output"}
RANGE_ORIGIN_URL = "urn:leukon:fhir:range-origin"
#: A Patient extension for the Duffy-null phenotype (valueCode "duffy-null"), which chooses leukon's ranges;
#: FHIR has no standard element for it, and race or ethnicity is not the same thing.
ANCESTRY_URL = "urn:leukon:fhir:ancestry"

_TAIL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


@dataclass(frozen=True, slots=True)
class _Group:
    """What a report or panel lends its results: specimen id, time, subject, and what to call it."""

    specimen_id: str | None
    taken_at: str | None
    patient_id: str | None
    via: str
    refused: str | None = None  # a reason that refuses every result of the group (an entered-in-error report)


class _Reader:
    def __init__(self, doc: Document, local: LocalMap) -> None:
        self.doc = doc
        self.local = local
        self.index: dict[str, Loaded] = {}
        for item in doc.resources:
            r = item.resource
            if item.full_url:
                self.index.setdefault(item.full_url, item)
            if r.get("id"):
                self.index.setdefault(f"{r['resourceType']}/{r['id']}", item)
        self.claimed: set[int] = set()
        self.out: list[Record] = []
        self.notes: list[str] = []

    # --- references -------------------------------------------------------------------------------------

    def resolve(self, ref: str | None, container: dict | None) -> dict | None:
        if not ref:
            return None
        if ref.startswith("#"):
            for c in (container or {}).get("contained") or []:
                if c.get("id") == ref[1:]:
                    return c
            return None
        hit = self.index.get(ref)
        if hit is None:
            m = _TAIL.search(ref)
            hit = self.index.get(f"{m[1]}/{m[2]}") if m else None
        return hit.resource if hit else None  # an invalid target is returned too: it is already a reject

    def patient_id(self, subject: dict | None, container: dict | None) -> str | None:
        if not subject:
            return None
        ref = subject.get("reference")
        res = self.resolve(ref, container)
        if res is not None and res.get("resourceType") == "Patient":
            pid = res.get("id")
            return pid if isinstance(pid, str) and pid else _tail(ref)
        if ref:
            return _tail(ref)
        ident = subject.get("identifier") or {}
        return ident.get("value")

    # --- walking ----------------------------------------------------------------------------------------

    def run(self) -> list[Record]:
        for where, reason in self.doc.broken:
            self.out.append(Record(reason=reason, raw={"where": where}))
        for item in self.doc.resources:
            if item.invalid and item.resource.get("resourceType") != "Patient":
                rtype = item.resource.get("resourceType")
                # An invalid resource's fields may have any shape: keep its JSON as given, cut to a readable size.
                raw = {"where": item.where, "json": json.dumps(item.resource, ensure_ascii=False, default=str)[:500]}
                self.out.append(Record(reason=f"invalid FHIR R4 {rtype} ({item.invalid})", raw=raw))
                self.claimed.add(id(item.resource))
        for item in self._valid("DiagnosticReport"):
            self.report(item.resource, item.where)
        for item in self._valid("Observation"):  # panels not reached from a report
            if item.resource.get("hasMember") and id(item.resource) not in self.claimed:
                self.panel(item.resource, self._loose_group(item.resource, None), item.resource)
        for item in self._valid("Observation"):  # results not reached from a report or panel
            if id(item.resource) not in self.claimed:
                self.claimed.add(id(item.resource))
                self.out.append(self.leaf(item.resource, self._loose_group(item.resource, None), None))
        if self.doc.skipped:
            kinds = ", ".join(f"{n} {t}" for t, n in sorted(self.doc.skipped.items()))
            self.notes.append(f"resources without results skipped: {kinds}")
        return self.out

    def _valid(self, rtype: str):
        return [i for i in self.doc.resources if i.resource.get("resourceType") == rtype and i.invalid is None]

    def _loose_group(self, obs: dict, container: dict | None) -> _Group:
        specimen = (obs.get("specimen") or {}).get("reference")
        return _Group(specimen, None, self.patient_id(obs.get("subject"), container), "")

    def report(self, rep: dict, where: str) -> None:
        name = f"DiagnosticReport/{rep.get('id') or where}"
        status = rep.get("status")
        refused = f"{name} has status {status!r}" if status in ("cancelled", "entered-in-error") else None
        group = _Group(name, _effective(rep), self.patient_id(rep.get("subject"), rep), name, refused)
        results = rep.get("result") or []
        if not results:
            self.out.append(Record(reason=f"{name} lists no results", raw=_raw(rep, where)))
            return
        start = len(self.out)
        for ref in results:
            self.follow(ref, rep, group)
        records.require_white_cells(self.out[start:], name)

    def panel(self, obs: dict, group: _Group, container: dict | None) -> None:
        self.claimed.add(id(obs))
        name = f"Observation/{obs.get('id') or '?'}"
        own = _Group(
            group.specimen_id or name,
            _effective(obs) or group.taken_at,
            self.patient_id(obs.get("subject"), container) or group.patient_id,
            f"{group.via} > {name}" if group.via else name,
            group.refused,
        )
        start = len(self.out)
        for ref in obs.get("hasMember") or []:
            self.follow(ref, container, own)
        if not group.via:  # a top-level panel is a CBC of its own; inside a report, the report checks
            records.require_white_cells(self.out[start:], name)

    def follow(self, ref_obj: dict, container: dict | None, group: _Group) -> None:
        ref = ref_obj.get("reference")
        target = self.resolve(ref, container)
        if target is not None and id(target) in self.claimed:
            return  # listed twice, by two reports, or invalid (then already rejected with the model's reason)
        if target is None or target.get("resourceType") != "Observation":
            what = "is not in the input" if target is None else f"is a {target.get('resourceType')}, not an Observation"
            raw = {"reference": ref, "display": ref_obj.get("display"), "via": group.via}
            self.out.append(
                Record(
                    group.patient_id,
                    group.specimen_id,
                    group.taken_at,
                    reason=f"{group.via}: reference {ref!r} {what}",
                    raw=raw,
                )
            )
            return
        if target.get("hasMember"):
            self.panel(target, group, container)
            return
        self.claimed.add(id(target))
        self.out.append(self.leaf(target, group, container))

    def leaf(self, obs: dict, group: _Group, container: dict | None) -> Record:
        name = f"Observation/{obs.get('id') or '?'}"
        raw = _raw(obs, group.via or name)
        rec = Record(
            self.patient_id(obs.get("subject"), container) or group.patient_id,
            group.specimen_id or (obs.get("specimen") or {}).get("reference"),
            _effective(obs) or group.taken_at,
            raw=raw,
        )
        rec.code, rec.analyte, rec.reason = self.analyte(obs)
        if rec.reason is None:
            rec.reason = group.refused or _refusal(obs)
        if rec.reason is None:
            q = obs["valueQuantity"]
            rec.value = float(q["value"]) if q.get("value") is not None else None
            rec.censor = q.get("comparator")  # "<0.1" is kept as a bound, never read as 0.1
            rec.unit = records.local_unit(self.local, _unit(q)) or self._default_unit(obs)
            rec.flag = _flag(obs)
            rec.lln, rec.uln, problem = _limits(obs, rec.analyte, rec.unit)
            if problem:
                self.notes.append(f"{name}: {problem}")
        return rec

    def _default_unit(self, obs: dict) -> str | None:
        """The unit the mapping file gives a local code, for a value sent without one."""
        hit = records.local_code(
            self.local, [(c.get("system"), c.get("code")) for c in (obs.get("code") or {}).get("coding") or []]
        )
        return hit[2] if hit else None

    def analyte(self, obs: dict) -> tuple[str | None, str | None, str | None]:
        """(code as written, analyte id, reason) from Observation.code: LOINC first, then the local map."""
        if any(_is_leukon(t) for t in (obs.get("meta") or {}).get("tag") or []):
            return None, None, "leukon's own output (a derived count or a grade), not a lab result"
        codings = (obs.get("code") or {}).get("coding") or []
        loincs = [c.get("code") for c in codings if c.get("system") == LOINC and c.get("code")]
        for code in loincs:
            if code in NON_BLOOD_LEUKOCYTES:
                return code, None, f"LOINC {code} is {NON_BLOOD_LEUKOCYTES[code]}, not a blood count"
            hit = by_loinc(code)
            if hit:
                return code, hit.id, None
        hit = records.local_code(self.local, [(c.get("system"), c.get("code")) for c in codings])
        if hit:
            return hit[0], hit[1], None
        if loincs:
            shown = f"LOINC {loincs[0]}" + (f" ({codings[0].get('display')})" if codings[0].get("display") else "")
            return loincs[0], None, f"{shown} is not an analyte leukon reads"
        first = codings[0].get("code") if codings else (obs.get("code") or {}).get("text")
        return first, None, "no LOINC code on the Observation; map the lab's local codes with a mapping file (map=)"


def _tail(ref: str) -> str:
    ref = ref.removeprefix("urn:uuid:").removeprefix("urn:oid:")
    m = _TAIL.search(ref)
    return m[2] if m else ref.rsplit("/", 1)[-1]


def _is_leukon(tag: dict) -> bool:
    return tag.get("system") == LEUKON_TAG["system"] and tag.get("code") == LEUKON_TAG["code"]


def _effective(res: dict) -> str | None:
    period = res.get("effectivePeriod") or {}
    return res.get("effectiveDateTime") or res.get("effectiveInstant") or period.get("start") or period.get("end")


def _refusal(obs: dict) -> str | None:
    """Why an Observation's value cannot be read (status, absent data, not a quantity), or None."""
    status = obs.get("status")
    if status not in FINAL_STATUSES:
        return f"status {status!r}: only final, amended or corrected results are read"
    absent = obs.get("dataAbsentReason")
    if absent:
        code = next((c.get("code") for c in absent.get("coding") or [] if c.get("code")), None)
        return f"no value: dataAbsentReason {code or absent.get('text')!r}"
    q = obs.get("valueQuantity")
    if q is None:
        other = next((k for k in obs if k.startswith("value")), None)
        if other:
            return f"{other} is not a quantity; a count needs valueQuantity"
        return "no value and no dataAbsentReason"
    if q.get("comparator") and q["comparator"] not in CENSOR_OPERATORS:  # "ad": "sufficient to achieve"
        return f"comparator {q['comparator']!r} on the value is not a bound leukon reads"
    return None


def _flag(obs: dict) -> str | None:
    """The lab's own interpretation code (L, LL, N, H, HH, A ...), first coding of Observation.interpretation."""
    for concept in obs.get("interpretation") or []:
        for c in concept.get("coding") or []:
            if c.get("code"):
                return c["code"]
    return None


def _unit(q: dict) -> str | None:
    if q.get("system") == UCUM and q.get("code"):
        return q["code"]
    return q.get("unit") or q.get("code")


def _limits(obs: dict, analyte: str | None, unit: str | None) -> tuple[float | None, float | None, str | None]:
    """The lab's LLN and ULN in the value's unit, from the first normal (or untyped) referenceRange."""
    for rr in obs.get("referenceRange") or []:
        types = [c.get("code") for c in (rr.get("type") or {}).get("coding") or []]
        if types and "normal" not in types:
            continue
        if any(e.get("url") == RANGE_ORIGIN_URL and e.get("valueCode") == "profile" for e in rr.get("extension") or []):
            return None, None, None  # leukon's profile range, written by outputs/fhir.py: not the lab's
        out, problems = [], []
        for side in ("low", "high"):
            q = rr.get(side)
            if not q or q.get("value") is None:
                out.append(None)
                continue
            factor = _factor(analyte, _unit(q), unit)
            if factor is None:
                problems.append(f"referenceRange.{side} unit {_unit(q)!r} differs from the value's {unit!r}; ignored")
            out.append(None if factor is None else float(q["value"]) * factor)
        return out[0], out[1], "; ".join(problems) or None
    return None, None, None


def _factor(analyte: str | None, given: str | None, wanted: str | None) -> float | None:
    """Factor from a limit's unit to the value's unit (1 when either is missing or they are equal)."""
    if not given or not wanted or given == wanted or analyte is None:
        return 1.0
    dim = ANALYTES[analyte].dimension
    a, b = parse_unit(dim, given), parse_unit(dim, wanted)
    if a is None or b is None or a.offset or b.offset:
        return None
    return a.factor / b.factor


def _raw(res: dict, where: str) -> dict:
    codings = (res.get("code") or {}).get("coding") or []
    q = res.get("valueQuantity") or {}
    return {
        "resource": f"{res.get('resourceType')}/{res.get('id') or '?'}",
        "where": where,
        "status": res.get("status"),
        "code": ", ".join(f"{c.get('system', '')}|{c.get('code', '')}" for c in codings) or None,
        "display": (res.get("code") or {}).get("text") or next((c.get("display") for c in codings), None),
        "value": q.get("value"),
        "unit": _unit(q) if q else None,
        "effective": _effective(res),
    }


def _patients(doc: Document) -> list[tuple[str, str | None, str | None, str | None]]:
    rows = []
    for item in doc.resources:
        r = item.resource
        if r.get("resourceType") != "Patient" or item.invalid:
            continue
        pid = r.get("id") or (item.full_url or "").removeprefix("urn:uuid:") or None
        if pid:
            ancestry = next(
                (e.get("valueCode") for e in r.get("extension") or [] if e.get("url") == ANCESTRY_URL), None
            )
            rows.append((pid, r.get("gender"), r.get("birthDate"), ancestry))
    return rows


def read_fhir(
    spec: str | Path | dict,
    *,
    codes: Mapping[str, str] | None = None,
    map: str | Path | dict | LocalMap | None = None,
    **unknown: object,
) -> Source:
    """A `Source` from FHIR R4 JSON: a file (Bundle or resource), NDJSON, a folder of them, or a parsed dict.

    Local codes: `map` is a mapping file as for tables (`leukon.sources.mapping`), `codes` a dict
    ({"http://lab.example/codes|WBC": "wbc"} or {"WBC": "wbc"}); LOINC codes need neither.
    Raises InputError for input that is not FHIR at all (bad JSON, no resourceType, an invalid Bundle).
    """
    records.no_other_options(unknown, "fhir")
    reader = _Reader(load(spec), records.local_map(map, codes))
    doc = reader.doc
    recs = reader.run()
    label = "FHIR input" if isinstance(spec, dict) else str(spec)
    pats = _patients(doc)
    invalid_patients = [i.where for i in doc.resources if i.resource.get("resourceType") == "Patient" and i.invalid]
    notes = reader.notes + (
        [f"invalid Patient resources ignored: {', '.join(invalid_patients)}"] if invalid_patients else []
    )
    return records.to_source(
        recs, format="fhir", label=label, patients=records.patients_frame(pats) if pats else None, notes=notes
    )


def read_fhir_cbc(spec: str | Path | dict, *, codes: Mapping[str, str] | None = None, map=None) -> Cbc:
    """The latest CBC in FHIR input (a DiagnosticReport, a panel or loose Observations) for `assess_mapping`."""
    return latest_cbc(read_fhir(spec, codes=codes, map=map))
