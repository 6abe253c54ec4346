"""Files the commands write: whole or not at all.

A file is written under a temporary name beside its final one and renamed when complete (a rename within
a folder is atomic), so Ctrl-C, a full disk or a crash never leaves a truncated report, chart or cohort
that looks finished; "interrupted, nothing written" stays true. The `screen` folder of many files has
its own, stronger protocol (`leukon.pipelines.run_folder`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from leukon.errors import InputError

PARTIAL = ".leukon-partial-"


@contextmanager
def written_whole(path: str | Path, *, field: str = "--out") -> Iterator[Path]:
    """A temporary path beside `path` (same suffix) to write to; renamed to `path` when the block succeeds.

    An OSError (a folder that does not exist or cannot be written) becomes a one-line InputError naming
    `field`."""
    path = Path(path)
    if path.is_dir():
        raise InputError(field, f"{path} is a folder; give a file name")
    tmp = path.with_name(f"{PARTIAL}{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise InputError(field, f"cannot write {path}: {e.strerror or e}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
