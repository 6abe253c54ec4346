"""The public surface is small and stable; this guards it (other tools call these names)."""

import inspect

import leukon

PUBLIC = {
    "Assessment", "CriteriaError", "GradeResult", "InputError", "LeukonError", "UnitError", "UnknownSchemeError",
    "UnknownTermError", "__version__", "assess", "assess_mapping", "grade", "grade_detail", "explain", "follow",
    "screen", "ScreenResult",
}  # fmt: skip


def test_public_names():
    assert set(leukon.__all__) >= PUBLIC
    for name in leukon.__all__:
        assert hasattr(leukon, name)


def test_grade_signature_is_the_published_contract():
    sig = inspect.signature(leukon.grade)
    assert list(sig.parameters)[:4] == ["scheme", "term", "value", "unit"]
    for kw in ("lln", "uln", "age_days"):
        assert sig.parameters[kw].kind is inspect.Parameter.KEYWORD_ONLY
        assert sig.parameters[kw].default is None


def test_assess_arguments_are_keyword_only():
    sig = inspect.signature(leukon.assess)
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in sig.parameters.values())


def test_error_tree():
    assert issubclass(leukon.UnitError, leukon.InputError)
    assert issubclass(leukon.InputError, leukon.LeukonError) and issubclass(leukon.InputError, ValueError)
    assert issubclass(leukon.UnknownSchemeError, leukon.CriteriaError)
