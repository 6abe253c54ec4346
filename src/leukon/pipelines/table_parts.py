"""A chunked run's large tables written slice by slice and merged into their files, so they are never all in memory.

Each slice's panels, grades, patients and episodes go to a part file, in the row order `write` gives a table
(`leukon.pipelines.run_folder.canonical`). When every slice is done, the parts of each table are merged into
one Parquet file by ranges of the first sort key: the rows of a range, taken from every part, are sorted and
written, and the ranges are joined in order, so memory holds one range at a time (about one slice's table).
Each patient lies in one slice, so the merged file holds the rows of a one-slice run, in the same order.

(Polars' `merge_sorted`, chained over the parts, buffered most of a table: 100 M results in 13 slices passed
12 GB while merging the grades, 2026-12.)
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from leukon.pipelines.run_folder import PARQUET, SORT_KEYS, canonical

#: Prefix of the temporary folder of the parts.
PARTS_PREFIX = "leukon-parts-"
#: How the temporary files are written: fast to write and read back, in row groups small enough that reading
#: one range of a sorted part skips the rest (Parquet statistics).
TEMPORARY = {"compression": "lz4", "row_group_size": 65_536}


class TableParts:
    """Part files of tables under `folder`: `add` one slice's table, `merge` a table's parts into its file."""

    def __init__(self, folder: Path):
        self.folder = folder

    def add(self, name: str, df: pl.DataFrame) -> None:
        """Write one slice's table `name` as its next part, sorted and rounded as `write` does."""
        folder = self.folder / name
        folder.mkdir(exist_ok=True)
        canonical(df, name).write_parquet(folder / f"{len(list(folder.iterdir())):06d}.parquet", **TEMPORARY)

    def names(self) -> list[str]:
        """The tables that have parts."""
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir())

    def merge(self, name: str, dest: Path, *, columns: Callable[[pl.Schema], list[str]] | None = None) -> None:
        """The parts of table `name` merged by its sort keys into the Parquet file `dest`.

        Slices may differ in columns or types (a column all null in one slice): every part is brought to
        their common schema first, with the columns in the order `columns(schema)` gives (default: as found)."""
        files = sorted((self.folder / name).glob("*.parquet"))
        parts = [pl.scan_parquet(f) for f in files]
        schema = pl.concat([p.head(0) for p in parts], how="diagonal_relaxed").collect_schema()
        order = columns(schema) if columns else schema.names()
        parts = [_with_schema(p, schema, order) for p in parts]
        keys = [k for k in SORT_KEYS[name] if k in order]
        ranges = []
        for i, within in enumerate(_ranges(parts, keys[0], len(files))):
            rows = pl.concat([p.filter(within) for p in parts]).sort(keys, nulls_last=True, maintain_order=True)
            ranges.append(self.folder / f"{name}-range-{i:06d}.parquet")
            rows.collect().write_parquet(ranges[-1], **TEMPORARY)
        pl.concat([pl.scan_parquet(r) for r in ranges]).sink_parquet(dest, engine="streaming", **PARQUET)


#: Every this many rows of a part, one value of the first sort key is read to place the range boundaries.
SAMPLE_EVERY = 97


def _ranges(parts: list[pl.LazyFrame], key: str, n: int) -> list[pl.Expr]:
    """About `n` filters that split the rows by ranges of `key` into parts of similar size, in key order,
    null keys in the last (as `write` sorts them)."""
    col = pl.col(key)
    sample = pl.concat([p.select(col.drop_nulls().gather_every(SAMPLE_EVERY)) for p in parts]).collect()[key].sort()
    bounds = sorted({sample[len(sample) * i // n] for i in range(1, n)}) if n > 1 and len(sample) else []
    if not bounds:
        return [pl.lit(True)]
    return [col < bounds[0], *((col >= lo) & (col < hi) for lo, hi in itertools.pairwise(bounds)),
            (col >= bounds[-1]) | col.is_null()]  # fmt: skip


def _with_schema(part: pl.LazyFrame, schema: pl.Schema, order: list[str]) -> pl.LazyFrame:
    """`part` with exactly the columns `order` of types `schema` (a column it lacks is null)."""
    have = part.collect_schema()
    return part.select(
        pl.col(c).cast(schema[c]) if c in have else pl.lit(None, dtype=schema[c]).alias(c) for c in order
    )


@contextmanager
def table_parts(dir: str | Path | None = None) -> Iterator[TableParts]:
    """Part files in a temporary folder under `dir`, removed when the block ends, however it ends."""
    with tempfile.TemporaryDirectory(prefix=PARTS_PREFIX, dir=dir) as folder:
        yield TableParts(Path(folder))
