"""Censored results in tables ("<0.1", ">5"): a finding or a grade only where the bound decides it, otherwise
"not assessed" / "not gradable: censored"; never read as the bound itself."""

import pytest

from leukon.pipelines.screen import screen_source
from leukon.rules.censored import grade_censored
from leukon.rules.criteria import scheme


@pytest.fixture
def screen_one(one_specimen):
    """Screen one specimen of (analyte, value, censor) results: (panel, grades by scheme and term); nothing rejected."""

    def run(rows: list[tuple[str, float, str | None]]):
        results = [{"analyte": a, "value": v, "unit": "%" if a.endswith("_pct") else "10^9/L", "censor": c}
                   for a, v, c in rows]  # fmt: skip
        r = screen_source(
            one_specimen(results, age_days=44 * 365), schemes=("ctcae-v5", "clinical"), profile="standard"
        )
        assert r.rejects.height == 0  # kept, never dropped
        grades = {(g["scheme"], g["term"]): (g["grade"], g["reason"]) for g in r.grades.iter_rows(named=True)}
        return r.panels.row(0, named=True), grades

    return run


def test_below_a_decisive_bound_is_graded_and_found(screen_one):
    panel, grades = screen_one([("anc", 0.1, "<"), ("wbc", 3.0, None)])
    assert panel["anc_censor"] == "<" and panel["anc"] == 0.1
    assert {"neutropenia", "agranulocytosis"} <= set(panel["findings"])
    assert panel["neutropenia_severity"] == "profound"
    assert grades[("ctcae-v5", "Neutrophil count decreased")][0] == 4


def test_a_bound_that_does_not_decide_is_not_assessed(screen_one):
    panel, grades = screen_one([("anc", 2.0, "<"), ("wbc", 5.0, None)])
    assert "neutropenia" not in panel["findings"] and "neutropenia" in panel["not_assessed"]
    g, why = grades[("ctcae-v5", "Neutrophil count decreased")]
    assert g is None and why.startswith("not gradable: censored (< 2 10^9/L)")


def test_above_a_decisive_bound_is_not_low(screen_one):
    panel, grades = screen_one([("anc", 5.0, ">"), ("wbc", 8.0, None)])
    assert "neutropenia" not in panel["findings"] and "neutropenia" not in panel["not_assessed"]
    assert grades[("ctcae-v5", "Neutrophil count decreased")][0] == 0


def test_no_count_is_derived_from_a_censored_input(screen_one):
    panel, _ = screen_one([("wbc", 1.0, "<"), ("neutrophils_pct", 40.0, None)])
    assert panel["anc"] is None


@pytest.mark.parametrize(("op", "bound"), [("<", 0.1), ("<", 0.5), ("<=", 0.5), ("<", 1.0), (">", 1.0), (">=", 1.5)])
def test_table_grades_match_the_single_value_grader(op, bound, screen_one):
    """The table path and `grade("<0.5", ...)` agree on censored values."""
    _, grades = screen_one([("anc", bound, op)])
    t = scheme("ctcae-v5").term("Neutrophil count decreased")
    assert grades[("ctcae-v5", t.term)][0] == grade_censored(t, op, bound, lln=1.5).grade
