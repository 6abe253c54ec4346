"""leukon: white-cell cytopenias from complete blood counts, with reasons.

The public API is small; everything else is an implementation detail::

    assess(...)   one CBC -> Assessment (findings, grades under every scheme, derived values, warnings)
    grade(...)    one value under a named scheme's term -> int | None
    grade_detail  the same with the label and the reason when not gradable
    explain(...)  an Assessment in plain words, for a patient or a clinician, with sources
    screen(...)   a lab table (long, wide, OMOP, MIMIC-IV) -> panels, grades, rejects, summary
    follow(...)   panels over time -> episodes, nadir, recovery, course, cyclic verdict

Errors: see `leukon.errors` (LeukonError > InputError > UnitError; CriteriaError > Unknown*Error).

The names are loaded on first use (module `__getattr__`), so ``import leukon`` is cheap and the one-CBC path
(`assess`, `grade`) never imports Polars: only `screen`, `follow` and `explain` bring in the table engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from .errors import CriteriaError, InputError, LeukonError, UnitError, UnknownSchemeError, UnknownTermError

__version__ = "0.1.0"

#: Public name -> the module that defines it, imported on first access.
_LAZY: dict[str, str] = {
    "Assessment": "leukon.pipelines.assess",
    "assess": "leukon.pipelines.assess",
    "assess_mapping": "leukon.pipelines.assess",
    "ScreenResult": "leukon.pipelines.screen",
    "screen": "leukon.pipelines.screen",
    "GradeResult": "leukon.rules.grading",
    "grade": "leukon.rules.grading",
    "grade_detail": "leukon.rules.grading",
    "follow": "leukon.course",
    "explain": "leukon.knowledge",
}

if TYPE_CHECKING:  # static tools see the names as eager imports
    from leukon.course import follow
    from leukon.knowledge import explain
    from leukon.pipelines.assess import Assessment, assess, assess_mapping
    from leukon.pipelines.screen import ScreenResult, screen
    from leukon.rules.grading import GradeResult, grade, grade_detail

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


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals())
