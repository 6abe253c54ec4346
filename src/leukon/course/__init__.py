"""Follow a patient over time: episodes of low counts, recovery, course labels and cyclic neutropenia.

Every count is read against its own specimen's lower limit of normal (the lab's, else the profile's for
its age, sex and ancestry; `limits`), so a Duffy-null adult or an infant is not called neutropenic at counts
normal for them, and a count with no range is "not assessed".

>>> import datetime as dt, polars as pl
>>> days = [0, 7, 9, 14, 21]
>>> panels = pl.DataFrame({"patient_id": "p1", "specimen_id": [f"s{d}" for d in days],
...     "taken_at": [dt.datetime(2024, 1, 1) + dt.timedelta(days=d) for d in days],
...     "anc": [3.1, 0.8, 0.3, 1.2, 2.6], "wbc": [6.0, 2.5, 1.5, 3.0, 5.5]})
>>> p = follow(panels, "p1").patient("p1")
>>> p.courses["neutrophils"].label, p.episodes_of("neutrophils")[0].worst_grade
('acute', 4)
>>> p.cyclic.verdict
'insufficient data'
"""

from .classify import LABELS, course_table
from .cyclic import VERDICTS, CyclicParams, CyclicResult, detect
from .episodes import DEFAULT_LINES, LYMPHOCYTES, NEUTROPHILS, WHITE_CELLS, CourseParams, Line, episodes, grade_column
from .follow import follow, follow_stream, patients_table
from .model import (
    NOT_A_DIAGNOSIS,
    Count,
    Course,
    Episode,
    FollowResult,
    FollowStream,
    Limit,
    LineInfo,
    PatientCourse,
    Treatment,
)

__all__ = [
    "DEFAULT_LINES",
    "LABELS",
    "LYMPHOCYTES",
    "NEUTROPHILS",
    "NOT_A_DIAGNOSIS",
    "VERDICTS",
    "WHITE_CELLS",
    "Count",
    "Course",
    "CourseParams",
    "CyclicParams",
    "CyclicResult",
    "Episode",
    "FollowResult",
    "FollowStream",
    "Limit",
    "Line",
    "LineInfo",
    "PatientCourse",
    "Treatment",
    "course_table",
    "detect",
    "episodes",
    "follow",
    "follow_stream",
    "grade_column",
    "patients_table",
]
