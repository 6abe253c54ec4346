"""The typed results of `follow`: plain frozen dataclasses, each with to_dict() giving JSON-ready values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .cyclic import CyclicResult


def _iso(x: dt.date | dt.datetime | None) -> str | None:
    return None if x is None else x.isoformat()


@dataclass(frozen=True, slots=True)
class Count:
    """One count of one line: the evidence behind a label."""

    at: dt.datetime
    value: float
    specimen_id: str | None = None

    def to_dict(self) -> dict:
        return {"at": _iso(self.at), "value": self.value, "specimen_id": self.specimen_id}


@dataclass(frozen=True, slots=True)
class Treatment:
    date: dt.date
    label: str

    def to_dict(self) -> dict:
        return {"date": _iso(self.date), "label": self.label}


@dataclass(frozen=True, slots=True)
class Episode:
    """A stretch of low counts of one line; end is the recovering count (None when ongoing or cut by a gap)."""

    line: str
    episode: int
    start: dt.datetime
    end: dt.datetime | None
    last_low_at: dt.datetime
    ongoing: bool
    end_reason: str  # recovery | end of series | gap
    duration_days: float
    n_counts: int
    nadir: float
    nadir_at: dt.datetime
    nadir_specimen_id: str | None
    worst_grade: int | None
    grade_source: str  # column (the screening grades) | nadir (graded here)
    grade_reason: str | None
    days_below: dict[str, float]  # e.g. {"0.5": 2.5, "0.1": 0.0}
    recovery_day: dt.date | None
    treatment: Treatment | None = None  # the latest treatment on or before the nadir
    nadir_day_after_treatment: int | None = None

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "episode": self.episode,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "last_low_at": _iso(self.last_low_at),
            "ongoing": self.ongoing,
            "end_reason": self.end_reason,
            "duration_days": self.duration_days,
            "n_counts": self.n_counts,
            "nadir": self.nadir,
            "nadir_at": _iso(self.nadir_at),
            "nadir_specimen_id": self.nadir_specimen_id,
            "worst_grade": self.worst_grade,
            "grade_source": self.grade_source,
            "grade_reason": self.grade_reason,
            "days_below": dict(self.days_below),
            "recovery_day": _iso(self.recovery_day),
            "treatment": None if self.treatment is None else self.treatment.to_dict(),
            "nadir_day_after_treatment": self.nadir_day_after_treatment,
        }


@dataclass(frozen=True, slots=True)
class Course:
    """The course label of one line for one patient, the reason in plain words, and the counts behind it."""

    line: str
    label: str  # see classify.LABELS
    reason: str
    n_counts: int = 0
    n_episodes: int = 0
    evidence: tuple[Count, ...] = ()

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "label": self.label,
            "reason": self.reason,
            "n_counts": self.n_counts,
            "n_episodes": self.n_episodes,
            "evidence": [c.to_dict() for c in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class LineInfo:
    """What a chart or report needs to know about a line: its column, thresholds and normal range."""

    name: str
    column: str
    entry: float
    lln: float | None
    uln: float | None
    grade_bounds: tuple[tuple[int, float], ...]  # (grade, "below this") from the scheme, most severe first

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "column": self.column,
            "entry": self.entry,
            "lln": self.lln,
            "uln": self.uln,
            "grade_bounds": [list(b) for b in self.grade_bounds],
        }


@dataclass(frozen=True, slots=True)
class PatientCourse:
    """Everything `follow` found for one patient."""

    patient_id: str
    scheme: str
    courses: dict[str, Course]
    episodes: tuple[Episode, ...]
    cyclic: CyclicResult
    treatments: tuple[Treatment, ...] = ()
    lines: tuple[LineInfo, ...] = ()
    series: dict[str, tuple[Count, ...]] = field(default_factory=dict)

    def episodes_of(self, line: str) -> tuple[Episode, ...]:
        return tuple(e for e in self.episodes if e.line == line)

    def to_dict(self, *, include_series: bool = False) -> dict:
        d = {
            "patient_id": self.patient_id,
            "scheme": self.scheme,
            "courses": {k: v.to_dict() for k, v in self.courses.items()},
            "episodes": [e.to_dict() for e in self.episodes],
            "cyclic": self.cyclic.to_dict(),
            "treatments": [t.to_dict() for t in self.treatments],
        }
        if include_series:
            d["series"] = {k: [c.to_dict() for c in v] for k, v in self.series.items()}
        return d


@dataclass(frozen=True, slots=True)
class FollowResult:
    """The courses of every patient asked for, in patient_id order."""

    patients: tuple[PatientCourse, ...]
    scheme: str
    params: dict

    def patient(self, patient_id: str) -> PatientCourse:
        for p in self.patients:
            if p.patient_id == patient_id:
                return p
        raise KeyError(patient_id)

    def to_dict(self, *, include_series: bool = False) -> dict:
        return {
            "scheme": self.scheme,
            "params": self.params,
            "patients": [p.to_dict(include_series=include_series) for p in self.patients],
            "note": NOT_A_DIAGNOSIS,
        }


NOT_A_DIAGNOSIS = (
    "This summary describes laboratory counts over time. It is not a diagnosis; a clinician who knows the"
    " person must interpret it."
)

__all__ = ["NOT_A_DIAGNOSIS", "Count", "Course", "Episode", "FollowResult", "LineInfo", "PatientCourse", "Treatment"]
