"""The typed results of `follow`: plain frozen dataclasses, each with to_dict() giving JSON-ready values."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from .cyclic import CyclicResult


def _iso(x: dt.date | dt.datetime | None) -> str | None:
    return None if x is None else x.isoformat()


@dataclass(frozen=True, slots=True)
class Count:
    """One count of one line: the evidence behind a label, with the lower limit it was judged against."""

    at: dt.datetime
    value: float
    specimen_id: str | None = None
    lln: float | None = None  # None: no range applies, the count was not assessed

    def to_dict(self) -> dict:
        return {"at": _iso(self.at), "value": self.value, "specimen_id": self.specimen_id, "lln": self.lln}


def counts_of(rows: Iterable[Sequence]) -> tuple[Count, ...]:
    """Counts from rows whose first four items are a Count's fields (at, value, specimen_id, lln)."""
    return tuple(Count(t, v, sid, lln) for t, v, sid, lln, *_ in rows)


class CountSeries(Mapping):
    """A patient's counts by line, each line made into `Count`s when it is first read.

    `follow` gives every patient a series, and most outputs (the text, JSON without --series) never read it:
    made up front, its `Count`s were a sixth of the time of following a cohort. `rows` maps each line to its
    counts in time order, each a sequence whose first four items are a Count's fields."""

    __slots__ = ("_made", "_rows")

    def __init__(self, rows: Mapping[str, list]):
        self._rows = rows
        self._made: dict[str, tuple[Count, ...]] = {}

    def __getitem__(self, line: str) -> tuple[Count, ...]:
        made = self._made.get(line)
        if made is None:
            made = self._made[line] = counts_of(self._rows[line])
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True, slots=True)
class Limit:
    """A lower limit of normal the counts of one line were judged against, where it came from, how often."""

    lln: float
    origin: str  # lab | profile | given | fixed
    source: str  # the lab, or the profile row's citation (e.g. "standard profile: Hibbs et al., Blood 2025 ...")
    n_counts: int

    def to_dict(self) -> dict:
        return {"lln": self.lln, "origin": self.origin, "source": self.source, "n_counts": self.n_counts}


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
    lln: float | None = None  # the lower limit of the count that opened the episode
    lln_origin: str | None = None  # lab | profile | given | fixed
    lln_source: str | None = None

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
            "lln": self.lln,
            "lln_origin": self.lln_origin,
            "lln_source": self.lln_source,
        }


@dataclass(frozen=True, slots=True)
class Course:
    """The course label of one line for one patient, the reason in plain words, and the counts behind it.

    limits: the lower limits the counts were judged against (one per distinct limit and origin);
    n_not_assessed counts had none (no range applies), and not_assessed_reason says why.
    """

    line: str
    label: str  # see classify.LABELS
    reason: str
    n_counts: int = 0
    n_episodes: int = 0
    evidence: tuple[Count, ...] = ()
    limits: tuple[Limit, ...] = ()
    n_not_assessed: int = 0
    not_assessed_reason: str | None = None

    def to_dict(self) -> dict:
        return {
            "line": self.line,
            "label": self.label,
            "reason": self.reason,
            "n_counts": self.n_counts,
            "n_episodes": self.n_episodes,
            "evidence": [c.to_dict() for c in self.evidence],
            "limits": [x.to_dict() for x in self.limits],
            "n_not_assessed": self.n_not_assessed,
            "not_assessed_reason": self.not_assessed_reason,
        }


@dataclass(frozen=True, slots=True)
class LineInfo:
    """What a chart or report needs to know about a line: its column, thresholds and normal range.

    lln/uln: the range of the patient's latest assessed count (the one a reader compares the latest
    value with); entry: the fixed cut-off when one was set, else that lln.
    """

    name: str
    column: str
    entry: float | None
    lln: float | None
    uln: float | None
    grade_bounds: tuple[tuple[int, float], ...]  # (grade, "below this") from the scheme, most severe first
    lln_origin: str | None = None
    lln_source: str | None = None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "column": self.column,
            "entry": self.entry,
            "lln": self.lln,
            "uln": self.uln,
            "grade_bounds": [list(b) for b in self.grade_bounds],
            "lln_origin": self.lln_origin,
            "lln_source": self.lln_source,
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
    series: Mapping[str, tuple[Count, ...]] = field(default_factory=dict)  # a CountSeries from `follow`

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
        return follow_document(
            self.scheme, self.params, [p.to_dict(include_series=include_series) for p in self.patients]
        )

    def json_pieces(self) -> Iterator[bytes]:
        """`to_dict()` as JSON indented by two spaces (UTF-8), one patient a piece (`follow_json_pieces`)."""
        return follow_json_pieces(self.scheme, self.params, self.patients)


class FollowStream:
    """The courses of a cohort, built a batch of patients at a time as they are read, in patient_id order
    (`leukon.course.follow.follow_stream`): for output written as it comes, so that a cohort's courses are never
    held whole. `patient_ids` are known from the start; the courses are read once."""

    def __init__(self, scheme: str, params: dict, patient_ids: list[str], batches: Iterator[list[PatientCourse]]):
        self.scheme, self.params, self.patient_ids = scheme, params, patient_ids
        self._batches: Iterator[list[PatientCourse]] | None = batches

    def __iter__(self) -> Iterator[PatientCourse]:
        batches, self._batches = self._batches, None
        if batches is None:
            raise RuntimeError("a FollowStream is read once; `follow` gives a result to keep")
        for batch in batches:
            yield from batch

    def json_pieces(self) -> Iterator[bytes]:
        """The same bytes as `FollowResult.json_pieces`, written as the batches are built."""
        return follow_json_pieces(self.scheme, self.params, self)

    def __repr__(self) -> str:
        return f"FollowStream(scheme={self.scheme!r}, patients={len(self.patient_ids)})"


def follow_document(scheme: str, params: dict, patients: list) -> dict:
    """The JSON document of a follow: the scheme, the parameters, the patients' dicts and the note."""
    return {"scheme": scheme, "params": params, "patients": patients, "note": NOT_A_DIAGNOSIS}


def follow_json_pieces(scheme: str, params: dict, patients: Iterable[PatientCourse]) -> Iterator[bytes]:
    """`follow_document` as JSON indented by two spaces (UTF-8), one patient a piece as `patients` yields them, so
    that a cohort's document is never held whole: 140,000 patients' 1 GB of JSON took 194 s and 9.1 GB as one
    `json.dumps`."""
    import orjson

    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    head, tail = orjson.dumps(follow_document(scheme, params, []), option=options).split(b'"patients": []', 1)
    yield head + b'"patients": ['
    sep = b"\n    "
    written = False
    for p in patients:  # each patient's lines indented to its depth in the document
        yield (b"," if written else b"") + sep + sep.join(orjson.dumps(p.to_dict(), option=options).split(b"\n"))
        written = True
    yield (b"\n  ]" if written else b"]") + tail + b"\n"


NOT_A_DIAGNOSIS = (
    "This summary describes laboratory counts over time. It is not a diagnosis; a clinician who knows the"
    " person must interpret it."
)

__all__ = [
    "NOT_A_DIAGNOSIS",
    "Count",
    "Course",
    "Episode",
    "FollowResult",
    "FollowStream",
    "Limit",
    "LineInfo",
    "PatientCourse",
    "Treatment",
]
