"""Request bodies. Pydantic checks only the shape (an object, lists of strings, booleans); every value,
unit, age and range goes to leukon's own checks untouched, so the messages are the CLI's.

`AssessRequest` is the JSON object ``leukon assess --json -`` reads (analyte ids, plus units, lln, uln,
age_days, age_years, sex, ancestry, profile, fever_sustained, anc_expected_fall, schemes), with one
addition: ``explanation`` chooses the audience and gives the medicines and conditions to match.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, create_model

from leukon.knowledge import AUDIENCES
from leukon.pipelines.requests import split_document
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


def _doc(schema: dict, **kw) -> Any:
    """A field pydantic leaves as it is (`Any`), documented in the OpenAPI schema by `schema`: the value
    is checked by the CLI's own JSON check and by `assess_mapping`, so the messages are the CLI's."""
    return Field(None, json_schema_extra=schema, **kw)


_TEXT_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_NUMBER_MAP = {"type": "object", "additionalProperties": {"anyOf": _NUMBER_OR_TEXT}}


class _AssessBase(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [{"wbc": {"value": 2.0, "unit": "K/uL"}, "anc": 0.7, "age_years": 56, "temperature": 38.6}]
        },
    )

    units: Any = _doc(_TEXT_MAP, examples=[{"wbc": "/uL"}])
    lln: Any = _doc(_NUMBER_MAP, description="the lab's lower limits, in each value's unit")
    uln: Any = _doc(_NUMBER_MAP, description="the lab's upper limits")
    age_days: Any = _doc({"type": "integer", "minimum": 0})
    age_years: Any = _doc({"type": "number", "minimum": 0, "maximum": 130})
    sex: Any = _doc({"type": "string"}, examples=["female"])
    ancestry: Any = _doc({"type": "string"}, examples=["duffy-null"])
    profile: Any = _doc({"type": "string"}, description=f"reference profile (default {DEFAULT_PROFILE!r})")
    fever_sustained: Any = _doc({"type": "boolean"})
    anc_expected_fall: Any = _doc({"type": "boolean"})
    schemes: Any = _doc({"type": "array", "items": {"type": "string"}}, examples=[["ctcae-v5", "clinical"]])
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


def assess_arguments(body: BaseModel) -> tuple[dict, dict]:
    """(values, options) for `assess_mapping`, split and checked by `split_document`, as the CLI's, so a
    bad request gets the line `leukon assess --json` prints."""
    return split_document(body.model_dump(exclude_unset=True, exclude={"explanation"}))


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
    value: float
    unit: StrictStr | None = Field(
        None, description="default: the analyte's canonical unit (10^9/L), only for a number plausible there"
    )
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
    time_format: StrictStr | None = Field(
        None,
        description="strftime format of taken_at, e.g. %d/%m/%Y %H:%M, the only one then accepted; without it, "
        "times are read as `leukon screen` reads them and dates such as 03/01/2024 that nothing settles are refused",
    )
    chart: StrictBool = Field(True, description="draw the chart (SVG) for the one patient followed")
