"""Find the input columns a format needs: the caller's names first, else the usual headers, by case.

A missing column is one line naming the field, the option that sets it and the closest header::

    InputError: patient_id: no patient id column in lab.csv; pass patient_id=COLUMN (CLI --patient-id).
    Did you mean 'patient'? Columns: 'patient', 'time', ...
"""

from __future__ import annotations

import difflib
import re

from ..errors import InputError

#: Headers recognised for each field, most specific first (matched without case).
CANDIDATES: dict[str, tuple[str, ...]] = {
    "patient_id": ("patient_id", "patientid", "patient", "subject_id", "person_id", "mrn", "pid", "subject",
                   "participant_id", "usubjid"),
    "taken_at": ("taken_at", "collected_at", "collected", "collection_date", "collection_time", "collection_datetime", "specimen_time",
                 "charttime", "measurement_datetime", "effective_datetime", "datetime", "timestamp", "time",
                 "drawn_at", "result_time", "date", "lbdtc"),
    "analyte": ("analyte", "code", "loinc", "loinc_code", "analyte_code", "test_code", "test", "test_name",
                "component", "item", "lbtestcd", "lbtest", "name"),
    "value": ("value", "result", "result_value", "value_as_number", "valuenum", "numeric_value", "lborres"),
    "unit": ("unit", "units", "uom", "valueuom", "unit_source_value", "result_unit", "lborresu"),
    "lln": ("lln", "ref_low", "reference_low", "range_low", "ref_range_lower", "lower_limit", "normal_low",
            "lbornrlo"),
    "uln": ("uln", "ref_high", "reference_high", "range_high", "ref_range_upper", "upper_limit", "normal_high",
            "lbornrhi"),
    "specimen_id": ("specimen_id", "specimen", "sample_id", "accession", "accession_number", "report_id",
                    "order_id", "lbrefid"),
    "sex": ("sex", "gender"),
    "birth_date": ("birth_date", "date_of_birth", "dob", "birthdate", "birth_datetime"),
    "ancestry": ("ancestry", "duffy", "duffy_status", "duffy_phenotype"),
}  # fmt: skip

_NOUN = {"patient_id": "patient id", "taken_at": "time", "specimen_id": "specimen id", "birth_date": "birth date"}


def option_hint(field: str) -> str:
    return f"pass {field}=COLUMN (CLI --{field.replace('_', '-')})"


def resolve(
    columns: list[str],
    fields: dict[str, tuple[str, ...]],
    *,
    required: tuple[str, ...],
    given: dict[str, str | None],
    label: str,
) -> dict[str, str | None]:
    """Map each field to an input column (or None for an optional field that is absent)."""
    by_lower = {_fold(c): c for c in columns}
    out: dict[str, str | None] = {}
    for name, candidates in fields.items():
        if given.get(name):
            col = by_lower.get(_fold(given[name]))  # type: ignore[arg-type]
            if col is None:
                raise InputError(name, f"column {given[name]!r} is not in {label}.{_suggest(given[name], columns)}")
            out[name] = col
            continue
        out[name] = next((by_lower[c] for c in candidates if c in by_lower), None)
        if out[name] is None and name in required:
            noun = _NOUN.get(name, name)
            raise InputError(
                name,
                f"no {noun} column in {label}; {option_hint(name)}.{_suggest(name, columns, candidates)}",
            )
    return out


def _fold(header: str) -> str:
    """'Ref Low' -> 'ref_low': headers match without case, spaces or dashes."""
    return re.sub(r"[\s\-.]+", "_", header.strip().lower())


def _suggest(name: str, columns: list[str], candidates: tuple[str, ...] = ()) -> str:
    """' Did you mean X?' for the header closest to the field or its usual names, then the headers."""
    best, score = None, 0.0
    for col in columns:
        for target in (name, *candidates):
            r = difflib.SequenceMatcher(None, col.lower(), target.lower()).ratio()
            if r > score:
                best, score = col, r
    hint = f" Did you mean {best!r}?" if best and score >= 0.6 else ""
    shown = ", ".join(repr(c) for c in columns[:15]) + (", ..." if len(columns) > 15 else "")
    return f"{hint} Columns: {shown or 'none'}."
