"""The vectorised kernel: Polars expressions that normalise results, build panels, grade and classify.

It reads the same criteria objects as the scalar path (`leukon.grading`, `leukon.findings`); a property
test (tests/kernel/test_agreement.py) proves the two agree on generated CBCs. Public functions return
`pl.Expr` or take and return `pl.LazyFrame`, so they compose.
"""

from .grade import grade_expr, reason_expr
from .normalize import MEASUREMENT_SCHEMA, normalize
from .panels import build_panels, classify_panels, grades_long

__all__ = [
    "MEASUREMENT_SCHEMA",
    "build_panels",
    "classify_panels",
    "grade_expr",
    "grades_long",
    "normalize",
    "reason_expr",
]
