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
                   "participant_id", "usubjid", "pat_mrn_id", "patient_mrn", "mrn_id", "pat_id", "medical_record_number",
                   "patienten_id", "patientennummer", "id_patient", "id_paciente", "numero_patient"),
    "taken_at": ("taken_at", "collected_at", "collected", "collection_date", "collection_time", "collection_datetime",
                 "collection_date_time", "specimen_time", "specimn_taken_time", "specimen_taken_time",
                 "specimen_collected", "collected_date_time", "drawn_date_time", "event_end_dt_tm",
                 "charttime", "measurement_datetime", "effective_datetime", "datetime", "timestamp", "time",
                 "drawn_at", "result_time", "date", "lbdtc", "entnahmezeit", "abnahmezeit", "entnahme",
                 "date_prelevement", "heure_prelevement", "prelevement", "fecha_toma", "fecha_hora", "fecha"),
    "analyte": ("analyte", "code", "loinc", "loinc_code", "analyte_code", "test_code", "test", "test_name",
                "component", "component_name", "event_cd_disp", "event_display", "event", "result_name",
                "item", "lbtestcd", "lbtest", "name", "test_description", "observation", "parameter",
                "untersuchung", "analyse", "parametre", "examen", "prueba", "determinacion", "analito"),
    "value": ("value", "result", "result_value", "value_as_number", "valuenum", "numeric_value", "lborres",
              "ord_value", "ord_num_value", "result_val", "result_numeric", "observation_value",
              "ergebnis", "wert", "messwert", "resultat", "valeur", "resultado", "valor"),
    "unit": ("unit", "units", "uom", "valueuom", "unit_source_value", "result_unit", "lborresu", "reference_unit",
             "result_units_cd_disp", "result_units", "unit_of_measure", "einheit", "unite", "unidad", "unidades"),
    "range": ("reference_range", "ref_range", "normal_range", "reference_interval", "ref_interval", "range",
              "reference_ranges", "normal_values", "ref_values", "referenzbereich", "normwerte", "valeurs_de_reference",
              "intervalle_de_reference", "valores_de_referencia", "rango_de_referencia", "rango"),
    "lln": ("lln", "ref_low", "reference_low", "range_low", "ref_range_lower", "lower_limit", "normal_low",
            "lbornrlo", "ref_range_low"),
    "uln": ("uln", "ref_high", "reference_high", "range_high", "ref_range_upper", "upper_limit", "normal_high",
            "lbornrhi", "ref_range_high"),
    "specimen_id": ("specimen_id", "specimen", "sample_id", "accession", "accession_number", "report_id",
                    "order_id", "lbrefid", "order_proc_id", "accession_nbr", "sample_no", "sample_number",
                    "specimen_number", "lab_number", "auftrag", "auftragsnummer", "probe", "probennummer",
                    "numero_echantillon", "numero_muestra"),
    "sex": ("sex", "gender"),
    "birth_date": ("birth_date", "date_of_birth", "dob", "birthdate", "birth_datetime"),
    "ancestry": ("ancestry", "duffy", "duffy_status", "duffy_phenotype"),
}  # fmt: skip

#: Separate date and time columns (analyser exports), joined into one time when no combined column is named.
DATE_AND_TIME = (("date", "time"), ("collection_date", "collection_time"), ("sample_date", "sample_time"),
                 ("result_date", "result_time"), ("test_date", "test_time"), ("datum", "zeit"))  # fmt: skip

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
    """'Ref Low' -> 'ref_low', 'Collection Date/Time' -> 'collection_date_time', 'Accession #' -> 'accession':
    headers match without case, spaces or punctuation."""
    return re.sub(r"[\s\-./#()\[\]:]+", "_", header.strip().lower()).strip("_")


def date_and_time(columns: list[str]) -> tuple[str, str] | None:
    """The (date, time) column pair of an export that splits the two, or None."""
    by_fold = {_fold(c): c for c in columns}
    for date, time in DATE_AND_TIME:
        if date in by_fold and time in by_fold:
            return by_fold[date], by_fold[time]
    return None


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
