"""What a finding and a note are: the records `assess` returns and the explanation reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    label: str
    analyte: str | None = None
    value: float | None = None
    unit: str | None = None
    comparator: str | None = None
    threshold: float | None = None
    basis: str | None = None
    source: str | None = None
    severity: str | None = None
    emergency: bool = False
    certainty: str = "met"  # met | possible
    detail: str = ""

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Note:
    """A warning or an explanation of something not assessed; `field` names the input concerned."""

    code: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "field": self.field}
