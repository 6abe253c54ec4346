"""The criteria files load, cite their sources, and a broken rule fails loudly."""

import pytest

from leukon.errors import CriteriaError
from leukon.rules.criteria import PROFILES, RANGES, SCHEMES, _rules, _term, scheme


def test_every_scheme_and_range_cites_a_source():
    assert {"ctcae-v4", "ctcae-v5", "ctcae-v6", "daids-v2.1", "clinical", "clozapine", "idsa-2011"} <= set(SCHEMES)
    for s in SCHEMES.values():
        assert s.source
    for r in RANGES:
        assert r.source and r.profile in PROFILES


def test_v4_reuses_v5_terms_and_v6_overrides():
    v4, v5, v6 = scheme("ctcae-v4"), scheme("ctcae-v5"), scheme("ctcae-v6")
    assert set(v4.terms) == set(v5.terms)
    assert v4.term("Neutrophil count decreased").bands == v5.term("Neutrophil count decreased").bands
    assert "lymphocyte count decreased" not in v6.terms
    assert not v6.term("Neutrophil count decreased").uses_lln
    assert v6.term("White blood cell decreased").scheme == "ctcae-v6"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"grade": 3, "op": "<", "bound": 2.0}, {"grade": 4, "op": "<", "bound": 1.0}], "most severe first"),
        ([{"grade": 4, "op": "<", "bound": 2.0}, {"grade": 3, "op": "<", "bound": 1.0}], "rise"),
        ([{"grade": 4, "op": "=<", "bound": 1.0}], "op must be"),
        ([{"grade": 4, "op": "<", "bound": "ULN?"}], "bound must be"),
        ([{"grade": 4, "op": "<", "bound": 1.0}, {"grade": 3, "op": ">", "bound": 2.0}], "one side"),
    ],
)
def test_broken_rules_fail_loudly(rows, message):
    with pytest.raises(CriteriaError, match=message):
        _rules(rows, "test.toml")


def test_broken_term_fails_loudly():
    with pytest.raises(CriteriaError, match="unknown analyte"):
        _term("x", {"term": "T", "analyte": "wbcc", "grades": [{"grade": 1, "op": "<", "bound": 1}]}, False)
    with pytest.raises(CriteriaError, match="needs grades"):
        _term("x", {"term": "T", "analyte": "wbc"}, False)
