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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from ..errors import InputError

ROW = "source_row"
_DB_SPEC = re.compile(r"^(?P<path>.+\.(?:duckdb|ddb|db|sqlite|sqlite3|db3)):(?P<table>[A-Za-z_][\w.]*)$", re.I)
NULL_MARKERS = ["NA", "NULL", "null", "NaN"]


@dataclass
class Table:
    """An opened input: the lazy rows (with `source_row`), a lazy row count and what to keep open."""

    frame: pl.LazyFrame
    row_count: pl.LazyFrame
    label: str
    notes: list[str] = field(default_factory=list)
    keepalive: Any = None
    #: The Polars engine that reads its rows best in one pass (`leukon.sources.base.Source.collect`).
    engine: str = "streaming"
    #: A range of its rows reads without reading the rows before it (Parquet skips to the row groups it needs; a
    #: CSV would parse every line up to the range).
    by_rows: bool = False

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
        raise InputError(field_name, f"{path} does not exist; give {ACCEPTED}")
    if path.is_dir():
        raise InputError(field_name, f"{path} is a directory; give one file (e.g. {path}/labevents.csv.gz)")
    try:
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as e:
        raise InputError(field_name, f"cannot read {path}: {e.strerror}") from None
    if not head:
        raise InputError(field_name, f"{path} is empty; give a file with a header row and data rows")
    if head.startswith(b"PAR1"):
        _check_parquet_footer(path, field_name)
        return _parquet(path)
    if head.startswith(b"SQLite format 3\x00"):
        return _sqlite(path, table, field_name)
    if head[8:12] == b"DUCK":
        return _duckdb(path, table, field_name)
    kind = file_kind(path)
    if kind is not None:
        raise InputError(field_name, f"{path} is not a CSV but {kind}; give {ACCEPTED}{_HINTS.get(kind, '')}")
    return _csv(path, field_name, gz=head.startswith(b"\x1f\x8b"))


#: What `open_table` reads, as error messages say it.
ACCEPTED = "CSV (.csv, .csv.gz), Parquet, or a table in a DuckDB/SQLite file (FILE.duckdb:TABLE)"

#: First bytes of files people hand over by mistake, and what they are.
_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ", "an xz archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"ARROW1", "an Arrow IPC file"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_SPREADSHEET = "Excel/OpenDocument spreadsheet"
_HINTS = {
    "an Excel workbook (.xlsx)": " (in Excel: Save As > CSV UTF-8)",
    "an Excel 97-2003 workbook (.xls)": " (in Excel: Save As > CSV UTF-8)",
    "an OpenDocument spreadsheet (.ods)": " (Save As > Text CSV, UTF-8)",
    "UTF-16 text": " (save it as CSV UTF-8)",
    "a JSON document": " (a FHIR Bundle or NDJSON is read with --format fhir)",
}


def file_kind(path: Path) -> str | None:
    """What a file that is not a table is ("a JSON document", "an Excel workbook (.xlsx)", ...), from its
    content, not its name; None for anything that may be CSV text (or gzip CSV) and for the table formats.

    A file named .parquet that does not start with Parquet's signature is called a damaged Parquet file
    rather than read as CSV, which would fail with a message about columns."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(b"\x1f\x8b"):
        return None  # gzip: the CSV reader looks inside
    if path.suffix.lower() in (".parquet", ".pq") and not head.startswith(b"PAR1"):
        return "a file named .parquet without the PAR1 signature of Parquet (damaged, or another format)"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return "a JSON document"
    if text[:1] == b"<":
        return "an XML or HTML document"
    if text.startswith((b"MSH|", b"FHS|", b"BHS|")):
        return "an HL7 v2 message (read it with --format hl7v2)"
    return None


def _zip_kind(path: Path) -> str:
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return "a damaged zip archive"
    if any(n.startswith("xl/") for n in names):
        return "an Excel workbook (.xlsx)"
    if "content.xml" in names:
        return "an OpenDocument spreadsheet (.ods)"
    return f"a zip archive ({len(names)} entries); unzip it and give the CSV inside"


def _check_parquet_footer(path: Path, field_name: str) -> None:
    """A Parquet file ends with its signature too; without it the file was cut short (an interrupted copy)."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 4))
        tail = fh.read(4)
    if size < 12 or tail != b"PAR1":
        raise InputError(field_name, f"{path} is a truncated or damaged Parquet file (no PAR1 footer); copy or "
                         "export it again")  # fmt: skip


def _count(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.select(pl.len().cast(pl.UInt64).alias("rows_read"))


def _parquet(path: Path) -> Table:
    lf = pl.scan_parquet(path, row_index_name=ROW)
    lf = lf.with_columns(pl.col(ROW).cast(pl.UInt64))
    return Table(lf, _count(pl.scan_parquet(path)), str(path), by_rows=True)


def _csv(path: Path, field_name: str, *, gz: bool) -> Table:
    sample = _peek_text(path, gz, field_name)
    header = sample.splitlines()[0] if sample.strip() else ""
    if not header.strip():
        raise InputError(field_name, f"{path} has no header row; the first line must name the columns")
    opts = dict(separator=separator(header), infer_schema=False, null_values=NULL_MARKERS, raise_if_empty=False,
                encoding="utf8-lossy")  # fmt: skip  # a stray Latin-1 byte reaches the rejects as written, not a crash
    lf = pl.scan_csv(path, row_index_name=ROW, **opts).with_columns(pl.col(ROW).cast(pl.UInt64))
    notes = [f"{path.name}: gzip CSV is decompressed in memory"] if gz else []
    # Every cell is text, parsed partly by per-batch Python functions (codes, result text, times the format
    # misses). The streaming engine calls them for each of its batches (373 for 10 M results) while its two
    # threads take turns on Python's lock; the in-memory engine calls them once a column. 10 M results as
    # CSV, 5 A/B runs: the screen took 1.4 s more on average on the streaming engine (14.7-16.7 s against
    # 12.3-15.2 s in memory), for 1.0 GB touched in reading against 5.2 GB. A run too large for that is sliced and
    # spilled, which streams anyway (`leukon.pipelines.spill`).
    return Table(lf, _count(pl.scan_csv(path, **opts)), str(path), notes, engine="in-memory")


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
    text = raw.decode("utf-8", errors="replace") if raw else ""
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


# --- tables already in memory ----------------------------------------------------------------------------


def is_frame(obj: Any) -> bool:
    """True for a Polars DataFrame or LazyFrame and for a pandas DataFrame (checked without importing pandas)."""
    if isinstance(obj, pl.DataFrame | pl.LazyFrame):
        return True
    cls = type(obj)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".", 1)[0] == "pandas"


def polars_frame(obj: Any, *, field_name: str = "input") -> pl.DataFrame | pl.LazyFrame:
    """A Polars frame as it is, a pandas DataFrame converted (column names as text, the index left out)."""
    if isinstance(obj, pl.DataFrame | pl.LazyFrame):
        return obj
    if not is_frame(obj):
        raise InputError(field_name, f"expected a pandas or Polars DataFrame, not {type(obj).__name__}")
    try:
        return pl.from_pandas(obj.rename(columns=str), include_index=False)
    except Exception as e:  # pandas object columns mixing types, unsupported extension types, ...
        raise InputError(field_name, f"the pandas DataFrame cannot be read ({_first_line(e)}); cast mixed "
                         "columns to str first") from None  # fmt: skip


def frame_table(obj: Any, *, label: str = "DataFrame") -> Table:
    """A pandas or Polars DataFrame (or LazyFrame) as a `Table`, rows numbered from 0 in their order."""
    lf = polars_frame(obj).lazy()
    names = lf.collect_schema().names()
    if ROW in names:
        raise InputError("input", f"the DataFrame has a column named {ROW!r}, which leukon uses itself; rename it")
    frame = lf.with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.UInt64))
    return Table(frame, _count(lf), label)


# --- errors while the rows are read ----------------------------------------------------------------------

#: Fragments of Polars' messages that mean "this file's content cannot be read", not a bug in leukon.
_READ_FAILURES = ("could not parse", "csv malformed", "invalid utf-8", "parquet", "unexpected eof",
                  "found more fields than defined", "invalid gzip", "corrupt deflate", "out-of-spec")  # fmt: skip


@contextmanager
def read_errors(spec: Any) -> Iterator[None]:
    """Turn a Polars error raised while the rows of `spec` are read (rows are read lazily, deep inside a
    run) into one line naming the file and the likely cause; any other error passes unchanged."""
    try:
        yield
    except pl.exceptions.PolarsError as e:
        text = str(e).lower()
        if isinstance(spec, Table) or not any(f in text for f in _READ_FAILURES):
            raise
        label = str(spec)
        cause = "an unterminated quote or a row with more fields than the header" if "csv" in text or (
            "could not parse" in text) else "damaged or truncated content"  # fmt: skip
        raise InputError("input", f"{label} cannot be read past {_where(e)}: {cause} ({_first_line(e)}); "
                         "fix or export the file again") from None  # fmt: skip


def _where(e: Exception) -> str:
    m = re.search(r"offset in the file is (\d+) bytes", str(e))
    return f"byte {m[1]}" if m else "a point in the file"


def _first_line(e: Exception) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    first = lines[0] if lines else type(e).__name__
    return first if len(first) <= 120 else first[:117] + "..."
