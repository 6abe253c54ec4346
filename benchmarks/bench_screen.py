"""Screening throughput on one long-format file, against baselines run in the same invocation.

    .venv/bin/python benchmarks/bench_screen.py [--results 10000000] [--keep]

Generates N results with `leukon.synth` (Parquet, realistic codes, units and dirt), then runs each engine
in its own process on that same file (so each one's peak memory is its own) and prints results per second,
ratios and peak memory:

- floor: a bare Polars scan of the file plus the group-by that builds one row a specimen, no rules;
- leukon screen: adapter, units, checks, duplicates, panels, derived counts, ranges, findings, grades
  (CTCAE v5 and clinical), nothing written; then the same with the course (episodes, labels, cyclic test);
- DuckDB SQL: the core rules only (codes and units mapped by small tables, ANC derived with bands,
  CTCAE v5 WBC and neutrophil grades with the LLN), materialised as a table;
- pandas, row-wise: the same core rules as a Python function per specimen, on a 1 % sample, scaled x100;
- sort: the sort by patient and time that the course step needs, for scale.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINES = ("floor", "sort", "leukon", "leukon+course", "duckdb", "pandas")


def generate(path: Path, results: int) -> int:
    import polars as pl

    from leukon import synth

    patients = max(1, round(results / 71.5))  # the synth makes about 71.5 results a patient
    df = synth.cohort(patients, seed=11)
    df = df.with_columns(pl.col("taken_at").str.to_datetime(strict=False, time_unit="us"))
    df.write_parquet(path)
    return df.height


def _maps():
    """Code -> analyte and (analyte, unit) -> factor tables, as a SQL author would write them by hand."""
    import polars as pl

    from leukon.rules.analytes import ANALYTES, code_table
    from leukon.rules.units import parse_unit

    codes = pl.DataFrame(list(code_table().items()), schema=["code", "analyte"], orient="row")
    return codes, lambda analyte, unit: parse_unit(ANALYTES[analyte].dimension, unit) if unit else None


def run_floor(path: str) -> int:
    import polars as pl

    lf = pl.scan_parquet(path)
    codes = lf.select(pl.col("analyte").unique()).collect().to_series().to_list()
    out = lf.group_by("specimen_id").agg(
        pl.col("patient_id").first(),
        pl.col("taken_at").min(),
        *[pl.col("value").filter(pl.col("analyte") == c).first().alias(c) for c in codes],
    )
    return out.collect().height


def run_sort(path: str) -> int:
    import polars as pl

    return pl.scan_parquet(path).sort("patient_id", "taken_at").collect().height


def run_leukon(path: str, course: bool) -> int:
    from leukon.pipelines.screen import screen_source
    from leukon.sources import read

    result = screen_source(read(path, format="long"), course=course)
    return result.panels.height


def run_duckdb(path: str) -> int:
    import duckdb
    import polars as pl

    codes, conv = _maps()
    con = duckdb.connect()
    pairs = con.execute(f"SELECT DISTINCT analyte, unit FROM read_parquet('{path}')").fetchall()
    rows = []
    for code, unit in pairs:
        a = code_table_get(codes, code)
        c = conv(a, unit) if a else None
        if c is not None:
            rows.append((code, unit, a, c.factor))
    units = pl.DataFrame(rows, schema=["code", "unit", "analyte", "factor"], orient="row")
    con.register("units", units.to_arrow())
    n = con.execute(
        f"""
        CREATE TEMP TABLE panels AS
        WITH m AS (
            SELECT r.specimen_id, r.patient_id, r.taken_at, u.analyte,
                   r.value * u.factor AS v, r.lln * u.factor AS lln
            FROM read_parquet('{path}') r JOIN units u ON r.analyte = u.code AND r.unit = u.unit
            WHERE r.value >= 0
        ),
        p AS (
            SELECT specimen_id, any_value(patient_id) AS patient_id, min(taken_at) AS taken_at,
                   max(v) FILTER (WHERE analyte = 'wbc') AS wbc,
                   max(lln) FILTER (WHERE analyte = 'wbc') AS wbc_lln,
                   max(v) FILTER (WHERE analyte = 'anc') AS anc_measured,
                   max(lln) FILTER (WHERE analyte = 'anc') AS anc_lln,
                   max(v) FILTER (WHERE analyte = 'neutrophils_pct') AS neut_pct,
                   max(v) FILTER (WHERE analyte = 'bands_pct') AS bands_pct
            FROM m GROUP BY specimen_id
        ),
        d AS (
            SELECT *, coalesce(anc_measured, wbc * (neut_pct + coalesce(bands_pct, 0)) / 100) AS anc,
                   CASE WHEN anc_measured IS NOT NULL THEN 'measured'
                        WHEN wbc IS NOT NULL AND neut_pct IS NOT NULL AND bands_pct IS NOT NULL THEN 'derived_with_bands'
                        WHEN wbc IS NOT NULL AND neut_pct IS NOT NULL THEN 'derived_without_bands' END AS anc_method
            FROM p
        )
        SELECT *,
            CASE WHEN wbc IS NULL THEN NULL WHEN wbc < 1 THEN 4 WHEN wbc < 2 THEN 3 WHEN wbc < 3 THEN 2
                 WHEN coalesce(wbc_lln, 4.0) IS NULL THEN NULL WHEN wbc < coalesce(wbc_lln, 4.0) THEN 1 ELSE 0 END AS wbc_grade,
            CASE WHEN anc IS NULL THEN NULL WHEN anc < 0.5 THEN 4 WHEN anc < 1 THEN 3 WHEN anc < 1.5 THEN 2
                 WHEN anc < coalesce(anc_lln, 1.5) THEN 1 ELSE 0 END AS anc_grade
        FROM d
        """
    ).fetchall()
    del n
    return con.execute("SELECT count(*) FROM panels").fetchone()[0]


def code_table_get(codes, code):
    hit = codes.filter(codes["code"] == str(code).strip().lower())
    if hit.height:
        return hit["analyte"][0]
    hit = codes.filter(codes["code"] == str(code).strip())
    return hit["analyte"][0] if hit.height else None


def run_pandas(path: str) -> int:
    """Row-wise pandas on a 1 % sample of specimens: what people write today."""
    import pandas as pd
    import polars as pl

    codes, conv = _maps()
    lf = pl.scan_parquet(path)
    sample = lf.filter(pl.col("specimen_id").hash(seed=1) % 100 == 0).collect().to_pandas()
    code_map = dict(zip(codes["code"].to_list(), codes["analyte"].to_list(), strict=True))

    def grade(v, lln, t2, t3, t4):
        if v is None or pd.isna(v):
            return None
        return 4 if v < t4 else 3 if v < t3 else 2 if v < t2 else (1 if lln is not None and v < lln else 0)

    def per_specimen(g: pd.DataFrame) -> pd.Series:
        vals, llns = {}, {}
        for _, row in g.iterrows():
            a = code_map.get(str(row["analyte"]).strip().lower()) or code_map.get(str(row["analyte"]).strip())
            c = conv(a, row["unit"]) if a else None
            if c is None or pd.isna(row["value"]) or row["value"] < 0:
                continue
            vals[a] = row["value"] * c.factor + c.offset
            llns[a] = None if pd.isna(row["lln"]) else row["lln"] * c.factor
        wbc = vals.get("wbc")
        anc = vals.get("anc")
        if anc is None and wbc is not None and "neutrophils_pct" in vals:
            anc = wbc * (vals["neutrophils_pct"] + vals.get("bands_pct", 0.0)) / 100
        return pd.Series({
            "wbc_grade": grade(wbc, llns.get("wbc", 4.0), 3.0, 2.0, 1.0),
            "anc_grade": grade(anc, llns.get("anc", 1.5), 1.5, 1.0, 0.5),
        })  # fmt: skip

    out = sample.groupby("specimen_id").apply(per_specimen)
    return len(out)


def child(engine: str, path: str) -> None:
    t0 = time.perf_counter()
    if engine == "floor":
        n = run_floor(path)
    elif engine == "sort":
        n = run_sort(path)
    elif engine == "leukon":
        n = run_leukon(path, course=False)
    elif engine == "leukon+course":
        n = run_leukon(path, course=True)
    elif engine == "duckdb":
        n = run_duckdb(path)
    else:
        n = run_pandas(path)
    seconds = time.perf_counter() - t0
    if engine == "pandas":
        seconds *= 100  # the sample is 1 % of specimens
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": engine, "seconds": seconds, "out_rows": n, "peak_mb": peak_mb}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=int, default=10_000_000)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--file", help="use this long-format Parquet file instead of generating one")
    p.add_argument("--keep", action="store_true", help="keep the generated file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.file)
        return
    tmp = tempfile.mkdtemp(prefix="leukon-bench-")
    path = Path(args.file) if args.file else Path(tmp) / "results.parquet"
    if not args.file:  # in a child too, so that this process stays small and children's peaks are their own
        t = time.perf_counter()
        code = "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); from bench_screen import generate; generate(Path(sys.argv[2]), int(sys.argv[3]))"
        subprocess.run(
            [sys.executable, "-c", code, str(Path(__file__).parent), str(path), str(args.results)], check=True
        )
        print(f"generated {args.results:,} results in {time.perf_counter() - t:.1f} s -> {path}", flush=True)
    import polars as pl

    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    res = {}
    for engine in args.engines.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--file", str(path)], capture_output=True, text=True
        )
        if out.returncode:
            print(f"{engine}: failed\n{out.stderr[-2000:]}", flush=True)
            continue
        res[engine] = json.loads(out.stdout.strip().splitlines()[-1])
        r = res[engine]
        print(
            f"  {engine:<14} {r['seconds']:8.2f} s  {rows / r['seconds'] / 1e6:7.2f} M results/s  peak {r['peak_mb']:7.0f} MB",
            flush=True,
        )
    floor = res.get("floor", {}).get("seconds")
    print(f"\n{'engine':<16}{'seconds':>9}{'M results/s':>13}{'x floor':>9}{'x duckdb':>10}{'peak MB':>9}")
    for engine, r in res.items():
        xf = r["seconds"] / floor if floor else float("nan")
        xd = r["seconds"] / res["duckdb"]["seconds"] if "duckdb" in res else float("nan")
        print(
            f"{engine:<16}{r['seconds']:>9.2f}{rows / r['seconds'] / 1e6:>13.2f}{xf:>9.2f}{xd:>10.2f}{r['peak_mb']:>9.0f}"
        )
    if "leukon" in res and "leukon+course" in res and "sort" in res:
        extra = res["leukon+course"]["seconds"] - res["leukon"]["seconds"]
        print(
            f"\ncourse (episodes, labels, cyclic) adds {extra:.2f} s = {extra / res['sort']['seconds']:.1f}x the sort by patient and time it needs"
        )
    if not args.keep and not args.file:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
