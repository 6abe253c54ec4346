"""The pattern decides the story; context matching ranks what fits; every explanation cites and disclaims."""

from __future__ import annotations

import pytest

from leukon import assess
from leukon.knowledge import SECTION_IDS, explain, knowledge_base, match_context
from leukon.rules.criteria import scheme

CASES = {
    "neutropenia_without_leukopenia": dict(wbc=5.0, anc=1.0, age_years=40),
    "leukopenia_without_neutropenia": dict(wbc=3.2, anc=2.1, lymphocytes=0.6, age_years=41),
    "leukopenia_and_neutropenia": dict(wbc=2.0, anc=0.7, age_years=56),
    "agranulocytosis": dict(wbc=1.8, anc=0.05, lymphocytes=1.5, age_years=38),
    "febrile_neutropenia": dict(wbc=0.9, anc=0.2, temperature=38.9, age_years=63),
    "normal": dict(wbc=6.4, anc=3.6, age_years=45),
    "not_assessed": dict(lymphocytes_pct=30, age_years=45),
}


def _all_text(e) -> str:
    return "\n".join(s.text + "\n" + "\n".join(s.items) for s in e.sections)


@pytest.mark.parametrize("audience", ["patient", "clinician"])
@pytest.mark.parametrize("pattern", sorted(CASES))
def test_structure_sources_and_disclaimer(pattern, audience):
    a = assess(**CASES[pattern])
    e = explain(a, audience=audience)
    assert e.pattern == pattern
    assert set(e.ids) <= set(SECTION_IDS) and len(e.ids) == len(set(e.ids))
    assert e.ids[-2:] == ["sources", "disclaimer"] and "summary" in e.ids
    assert "not a diagnosis" in e.sections[-1].text and e.sections[-1].text == a.disclaimer
    kb = knowledge_base()
    cited = "\n".join(e.section("sources").items)
    for source in kb.cited(e.entries):
        assert source.name in cited, f"{source.id} used but not cited"
    assert all(eid in kb.entries for eid in e.entries)


def test_neutropenia_without_leukopenia():
    e = explain(assess(**CASES["neutropenia_without_leukopenia"]))
    summary = e.section("summary")
    assert "normal" in summary.text and "neutrophils are low" in summary.text
    assert "def.neutropenia_without_leukopenia" in summary.entries
    symptoms = e.section("symptoms").entries
    assert "symptom.bacterial_infections" in symptoms and "symptom.viral_infections" not in symptoms
    # mild and no ancestry given: the Duffy-null note and its test are offered, calmly
    assert {"note.duffy_null", "dx.duffy_phenotype"} <= set(e.section("next_steps").entries)
    assert "tx.mild_resolves" in e.section("treatment").entries
    assert e.ids.index("urgent") > e.ids.index("prevention")  # fever advice at the end, not first


def test_duffy_null_reads_the_danc_range_and_says_so():
    e = explain(assess(wbc=3.4, anc=1.3, age_years=29, ancestry="duffy-null"))
    assert e.pattern == "normal"
    assert "Duffy-null" in e.section("summary").text and "note.duffy_null" in e.section("summary").entries


def test_hiv_like_lymphopenia():
    e = explain(assess(**CASES["leukopenia_without_neutropenia"]))
    assert "lymphocytes" in e.section("summary").text and "HIV" in e.section("summary").text
    assert "cause.hiv" in e.section("possible_causes").entries
    assert "symptom.viral_infections" in e.section("symptoms").entries
    assert "symptom.bacterial_infections" not in e.section("symptoms").entries
    assert "urgent" not in e.ids


def test_both_clinician_names_schemes_and_thresholds_from_the_criteria():
    a = assess(**CASES["leukopenia_and_neutropenia"])
    text = _all_text(explain(a, audience="clinician"))
    rules = scheme("ctcae-v5").term("Neutrophil count decreased").rules
    g3, g4 = next(r for r in rules if r.grade == 3), next(r for r in rules if r.grade == 4)
    assert f"NCI CTCAE v5.0, Neutrophil count decreased: grade 3 (ANC >= {g4.bound:g} and < {g3.bound:g})" in text
    assert "White blood cell decreased: grade 2" in text
    assert "LLN 4" in text and "LLN 1.5" in text  # the ranges read, from the assessment


def test_agranulocytosis_urgent_after_summary():
    e = explain(assess(**CASES["agranulocytosis"]))
    assert e.ids[:2] == ["summary", "urgent"]
    assert "def.agranulocytosis" in e.section("summary").entries


@pytest.mark.parametrize(("temperature", "sustained", "certainty"), [(38.9, None, "met"), (38.2, None, "possible")])
def test_febrile_neutropenia_urgent_first(temperature, sustained, certainty):
    a = assess(anc=0.3, temperature=temperature, fever_sustained=sustained)
    assert a.finding("febrile_neutropenia").certainty == certainty
    for audience in ("patient", "clinician"):
        e = explain(a, audience=audience)
        assert e.ids[0] == "urgent" and e.emergency
        assert "urgent.febrile_neutropenia" in e.sections[0].entries
    assert "now" in explain(a).sections[0].text


def test_normal_cbc_says_so_with_the_range_used():
    a = assess(**CASES["normal"])
    e = explain(a)
    assert e.ids == ["summary", "difference", "next_steps", "sources", "disclaimer"]
    summary = e.section("summary")
    assert "No low white count" in summary.text
    wbc = a.values["wbc"]
    assert any(f"{wbc.lln:g} to {wbc.uln:g}" in item for item in summary.items)
    assert "urgent" not in e.ids and "emergency" not in _all_text(e).lower()


def test_not_assessed_says_what_was_missing():
    a = assess(**CASES["not_assessed"])
    patient, clinician = explain(a), explain(a, audience="clinician")
    assert "not mean the result is normal" in patient.section("summary").text
    assert any("WBC" in i for i in patient.section("summary").items)
    assert any("ANC" in i for i in patient.section("summary").items)
    for note in a.not_assessed:
        assert note.message in _all_text(clinician)


# ---- context ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("given", ["Clozaril", "clozapine 100 mg", "CLOZARIL 25MG twice daily", "clozapin", "Leponex"])
def test_brand_dose_case_and_typo_tolerant(given):
    m = match_context(assess(**CASES["agranulocytosis"]), medicines=[given])
    assert [x.entry_id for x in m.matches] == ["med.clozapine"] and m.matches[0].fit == "fits"


def test_unknown_medicines_ignored_politely():
    a = assess(**CASES["leukopenia_and_neutropenia"])
    e = explain(a, medicines=["vitamin D 1000 IU", "zzqx"])
    assert e.context.unrecognised == ("vitamin D 1000 IU", "zzqx")
    text = "\n".join(e.section("possible_causes").items)
    assert 'no notes on "zzqx"' in text and "ask your doctor" in text
    assert e.section("possible_causes").items[0].startswith("leukon has no notes")  # nothing matched, nothing guessed


def test_non_fitting_cause_ranked_below_fitting_one():
    a = assess(**CASES["leukopenia_without_neutropenia"])  # lymphopenia only
    e = explain(a, medicines=["Clozaril"], conditions=["HIV"])
    fits = [(m.entry_id, m.fit) for m in e.context.matches]
    assert fits == [("cause.hiv", "fits"), ("med.clozapine", "does_not_fit")]
    items = e.section("possible_causes").items
    assert items[0].startswith("HIV") and "fits your result" in items[0]
    assert "Clozapine" in items[1] and "does not match" in items[1] and "neutrophils" in items[1]


def test_unmeasured_line_is_a_possible_fit():
    m = match_context(assess(wbc=2.0), medicines=["clozapine"], conditions=["lupus"])
    assert {x.entry_id: x.fit for x in m.matches} == {"med.clozapine": "possible", "cause.lupus": "possible"}


def test_chemotherapy_lowers_all_lines_and_adds_growth_factor():
    e = explain(assess(**CASES["leukopenia_and_neutropenia"]), medicines=["paclitaxel (Taxol) 175 mg/m2"])
    assert e.context.matches[0].entry_id == "med.chemotherapy" and e.context.matches[0].fit == "fits"
    assert {"tx.pause_chemo", "tx.gcsf"} <= set(e.section("treatment").entries)


def test_gcsf_is_reported_as_treatment():
    e = explain(assess(**CASES["leukopenia_and_neutropenia"]), medicines=["Neulasta 6 mg"])
    m = e.context.matches[0]
    assert (m.entry_id, m.role, m.fit) == ("med.pegfilgrastim", "treatment", "treatment")
    assert "treatment that raises neutrophils" in e.section("possible_causes").items[0]


def test_clozapine_monitoring_context_from_the_scheme():
    a = assess(**CASES["agranulocytosis"])
    e = explain(a, audience="clinician", medicines=["clozapine"])
    g = a.grade_result("clozapine", "ANC monitoring, general population")
    text = "\n".join(e.section("next_steps").items)
    assert g.action in text and g.monitoring in text
    assert "note.clozapine_monitoring" in e.section("next_steps").entries


def test_matched_cause_with_normal_count():
    e = explain(assess(**CASES["normal"]), medicines=["clozapine"])
    assert e.context.matches[0].fit == "no_low_count"
    assert "possible_causes" in e.ids and "note.clozapine_monitoring" in e.section("next_steps").entries


def test_bad_audience():
    from leukon.errors import InputError

    with pytest.raises(InputError, match="audience"):
        explain(assess(wbc=5.0), audience="child")
