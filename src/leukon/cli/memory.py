"""The memory settings the `leukon` command gives its own process (the library never sets them).

On a virtual machine that hands freed memory back to its host, memory a program frees and asks for again
costs as much as new memory: 1.2-3.1 s per GB to touch on this project's 2-core VM (2026-12), against about
0.1 s for memory the process still holds. The price also grows with what is held at once: on that VM the
first 1.5-3 GB a process held cost 0.5 s a GB, and each further GB 8-9 s (NumPy arrays held 0.5 GB at a time).
The screen therefore lets go of each stage's input as soon as the next stage has its own copy
(`leukon.pipelines.screen._screen_slice`). It also allocates and frees columns of millions of rows stage after
stage, so these settings keep freed memory for the run to reuse:

- `COMMAND_ENV`, set before NumPy and Polars are imported, unless the user set a variable:
  - NumPy's huge-page advice off (`NUMPY_MADVISE_HUGEPAGE=0`). Where transparent huge pages are `madvise` with
    synchronous defragmentation, each fault of a large new array may compact memory first: the pivot's
    scatters spent most of their time in the kernel (`leukon screen` on 10.1 M results, 5 runs each,
    alternating: 13.5 s on average without the advice, 14.2 s with it). Touching 1 GB of NumPy array in a
    fresh process took 6.6-8.1 s in 2 MB pages and 0.5-0.6 s in 4 KB pages (2026-12-04, several runs each).
  - jemalloc's own purge delays for Polars (freed pages kept 10 s), which Polars shortens to 0.5 s and 1 s for
    long-lived programs. A stage of the screen lasts a second or two, so with Polars' delays each stage
    faulted in anew the memory the one before it freed: `leukon screen` on 10.1 M results took 13.0-13.9 s
    against 14.2-16.3 s (3 runs each, alternating), for a peak of 5.1 GB against 4.4 GB.

glibc's allocator, which NumPy uses, unmaps each large array when it is freed. Holding freed blocks instead
(`mallopt`: no mappings of their own, no trimming, one heap for all threads) made the pivot 0.25 s faster on
10.1 M results but the whole command no faster beyond the machine's spread, for 0.4 GB more at the peak:
not kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

#: variable -> (the library that reads it when imported, value).
COMMAND_ENV: dict[str, tuple[str, str]] = {
    "NUMPY_MADVISE_HUGEPAGE": ("numpy", "0"),
    "_RJEM_MALLOC_CONF": ("polars", "dirty_decay_ms:10000,muzzy_decay_ms:0"),
}


def set_command_env() -> None:
    """Set `COMMAND_ENV` in this process where the user did not, for libraries not yet imported."""
    for name, (library, value) in COMMAND_ENV.items():
        if library not in sys.modules:  # read once, when the library is imported; a value the user set is kept
            os.environ.setdefault(name, value)


def command_env(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with `COMMAND_ENV` added where it does not set a variable: for a child process that should run
    as the command runs itself (the benchmarks). Pass the environment as it was before Polars was imported,
    since importing Polars sets `_RJEM_MALLOC_CONF` to its own delays."""
    return {name: value for name, (_, value) in COMMAND_ENV.items()} | dict(environ)
