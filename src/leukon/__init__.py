"""leukon: white-cell cytopenias from complete blood counts, with reasons.

The public API is small; everything else is an implementation detail::

    assess(...)   one CBC -> Assessment (findings, grades under every scheme, derived values, warnings)
    grade(...)    one value under a named scheme's term -> int | None
    grade_detail  the same with the label and the reason when not gradable
    explain(...)  an Assessment in plain words, for a patient or a clinician, with sources
    screen(...)   a lab table (long, wide, OMOP, MIMIC-IV) -> panels, grades, rejects, summary
    follow(...)   panels over time -> episodes, nadir, recovery, course, cyclic verdict

Errors: see `leukon.errors` (LeukonError > InputError > UnitError; CriteriaError > Unknown*Error).
"""

from leukon.pipelines.assess import Assessment, assess, assess_mapping
from leukon.pipelines.screen import ScreenResult, screen
from leukon.rules.grading import GradeResult, grade, grade_detail

from .course import follow
from .errors import CriteriaError, InputError, LeukonError, UnitError, UnknownSchemeError, UnknownTermError
from .knowledge import explain

__version__ = "0.1.0"

__all__ = [
    "Assessment",
    "CriteriaError",
    "GradeResult",
    "InputError",
    "LeukonError",
    "ScreenResult",
    "UnitError",
    "UnknownSchemeError",
    "UnknownTermError",
    "__version__",
    "assess",
    "assess_mapping",
    "explain",
    "follow",
    "grade",
    "grade_detail",
    "screen",
]
