"""Grades at and around every threshold of every scheme and term, as tables of cases.

Each row: value (10^9/L unless a unit is given), LLN, age in days, expected grade (None = not gradable).
Boundaries are tested on both sides (grading-schemes.md, "Edge semantics"): a value on a threshold takes
the milder grade; a value equal to the LLN is grade 0; without an LLN, grades 2-4 still apply and the
grade-1 range is not gradable; DAIDS' top of ANC grade 1 is inclusive.
"""

import pytest

from leukon import UnknownSchemeError, UnknownTermError, grade, grade_detail

V5 = "ctcae-v5"
ADULT = 40 * 365

CTCAE_V4_V5 = [
    # White blood cell decreased: G1 <LLN-3.0, G2 <3.0-2.0, G3 <2.0-1.0, G4 <1.0
    ("White blood cell decreased", 0.99, 4.0, 4),
    ("White blood cell decreased", 1.0, 4.0, 3),
    ("White blood cell decreased", 1.99, 4.0, 3),
    ("White blood cell decreased", 2.0, 4.0, 2),
    ("White blood cell decreased", 2.99, 4.0, 2),
    ("White blood cell decreased", 3.0, 4.0, 1),
    ("White blood cell decreased", 3.99, 4.0, 1),
    ("White blood cell decreased", 4.0, 4.0, 0),  # equal to the LLN
    ("White blood cell decreased", 7.0, 4.0, 0),
    ("White blood cell decreased", 2.5, None, 2),  # LLN missing, grade 2-4 range
    ("White blood cell decreased", 0.5, None, 4),
    ("White blood cell decreased", 3.0, None, None),  # LLN missing at the grade-2 threshold
    ("White blood cell decreased", 6.0, None, None),
    ("White blood cell decreased", 2.8, 2.5, 2),  # LLN below the grade-2 threshold: still grade 2
    # Neutrophil count decreased: G1 <LLN-1.5, G2 <1.5-1.0, G3 <1.0-0.5, G4 <0.5
    ("Neutrophil count decreased", 0.49, 2.0, 4),
    ("Neutrophil count decreased", 0.5, 2.0, 3),
    ("Neutrophil count decreased", 0.99, 2.0, 3),
    ("Neutrophil count decreased", 1.0, 2.0, 2),
    ("Neutrophil count decreased", 1.49, 2.0, 2),
    ("Neutrophil count decreased", 1.5, 2.0, 1),
    ("Neutrophil count decreased", 1.99, 2.0, 1),
    ("Neutrophil count decreased", 2.0, 2.0, 0),
    ("Neutrophil count decreased", 1.3, 1.2, 2),  # grading-schemes.md: LLN 1.2, ANC 1.3 -> 2
    ("Neutrophil count decreased", 1.5, None, None),
    ("Neutrophil count decreased", 1.49, None, 2),
    ("Neutrophil count decreased", 0.0, None, 4),
    # Lymphocyte count decreased: G1 <LLN-0.8, G2 <0.8-0.5, G3 <0.5-0.2, G4 <0.2
    ("Lymphocyte count decreased", 0.19, 1.0, 4),
    ("Lymphocyte count decreased", 0.2, 1.0, 3),
    ("Lymphocyte count decreased", 0.5, 1.0, 2),
    ("Lymphocyte count decreased", 0.79, 1.0, 2),
    ("Lymphocyte count decreased", 0.8, 1.0, 1),
    ("Lymphocyte count decreased", 1.0, 1.0, 0),
    ("Lymphocyte count decreased", 0.8, None, None),
    # CD4 lymphocytes decreased: G1 <LLN-0.5, G2 <0.5-0.2, G3 <0.2-0.05, G4 <0.05
    ("CD4 lymphocytes decreased", 0.049, 0.5, 4),
    ("CD4 lymphocytes decreased", 0.05, 0.5, 3),
    ("CD4 lymphocytes decreased", 0.2, 0.5, 2),
    ("CD4 lymphocytes decreased", 0.49, 0.5, 2),
    ("CD4 lymphocytes decreased", 0.5, 0.6, 1),
    ("CD4 lymphocytes decreased", 0.6, 0.6, 0),
    ("CD4 lymphocytes decreased", 0.5, None, None),
    # Lymphocyte count increased: G2 >4-20, G3 >20; no ULN needed
    ("Lymphocyte count increased", 4.0, None, 0),
    ("Lymphocyte count increased", 4.01, None, 2),
    ("Lymphocyte count increased", 20.0, None, 2),
    ("Lymphocyte count increased", 20.01, None, 3),
    # Leukocytosis: G3 >100
    ("Leukocytosis", 100.0, None, 0),
    ("Leukocytosis", 100.1, None, 3),
    ("Leukocytosis", 5.0, 4.0, 0),
]


@pytest.mark.parametrize("scheme", ["ctcae-v4", "ctcae-v5"])
@pytest.mark.parametrize(("term", "value", "lln", "expected"), CTCAE_V4_V5)
def test_ctcae_v4_v5(scheme, term, value, lln, expected):
    assert grade(scheme, term, value, "10^9/L", lln=lln) == expected


CTCAE_V6 = [
    ("Neutrophil count decreased", 0.099, None, 4),
    ("Neutrophil count decreased", 0.1, None, 3),
    ("Neutrophil count decreased", 0.49, None, 3),
    ("Neutrophil count decreased", 0.5, None, 2),
    ("Neutrophil count decreased", 0.99, None, 2),
    ("Neutrophil count decreased", 1.0, None, 1),
    ("Neutrophil count decreased", 1.49, 2.0, 1),
    ("Neutrophil count decreased", 1.5, 2.0, 0),  # no LLN in v6: 1.5 is grade 0 whatever the lab says
    ("Neutrophil count decreased", 1.5, None, 0),
    ("White blood cell decreased", 2.0, 4.0, 2),
    ("White blood cell decreased", 3.5, 4.0, 1),
    ("White blood cell decreased", 3.5, None, None),
    ("CD4 lymphocytes decreased", 0.1, None, 3),
    ("Lymphocyte count increased", 25.0, None, 3),
    ("Leukocytosis", 150.0, None, 3),
]


@pytest.mark.parametrize(("term", "value", "lln", "expected"), CTCAE_V6)
def test_ctcae_v6(term, value, lln, expected):
    assert grade("ctcae-v6", term, value, "10^9/L", lln=lln) == expected


def test_ctcae_v6_removed_lymphocyte_term_is_an_error_not_grade_0():
    with pytest.raises(UnknownTermError, match="removed"):
        grade("ctcae-v6", "Lymphocyte count decreased", 0.3, "10^9/L")


DAY = 1
DAIDS = [
    # ANC, > 7 days: G1 0.800-1.000 (inclusive), G2 0.600-0.799, G3 0.400-0.599, G4 < 0.400
    ("Absolute Neutrophil Count (ANC), Low", 1.001, ADULT, 0),
    ("Absolute Neutrophil Count (ANC), Low", 1.0, ADULT, 1),
    ("Absolute Neutrophil Count (ANC), Low", 0.8, ADULT, 1),
    ("Absolute Neutrophil Count (ANC), Low", 0.799, ADULT, 2),
    ("Absolute Neutrophil Count (ANC), Low", 0.6, ADULT, 2),
    ("Absolute Neutrophil Count (ANC), Low", 0.599, ADULT, 3),
    ("Absolute Neutrophil Count (ANC), Low", 0.4, ADULT, 3),
    ("Absolute Neutrophil Count (ANC), Low", 0.399, ADULT, 4),
    ("Absolute Neutrophil Count (ANC), Low", 1.0, 8, 1),  # first day of the > 7 days band
    # ANC, 2-7 days: G1 1.250-1.500 (inclusive), G2 1.000-1.249, G3 0.750-0.999, G4 < 0.750
    ("Absolute Neutrophil Count (ANC), Low", 1.5, 7, 1),
    ("Absolute Neutrophil Count (ANC), Low", 1.501, 7, 0),
    ("Absolute Neutrophil Count (ANC), Low", 1.25, 2, 1),
    ("Absolute Neutrophil Count (ANC), Low", 1.249, 2, 2),
    ("Absolute Neutrophil Count (ANC), Low", 1.0, 5, 2),
    ("Absolute Neutrophil Count (ANC), Low", 0.999, 5, 3),
    ("Absolute Neutrophil Count (ANC), Low", 0.75, 5, 3),
    ("Absolute Neutrophil Count (ANC), Low", 0.749, 5, 4),
    # ANC, <= 1 day: G1 4.000-5.000 (inclusive), G2 3.000-3.999, G3 1.500-2.999, G4 < 1.500
    ("Absolute Neutrophil Count (ANC), Low", 5.0, 1, 1),
    ("Absolute Neutrophil Count (ANC), Low", 5.001, 0, 0),
    ("Absolute Neutrophil Count (ANC), Low", 3.999, 0, 2),
    ("Absolute Neutrophil Count (ANC), Low", 3.0, 1, 2),
    ("Absolute Neutrophil Count (ANC), Low", 2.999, 1, 3),
    ("Absolute Neutrophil Count (ANC), Low", 1.5, 1, 3),
    ("Absolute Neutrophil Count (ANC), Low", 1.499, 1, 4),
    # WBC, > 7 days: G1 2.000-2.499, G2 1.500-1.999, G3 1.000-1.499, G4 < 1.000
    ("WBC, Decreased", 2.5, ADULT, 0),
    ("WBC, Decreased", 2.499, ADULT, 1),
    ("WBC, Decreased", 2.0, ADULT, 1),
    ("WBC, Decreased", 1.999, ADULT, 2),
    ("WBC, Decreased", 1.5, ADULT, 2),
    ("WBC, Decreased", 1.499, ADULT, 3),
    ("WBC, Decreased", 1.0, ADULT, 3),
    ("WBC, Decreased", 0.999, ADULT, 4),
    # WBC, <= 7 days: G1 5.500-6.999, G2 4.000-5.499, G3 2.500-3.999, G4 < 2.500
    ("WBC, Decreased", 7.0, 7, 0),
    ("WBC, Decreased", 6.999, 7, 1),
    ("WBC, Decreased", 5.5, 3, 1),
    ("WBC, Decreased", 5.499, 3, 2),
    ("WBC, Decreased", 4.0, 0, 2),
    ("WBC, Decreased", 3.999, 0, 3),
    ("WBC, Decreased", 2.5, 0, 3),
    ("WBC, Decreased", 2.499, 0, 4),
    ("WBC, Decreased", 6.0, 8, 0),  # day 8 is in the > 7 days band
    # Lymphocytes, > 5 years: G1 0.600 to < 0.650, G2 0.500 to < 0.600, G3 0.350 to < 0.500, G4 < 0.350
    ("Absolute Lymphocyte Count, Low", 0.65, ADULT, 0),
    ("Absolute Lymphocyte Count, Low", 0.649, ADULT, 1),
    ("Absolute Lymphocyte Count, Low", 0.6, ADULT, 1),
    ("Absolute Lymphocyte Count, Low", 0.599, ADULT, 2),
    ("Absolute Lymphocyte Count, Low", 0.5, ADULT, 2),
    ("Absolute Lymphocyte Count, Low", 0.499, ADULT, 3),
    ("Absolute Lymphocyte Count, Low", 0.35, ADULT, 3),
    ("Absolute Lymphocyte Count, Low", 0.349, ADULT, 4),
    ("Absolute Lymphocyte Count, Low", 0.3, 1827, None),  # 1,827 days is 5 whole years: no criteria
    ("Absolute Lymphocyte Count, Low", 0.3, 2192, 4),  # 2,192 days is 6 whole years
    # CD4, > 5 years: G1 0.300 to < 0.400, G2 0.200 to < 0.300, G3 0.100 to < 0.200, G4 < 0.100
    ("Absolute CD4+ Count, Low", 0.4, ADULT, 0),
    ("Absolute CD4+ Count, Low", 0.399, ADULT, 1),
    ("Absolute CD4+ Count, Low", 0.3, ADULT, 1),
    ("Absolute CD4+ Count, Low", 0.299, ADULT, 2),
    ("Absolute CD4+ Count, Low", 0.2, ADULT, 2),
    ("Absolute CD4+ Count, Low", 0.199, ADULT, 3),
    ("Absolute CD4+ Count, Low", 0.1, ADULT, 3),
    ("Absolute CD4+ Count, Low", 0.099, ADULT, 4),
    ("Absolute CD4+ Count, Low", 0.05, 365, None),
    # Age missing: never a grade
    ("Absolute Neutrophil Count (ANC), Low", 0.3, None, None),
    ("WBC, Decreased", 0.3, None, None),
]


@pytest.mark.parametrize(("term", "value", "age_days", "expected"), DAIDS)
def test_daids(term, value, age_days, expected):
    assert grade("daids-v2.1", term, value, "10^9/L", age_days=age_days) == expected


def test_daids_ignores_the_lln():
    assert grade("daids-v2.1", "WBC, Decreased", 3.0, "10^9/L", lln=4.0, age_days=ADULT) == 0


def test_published_example_fhir_ctc_ae_ig():
    # "WBC of 2.0 with ANC of .70 ... White blood cell decreased at grade 2, Neutrophil count decreased at grade 3"
    assert grade(V5, "White blood cell decreased", 2.0, "10^9/L") == 2
    assert grade(V5, "Neutrophil count decreased", 0.70, "10^9/L") == 3


CLINICAL = [(0.099, 4, "profound"), (0.1, 3, "severe"), (0.499, 3, "severe"), (0.5, 2, "moderate"),
            (0.999, 2, "moderate"), (1.0, 1, "mild"), (1.499, 1, "mild"), (1.5, 0, None)]  # fmt: skip


@pytest.mark.parametrize(("value", "expected", "label"), CLINICAL)
def test_clinical_severity_half_open(value, expected, label):
    r = grade_detail("clinical", "Neutropenia severity", value, "10^9/L")
    assert r.grade == expected
    if label:
        assert r.label == label


CLOZAPINE = [
    ("ANC monitoring, general population", 1.5, 0),
    ("ANC monitoring, general population", 1.499, 1),
    ("ANC monitoring, general population", 1.0, 1),
    ("ANC monitoring, general population", 0.999, 2),
    ("ANC monitoring, general population", 0.5, 2),
    ("ANC monitoring, general population", 0.499, 3),
    ("ANC monitoring, benign ethnic neutropenia", 1.2, 0),
    ("ANC monitoring, benign ethnic neutropenia", 1.0, 0),
    ("ANC monitoring, benign ethnic neutropenia", 0.999, 2),
    ("ANC monitoring, benign ethnic neutropenia", 0.5, 2),
    ("ANC monitoring, benign ethnic neutropenia", 0.499, 3),
]


@pytest.mark.parametrize(("term", "value", "expected"), CLOZAPINE)
def test_clozapine_categories(term, value, expected):
    r = grade_detail("clozapine", term, value, "10^9/L")
    assert r.grade == expected
    assert r.action and r.monitoring  # every category says what to do and how often to test


def test_not_gradable_reasons_are_actionable():
    assert "LLN" in grade_detail(V5, "Neutrophil count decreased", 1.8, "10^9/L").reason
    assert "age" in grade_detail("daids-v2.1", "WBC, Decreased", 1.8, "10^9/L").reason
    r = grade_detail(V5, "Neutrophil count decreased", 0.4, "mg/dL")
    assert r.grade is None and "mg/dL" in r.reason
    assert grade(V5, "Neutrophil count decreased", None, "10^9/L") is None
    assert grade(V5, "Neutrophil count decreased", float("nan"), "10^9/L") is None


@pytest.mark.parametrize("unit", ["mg/dL", "10^9/M", "mm3", "g/dL", "%", "furlongs"])
def test_wrong_units_are_not_gradable(unit):
    assert grade(V5, "White blood cell decreased", 1.0, unit) is None


def test_term_names_match_case_insensitively():
    assert grade("CTCAE-V5", "neutrophil COUNT decreased", 0.3, "10^9/L") == 4
    assert grade("daids-v2.1", "absolute neutrophil count (anc), low", 0.3, "10^9/L", age_days=ADULT) == 4


def test_unknown_scheme_and_term_list_the_valid_ones():
    with pytest.raises(UnknownSchemeError, match="ctcae-v5") as e:
        grade("ctcae-v7", "Neutrophil count decreased", 1.0, "10^9/L")
    assert "Did you mean" in str(e.value)
    with pytest.raises(UnknownTermError, match="Neutrophil count decreased"):
        grade(V5, "Neutrophils low", 1.0, "10^9/L")


def test_febrile_neutropenia_needs_assess():
    with pytest.raises(ValueError, match="temperature"):
        grade(V5, "Febrile neutropenia", 0.3, "10^9/L")
