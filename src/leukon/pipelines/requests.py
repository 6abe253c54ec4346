"""A CBC as a request document (JSON from `leukon assess --json`, POST /assess) and one value to grade (`leukon
grade`, POST /grade): checked and split the same way for every entry point, with errors naming the field.
"""

from __future__ import annotations

from leukon.errors import InputError
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import scheme
from leukon.rules.grading import GradeResult, grade_detail
from leukon.rules.units import check_value

#: Keys a JSON CBC may hold beside the analyte ids: the keyword options of `assess_mapping`.
JSON_KEYS = frozenset({"units", "lln", "uln", "age_days", "age_years", "age_hours", "sex", "ancestry", "profile",
                       "fever_sustained", "anc_expected_fall", "schemes"})  # fmt: skip


def split_document(doc: dict) -> tuple[dict, dict]:
    """One JSON CBC as (values, options) for `assess_mapping`, after checking each key and its JSON type
    (InputError naming the key). A null option means "not given", as a null value does. Shared with the
    web service (POST /assess), so both give the same answer and the same messages."""
    for k, v in doc.items():
        if k not in ANALYTES and k not in JSON_KEYS:
            raise InputError(
                k, f"unknown key; use analyte ids ({', '.join(ANALYTES)}) or {', '.join(sorted(JSON_KEYS))}"
            )
        _check_shape(k, v)
    values = {k: v for k, v in doc.items() if k in ANALYTES}
    options = {k: v for k, v in doc.items() if k not in ANALYTES and v is not None}
    return values, options


def grade_value(
    scheme_id: str,
    term_name: str,
    value: float,
    unit: str | None,
    *,
    lln: float | None = None,
    age_days: int | None = None,
) -> GradeResult:
    """One value as `leukon grade` (and POST /grade) reads it: a wrong unit, an impossible or an ambiguous
    bare value is an InputError; a bare number that passes is plausible only in the canonical unit, so it is
    read there (`leukon.grade` itself never assumes a unit: "unit missing")."""
    term = scheme(scheme_id).term(term_name)
    check_value(term.analyte, value, unit)
    return grade_detail(scheme_id, term_name, value, unit or ANALYTES[term.analyte].unit, lln=lln, age_days=age_days)


_SHAPES = {
    "units": (dict,), "lln": (dict,), "uln": (dict,), "age_days": (int, float), "age_years": (int, float), "age_hours": (int, float),
    "sex": (str,), "ancestry": (str,), "profile": (str,), "fever_sustained": (bool,),
    "anc_expected_fall": (bool,), "schemes": (list,),
}  # fmt: skip


def _check_shape(key: str, value: object) -> None:
    """InputError naming `key` when its JSON value has the wrong type (a list for a count, a number for sex)."""
    if value is None:
        return
    if key in ANALYTES:
        if isinstance(value, bool) or not isinstance(value, int | float | str | dict):
            raise InputError(
                key, f'expected a number, a string like "3100 /uL" or {{"value", "unit"}}, not {kind_of(value)}'
            )
        if isinstance(value, dict):
            for part in ("value", "unit", "lln", "uln"):
                if part in value:
                    _check_scalar(f"{key}.{part}", value[part])
        return
    shapes = _SHAPES[key]
    if (isinstance(value, bool) and bool not in shapes) or not isinstance(value, shapes):
        raise InputError(key, f"expected {' or '.join(t.__name__ for t in shapes)}, not {kind_of(value)}")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_scalar(f"{key}.{k}", v)
    if isinstance(value, list) and not all(isinstance(x, str) for x in value):
        raise InputError(key, "expected a list of scheme ids (strings)")


def _check_scalar(field: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float | str)):
        raise InputError(field, f"expected a number or a string, not {kind_of(value)}")


def kind_of(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number"
    )


#: The column options every tabular source takes (`--patient-id MRN`, `patient_id=` ...): the CLI's flags and the
#: service's fields.
SOURCE_FLAGS = (
    "patient_id",
    "taken_at",
    "analyte",
    "value",
    "unit",
    "lln",
    "uln",
    "range",
    "specimen_id",
    "sex",
    "birth_date",
    "ancestry",
)
