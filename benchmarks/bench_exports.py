"""Reading lab exports as they come, against a clean long CSV of the same results, in the same process.

Writes N results three ways: a clean long CSV (LOINC codes, numbers, LLN/ULN columns: the baseline), an
export-shaped CSV (the names a LIS prints, "x10E3/uL", a "Reference Range" string, one result in twenty
censored as "<0.1" and one in ten flagged "L"), and the same export with decimal commas and semicolons
(a German LIS). Each is read and collected (measurements and rejects); the ratios say what reading names,
range strings, censored cells and decimal commas costs over the clean path.
Run: .venv/bin/python benchmarks/bench_exports.py [--results 300000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from leukon.sources import read

#: (LOINC, export name, typical value, range) for the four results of each CBC.
TESTS = (("6690-2", "WBC Count", 4.6, (3.4, 10.8)), ("751-8", "Neutrophils (Absolute)", 2.1, (1.4, 7.0)),
         ("731-0", "Lymphs (Absolute)", 1.5, (0.7, 3.1)), ("777-3", "Platelets", 250.0, (150.0, 450.0)))  # fmt: skip


def write(folder: Path, n: int) -> dict[str, tuple[Path, dict]]:
    rng = random.Random(0)
    clean, export, german = folder / "clean.csv", folder / "export.csv", folder / "export_de.csv"
    with clean.open("w") as c, export.open("w") as e, german.open("w") as g:
        c.write("patient_id,specimen_id,taken_at,analyte,value,unit,lln,uln\n")
        e.write("PAT_MRN_ID,ORDER_PROC_ID,SPECIMN_TAKEN_TIME,COMPONENT_NAME,ORD_VALUE,REFERENCE_UNIT,Reference Range\n")
        g.write("Patienten-ID;Auftrag;Entnahmezeit;Untersuchung;Ergebnis;Einheit;Referenzbereich\n")
        for i in range(n):
            loinc, name, typical, (lo, hi) = TESTS[i % len(TESTS)]
            spec, pid, when = i // len(TESTS), f"P{i // 40}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} 08:00:00"
            v = round(typical * rng.uniform(0.2, 1.6), 2)
            shown = "<0.1" if rng.random() < 0.05 else (f"{v} L" if rng.random() < 0.1 else f"{v}")
            c.write(f"{pid},{spec},{when},{loinc},{v},10^3/uL,{lo},{hi}\n")
            e.write(f"{pid},{spec},{when},{name},{shown},x10E3/uL,{lo} - {hi}\n")
            de = shown.replace(".", ",")
            g.write(f"{pid};{spec};{when};{name};{de};G/l;{str(lo).replace('.', ',')}-{str(hi).replace('.', ',')}\n")
    return {
        "clean long CSV (baseline)": (clean, {}),
        "export: names, range strings, <0.1, flags": (export, {}),
        "export, decimal commas (detected)": (german, {}),
    }


def cost(path: Path, options: dict, repeat: int) -> tuple[float, float, int]:
    """Best wall and CPU seconds over `repeat` reads, and the measurement count."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        m, r = read(path, **options).collect()
        wall, cpu = min(wall, time.perf_counter() - w), min(cpu, time.process_time() - c)
    assert r.height == 0, r["reason"].unique().to_list()[:3]  # every row of these files is readable
    return wall, cpu, m.height


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files = write(Path(tmp), args.results)
        rows = {name: cost(path, opts, args.repeat) for name, (path, opts) in files.items()}
    base_wall, base_cpu, _ = next(iter(rows.values()))
    print(f"{args.results:,} results, best of {args.repeat}; ratios against the clean long CSV read in this process")
    print(f"{'input':45s} {'wall x':>8s} {'cpu x':>8s} {'results':>10s}")
    for name, (wall, cpu, n) in rows.items():
        print(f"{name:45s} {wall / base_wall:8.2f} {cpu / base_cpu:8.2f} {n:10,}")


if __name__ == "__main__":
    main()
