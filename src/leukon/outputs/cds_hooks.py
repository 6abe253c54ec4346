"""CDS Hooks 2.0 logic as pure functions: discovery, patient-view and order-sign (no web code here).

The web service (`leukon.service`) mounts these at /cds-services; each takes the hook request as a dict
and returns the response body as a dict. The prefetched FHIR resources are read by the same adapter as
`leukon screen --format fhir`, the latest CBC is assessed by `assess_mapping`, and nothing here grades
or compares a count itself: cards only report what the assessment found.

>>> [s["hook"] for s in discovery()["services"]]
['patient-view', 'order-sign']

- patient-view: one card for the latest CBC in the prefetch: critical (febrile neutropenia,
  agranulocytosis, or CTCAE v5.0 grade 4 for WBC or ANC), warning (any other finding), or info (no
  finding; or "not assessed" and why). No CBC in the prefetch: no card (there is nothing to say).
- order-sign: for a draft MedicationRequest naming clozapine or a chemotherapy agent (matched by
  `leukon.knowledge` from the medicine's text or coding display), a card when the last ANC is low or
  older than the monitoring interval. Clozapine intervals come from the monitoring text of the clozapine
  scheme (US label, 2015 REMS tables): the first frequency of the category the last ANC fell in
  ("Weekly ..." is 7 days; time on treatment is not known from an order, so the first-6-months
  interval applies). leukon's criteria hold no interval for chemotherapy: a stale-count check for it
  runs only when the service sets `chemo_max_age_days`.

Errors in the request (wrong hook, no patientId, prefetch missing) raise InputError naming the field;
the service answers 400, or 412 for a missing prefetch as the CDS Hooks specification suggests.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from leukon.errors import InputError
from leukon.pipelines.assess import Assessment, assess_mapping
from leukon.rules.criteria import SCHEMES
from leukon.sources.cbc import Cbc, latest_cbc
from leukon.sources.fhir import CBC_PANELS, LOINC, read_fhir

PATIENT_VIEW_ID = "leukon-cbc-white-cells"
ORDER_SIGN_ID = "leukon-anc-before-order"
#: White-cell LOINC codes asked for in the prefetch (the catalogue's WBC, ANC and differential codes).
_PREFETCH_CODES = ("6690-2", "26464-8", "751-8", "26499-4", "753-4", "770-8", "26511-6", "26508-2", "764-1")
_OBSERVATIONS = (
    "Observation?patient={{context.patientId}}&code="
    + ",".join(f"{LOINC}|{c}" for c in _PREFETCH_CODES)
    + "&_sort=-date&_count=50"
)
_REPORTS = (
    "DiagnosticReport?patient={{context.patientId}}&code="
    + ",".join(f"{LOINC}|{c}" for c in CBC_PANELS)
    + "&_sort=-date&_count=1&_include=DiagnosticReport:result"
)
PREFETCH = {"patient": "Patient/{{context.patientId}}", "cbc": _REPORTS, "observations": _OBSERVATIONS}

#: Where a card's reader can check the criteria: the scheme's own source page.
SOURCE_LINKS = {
    "ctcae-v5": "https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm",
    "clozapine": "https://pmc.ncbi.nlm.nih.gov/articles/PMC9243911/",
}
#: The clozapine scheme's monitoring phrases and the longest gap, in days, each allows between two counts.
#: "Three times a week" leaves at most 3 days between counts (7 / 3, rounded up).
FREQUENCY_DAYS = {"daily": 1, "three times a week": 3, "weekly": 7, "every 2 weeks": 14, "monthly": 31}
CLOZAPINE_TERM = "ANC monitoring, general population"
#: The label's table for benign ethnic neutropenia (Duffy-null), used when the patient is known to be Duffy-null.
CLOZAPINE_BEN_TERM = "ANC monitoring, benign ethnic neutropenia"
_CRITICAL_TERMS = ("White blood cell decreased", "Neutrophil count decreased")


def discovery() -> dict:
    """The discovery document: the two services with their prefetch templates."""
    return {
        "services": [
            {
                "hook": "patient-view",
                "id": PATIENT_VIEW_ID,
                "title": "leukon: white cells in the latest blood count",
                "description": "Reads the latest CBC and says whether it shows leukopenia, neutropenia or another "
                "white-cell cytopenia, with its CTCAE v5.0 grade and the criteria's source.",
                "prefetch": PREFETCH,
            },
            {
                "hook": "order-sign",
                "id": ORDER_SIGN_ID,
                "title": "leukon: ANC before clozapine or chemotherapy",
                "description": "When clozapine or a chemotherapy agent is ordered, warns if the last ANC is low "
                "or older than the clozapine label's monitoring interval.",
                "prefetch": PREFETCH,
            },
        ]
    }


# --- request --------------------------------------------------------------------------------------------


def _context(request: Mapping, hook: str) -> tuple[str, dict]:
    if not isinstance(request, Mapping):
        raise InputError("request", "a CDS Hooks request is a JSON object")
    if request.get("hook") != hook:
        raise InputError("hook", f"this service answers {hook!r}, not {request.get('hook')!r}")
    context = request.get("context")
    if not isinstance(context, Mapping) or not context.get("patientId"):
        raise InputError("context.patientId", "the request names no patient; send context.patientId")
    return str(context["patientId"]), dict(context)


def _prefetch(request: Mapping) -> dict:
    """The prefetched resources as one collection Bundle (searchset Bundles are flattened into it)."""
    prefetch = request.get("prefetch")
    if not isinstance(prefetch, Mapping) or not any(prefetch.get(k) for k in ("cbc", "observations")):
        raise InputError(
            "prefetch", "no CBC prefetch (keys 'cbc' or 'observations'); send the prefetch (HTTP 412 otherwise)"
        )
    entries: list[dict] = []
    for key in ("patient", "cbc", "observations"):
        res = prefetch.get(key)
        if not res:
            continue
        if not isinstance(res, Mapping) or "resourceType" not in res:
            raise InputError(f"prefetch.{key}", "is not a FHIR resource or Bundle")
        if res["resourceType"] == "Bundle":
            entries_in = res.get("entry") or []
            if not isinstance(entries_in, list):
                raise InputError(f"prefetch.{key}", "Bundle.entry must be a list of entries")
            for e in entries_in:
                if not isinstance(e, Mapping):
                    continue  # not an entry: nothing to read (the reader would reject it the same way)
                entry = {k: e[k] for k in ("fullUrl", "resource") if k in e}
                if isinstance(entry.get("resource"), Mapping) and entry not in entries:
                    entries.append(entry)
        else:
            entries.append({"resource": dict(res)})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


def _latest(request: Mapping, patient_id: str) -> tuple[Cbc | None, Assessment | None, str | None]:
    """(cbc, assessment, why not) for the latest CBC of the patient in the prefetch."""
    source = read_fhir(_prefetch(request))
    if source.rows_read == 0:
        return None, None, None
    try:
        cbc = latest_cbc(source, patient_id=patient_id)
    except InputError as e:
        return None, None, str(e).split(": ", 1)[-1]
    try:
        return cbc, assess_mapping(cbc.values, **cbc.options), None
    except InputError as e:
        return cbc, None, str(e)


# --- cards ----------------------------------------------------------------------------------------------


def _card(summary: str, detail: str, indicator: str, scheme_id: str, *, suggestions: list | None = None) -> dict:
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"leukon|{indicator}|{summary}|{detail}")),
        "summary": summary[:140],
        "detail": detail,
        "indicator": indicator,
        "source": {"label": f"leukon, criteria: {SCHEMES[scheme_id].name}", "url": SOURCE_LINKS[scheme_id]},
    }
    if suggestions:
        card["suggestions"] = suggestions
        card["selectionBehavior"] = "at-most-one"
    return card


def _when(cbc: Cbc) -> str:
    return f"{cbc.taken_at:%Y-%m-%d %H:%M}" if cbc.taken_at else "date unknown"


def indicator(a: Assessment) -> str:
    """critical, warning or info for an assessment (see the module docstring)."""
    severe = any(g.scheme == "ctcae-v5" and g.term in _CRITICAL_TERMS and g.grade == 4 for g in a.grades)
    if a.emergency or a.has("agranulocytosis") or severe:
        return "critical"
    return "warning" if a.findings else "info"


def _grade_text(a: Assessment, term: str) -> str | None:
    g = next((g for g in a.grades if g.scheme == "ctcae-v5" and g.term == term), None)
    if g is None:
        return None
    return (
        f"CTCAE v5.0 {term}: grade {g.grade}"
        if g.grade is not None
        else f"CTCAE v5.0 {term}: not gradable ({g.reason})"
    )


def _detail(a: Assessment, cbc: Cbc) -> str:
    lines = [f"CBC of {_when(cbc)}."]
    for f in a.findings:
        lines.append(f"- **{f.label}**" + (f": {f.detail}" if f.detail else ""))
    for v in a.values.values():
        if v.analyte in ("wbc", "anc"):
            rng = f" (range {v.lln:g}-{v.uln:g}, {v.range_origin})" if v.lln is not None and v.uln is not None else ""
            lines.append(f"- {v.analyte.upper()} {v.value:g} {v.unit}{rng}, {v.method.replace('_', ' ')}")
    lines += [f"- {t}" for t in (_grade_text(a, term) for term in _CRITICAL_TERMS) if t]
    lines += [f"- not assessed: {n.message}" for n in a.not_assessed]
    lines += [f"- note: {w.message}" for w in a.warnings]
    lines.append(f"\n{a.disclaimer}")
    return "\n".join(lines)


def patient_view(request: Mapping) -> dict:
    """CDS Hooks patient-view: a card on the white cells of the latest CBC in the prefetch."""
    patient_id, _ = _context(request, "patient-view")
    cbc, a, why = _latest(request, patient_id)
    if cbc is None and why is None:
        return {"cards": []}
    if a is None:
        return {
            "cards": [_card("White cells not assessed", f"leukon could not assess the CBC: {why}", "info", "ctcae-v5")]
        }
    level = indicator(a)
    if a.findings:
        main = a.findings[0]
        grade = next((g for g in a.grades if g.scheme == "ctcae-v5" and g.analyte == main.analyte and g.grade), None)
        summary = main.label + (f", CTCAE v5.0 grade {grade.grade}" if grade else "") + f" (CBC {_when(cbc)})"
    else:
        summary = f"No white-cell cytopenia in the CBC of {_when(cbc)}"
    return {"cards": [_card(summary, _detail(a, cbc), level, "ctcae-v5")]}


# --- order-sign -----------------------------------------------------------------------------------------


def monitoring_interval_days(monitoring: str) -> int:
    """The longest gap between counts that a monitoring text allows: its first frequency phrase, in days.

    >>> monitoring_interval_days("Weekly for the first 6 months, every 2 weeks from 6 to 12 months, then monthly.")
    7
    >>> monitoring_interval_days("Three times a week until ANC is 1.5 or more, then back to the last interval.")
    3
    """
    text = monitoring.lower()
    found = [(text.find(p), days) for p, days in FREQUENCY_DAYS.items() if p in text]
    if not found:
        raise ValueError(f"no monitoring frequency in {monitoring!r}; known: {', '.join(FREQUENCY_DAYS)}")
    return min(found)[1]


def _ordered_medicines(context: Mapping) -> list[tuple[str, str]]:
    """(text, knowledge entry id) of clozapine or chemotherapy in the draft MedicationRequests."""
    from leukon.knowledge.context import match_context

    draft = context.get("draftOrders") or {}
    resources = [e.get("resource") or {} for e in draft.get("entry") or []] if isinstance(draft, Mapping) else []
    out = []
    for r in resources:
        if r.get("resourceType") != "MedicationRequest":
            continue
        concept = r.get("medicationCodeableConcept") or {}
        names = [concept.get("text"), *(c.get("display") for c in concept.get("coding") or [])]
        names.append((r.get("medicationReference") or {}).get("display"))
        text = " ".join(n for n in names if n)
        if not text:
            continue
        hits = {m.entry_id for m in match_context(None, medicines=[text]).matches}
        for entry in ("med.clozapine", "med.chemotherapy"):
            if entry in hits:
                out.append((text, entry))
    return out


def _order_cbc_suggestion(patient_id: str) -> dict:
    return {
        "label": "Order a CBC with differential",
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"leukon|order-cbc|{patient_id}")),
        "actions": [
            {
                "type": "create",
                "description": "CBC with automated differential (LOINC 57021-8)",
                "resource": {
                    "resourceType": "ServiceRequest",
                    "status": "draft",
                    "intent": "proposal",
                    "code": {"coding": [{"system": LOINC, "code": "57021-8", "display": CBC_PANELS["57021-8"]}]},
                    "subject": {"reference": f"Patient/{patient_id}"},
                },
            }
        ],
    }


def order_sign(
    request: Mapping,
    *,
    now: dt.datetime | None = None,
    chemo_max_age_days: int | None = None,
) -> dict:
    """CDS Hooks order-sign: cards for clozapine or chemotherapy orders when the last ANC is low or stale.

    `now` is the time the order is signed (UTC now by default); `chemo_max_age_days` turns on the
    stale-count check for chemotherapy (off by default: no cited interval exists in leukon's criteria).
    """
    patient_id, context = _context(request, "order-sign")
    orders = _ordered_medicines(context)
    if not orders:
        return {"cards": []}
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
    cbc, a, why = _latest(request, patient_id)
    suggestion = [_order_cbc_suggestion(patient_id)]
    cards = []
    for text, entry in orders:
        scheme_id = "clozapine" if entry == "med.clozapine" else "ctcae-v5"
        drug = "clozapine" if entry == "med.clozapine" else "chemotherapy"
        anc = a.values.get("anc") if a is not None else None
        if anc is None:
            if a is None:
                reason = why or "no white-cell count in the record"
            else:
                reason = "the latest CBC has no ANC and no differential to derive one"
            summary = f"No ANC on record before {drug} ({text})"
            detail = f"{reason}. An ANC is needed before {drug} is given."
            cards.append(_card(summary, detail, "warning", scheme_id, suggestions=suggestion))
            continue
        age_days = (now - cbc.taken_at).total_seconds() / 86400 if cbc and cbc.taken_at else None
        if entry == "med.clozapine":
            cards += _clozapine_cards(a, anc, age_days, text, cbc, suggestion)
        else:
            cards += _chemo_cards(a, anc, age_days, text, cbc, suggestion, chemo_max_age_days)
    return {"cards": cards}


def _clozapine_cards(a: Assessment, anc, age_days, text: str, cbc: Cbc, suggestion: list) -> list[dict]:
    ben = a.patient.get("ancestry") == "duffy-null"
    g = a.grade_result("clozapine", CLOZAPINE_BEN_TERM if ben else CLOZAPINE_TERM)
    cards = []
    if g.grade:
        level = "critical" if g.grade >= 2 else "warning"
        cards.append(
            _card(
                f"ANC {anc.value:g} ({_when(cbc)}): {g.label} for clozapine ({text})",
                f"Label category: {g.label}.\n\nAction: {g.action}\n\nMonitoring: {g.monitoring}\n\n{a.disclaimer}",
                level,
                "clozapine",
            )
        )
    interval = monitoring_interval_days(g.monitoring or "")
    if age_days is not None and age_days > interval:
        cards.append(
            _card(
                f"Last ANC is {age_days:.0f} days old; clozapine monitoring asks every {interval} day"
                + ("s" if interval != 1 else ""),
                f"Last ANC {anc.value:g} {anc.unit} on {_when(cbc)} ({g.label}). Monitoring for this category: "
                f"{g.monitoring} Time on clozapine is not known from the order, so the first interval applies."
                f"\n\n{a.disclaimer}",
                "warning",
                "clozapine",
                suggestions=suggestion,
            )
        )
    return cards


def _chemo_cards(a, anc, age_days, text, cbc, suggestion, max_age) -> list[dict]:
    cards = []
    if a.has("neutropenia"):
        f = a.finding("neutropenia")
        cards.append(
            _card(
                f"ANC {anc.value:g} is low before chemotherapy ({text})" + (f", {f.severity}" if f.severity else ""),
                _detail(a, cbc),
                "critical" if indicator(a) == "critical" else "warning",
                "ctcae-v5",
            )
        )
    if max_age is not None and age_days is not None and age_days > max_age:
        cards.append(
            _card(
                f"Last ANC is {age_days:.0f} days old, before chemotherapy ({text})",
                f"Last ANC {anc.value:g} {anc.unit} on {_when(cbc)}; the service asks for one within {max_age} days."
                f"\n\n{a.disclaimer}",
                "warning",
                "ctcae-v5",
                suggestions=suggestion,
            )
        )
    return cards


__all__ = ["discovery", "indicator", "monitoring_interval_days", "order_sign", "patient_view"]
