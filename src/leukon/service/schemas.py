"""Request bodies. Pydantic checks only the shape (an object, lists of strings, booleans); every value,
unit, age and range goes to leukon's own checks untouched, so the messages are the CLI's.

`AssessRequest` is the JSON object ``leukon assess --json -`` reads (analyte ids, plus units, lln, uln,
age_days, age_years, sex, ancestry, profile, fever_sustained, anc_expected_fall, schemes), with one
addition: ``explanation`` chooses the audience and gives the medicines and conditions to match.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, create_model

from leukon.errors import InputError
from leukon.knowledge.kb import AUDIENCES
from leukon.pipelines.assess import assess_mapping
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import DEFAULT_PROFILE

_NUMBER_OR_TEXT = [{"type": "number"}, {"type": "string", "examples": ["3100 /uL"]}]
#: A value as the CLI's JSON takes it: 3.1, "3100 /uL", or {"value": 3100, "unit": "/uL", "lln": 3500}.
ANALYTE_VALUE_SCHEMA = {
    "anyOf": [
        *_NUMBER_OR_TEXT,
        {
            "type": "object",
            "properties": {
                "value": {"anyOf": _NUMBER_OR_TEXT},
                "unit": {"type": "string"},
                "lln": {"anyOf": _NUMBER_OR_TEXT},
                "uln": {"anyOf": _NUMBER_OR_TEXT},
            },
            "required": ["value"],
            "additionalProperties": False,
        },
    ]
}


class ExplanationOptions(BaseModel):
    """Who the explanation is for, and the medicines and conditions to weigh (free text, brands and doses ok)."""

    model_config = ConfigDict(extra="forbid")

    audience: Literal[AUDIENCES] = "patient"  # type: ignore[valid-type]
    medicines: list[StrictStr] = Field(default_factory=list, max_length=50, examples=[["Clozaril 100 mg"]])
    conditions: list[StrictStr] = Field(default_factory=list, max_length=50, examples=[["HIV"]])
    html: StrictBool = Field(False, description="also return the explanation as an HTML fragment")


class _AssessBase(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"wbc": {"value": 2.0, "unit": "K/uL"}, "anc": 0.7, "age_years": 56, "temperature": 38.6}]
        },
    )

    units: dict[str, StrictStr] | None = Field(None, examples=[{"wbc": "/uL"}])
    lln: dict[str, Any] | None = Field(None, json_schema_extra={"additionalProperties": {"anyOf": _NUMBER_OR_TEXT}})
    uln: dict[str, Any] | None = Field(None, json_schema_extra={"additionalProperties": {"anyOf": _NUMBER_OR_TEXT}})
    age_days: Any = Field(None, json_schema_extra={"type": "integer", "minimum": 0})
    age_years: Any = Field(None, json_schema_extra={"type": "number", "minimum": 0, "maximum": 130})
    sex: StrictStr | None = Field(None, examples=["female"])
    ancestry: StrictStr | None = Field(None, examples=["duffy-null"])
    profile: StrictStr = DEFAULT_PROFILE
    fever_sustained: StrictBool | None = None
    anc_expected_fall: StrictBool = False
    schemes: list[StrictStr] | None = Field(None, examples=[["ctcae-v5", "clinical"]])
    explanation: ExplanationOptions | None = Field(
        default_factory=ExplanationOptions, description="null for the assessment alone"
    )


#: One optional field per analyte in the catalogue, so the schema lists them without re-typing them.
AssessRequest = create_model(
    "AssessRequest",
    __base__=_AssessBase,
    __doc__="One CBC: analyte ids with values (canonical units unless given), the lab's limits and the person.",
    **{
        a.id: (Any, Field(None, description=f"{a.name} ({a.unit})", json_schema_extra=ANALYTE_VALUE_SCHEMA))
        for a in ANALYTES.values()
    },
)

#: The keys `assess_mapping` takes besides the values, read from its signature rather than re-listed.
OPTION_KEYS = tuple(p for p in inspect.signature(assess_mapping).parameters if p != "given")


def assess_arguments(body: BaseModel) -> tuple[dict, dict]:
    """Split a request into (values, options) for `assess_mapping`; an unknown key is an InputError."""
    doc = body.model_dump(exclude_unset=True, exclude={"explanation"})
    for k in body.model_extra or {}:
        raise InputError(k, f"unknown key; use analyte ids ({', '.join(ANALYTES)}) or {', '.join(sorted(OPTION_KEYS))}")
    values = {k: v for k, v in doc.items() if k in ANALYTES}
    for k, v in values.items():
        unit = v.get("unit") if isinstance(v, dict) else None
        if unit is not None and not isinstance(unit, str):  # leukon's reader expects text here
            raise InputError(f"{k}.unit", f"{unit!r} is not a unit; give text such as '/uL' or '10^9/L'")
    options = {k: v for k, v in doc.items() if k in OPTION_KEYS}
    return values, options


class GradeRequest(BaseModel):
    """One value under one scheme's term, as `leukon grade` takes it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"scheme": "ctcae-v5", "term": "Neutrophil count decreased", "value": 700, "unit": "cells/uL"}]
        },
    )

    scheme: StrictStr
    term: StrictStr
    value: Any = Field(json_schema_extra={"anyOf": _NUMBER_OR_TEXT})
    unit: StrictStr | None = Field(None, description="default: the analyte's canonical unit (10^9/L)")
    lln: float | None = None
    age_days: int | None = Field(None, ge=0)


class Count(BaseModel):
    """One dated count of a series, as `leukon follow` reads a JSON list."""

    model_config = ConfigDict(extra="allow")

    patient_id: StrictStr | int
    taken_at: StrictStr
    specimen_id: StrictStr | None = None
    anc: float | None = None
    wbc: float | None = None
    lymphocytes: float | None = None
    unit: StrictStr | None = Field(None, examples=["cells/uL"], description="unit of this record's counts")


class TreatmentDate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient_id: StrictStr | int
    date: StrictStr = Field(examples=["2024-03-01"])
    label: StrictStr | None = None


class FollowRequest(BaseModel):
    """A series of counts (as JSON records or CSV text with patient_id, taken_at, anc, wbc ...) to follow."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "csv": "patient_id,taken_at,anc,wbc\nP1,2024-01-01,2.1,4.5\nP1,2024-01-08,0.4,1.9\n"
                    "P1,2024-01-15,1.6,4.1\n",
                    "scheme": "ctcae-v5",
                }
            ]
        },
    )

    series: list[Count] | None = Field(None, max_length=20_000)
    csv: StrictStr | None = Field(None, description="CSV text with a header row, instead of `series`")
    patient_id: StrictStr | None = Field(None, description="follow only this patient")
    treatments: list[TreatmentDate] | None = Field(None, max_length=2_000)
    scheme: StrictStr = "ctcae-v5"
    chart: StrictBool = Field(True, description="draw the chart (SVG) for the one patient followed")
