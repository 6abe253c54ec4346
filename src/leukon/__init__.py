"""leukon: white-cell cytopenias from complete blood counts, with reasons.

The public API is small; everything else is an implementation detail::

    assess(...)   one CBC -> Assessment (findings, grades under every scheme, derived values, warnings)
    grade(...)    one value under a named scheme's term -> int | None
    grade_detail  the same with the label and the reason when not gradable

Errors: see `leukon.errors` (LeukonError > InputError > UnitError; CriteriaError > Unknown*Error).
"""

from .assessment import Assessment, assess, assess_mapping
from .errors import CriteriaError, InputError, LeukonError, UnitError, UnknownSchemeError, UnknownTermError
from .grading import GradeResult, grade, grade_detail

__version__ = "0.1.0"

__all__ = [
    "Assessment",
    "CriteriaError",
    "GradeResult",
    "InputError",
    "LeukonError",
    "UnitError",
    "UnknownSchemeError",
    "UnknownTermError",
    "__version__",
    "assess",
    "assess_mapping",
    "grade",
    "grade_detail",
]
