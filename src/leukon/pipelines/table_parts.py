"""A chunked run's large tables written slice by slice and merged into their files, so they are never all in memory.

Each slice's panels, grades, patients and episodes go to a part file, in the row order `write` gives a table
(`leukon.pipelines.run_folder.canonical`). When every slice is done, the parts of each table are merged by the
table's sort keys (a streaming merge of sorted runs) into one Parquet file. Each patient lies in one slice, so
the merged file holds the rows of a one-slice run, in the same order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import reduce
from pathlib import Path

import polars as pl

from leukon.pipelines.run_folder import SORT_KEYS, canonical

#: Prefix of the temporary folder of the parts.
PARTS_PREFIX = "leukon-parts-"


class TableParts:
    """Part files of tables under `folder`: `add` one slice's table, `merge` a table's parts into its file."""

    def __init__(self, folder: Path):
        self.folder = folder

    def add(self, name: str, df: pl.DataFrame) -> None:
        """Write one slice's table `name` as its next part, sorted and rounded as `write` does."""
        folder = self.folder / name
        folder.mkdir(exist_ok=True)
        canonical(df, name).write_parquet(folder / f"{len(list(folder.iterdir())):06d}.parquet")

    def names(self) -> list[str]:
        """The tables that have parts."""
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir())

    def merge(self, name: str, dest: Path, *, columns: Callable[[pl.Schema], list[str]] | None = None) -> None:
        """The parts of table `name` merged by its sort keys into the Parquet file `dest`, streaming.

        Slices may differ in columns or types (a column all null in one slice): every part is brought to
        their common schema first, with the columns in the order `columns(schema)` gives (default: as found)."""
        parts = [pl.scan_parquet(f) for f in sorted((self.folder / name).glob("*.parquet"))]
        schema = pl.concat([p.head(0) for p in parts], how="diagonal_relaxed").collect_schema()
        order = columns(schema) if columns else schema.names()
        parts = [_with_schema(p, schema, order) for p in parts]
        keys = [k for k in SORT_KEYS[name] if k in order]
        merged = reduce(lambda left, right: left.merge_sorted(right, keys, maintain_order=True), parts)
        merged.sink_parquet(dest, engine="streaming")


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
