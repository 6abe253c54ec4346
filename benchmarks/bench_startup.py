"""Start-up: `import leukon` and a cold `leukon assess`, each a fresh process, against `python -c pass`.

hyperfine-style: every command runs --runs times, interleaved (one of each per round, so load on a shared
machine falls on all alike), after --warmup rounds. Each row prints the median wall time, the median CPU time
of the child (user + sys, less sensitive to other work on the machine) and both as ratios to `python -c pass`
in the same run. Goals (issue 15): `import leukon` <= 0.2 s, `leukon assess --wbc 2 --anc 0.7` <= 0.3 s.

Bytecode: an installed package runs from cached .pyc files, so by default the children get a private
PYTHONPYCACHEPREFIX (filled by the warm-up) and PYTHONDONTWRITEBYTECODE unset; --no-bytecode measures with
every module compiled from source on each start, as a checkout with PYTHONDONTWRITEBYTECODE=1 runs.

Run: .venv/bin/python benchmarks/bench_startup.py [--runs 30] [--warmup 3] [--no-bytecode]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable
CLI = str(Path(PY).with_name("leukon"))  # the installed console script, as a person types it

#: (label, argv); the first row is the floor every ratio is taken against.
COMMANDS: list[tuple[str, list[str]]] = [
    ("python -c pass (floor)", [PY, "-c", "pass"]),
    ("python -c 'import leukon'", [PY, "-c", "import leukon"]),
    ("python: leukon.assess(wbc=2, anc=0.7)", [PY, "-c", "import leukon; leukon.assess(wbc=2, anc=0.7)"]),
    ("leukon assess --wbc 2 --anc 0.7", [CLI, "assess", "--wbc", "2", "--anc", "0.7"]),
    ("leukon assess --wbc 2 --anc 0.7 --json", [CLI, "assess", "--wbc", "2", "--anc", "0.7", "--json"]),
    ("leukon grade ... (ctcae-v5 ANC 0.7)", [CLI, "grade", "--scheme", "ctcae-v5", "--term",
                                              "Neutrophil count decreased", "--value", "0.7", "--unit", "10^9/L"]),
    ("python -c 'import polars' (reference)", [PY, "-c", "import polars"]),
    ("python -c 'import leukon; leukon.screen' ", [PY, "-c", "import leukon; leukon.screen"]),
]  # fmt: skip

GOALS = {"python -c 'import leukon'": 0.2, "leukon assess --wbc 2 --anc 0.7": 0.3}


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one run; output discarded, a failure stops the benchmark."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{argv!r} exited {p.returncode}: {p.stderr.read().decode()[-500:]}")
    p.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--no-bytecode", action="store_true", help="compile every module from source on each start")
    a = ap.parse_args()
    commands = COMMANDS if Path(CLI).exists() else [c for c in COMMANDS if c[1][0] == PY]
    with tempfile.TemporaryDirectory(prefix="leukon-pyc-") as cache:
        env = dict(os.environ)
        if a.no_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPYCACHEPREFIX", None)
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = cache
        for _ in range(a.warmup):
            for _, argv in commands:
                run_once(argv, env)
        walls: dict[str, list[float]] = {label: [] for label, _ in commands}
        cpus: dict[str, list[float]] = {label: [] for label, _ in commands}
        for _ in range(a.runs):
            for label, argv in commands:
                w, c = run_once(argv, env)
                walls[label].append(w)
                cpus[label].append(c)
    med = statistics.median
    floor_w, floor_c = med(walls[commands[0][0]]), med(cpus[commands[0][0]])
    print(f"{a.runs} runs each, interleaved; bytecode {'off' if a.no_bytecode else 'cached'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    print(f"{'command':<44}{'wall ms':>9}{'min ms':>8}{'x floor':>9}{'cpu ms':>8}{'x floor':>9}{'goal':>8}")
    for label, _ in commands:
        w, c = med(walls[label]), med(cpus[label])
        goal = GOALS.get(label)
        verdict = "" if goal is None else (f"<={goal:.1f}s " + ("ok" if w <= goal else "NO"))
        print(f"{label:<44}{w * 1000:>9.0f}{min(walls[label]) * 1000:>8.0f}{w / floor_w:>8.1f}x"
              f"{c * 1000:>8.0f}{c / floor_c:>8.1f}x{verdict:>12}")  # fmt: skip
    print("leukon's own start-up = a row minus the floor; wall is the median, min the best run")


if __name__ == "__main__":
    main()
