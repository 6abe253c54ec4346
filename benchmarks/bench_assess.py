"""Single-CBC `assess` latency, against a hand-written baseline measured in the same process.

The baseline is what a person would write for the core rule alone: CTCAE v5 grades for WBC and ANC as an
if-chain, with no units, ranges, other schemes or findings. The ratio says what the full assessment costs
over that floor. Run: .venv/bin/python benchmarks/bench_assess.py [--n 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time

import leukon

CASES = [
    {"wbc": 2.0, "anc": 0.7, "age_years": 56},
    {"wbc": (3100, "/uL"), "neutrophils_pct": 20, "bands_pct": 5, "lymphocytes_pct": 60, "age_years": 34},
    {"wbc": 3.2, "anc": 2.1, "lymphocytes": 0.6, "cd4": (180, "cells/uL"), "age_years": 41, "sex": "male"},
    {"wbc": 0.9, "anc": 0.2, "temperature": (101.3, "°F"), "age_years": 63},
    {"wbc": 6.4, "anc": 3.6, "lymphocytes": 2.0, "hemoglobin": 14.1, "platelets": 250, "age_years": 45},
]


def baseline(wbc: float, anc: float, lln_wbc: float = 4.0, lln_anc: float = 1.5) -> tuple[int, int]:
    def g(v, lln, t2, t3, t4):
        return 4 if v < t4 else 3 if v < t3 else 2 if v < t2 else 1 if v < lln else 0

    return g(wbc, lln_wbc, 3.0, 2.0, 1.0), g(anc, lln_anc, 1.5, 1.0, 0.5)


def timings(fn, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(i)
        out.append((time.perf_counter_ns() - t0) / 1000)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20000)
    n = p.parse_args().n
    for c in CASES:  # warm caches (unit parsing, range look-ups)
        leukon.assess(**c)
    full = timings(lambda i: leukon.assess(**CASES[i % len(CASES)]), n)
    one = timings(lambda i: leukon.grade("ctcae-v5", "Neutrophil count decreased", 0.7, "10^9/L"), n)
    base = timings(lambda i: baseline(2.0 + (i % 3), 0.7), n)
    q = lambda xs, f: statistics.quantiles(xs, n=100)[f - 1]  # noqa: E731
    b50 = q(base, 50)
    print(f"{'path':<38}{'p50 us':>10}{'p95 us':>10}{'p50 / baseline':>16}")
    for name, xs in (
        ("baseline: CTCAE v5 WBC+ANC if-chain", base),
        ("leukon.grade (one term)", one),
        ("leukon.assess (all schemes)", full),
    ):
        print(f"{name:<38}{q(xs, 50):>10.1f}{q(xs, 95):>10.1f}{q(xs, 50) / b50:>15.0f}x")
    print(f"assess p50 = {q(full, 50) / 1000:.3f} ms (goal: under 1 ms in-process)")


if __name__ == "__main__":
    main()
