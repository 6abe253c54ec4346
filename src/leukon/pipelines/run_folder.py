"""The output folder of a screening run: it holds one complete run, never half of one or a mix of two.

A run is written in three steps so that an interrupt, a full disk or a crash cannot leave a truncated
`panels.parquet` beside an earlier run's `summary.json` that still looks complete:

1. `RunFolder.prepare` checks `--out` *before* the run (a file, a read-only folder, /proc: one-line
   error) and creates a hidden staging folder inside it, which proves it is writable;
2. every output is written into the staging folder;
3. `commit` removes the earlier run's `summary.json` first (the folder stops claiming a complete run),
   then the earlier outputs, moves the new outputs in, and moves the new `summary.json` in last.

An interrupted caller (Ctrl-C while another thread computes) calls `abandon`: it waits for a commit in
progress to finish, so the folder ends up with the whole new run or with no part of it.

`summary.json` is the commit marker: a folder with it holds exactly the files it lists. A folder that holds
an earlier complete run is replaced only when the caller says so (`force`); outputs of an interrupted
run (no `summary.json`) are debris and are replaced without asking. Files that are not leukon outputs
are never touched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from leukon.errors import InputError

#: The tables a run writes (each as .parquet or .csv) and the commit marker written last.
TABLES = ("panels", "grades", "rejects", "patients", "episodes")
MARKER = "summary.json"
STAGING_PREFIX = ".leukon-partial-"
SUFFIXES = (".parquet", ".csv")


#: Row order of each table, so that the same input gives byte-identical files (group-bys and joins run in
#: parallel and do not promise an order).
SORT_KEYS = {
    "panels": ("patient_id", "taken_at", "specimen_id"),
    "grades": ("specimen_id", "scheme", "term"),
    "rejects": ("source_row", "reason"),
    "patients": ("patient_id",),
    "episodes": ("patient_id", "line", "episode"),
}
#: Significant digits kept in computed floats: a parallel sum may differ in the last bit between runs;
#: 12 digits are far beyond any count's precision and absorb that noise.
FLOAT_DIGITS = 12
#: Tables whose floats are each computed within one row (a unit conversion or a derived count, both kept to 15
#: significant digits as `leukon.rules.units` says, or a range): the same input gives the same bits without
#: rounding, so they are written exactly as the rules read them and a file shows the very value a grade was
#: given for. The course's tables hold sums over many rows and are rounded.
EXACT_FLOATS = ("panels",)
#: How output tables are written as Parquet: zstd at level 1 rather than Polars' default 3. On 10.1 M results
#: (2026-12, medians of 4) the panels took 1.33 s instead of 1.68 s and the grades 0.53 s instead of 0.70 s,
#: for files 8 % and 23 % larger (49 and 11 MB); column statistics stay, for readers that filter. The codec is not
#: where the time goes (2026-12-04, the panels): lz4 1.65 s (82 MB), snappy 1.85 s, none 1.77 s (464 MB); encoding
#: the 51 float and 28 text columns is.
PARQUET = {"compression": "zstd", "compression_level": 1}
#: Summary keys that differ between two runs of the same input (kept in memory, not in summary.json).
VOLATILE = ("seconds", "stage_seconds")


def canonical(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """`df` in a fixed row order, with floats rounded to FLOAT_DIGITS significant digits (but EXACT_FLOATS)."""
    keys = [k for k in SORT_KEYS.get(name, ()) if k in df.columns]
    if keys:
        # Tables made of runs already in order by the other keys (the grades' blocks, one a term, in (scheme, term)
        # order; slices of whole patients, each in order) need only a stable sort on the first key; the screen
        # makes the panels in this order already.
        if not df[keys[0]].is_sorted(nulls_last=True):
            df = df.sort(keys[0], nulls_last=True, maintain_order=True)
        if not in_order(df, keys):
            df = df.sort(keys, nulls_last=True, maintain_order=True)
    floats = [c for c, t in df.schema.items() if t in (pl.Float64, pl.Float32)]
    if floats and name not in EXACT_FLOATS:
        df = df.with_columns(pl.col(floats).round_sig_figs(FLOAT_DIGITS))
    return df


def in_order(df: pl.DataFrame, keys: list[str]) -> bool:
    """True when `df` is sorted by `keys` (ascending, nulls last), as `sort` would leave it: each row compared with
    the next, key by key (a few passes over the keys, instead of a sort and a gather of every column)."""
    if df.height < 2:
        return True
    ok = pl.lit(True)
    for k in reversed(keys):
        a, b = pl.col(k), pl.col(k).shift(-1)
        before = (a < b).fill_null(False) | (a.is_not_null() & b.is_null())
        ok = before | (a.eq_missing(b) & ok)
    return bool(df.select(ok.head(df.height - 1).all()).item())


def write_summary(folder: Path, summary: dict, outputs: list[str]) -> None:
    """summary.json in `folder`: the run's summary without its timings (VOLATILE), and the run's files in `outputs`
    with summary.json itself last. Written last of a run: it marks the run complete."""
    import json

    doc = {k: v for k, v in summary.items() if k not in VOLATILE} | {"outputs": [*outputs, MARKER]}
    (folder / MARKER).write_text(json.dumps(doc, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")


def write_tables(
    tables: dict[str, pl.DataFrame], summary: dict, folder: Path, *, output: str, written: tuple[str, ...] = ()
) -> None:
    """Write each table (Parquet, or CSV with lists joined by ';') and then summary.json into `folder`; `written`
    names tables already in the folder (written slice by slice), listed in summary.json with the others."""
    names = []
    for name, df in tables.items():
        path = folder / f"{name}.{output}"
        df = canonical(df, name)
        if output == "parquet":
            df.write_parquet(path, **PARQUET)
        else:
            lists = [c for c, t in df.schema.items() if isinstance(t, pl.List)]
            df.with_columns(pl.col(lists).list.join(";")).write_csv(path)
        names.append(path.name)
    files = {*names, *(f"{n}.{output}" for n in written)}
    write_summary(folder, summary, [f"{n}.{output}" for n in TABLES if f"{n}.{output}" in files])


def is_output(name: str) -> bool:
    """True for a file name a run writes: `panels.parquet`, `grades.csv`, ..., `summary.json`."""
    stem, dot, suffix = name.rpartition(".")
    return name == MARKER or (stem in TABLES and f"{dot}{suffix}" in SUFFIXES)


@dataclass
class RunFolder:
    """An output folder being written: `staging` receives the files, `commit` puts them in place."""

    out: Path
    staging: Path
    created: bool  # the folder did not exist before this run (removed again if the run is discarded)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _state: str = field(default="open", repr=False)  # open | committed | abandoned

    @classmethod
    def prepare(cls, out: str | Path, *, force: bool = False, field: str = "--out") -> RunFolder:
        """Check that `out` can take a run and create the staging folder; InputError (one line) if not."""
        out = Path(out)
        created = False
        if out.exists() and not out.is_dir():
            raise InputError(field, f"{out} is a file; give a folder for the outputs (it is created if missing)")
        if not out.exists():
            parent = next((p for p in out.parents if p.exists()), Path("."))
            if not parent.is_dir():
                raise InputError(field, f"{parent} is a file, so {out} cannot be created; give another folder")
            try:
                out.mkdir(parents=True)
            except OSError as e:
                raise InputError(field, f"cannot create {out}: {e.strerror}; give a folder you can write to") from None
            created = True
        else:
            _remove_stale_staging(out)
            if (out / MARKER).exists() and not force:
                raise InputError(
                    field,
                    f"{out} holds an earlier run ({MARKER}); add --force (force=True) to replace it, or give a new folder",
                )
        # The staging folder's name is chosen before it is made, so that a Ctrl-C arriving as it is made can
        # still remove it: the name holds this process's id (`_remove_stale_staging` reads it back), and no
        # other process makes such names.
        staging = None
        try:
            staging = _unused_staging(out)
            staging.mkdir(mode=0o700)
            (staging / ".probe").write_bytes(b"")  # a folder can allow mkdir yet refuse files (quotas, /proc)
            (staging / ".probe").unlink()
        except BaseException as e:  # OSError, or a Ctrl-C while the folder was made: nothing is left behind
            if staging is not None and not isinstance(e, FileExistsError):
                shutil.rmtree(staging, ignore_errors=True)
            if created:
                _rmdir_quietly(out)
            if isinstance(e, OSError):
                msg = f"cannot write in {out}: {e.strerror}; give a folder you can write to"
                raise InputError(field, msg) from None
            raise
        return cls(out, staging, created)

    def commit(self) -> list[Path]:
        """Replace whatever run the folder held by the staged one; the marker moves last. Returns the paths."""
        with self._lock:
            if self._state != "open":
                raise RuntimeError(f"run folder {self.out} was {self._state}; nothing committed")
            placed = self._commit()
            self._state = "committed"
            return placed

    def abandon(self) -> bool:
        """Discard the staged run unless it is already committed (waiting for a commit in progress).

        Returns True when nothing was written, False when the complete run was already in place."""
        with self._lock:
            if self._state == "committed":
                return False
            self._state = "abandoned"
            self.discard()
            return True

    def _commit(self) -> list[Path]:
        names = sorted(p.name for p in self.staging.iterdir())
        if MARKER not in names:
            raise RuntimeError(f"staging folder {self.staging} has no {MARKER}; nothing committed")
        old_marker = self.out / MARKER
        if old_marker.exists():
            old_marker.unlink()  # from here on the folder does not claim to hold a complete run
        for p in self.out.iterdir():
            if p.is_file() and is_output(p.name):
                p.unlink()
        placed = []
        for name in [n for n in names if n != MARKER] + [MARKER]:
            os.replace(self.staging / name, self.out / name)
            placed.append(self.out / name)
        _rmdir_quietly(self.staging)
        return placed

    def discard(self) -> None:
        """Remove the staging folder (and the output folder when this run created it and it is empty).

        An interrupted run's worker thread may still be writing into the staging folder. Removing it in place
        could race with that: a file made between the listing and the last `rmdir` would leave the folder behind.
        So the folder is first renamed, which is atomic: from then on the worker's writes, which name the old
        path, fail instead of landing in it, and the renamed folder is removed with whatever was already open."""
        doomed = self.staging
        with contextlib.suppress(OSError):  # cannot rename (the folder is gone, say): it is removed where it is
            renamed = _unused_staging(self.out, "discarded")
            os.rename(self.staging, renamed)
            doomed = renamed
        shutil.rmtree(doomed, ignore_errors=True)
        if self.created:
            _rmdir_quietly(self.out)


def _unused_staging(out: Path, suffix: str = "") -> Path:
    """A name for a new staging folder in `out`: this process's id and a random part (and `suffix`), not yet
    taken. The id comes first, so that `_remove_stale_staging` can tell whether its process still runs."""
    while True:
        staging = out / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{'-' + suffix if suffix else ''}"
        if not staging.exists():
            return staging


def _remove_stale_staging(out: Path) -> None:
    """Staging folders left by a run that was killed (an interrupted one cleans up) are removed; those of a
    process still running are its own business."""
    for p in out.glob(f"{STAGING_PREFIX}*"):
        pid = p.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if p.is_dir() and not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # an earlier run of this same process that failed to clean up
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _rmdir_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()
