"""`explain`: an assessment in words for a patient or a clinician, from the knowledge base.

The pattern of findings picks the story (patterns.toml); the person's medicines and conditions are
matched to known causes and listed first with whether they fit; every section names the entries it used;
sources and the disclaimer always close the explanation.

>>> from leukon import assess
>>> e = explain(assess(wbc=3.2, anc=2.1, lymphocytes=0.6, age_years=41), conditions=["HIV"])
>>> e.pattern, e.ids[0], e.ids[-2:]
('leukopenia_without_neutropenia', 'summary', ['sources', 'disclaimer'])
>>> e.section("possible_causes").items[0]
'HIV (you mentioned "HIV"): can lower lymphocytes. This fits your result.'
"""

from __future__ import annotations

from collections.abc import Iterable

from leukon.pipelines.assess import Assessment
from leukon.rules.criteria import scheme

from .context import Context, ContextMatch, match_context
from .facts import SHOWN, UNITS_NOTE, grade_lines, value_lines
from .kb import AUDIENCES, Entry, KnowledgeBase, Pattern, knowledge_base
from .model import Explanation, Section
from .patterns import detect, lines_of

#: Section titles by audience (patient, clinician).
TITLES = {
    "urgent": ("Get help now", "Urgent"),
    "summary": ("What your result shows", "Summary"),
    "difference": ("Leukopenia or neutropenia?", "Leukopenia vs neutropenia"),
    "symptoms": ("Signs to watch for", "Symptoms"),
    "possible_causes": ("What could cause it", "Possible causes"),
    "next_steps": ("What usually happens next", "Next diagnostic steps"),
    "treatment": ("Treatments that exist", "Treatment"),
    "prevention": ("Lowering the risk of infection", "Prevention"),
    "sources": ("Where this comes from", "Sources"),
    "disclaimer": ("Please note", "Disclaimer"),
}
_LINE_WORDS = {"all": "all kinds of blood cells"}
_FIT_WORDS = {
    "patient": {
        "fits": "This fits your result.",
        "possible": "This might fit your result; a count of each kind of white cell would tell.",
        "no_low_count": "Your count is not low now.",
        "does_not_fit": "This does not match the cells that are low in your result.",
    },
    "clinician": {
        "fits": "fits the pattern",
        "possible": "possible (line not measured)",
        "no_low_count": "no cytopenia to explain",
        "does_not_fit": "does not fit the pattern",
    },
}
_MILDER = (None, "mild")  # neutropenia severities where a Duffy-null variant or waiting is worth a word
_SAFETY = "Never start or stop a medicine because of this page; talk to the clinician who prescribed it."


def _lines(lines: Iterable[str]) -> str:
    words = [_LINE_WORDS.get(x, x) for x in lines]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class _Builder:
    def __init__(self, a: Assessment, audience: str, context: Context, kb: KnowledgeBase) -> None:
        self.a, self.aud, self.ctx, self.kb = a, audience, context, kb
        self.pattern_id = detect(a)
        self.p: Pattern = kb.patterns[self.pattern_id]
        self.lines = lines_of(a)
        self.patient = audience == "patient"
        f = a.finding("neutropenia")
        self.severity = f.severity if f and f.severity in ("mild", "moderate", "severe", "profound") else None
        self.matched = {m.entry_id for m in context.matches}

    def title(self, sid: str) -> str:
        if sid == "urgent" and self.p.urgent_position == "end":
            return "When to get help" if self.patient else "When to seek care"
        return TITLES[sid][0 if self.patient else 1]

    def text(self, eid: str) -> str:
        return self.kb.entry(eid).text(self.aud)

    def section(self, sid: str, paras: list[str], items: list[str], entries: list[str]) -> Section:
        return Section(
            sid, self.title(sid), "\n\n".join(p for p in paras if p), tuple(items), tuple(dict.fromkeys(entries))
        )

    # ---- sections ----------------------------------------------------------------------------------------
    def summary(self) -> Section:
        a, entries = self.a, list(self.p.lists["summary"])
        paras = [self.p.summary_text[self.aud]]
        if self.severity and self.patient:
            paras.append(f"The neutrophil count is in the range doctors call {self.severity}.")
        if a.patient.get("ancestry") == "duffy-null" and a.values.get("anc"):
            entries.append("note.duffy_null")
            paras.append(
                "Your result was read against the normal range for Duffy-null people."
                if self.patient
                else "Read against the Duffy-null (DANC) reference interval."
            )
        for code, eid in (("pancytopenia", "def.pancytopenia"), ("bicytopenia", "def.pancytopenia"),
                          ("left_shift", "def.left_shift")):  # fmt: skip
            if a.has(code) and eid not in entries:
                entries.append(eid)
        paras += [self.text(e) for e in entries]
        items = value_lines(a, self.aud)
        if self.patient:
            items += [_patient_note(n.field, n.message) for n in a.not_assessed if n.field in ("wbc", "anc")]
            items += [_patient_note(w.field, w.message) for w in a.warnings if w.code == "age_missing"]
            others = [f.label for f in a.findings if f.code in ("anemia", "thrombocytopenia", "leukocytosis")]
            if others:
                items.append("Also found: " + "; ".join(others) + ".")
            if items:
                items.append(UNITS_NOTE)
        else:
            items += [f"Finding: {f.label}" + (f" ({f.detail})" if f.detail else "") for f in a.findings
                      if f.code not in ("leukopenia", "neutropenia")]  # fmt: skip
            if self.severity:
                items.append(f"Clinical severity of neutropenia: {self.severity}")
            items += grade_lines(a, hide=() if "med.clozapine" in self.matched else ("clozapine",))
            items += [f"Not assessed: {n.message}" for n in a.not_assessed]
            items += [f"Note: {w.message}" for w in a.warnings]
        return self.section("summary", paras, items, entries)

    def difference(self) -> Section:
        ids = self.p.lists["difference"]
        return self.section("difference", [self.p.difference_text[self.aud], *map(self.text, ids)], [], list(ids))

    def symptoms(self) -> Section | None:
        if not self.p.symptoms:
            return None
        rows = [e for e in self.kb.of_kind("symptom") if e.applies_to in self.p.symptoms]
        rows.sort(key=lambda e: self.p.symptoms.index(e.applies_to))  # type: ignore[arg-type]
        if self.patient:
            intro = (
                "Other signs that can go with a low white count:"
                if self.a.emergency
                else "These are signs that can go with a low white count. Having none of them is common."
            )
            items = [e.patient for e in rows]
        else:
            intro = "Symptom table (Verywell Health) rows for this pattern, with associated infection signs."
            items = [f"{e.title} [{e.applies_to}]" for e in rows]
        return self.section("symptoms", [intro], items, [e.id for e in rows])

    def _match_item(self, m: ContextMatch) -> str:
        e = self.kb.entry(m.entry_id)
        if self.patient:
            said = f'{e.title} (you mentioned "{m.given}")'
            if m.role == "treatment":
                return f"{said}: {e.patient}"
            if m.role == "context":
                return f"{said}: {e.patient}"
            return f"{said}: can lower {_lines(e.lines)}. {_FIT_WORDS['patient'][m.fit]}"
        tag = f'{e.title} ["{m.given}"]'
        if m.role in ("treatment", "context"):
            return f"{tag}: {m.role}. {e.clinician}"
        return f"{tag}: lowers {_lines(e.lines)}; {_FIT_WORDS['clinician'][m.fit]}. {e.clinician}"

    def _general_item(self, e: Entry) -> str:
        course = f" ({' or '.join(e.course)})" if e.course and not self.patient else ""
        return f"{e.title}{course}: {e.text(self.aud)}"

    def causes(self) -> Section | None:
        general = [self.kb.entry(i) for i in self.p.lists["causes"] if i not in self.matched]
        if not general and not self.ctx.matches and not self.ctx.unrecognised:
            return None
        paras, items, entries = [], [], []
        if self.ctx.matches or self.ctx.unrecognised:
            paras.append(
                "The first notes are about what you told us. The rest are common causes of this kind of result."
                if self.patient
                else "Medicines and conditions given come first, best fit first; then causes to consider for this pattern."
            )
        elif general:
            paras.append(
                "Common causes of this kind of result:" if self.patient else "Causes to consider for this pattern:"
            )
        items += [self._match_item(m) for m in self.ctx.matches]
        entries += [m.entry_id for m in self.ctx.matches]
        for u in self.ctx.unrecognised:
            items.append(
                f'leukon has no notes on "{u}". That does not mean it is safe or unsafe; ask your doctor or pharmacist.'
                if self.patient
                else f'"{u}": not in the knowledge base; not assessed.'
            )
        if general:
            items += [self._general_item(e) for e in general]
            entries += [e.id for e in general]
        if any(m.role == "cause" for m in self.ctx.matches) and self.patient:
            paras.append(_SAFETY)
        return self.section("possible_causes", paras, items, entries)

    def next_steps(self) -> Section | None:
        ids = list(self.p.lists["next_steps"])
        items: list[str] = []
        if self.lines.leukopenia or self.lines.low:
            if (
                self.severity in _MILDER
                and self.a.has("neutropenia")
                and self.a.patient.get("ancestry") != "duffy-null"
            ):
                ids += ["note.duffy_null", "dx.duffy_phenotype"]
            if self.a.has("bicytopenia") or self.a.has("pancytopenia"):
                ids.append("dx.marrow_biopsy")
        if "med.clozapine" in self.matched:
            ids.append("note.clozapine_monitoring")
            items += self._clozapine_items()
        if self.pattern_id == "not_assessed" or not self.p.lists["next_steps"]:
            items += [
                _patient_note(n.field, n.message) if self.patient else n.message
                for n in self.a.not_assessed
                if n.field in ("wbc", "anc")
            ]
        if self.pattern_id == "normal":
            ids = ["course.fluctuation"] + (["note.clozapine_monitoring"] if "med.clozapine" in self.matched else [])
        ids = list(dict.fromkeys(ids))
        if not ids and not items:
            return None
        return self.section("next_steps", [self.text(i) for i in ids], items, ids)

    def _clozapine_items(self) -> list[str]:
        term = "ANC monitoring, benign ethnic neutropenia" if self.a.patient.get("ancestry") == "duffy-null" \
            else "ANC monitoring, general population"  # fmt: skip
        g = next((g for g in self.a.grades if g.scheme == "clozapine" and g.term == term and g.value is not None), None)
        if g is None or g.grade is None:
            return []
        name = scheme("clozapine").name
        if self.patient:
            return [f"Clozapine blood-test category: {g.label}. Your prescriber decides what to do next; "
                    "do not stop clozapine on your own."]  # fmt: skip
        return [f"{name}, {term}: {g.label}. Action: {g.action} Monitoring: {g.monitoring}"]

    def treatment(self) -> Section | None:
        ids = list(self.p.lists["treatment"])
        if not ids:
            return None
        if self.severity == "mild":
            ids.insert(0, "tx.mild_resolves")
        if "med.chemotherapy" in self.matched:
            ids += ["tx.pause_chemo", "tx.gcsf"]
        ids = list(dict.fromkeys(ids))
        intro = (
            "Your doctor will choose what fits you. These are the treatments the sources describe:"
            if self.patient
            else "Options described in the sources (by cause and severity):"
        )
        return self.section("treatment", [intro, *map(self.text, ids)], [], ids)

    def prevention(self) -> Section | None:
        ids = self.p.lists["prevention"]
        if not ids:
            return None
        intro = "Simple habits lower the chance of an infection while the count is low:" if self.patient else ""
        return self.section("prevention", [intro], [self.text(i) for i in ids], list(ids))

    def urgent(self) -> Section | None:
        ids = list(self.p.lists["urgent"])
        if not ids:
            return None
        paras = [self.text(i) for i in ids]
        f = self.a.finding("febrile_neutropenia")
        if f is not None and not self.patient:
            paras.append(("Meets: " if f.certainty == "met" else "Possibly meets: ") + (f.source or ""))
        if f is not None and f.certainty == "possible" and self.patient:
            paras.append("Even if you are not sure how long the fever lasted, do not wait: get care now.")
        return self.section("urgent", paras, [], ids)

    def sources(self, used: list[str]) -> Section:
        items = [s.cite() for s in self.kb.cited(used)]
        for v in self.a.values.values():
            if v.range_source:
                name = SHOWN.get(v.analyte, (v.analyte,))[0]
                items.append(f"Normal range for {name}: {v.range_source}")
        if not self.patient:
            schemes = dict.fromkeys(g.scheme for g in self.a.grades if g.value is not None)
            items += [f"{scheme(s).name}: {scheme(s).source}" for s in schemes]
            items += [f"{f.label}: {f.source}" for f in self.a.findings if f.source and f.analyte != "wbc" and
                      f.source not in {v.range_source for v in self.a.values.values()}]  # fmt: skip
        items = list(dict.fromkeys(items))
        intro = "leukon's notes are written in its own words from these sources:" if self.patient else ""
        return self.section("sources", [intro], items, [])

    def build(self) -> Explanation:
        body = {
            "urgent": self.urgent(),
            "summary": self.summary(),
            "difference": self.difference(),
            "symptoms": self.symptoms(),
            "possible_causes": self.causes(),
            "next_steps": self.next_steps(),
            "treatment": self.treatment(),
            "prevention": self.prevention(),
        }
        order = ["summary", "difference", "symptoms", "possible_causes", "next_steps", "treatment", "prevention"]
        where = {"first": 0, "after_summary": 1, "end": len(order)}[self.p.urgent_position]
        order.insert(where, "urgent")
        sections = [body[s] for s in order if body[s] is not None]
        used = [e for s in sections for e in s.entries]
        sections.append(self.sources(used))
        sections.append(Section("disclaimer", self.title("disclaimer"), self.a.disclaimer))
        return Explanation(
            audience=self.aud,
            pattern=self.pattern_id,
            headline=self.p.headline[self.aud],
            sections=tuple(sections),  # type: ignore[arg-type]
            emergency=self.a.emergency,
            context=self.ctx,
        )


def _patient_note(field: str | None, message: str) -> str:
    """A not-assessed or warning note in plain words; falls back to the message itself."""
    if "no reference range" in message:
        return "There is no normal range for this age in leukon. Ask the lab for the range on your report."
    plain = {
        "wbc": "The total white cell count (WBC) was not given, so leukon cannot say if it is low.",
        "anc": "The neutrophil count (ANC) was not given, and it could not be worked out from the WBC and the "
        "neutrophil percentage. So leukon cannot say if neutrophils are low.",
        "age": "Your age was not given, so adult normal ranges were used.",
    }
    return plain.get(field or "", message)


def explain(
    assessment: Assessment,
    *,
    audience: str = "patient",
    medicines: Iterable[str] = (),
    conditions: Iterable[str] = (),
    kb: KnowledgeBase | None = None,
) -> Explanation:
    """Explain one assessment for ``audience`` ("patient" or "clinician").

    ``medicines`` and ``conditions`` are free text ("Clozaril 100 mg", "HIV"); matching causes are listed
    first with the cell line they lower and whether the pattern fits; unknown names are set aside politely.
    """
    if audience not in AUDIENCES:
        from ..errors import InputError

        raise InputError("audience", f"{audience!r} is not one of {', '.join(AUDIENCES)}")
    kb = kb or knowledge_base()
    context = match_context(assessment, medicines=medicines, conditions=conditions, kb=kb)
    return _Builder(assessment, audience, context, kb).build()
