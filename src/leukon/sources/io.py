"""Open an input table lazily: CSV, gzip CSV, Parquet, or a table in a DuckDB or SQLite file.

The container is recognised by its first bytes, not its name, so a Parquet file called `.csv` still
reads and a PNG called `.csv` fails with one line. Every table comes back with a 0-based `source_row`.

CSV cells are read as text (never inferred) so a value like "<0.1" reaches the reject list as written
instead of failing the read. Gzip CSV is decompressed in memory by Polars; for files larger than memory
use plain CSV or Parquet, which are scanned in a streaming way.
"""

from __future__ import annotations

import gzip
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError

ROW = "source_row"
_DB_SPEC = re.compile(r"^(?P<path>.+\.(?:duckdb|ddb|db|sqlite|sqlite3|db3)):(?P<table>[A-Za-z_][\w.]*)$", re.I)
_NULLS = ["NA", "NULL", "null", "NaN"]


@dataclass
class Table:
    """An opened input: the lazy rows (with `source_row`), a lazy row count and what to keep open."""

    frame: pl.LazyFrame
    row_count: pl.LazyFrame
    label: str
    notes: list[str] = field(default_factory=list)
    keepalive: Any = None

    @property
    def columns(self) -> list[str]:
        return [c for c in self.frame.collect_schema().names() if c != ROW]


def split_spec(spec: str | Path, table: str | None = None) -> tuple[Path, str | None]:
    """`db.duckdb:measurement` -> (Path('db.duckdb'), 'measurement'); other paths pass through."""
    s = str(spec)
    m = _DB_SPEC.match(s)
    if m and not Path(s).exists():
        return Path(m["path"]), table or m["table"]
    return Path(s), table


def open_table(spec: str | Path | Table, *, table: str | None = None, field_name: str = "input") -> Table:
    """Open `spec` (a path, or `path.duckdb:table`) as a lazy table; InputError when it cannot be read.

    An already opened `Table` passes through, so an adapter can read rows that are in memory (one Spark
    partition's Arrow batches, `leukon.spark`) by the same rules as a file.
    """
    if isinstance(spec, Table):
        return spec
    path, table = split_spec(spec, table)
    if not path.exists():
        raise InputError(field_name, f"{path} does not exist; give a CSV, CSV.gz, Parquet or database file")
    if path.is_dir():
        raise InputError(field_name, f"{path} is a directory; give one file (e.g. {path}/labevents.csv.gz)")
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head:
        raise InputError(field_name, f"{path} is empty; give a file with a header row and data rows")
    if head.startswith(b"PAR1"):
        return _parquet(path)
    if head.startswith(b"SQLite format 3\x00"):
        return _sqlite(path, table, field_name)
    if head[8:12] == b"DUCK":
        return _duckdb(path, table, field_name)
    return _csv(path, field_name, gz=head.startswith(b"\x1f\x8b"))


def _count(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.select(pl.len().cast(pl.UInt64).alias("rows_read"))


def _parquet(path: Path) -> Table:
    lf = pl.scan_parquet(path, row_index_name=ROW)
    lf = lf.with_columns(pl.col(ROW).cast(pl.UInt64))
    return Table(lf, _count(pl.scan_parquet(path)), str(path))


def _csv(path: Path, field_name: str, *, gz: bool) -> Table:
    sample = _peek_text(path, gz, field_name)
    header = sample.splitlines()[0] if sample.strip() else ""
    if not header.strip():
        raise InputError(field_name, f"{path} has no header row; the first line must name the columns")
    opts = dict(separator=separator(header), infer_schema=False, null_values=_NULLS, raise_if_empty=False)
    lf = pl.scan_csv(path, row_index_name=ROW, **opts).with_columns(pl.col(ROW).cast(pl.UInt64))
    notes = [f"{path.name}: gzip CSV is decompressed in memory"] if gz else []
    return Table(lf, _count(pl.scan_csv(path, **opts)), str(path), notes)


def separator(header: str) -> str:
    """The CSV field separator a header line uses (comma, tab, semicolon or bar; comma when none)."""
    sep = max([",", "\t", ";", "|"], key=header.count)
    return sep if header.count(sep) else ","


def _peek_text(path: Path, gz: bool, field_name: str) -> str:
    """The first few KB as text, or InputError when the file is not text (a binary file called .csv)."""
    try:
        if gz:
            with gzip.open(path, "rb") as fh:
                raw = fh.read(8192)
        else:
            with path.open("rb") as fh:
                raw = fh.read(8192)
    except (OSError, EOFError) as exc:
        raise InputError(field_name, f"{path} is not a readable gzip file ({exc}); re-export it") from None
    if b"\x00" in raw:
        raise InputError(field_name, f"{path} is not a CSV (binary content); give CSV, Parquet or a database")
    text = raw.decode("utf-8", errors="ignore" if len(raw) == 8192 else "strict") if raw else ""
    if not text.strip():
        raise InputError(field_name, f"{path} is empty; give a file with a header row and data rows")
    return text


def _pick_table(path: Path, table: str | None, tables: list[str], field_name: str) -> str:
    if table:
        by_lower = {t.lower(): t for t in tables}
        if table.lower() in by_lower:
            return by_lower[table.lower()]
        raise InputError("table", f"{path} has no table {table!r}; it has {', '.join(tables) or 'none'}")
    if len(tables) == 1:
        return tables[0]
    raise InputError(
        "table", f"{path} holds {len(tables)} tables ({', '.join(tables) or 'none'}); name one as {path}:TABLE"
    )


def _duckdb(path: Path, table: str | None, field_name: str) -> Table:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    tables = [r[0] for r in con.sql("select table_name from information_schema.tables").fetchall()]
    name = _pick_table(path, table, tables, field_name)
    n = con.sql(f'select count(*) from "{name}"').fetchall()[0][0]
    # rowid: DuckDB's stable 0-based row number for a table, so source_row names the stored row.
    rel = con.sql(f'select rowid::UBIGINT as {ROW}, * from "{name}"')
    lf = rel.pl(lazy=True)
    count = pl.LazyFrame({"rows_read": [n]}, schema={"rows_read": pl.UInt64})
    return Table(lf, count, f"{path}:{name}", keepalive=con)


def _sqlite(path: Path, table: str | None, field_name: str) -> Table:
    """SQLite has no Arrow reader in the standard library: the table is read eagerly, every cell as text
    (SQLite columns may mix types), which suits the small extracts people keep in SQLite."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type in ('table', 'view')")]
        name = _pick_table(path, table, tables, field_name)
        cols = [r[1] for r in con.execute(f'pragma table_info("{name}")')]
        sel = ", ".join(f'CAST("{c}" AS TEXT)' for c in cols)
        rows = con.execute(f'select {sel} from "{name}" order by rowid').fetchall()
    finally:
        con.close()
    df = pl.DataFrame(rows, schema={c: pl.String for c in cols}, orient="row")
    lf = df.lazy().with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.UInt64))
    return Table(lf, _count(df.lazy()), f"{path}:{name}", [f"{path.name}: SQLite table read into memory"])
