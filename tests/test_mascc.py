"""MASCC risk index (Klastersky et al., J Clin Oncol 2000): scores computed by hand, the 20/21 boundary, the numbers
that answer hypotension and age at their edges, missing answers, bad input named by field, and `assess`.

Points, from the paper: burden of illness none/mild 5, moderate 3, severe 0; no hypotension 5; no COPD 4; solid
tumour or haematological malignancy without previous fungal infection 4; no dehydration 3; outpatient 3; age
under 60 2. Maximum 26; 21 or more is low risk.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leukon
from leukon.errors import CriteriaError, InputError
from leukon.rules import mascc
from leukon.rules.mascc import mascc_score

YES_NO = ("no_hypotension", "no_copd", "solid_tumour_or_no_previous_fungal_infection", "no_dehydration", "outpatient",
          "age_under_60")  # fmt: skip
POINTS = {"no_hypotension": 5, "no_copd": 4, "solid_tumour_or_no_previous_fungal_infection": 4, "no_dehydration": 3,
          "outpatient": 3, "age_under_60": 2}  # fmt: skip
BURDEN = {"none": 5, "mild": 5, "moderate": 3, "severe": 0}


def answers(burden: str, *yes: str) -> dict:
    """Every item answered: the burden of illness, and yes for the items named, no for the others."""
    return {"burden_of_illness": burden, **{k: k in yes for k in YES_NO}}


# (answers, score by hand, risk)
HAND = [
    (answers("none", *YES_NO), 5 + 5 + 4 + 4 + 3 + 3 + 2, "low"),  # 26, the maximum
    (answers("severe"), 0, "high"),  # the minimum
    # the boundary: 20 is high risk, 21 low
    (answers("mild", "no_hypotension", "no_copd", "solid_tumour_or_no_previous_fungal_infection", "age_under_60"),
     5 + 5 + 4 + 4 + 2, "high"),  # 20
    (answers("mild", "no_hypotension", "no_copd", "solid_tumour_or_no_previous_fungal_infection", "no_dehydration"),
     5 + 5 + 4 + 4 + 3, "low"),  # 21
    (answers("moderate", "no_hypotension", "no_copd", "solid_tumour_or_no_previous_fungal_infection", "outpatient",
             "age_under_60"), 3 + 5 + 4 + 4 + 3 + 2, "low"),  # 21
    (answers("moderate", "no_hypotension", "no_copd", "solid_tumour_or_no_previous_fungal_infection", "outpatient"),
     3 + 5 + 4 + 4 + 3, "high"),  # 19
    (answers("severe", *YES_NO), 5 + 4 + 4 + 3 + 3 + 2, "low"),  # 21: severe symptoms alone do not make high risk
    (answers("severe", *[k for k in YES_NO if k != "age_under_60"]), 5 + 4 + 4 + 3 + 3, "high"),  # 19
    (answers("mild", "no_copd", "solid_tumour_or_no_previous_fungal_infection", "no_dehydration", "outpatient",
             "age_under_60"), 5 + 4 + 4 + 3 + 3 + 2, "low"),  # 21 with hypotension
]  # fmt: skip


@pytest.mark.parametrize(("given_answers", "score", "risk"), HAND)
def test_scores_computed_by_hand(given_answers, score, risk):
    r = mascc_score(given_answers)
    assert (r.score, r.risk, r.min_score, r.max_score, r.missing) == (score, risk, score, score, ())
    assert r.complete and len(r.counted) == 7
    assert sum(c.points for c in r.counted) == score
    assert "Klastersky" in r.source and "2000" in r.source


def test_every_weight_is_data_and_cites_the_paper():
    items = mascc.items()
    assert [i.id for i in items] == ["burden_of_illness", *YES_NO]
    assert {i.id: i.points[True] for i in items if i.kind == "yes_no"} == POINTS
    assert dict(items[0].points) == BURDEN
    assert all("Klastersky" in i.source for i in items)
    assert sum(i.max_points for i in items) == 26


@pytest.mark.parametrize(("sbp", "points"), [(89, 0), (89.9, 0), (90, 5), (90.1, 5), (140, 5)])
def test_systolic_pressure_below_90_is_hypotension(sbp, points):
    r = mascc_score({**answers("mild"), "no_hypotension": None, "systolic_bp": sbp})
    c = next(c for c in r.counted if c.id == "no_hypotension")
    assert c.points == points and c.read_from == f"systolic_bp {sbp:g} mmHg"


@pytest.mark.parametrize(("years", "points"), [(59, 2), (59.9, 2), (60, 0), (60.5, 0)])
def test_age_under_60_from_age_years(years, points):
    r = mascc_score({**answers("mild"), "age_under_60": None, "age_years": years})
    assert next(c for c in r.counted if c.id == "age_under_60").points == points


@pytest.mark.parametrize(("age_days", "points"), [(21914, 2), (21915, 0)])  # 60 years = day ceil(60 x 365.25)
def test_age_under_60_from_the_patients_age(age_days, points):
    r = mascc_score({k: v for k, v in answers("mild").items() if k != "age_under_60"}, age_days=age_days)
    c = next(c for c in r.counted if c.id == "age_under_60")
    assert c.points == points and c.read_from.startswith("patient age")


def test_spellings_of_answers_and_aliases():
    r = mascc_score({"burden_of_illness": "None/Mild", "no_hypotension": "yes", "no_copd": "No", "outpatient": "TRUE",
                     "solid_tumor_or_no_previous_fungal_infection": True, "no_dehydration": "n", "age_under_60": "y"})  # fmt: skip
    assert r.score == 5 + 5 + 0 + 3 + 4 + 0 + 2
    assert [c.id for c in r.counted][4] == "no_dehydration"


def test_missing_answers_give_a_range_and_a_risk_only_when_settled():
    settled_low = mascc_score({"burden_of_illness": "mild", "no_hypotension": True, "no_copd": True,
                               "solid_tumour_or_no_previous_fungal_infection": True, "outpatient": True})  # fmt: skip
    assert (settled_low.score, settled_low.min_score, settled_low.max_score) == (None, 21, 26)
    assert settled_low.risk == "low" and settled_low.missing == ("no_dehydration", "age_under_60")
    assert "low risk whatever they are" in settled_low.summary()
    settled_high = mascc_score(answers("severe", "no_hypotension") | {"age_under_60": None, "outpatient": None})
    assert (settled_high.min_score, settled_high.max_score, settled_high.risk) == (5, 10, "high")
    open_ = mascc_score({"burden_of_illness": "moderate", "no_hypotension": True})
    assert (open_.min_score, open_.max_score, open_.risk) == (8, 24, None)
    assert "not assessed" in open_.summary() and "no_copd" in open_.summary()
    nothing = mascc_score({})
    assert (nothing.min_score, nothing.max_score, nothing.risk, len(nothing.missing)) == (0, 26, None, 7)
    # one point short either way: 20 known with 1 missing item still open; 21 known is settled
    assert mascc_score(answers("mild", "no_hypotension", "no_copd", "solid_tumour_or_no_previous_fungal_infection",
                                "age_under_60") | {"outpatient": None}).risk is None  # 20 + up to 3  # fmt: skip


@pytest.mark.parametrize(
    ("given_answers", "field", "words"),
    [
        ({"no_cop": True}, "mascc.no_cop", "Did you mean 'no_copd'"),
        ({"burden_of_illness": "extreme"}, "mascc.burden_of_illness", "none, mild, moderate, severe"),
        ({"burden_of_illness": 3}, "mascc.burden_of_illness", "not one of"),
        ({"no_copd": 1}, "mascc.no_copd", "yes/no"),
        ({"outpatient": "maybe"}, "mascc.outpatient", "yes/no"),
        ({"systolic_bp": "low"}, "mascc.systolic_bp", "not a number"),
        ({"systolic_bp": 9000}, "mascc.systolic_bp", "outside 20-300"),
        ({"systolic_bp": float("nan")}, "mascc.systolic_bp", "not a number"),
        ({"age_years": -1}, "mascc.age_years", "outside"),
        ({"age_years": True}, "mascc.age_years", "not a number"),
        ({"no_hypotension": True, "systolic_bp": 80}, "mascc.no_hypotension", "systolic_bp 80 mmHg"),
        ({"age_under_60": False, "age_years": 40}, "mascc.age_under_60", "age_years 40"),
        ({"solid_tumour_or_no_previous_fungal_infection": True, "solid_tumor_or_no_previous_fungal_infection": True},
         "mascc.solid_tumor_or_no_previous_fungal_infection", "given twice"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_naming_the_field(given_answers, field, words):
    with pytest.raises(InputError) as e:
        mascc_score(given_answers)
    assert e.value.field == field and words in str(e.value) and "\n" not in str(e.value)


def test_answers_that_contradict_the_patients_age_are_refused():
    with pytest.raises(InputError) as e:
        mascc_score({"age_under_60": True}, age_days=70 * 366)
    assert e.value.field == "mascc.age_under_60" and "patient age 70 years" in str(e.value)
    with pytest.raises(InputError) as e:
        mascc_score({"age_years": 50}, age_days=70 * 366)
    assert e.value.field == "mascc.age_years"
    with pytest.raises(InputError, match="mapping") as e:
        mascc_score([("no_copd", True)])
    assert e.value.field == "mascc"


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ({"id": "x", "question": "q", "kind": "yes_no", "points": 2}, "needs source"),
        ({"id": "x", "question": "q", "kind": "yes_no", "points": 0, "source": "s"}, "whole positive points"),
        ({"id": "x", "question": "q", "kind": "yes_no", "points": 1.5, "source": "s"}, "whole positive points"),
        ({"id": "x", "question": "q", "kind": "scale", "source": "s"}, "kind must be"),
        ({"id": "x", "question": "q", "kind": "choice", "choices": {"a": 1}, "source": "s"}, "two or more"),
        ({"id": "x", "question": "q", "kind": "choice", "choices": {"a": 1, "b": 0}, "aliases": {"c": "z"},
          "source": "s"}, "alias"),
        ({"id": "x", "question": "q", "kind": "choice", "choices": {"a": 1, "b": 0}, "source": "s",
          "from_number": {"key": "k", "unit": "u", "op": ">=", "bound": 1, "min": 0, "max": 2, "source": "s"}},
         "from_number"),
    ],
)  # fmt: skip
def test_the_weights_file_is_validated(row, words):
    with pytest.raises(CriteriaError, match=words):
        mascc._item(row)


# ---- properties ---------------------------------------------------------------------------------------------

answer = st.sampled_from([True, False, None])


@settings(max_examples=300, deadline=None)
@given(burden=st.sampled_from([*BURDEN, None]), yes_no=st.tuples(*[answer] * len(YES_NO)))
def test_a_partial_answer_bounds_every_completion_and_its_risk_holds_for_all(burden, yes_no):
    partial = {"burden_of_illness": burden, **dict(zip(YES_NO, yes_no, strict=True))}
    r = mascc_score(partial)
    holes = [k for k, v in partial.items() if v is None]
    options = {k: (list(BURDEN) if k == "burden_of_illness" else [True, False]) for k in holes}
    scores, risks = set(), set()
    for combo in itertools.product(*options.values()):
        full = mascc_score(partial | dict(zip(holes, combo, strict=True)))
        assert full.complete and r.min_score <= full.score <= r.max_score
        assert full.risk == ("low" if full.score >= 21 else "high")
        scores.add(full.score)
        risks.add(full.risk)
    assert (min(scores), max(scores)) == (r.min_score, r.max_score)  # the bounds are reached, not just bounds
    assert r.risk == (risks.pop() if len(risks) == 1 else None)
    assert tuple(r.missing) == tuple(holes) and (r.score is None) == bool(holes)


@settings(max_examples=200, deadline=None)
@given(
    burden=st.sampled_from(list(BURDEN)), yes_no=st.tuples(*[st.booleans()] * len(YES_NO)), flip=st.sampled_from(YES_NO)
)
def test_a_favourable_answer_never_lowers_the_score(burden, yes_no, flip):
    base = {"burden_of_illness": burden, **dict(zip(YES_NO, yes_no, strict=True))}
    assert mascc_score(base | {flip: True}).score - mascc_score(base | {flip: False}).score == POINTS[flip]


# ---- assess --------------------------------------------------------------------------------------------------

FULL = answers("mild", *YES_NO)


def mascc_notes(a) -> list[str]:
    return [n.message for n in a.not_assessed if n.code == "mascc"]


def test_assess_scores_mascc_when_febrile_neutropenia_is_met():
    a = leukon.assess(anc=0.3, temperature=38.6, age_years=50, mascc=FULL)
    assert a.finding("febrile_neutropenia").certainty == "met"
    assert (a.mascc.score, a.mascc.risk) == (26, "low") and mascc_notes(a) == []
    d = json.loads(a.to_json())["mascc"]
    assert (d["score"], d["risk"], d["low_risk_min"], d["missing"]) == (26, "low", 21, [])
    assert len(d["counted"]) == 7 and "Klastersky" in d["source"]
    assert "adults" in d["scope"] and "MDCalc" in d["scope"]  # and what it was not validated for


def test_assess_scores_mascc_when_febrile_neutropenia_is_possible():
    a = leukon.assess(anc=0.3, temperature=38.1, age_years=70, mascc=answers("severe", "no_hypotension"))
    assert a.finding("febrile_neutropenia").certainty == "possible"
    assert (a.mascc.score, a.mascc.risk) == (5, "high")


def test_assess_with_missing_answers_says_which():
    a = leukon.assess(anc=0.3, temperature=38.6, age_years=70, mascc={"burden_of_illness": "moderate"})
    assert a.mascc.score is None and a.mascc.risk is None
    (note,) = mascc_notes(a)
    assert "no answer for no_hypotension, no_copd, solid_tumour_or_no_previous_fungal_infection" in note
    # the patient's age answered the age item: 70 years, no points
    assert next(c for c in a.mascc.counted if c.id == "age_under_60").read_from == "patient age 70 years"


def test_assess_without_febrile_neutropenia_does_not_score_and_says_why():
    a = leukon.assess(anc=2.3, temperature=38.6, age_years=50, mascc=FULL)
    assert a.mascc is None and "neither met nor possible" in mascc_notes(a)[0]
    b = leukon.assess(wbc=3.0, temperature=38.6, age_years=50, mascc=FULL)  # no ANC: cannot tell
    assert b.mascc is None and "could not be told" in mascc_notes(b)[0]
    c = leukon.assess(anc=0.3, age_years=50, mascc=FULL)  # no temperature
    assert c.mascc is None and "could not be told" in mascc_notes(c)[0]


def test_assess_does_not_score_children():
    a = leukon.assess(anc=0.3, temperature=38.6, age_years=10, mascc=FULL)
    assert a.mascc is None and "adults" in mascc_notes(a)[0]
    assert leukon.assess(anc=0.3, temperature=38.6, age_years=18, mascc=FULL).mascc.score == 26


def test_assess_without_mascc_answers_is_unchanged():
    a = leukon.assess(anc=0.3, temperature=38.6, age_years=50)
    assert a.mascc is None and mascc_notes(a) == [] and a.to_dict()["mascc"] is None


def test_assess_refuses_bad_mascc_input_by_name_even_without_fever():
    with pytest.raises(InputError) as e:
        leukon.assess(anc=2.3, age_years=50, mascc={"burden_of_illness": "awful"})
    assert e.value.field == "mascc.burden_of_illness"
    with pytest.raises(InputError) as e:
        leukon.assess(anc=0.3, temperature=38.6, age_years=70, mascc={"age_under_60": True})
    assert e.value.field == "mascc.age_under_60"


def test_assess_mapping_takes_mascc_too():
    a = leukon.assess_mapping({"anc": 0.3, "temperature": 38.6}, age_years=50, mascc=FULL)
    assert a.mascc.score == 26
