"""How leukon runs its Polars queries.

The table stages (units, panels, findings, grades, course) work on frames already in memory, where Polars'
in-memory engine is about twice as fast as its streaming engine, the default since Polars 2 (2 M results on
2 cores, 2026-12: normalise 0.50 -> 0.28 s, findings 0.19 -> 0.11 s, grades 0.12 -> 0.06 s, the course's long
table and episode marks 0.17 -> 0.10 s). Reading a source larger than memory still streams: sinks always do.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    import polars as pl

P = ParamSpec("P")
R = TypeVar("R")


def in_memory_engine(fn: Callable[P, R]) -> Callable[P, R]:
    """Run `fn` with Polars' in-memory engine as the default for `collect()`; the caller's setting comes back
    afterwards, also on error."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        import polars as pl

        with pl.Config(engine_affinity="in-memory"):
            return fn(*args, **kwargs)

    return run


def run_starts(keys: list[str]) -> pl.Expr:
    """True on each row whose `keys` differ from the row before (nulls equal to nulls), and on the first row: where
    each run of equal keys begins, in a frame sorted or grouped by them."""
    import polars as pl

    return pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys]).fill_null(True)
