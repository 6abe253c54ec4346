"""The topics of seed-facts.md, checked in so the test runs where ../shared is absent.

When the file is present the tests also check that this list still matches it (headings, table rows,
phrases), so a new fact there fails here until the knowledge base covers it.
"""

from __future__ import annotations

import re
from pathlib import Path

SEED = Path(__file__).parents[2] / ".." / "shared" / "reference" / "seed-facts.md"
SEED_SOURCES = {"VW", "DB", "MNT", "NM", "PD"}

#: heading (first words) -> phrases written in that section, each looked up in the knowledge base.
TOPICS: dict[str, list[str]] = {
    "Definitions": [
        "Leukopenia", "Neutropenia", "Agranulocytosis", "Lymphocytopenia", "lymphopenia", "Pseudo-leukopenia",
        "Leukopenia without neutropenia", "five kinds of leukopenia", "monocytopenia",
        "Neutropenia and leukopenia",
    ],
    "Normal values": [],  # the table rows below
    "Cell types": ["Granulocytes", "neutrophils", "eosinophils", "basophils", "Agranulocytes", "lymphocytes",
                   "monocytes", "macrophages"],
    "Symptoms and effects": ["Signs of infection", "Neutropenia: recurrent infections"],
    "Causes": [
        "congenital neutropenia", "chemotherapy", "cancer in the bone marrow", "radiation therapy",
        "immune diseases", "transplant", "after surgery", "rheumatoid arthritis", "lupus", "Sjögren's",
        "Hodgkin lymphoma", "leukaemia", "myelofibrosis", "influenza", "HIV", "hepatitis", "tuberculosis", "sepsis",
        "COVID-19", "acute viral infection", "inflammatory bowel disease", "granulomatosis with polyangiitis",
        "folate", "copper", "zinc", "vitamin B12 deficiency", "malnutrition", "Chediak-Higashi", "Kostmann",
        "myelokathexis", "congenital immunodeficiency", "aplastic anaemia", "hypersplenism", "splenic infection",
        "myelodysplastic syndromes", "glucocorticoid", "arsenic", "bone-marrow disease", "dengue",
        "Crohn's disease", "megaloblastic anaemia", "splenomegaly", "Drug toxicity",
    ],
    "Course": ["Acute", "Chronic neutropenia", "Cyclic neutropenia", "Chronic leukopenia"],
    "Diagnosis": ["Complete blood count", "ANC", "bone-marrow biopsy", "imaging", "blood smear",
                  "kidney and liver function tests", "thrombocytopenia"],
    "Treatment and prevention": [
        "antipyretics", "IV fluids", "abscess drainage", "prophylactic antibiotics", "filgrastim", "Neupogen",
        "pegfilgrastim", "Neulasta", "colony-stimulating factor", "granulocyte transfusion", "antifungals",
        "hygiene", "neutropenic diet", "Mild neutropenia", "Outlook",
    ],
}  # fmt: skip
#: The "Medications named" line.
MEDICINES = [
    "chemotherapy", "quinidine", "cephalosporins", "aminopyrine", "heavy metals", "phenothiazines",
    "chlorpromazine", "sulfonamides", "penicillins", "minocycline", "antipsychotics", "antidepressants",
    "smoking-cessation drugs", "antibiotics", "anticonvulsants", "anti-epileptics", "immunosuppressants",
]  # fmt: skip
#: The symptom table: (symptom, column).
SYMPTOMS = [
    ("Frequent infections", "both"), ("Severe infections", "both"), ("Mouth sores", "both"),
    ("Feeling run down", "both"), ("Risk of abscesses", "both"), ("Frequent sore throat", "both"),
    ("Fevers", "leukopenia"), ("Risk of high fevers (neutropenic fever)", "neutropenia"),
    ("Bacterial infections", "neutropenia"), ("Viral infections", "leukopenia"),
    ("Risk of secondary cancer", "leukopenia"),
]  # fmt: skip
#: The normal-values table: (numbers in the row, sources of the row).
NORMAL_VALUES = [
    ({"5000", "10000"}, {"VW"}), ({"5000", "10000"}, {"MNT"}), ({"3500", "11000"}, {"MNT"}),
    ({"7000", "1"}, {"NM"}), ({"2500", "6000", "40", "60"}, {"VW"}), ({"55", "70", "45", "75"}, {"MNT", "NM"}),
    ({"0", "500", "5"}, {"VW"}),
]  # fmt: skip


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in re.findall(r"(?<![A-Za-z\d])\d[\d,]*\d|(?<![A-Za-z\d])\d", text)}


def sections(text: str) -> dict[str, str]:
    """'## Heading' -> body."""
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {p.split("\n", 1)[0].strip(): p.split("\n", 1)[1] for p in parts}


def table_rows(body: str) -> list[list[str]]:
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")] for line in body.splitlines() if line.startswith("|")
    ]
    return [r for r in rows[2:]]  # header and separator first


def parsed_medicines(body: str) -> list[str]:
    line = re.search(r"Medications named:(.*?)\[", body, re.S).group(1)  # type: ignore[union-attr]
    items = []
    for part in line.replace("\n", " ").split(";"):
        part = re.sub(r"\(.*?\)", "", part).strip().rstrip(".")
        for bit in re.split(r"\s+incl\.\s+|/", part):
            if bit.strip():
                items.append(bit.strip())
    return items


# ---- tests ------------------------------------------------------------------------------------------------
import pytest  # noqa: E402

from leukon.knowledge import knowledge_base, lookup, match_context  # noqa: E402
from leukon.knowledge.names import normalise  # noqa: E402

needs_seed = pytest.mark.skipif(not SEED.exists(), reason="../shared/reference/seed-facts.md not beside the repo")


def _seed_sections() -> dict[str, str]:
    return sections(SEED.read_text(encoding="utf-8"))


def _heading(topic: str, found: dict[str, str]) -> str:
    return next(h for h in found if h.startswith(topic))


@needs_seed
def test_checked_in_topics_match_the_seed_file():
    found = _seed_sections()
    assert len(found) == len(TOPICS), f"seed-facts.md headings changed: {list(found)}"
    for topic, phrases in TOPICS.items():
        body = normalise(found[_heading(topic, found)])
        for phrase in phrases:
            assert normalise(phrase) in body, f"{phrase!r} is not in seed-facts.md '{topic}'"
    body = found[_heading("Symptoms", found)]
    assert [(r[0], r[1]) for r in table_rows(body)] == SYMPTOMS
    rows = table_rows(found[_heading("Normal values", found)])
    assert [(numbers(r[1] + " " + re.sub(r"\[.*?\]", "", r[2])), set(re.findall(r"\[(\w+)", r[2]))) for r in rows] == [
        (n, s) for n, s in NORMAL_VALUES
    ]
    assert parsed_medicines(found[_heading("Causes", found)]) == MEDICINES


def _cites_seed(entry) -> bool:
    return bool(SEED_SOURCES & set(entry.sources))


@pytest.mark.parametrize(("topic", "phrase"), [(t, p) for t, ps in TOPICS.items() for p in ps])
def test_every_seed_topic_is_in_the_knowledge_base_with_a_source(topic, phrase):
    kb = knowledge_base()
    if topic == "Causes":
        found = match_context(None, conditions=[phrase]).matches
        assert found, f"cause {phrase!r} not recognised"
        entry = kb.entry(found[0].entry_id)
        assert entry.kind in ("cause", "medicine") and entry.lines
    else:
        entry = lookup(phrase)
    assert _cites_seed(entry), f"{phrase!r} -> {entry.id} cites none of the five articles"


@pytest.mark.parametrize("medicine", MEDICINES)
def test_every_named_medicine_is_a_known_cause(medicine):
    m = match_context(None, medicines=[medicine])
    assert len(m.matches) == 1 and not m.unrecognised
    entry = knowledge_base().entry(m.matches[0].entry_id)
    assert entry.kind == "medicine" and entry.role == "cause" and entry.lines and _cites_seed(entry)


@pytest.mark.parametrize(("symptom", "column"), SYMPTOMS)
def test_symptom_table_rows(symptom, column):
    rows = [e for e in knowledge_base().of_kind("symptom") if normalise(e.title) == normalise(symptom)]
    assert len(rows) == 1, symptom
    assert rows[0].applies_to == column and "VW" in rows[0].sources


@pytest.mark.parametrize(("values", "cited"), NORMAL_VALUES)
def test_normal_values(values, cited):
    entries = [e for e in knowledge_base().of_kind("normal_value") if cited <= set(e.sources)]
    assert any(values <= numbers(e.clinician) for e in entries), (values, cited)
