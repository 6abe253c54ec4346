"""Screening throughput on one long-format file, against baselines run in the same invocation.

    .venv/bin/python benchmarks/bench_screen.py [--results 10000000] [--keep]

Generates N results with `leukon.synth` (Parquet, realistic codes, units and dirt), then runs each engine
in its own process on that same file (so each one's peak memory is its own) and prints results per second,
ratios and peak memory:

- floor: a bare Polars scan of the file plus the group-by that builds one row a specimen, no rules;
- leukon screen: adapter, units, checks, duplicates, panels, derived counts, ranges, findings, grades
  (CTCAE v5 and clinical), nothing written; then the same with the course (episodes, labels, cyclic test);
- DuckDB SQL, like for like (`duckdb_sql`): rejects with reasons (missing patient or time, unknown code, a unit
  that does not fit, missing, negative or implausible values, duplicates), every analyte pivoted with the lab's
  limits, counts derived from the differential (ANC with bands), the range per analyte from a small ranges table
  by age, sex and ancestry, every finding of the rule book (leukopenia ... bicytopenia, pancytopenia, febrile
  neutropenia), CTCAE v5 grades and the clinical severity, materialised as tables. Its finding and reject counts
  are printed beside leukon's, so a difference in the work done shows;
- pandas, row-wise: the same core rules as a Python function per specimen, on a 1 % sample, scaled x100;
- sort: the sort by patient and time that the course step needs, for scale;
- cli: the whole command a user runs, `leukon screen FILE --out DIR` (start-up, screen, course, the five
  tables and summary.json written), for the goal "full CLI <= 3x the floor".

Each engine's "GB touched" is the memory it faulted in (minor page faults x page size), which a machine
charges for whatever the engine computes: before the engines run, a probe times touching new memory in a
fresh process, 0.5 GB at a time while holding the steps before, then 1 GB again after freeing them.
On a virtual machine whose host backs guest memory lazily, new memory can cost ten times as much once a
process holds more than the guest has lately had in use (seen on this project's VM: 0.5 s a GB for the first
1.5-3 GB, then 8-9 s), so an engine's seconds follow the memory it holds at once as much as its GB touched;
the in-process engines also print their seconds and GB touched by stage.

Every engine runs with the memory settings the `leukon` command gives its own process (NumPy's huge-page
advice off, jemalloc's own purge delays for Polars; see `leukon.cli.memory`), the floor and DuckDB
included; `--memory-settings default` keeps the libraries' defaults for all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The environment this benchmark started with: importing Polars later sets its allocator's delays in it.
STARTED_ENV = dict(os.environ)

ENGINES = ("floor", "sort", "leukon", "leukon+course", "cli", "duckdb", "pandas")


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


def touched_gb() -> float:
    """Memory this process has faulted in so far (minor page faults x page size), in GB."""
    import os

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt * os.sysconf("SC_PAGE_SIZE") / 2**30


def run_probe() -> dict:
    """Seconds to touch new memory 0.5 GB at a time, each step kept while the next is touched (PROBE_STEPS
    steps), then 1 GB again after all was freed: the machine's price for memory an engine touches for the
    first time, and how it grows with the memory held."""
    import numpy as np

    held, steps = [], []
    for _ in range(PROBE_STEPS):
        t = time.perf_counter()
        held.append(np.ones(2**26))  # 0.5 GB of float64, every page written
        steps.append(time.perf_counter() - t)
    held.clear()
    t = time.perf_counter()
    a = np.ones(2**27)
    again = time.perf_counter() - t
    del a
    return {"steps": steps, "again": again}


#: Steps of 0.5 GB in the memory probe: 2.5 GB, about the floor's peak.
PROBE_STEPS = 5


def _touched_by_stage() -> dict:
    """GB touched in each stage of leukon's run, from the screen's own stage clock (filled as the run goes)."""
    from leukon.pipelines import screen

    by_stage, last = {}, [touched_gb()]
    lap = screen.StageClock._lap

    def counted(self) -> None:
        now = touched_gb()
        if self.stage is not None:
            by_stage[self.stage] = by_stage.get(self.stage, 0.0) + now - last[0]
        last[0] = now
        lap(self)

    screen.StageClock._lap = counted
    return by_stage


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

    touched = _touched_by_stage()
    result = screen_source(read(path, format="long"), course=course)
    counts = dict(result.summary.get("findings", {}))
    counts["(rejected rows)"] = result.summary["rows_rejected"]
    counts["(duplicate rows)"] = sum(n for k, n in result.summary["rejected_by_reason"].items() if "duplicate" in k)
    counts["(stages)"] = result.summary["stage_seconds"]  # seconds by stage, timed inside this process
    counts["(touched)"] = touched
    return result.panels.height, counts


def run_cli(path: str) -> tuple[int, dict]:
    """`leukon screen FILE --out DIR`, in this process, with its outputs written (and then removed)."""
    import contextlib
    import io
    import shutil

    import leukon.cli.screen as command
    from leukon.cli.app import main

    seen = {"touched": _touched_by_stage()}
    shown = command.print_summary

    def keep(result, *args, **kwargs):  # the run's result, for its seconds by stage (not in summary.json)
        seen["stages"] = result.summary.get("stage_seconds")
        return shown(result, *args, **kwargs)

    command.print_summary = keep
    out = Path(tempfile.mkdtemp(prefix="leukon-bench-out-"))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(["screen", path, "--out", str(out), "--force", "--chunks", "1"])
        if code:
            raise SystemExit(f"leukon screen exited {code}")
        summary = json.loads((out / "summary.json").read_text())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return summary["specimens"], {"(stages)": seen.get("stages"), "(touched)": seen["touched"]}


def _sql_tables(pairs: list[tuple]) -> dict[str, list[tuple]]:
    """The small tables a SQL author keeps beside the query, filled from leukon's catalogue so both engines read
    the same codes, units, plausible limits and reference ranges:

    - units: one row per distinct (code, unit) in the file -> analyte, factor, offset, limits, or the reason the
      row is rejected (unknown code, a unit that does not fit the analyte);
    - ranges: the default profile's rows (analyte, sex, ancestry, age band, LLN, ULN) with a priority (the row
      naming the ancestry, then the sex, then the narrower age band wins, as in leukon.rules.book.profile_row).
    """
    from leukon.rules import criteria
    from leukon.rules.analytes import ANALYTES
    from leukon.rules.units import DIMENSION_NAMES, parse_unit
    from leukon.sources.mapping import resolve

    units = []
    for code, unit in pairs:
        if code is None or not str(code).strip():
            units.append((code, unit or "", None, None, None, None, None, None, None, "missing analyte code"))
            continue
        hit = resolve(code, unit)
        a = ANALYTES.get(hit.analyte) if hit.analyte else None
        if a is None:
            units.append(
                (code, unit or "", None, None, None, None, None, None, None, hit.reason or "unknown analyte code")
            )
            continue
        u = hit.unit if hit.unit else ("%" if a.dimension == "fraction" else None)
        conv = parse_unit(a.dimension, u) if u else None
        reason = (
            None
            if conv
            else (f"unit {u!r} is not a {DIMENSION_NAMES[a.dimension]} for {a.id}" if u else "missing unit")
        )
        units.append((code, unit or "", a.id, list(ANALYTES).index(a.id), conv.factor if conv else None, conv.offset if conv else None,
                      a.plausible_min, a.plausible_max, a.dimension == "fraction", reason))  # fmt: skip
    ranges = []
    rows = [r for r in criteria.RANGES if r.profile == criteria.DEFAULT_PROFILE]
    order = sorted(range(len(rows)), key=lambda i: (rows[i].ancestry == "any", rows[i].sex == "any",
                                                    rows[i].age.span_days(), i))  # fmt: skip
    for priority, i in enumerate(order):
        r, age = rows[i], rows[i].age
        if age.needs_hours:  # hour-of-life rows need the age in hours, which a lab table does not give
            continue
        ranges.append((r.analyte, r.sex, r.ancestry, age.min_days, age.max_days, age.min_years, age.max_years,
                       r.lln, r.uln, priority))  # fmt: skip
    return {"units": units, "ranges": ranges}


def duckdb_sql(path: str) -> str:
    """The like-for-like query, generated from leukon's catalogue and schemes (as mimic-code generates its
    dialects): every analyte pivoted with the lab's limits, counts derived from the differential (ANC with bands),
    the range per analyte from the ranges table by age, sex and ancestry, the findings of the rule book
    (leukon.rules.book.finding_conditions), CTCAE v5 grades and the clinical neutropenia severity, and rejects.
    Not done here, and done by leukon: warnings and not-assessed notes with their reasons, a reason per grade,
    censored values ("<0.5"), lab limits on another scale than the value, ages in hours of life."""
    from leukon.rules import book, criteria
    from leukon.rules.analytes import ABSOLUTE, ANALYTES, PERCENT, WHITE_LINES
    from leukon.rules.units import SIGNIFICANT_DIGITS
    from leukon.sources.base import _SEX

    names = list(ANALYTES)
    # One struct per analyte and specimen (fewer aggregates than one per value and limit: DuckDB pays per
    # aggregate); a bit per analyte flags the few specimens with a repeated result, resolved apart (`repeats`).
    pivot = ",\n".join(
        f"any_value(struct_pack(v := v, lln := lab_lln, uln := lab_uln)) FILTER (WHERE analyte = '{a}') AS {a}_s"
        for a in names
    )
    # a repeat with the same value keeps the first (the repeat is a duplicate); different values keep none
    values = ", ".join(
        f"CASE WHEN list_contains(r.conflicts, '{a}') THEN NULL ELSE {a}_s.v END AS {a}, "
        f"{a}_s.lln AS {a}_lab_lln, {a}_s.uln AS {a}_lab_uln"
        for a in names
    )
    female = ", ".join(f"'{k}'" for k, v in _SEX.items() if v == "female")
    male = ", ".join(f"'{k}'" for k, v in _SEX.items() if v == "male")
    derive = []
    for line in WHITE_LINES:
        a, pct = ABSOLUTE[line], PERCENT[line]
        can = f"({a} IS NULL AND wbc IS NOT NULL AND {pct} IS NOT NULL)"
        if line == "neutrophils":
            derive.append(
                f"CASE WHEN {a} IS NOT NULL THEN {a} WHEN {can} AND bands_pct IS NOT NULL THEN tidy(wbc * ({pct} + bands_pct) / 100)"
                f" WHEN {can} AND bands IS NOT NULL THEN tidy(wbc * {pct} / 100 + bands) WHEN {can} THEN tidy(wbc * {pct} / 100) END AS {a}_d, "
                f"CASE WHEN {a} IS NOT NULL THEN 'measured' WHEN {can} AND (bands_pct IS NOT NULL OR bands IS NOT NULL)"
                f" THEN 'derived_with_bands' WHEN {can} THEN 'derived_without_bands' END AS {a}_method"
            )  # fmt: skip
        else:
            derive.append(
                f"CASE WHEN {a} IS NOT NULL THEN {a} WHEN {can} THEN tidy(wbc * {pct} / 100) END AS {a}_d, "
                f"CASE WHEN {a} IS NOT NULL THEN 'measured' WHEN {can} THEN 'derived' END AS {a}_method"
            )
    derived = {ABSOLUTE[line] for line in WHITE_LINES}
    replace = ", ".join(f"{a}_d AS {a}" for a in sorted(derived))
    wide_ranges = ", ".join(f"any_value(r) FILTER (WHERE analyte = '{a}') AS {a}_p" for a in names)
    limits = ", ".join(
        f"coalesce({a}_lab_lln, w.{a}_p.lln) AS {a}_lln, coalesce({a}_lab_uln, w.{a}_p.uln) AS {a}_uln, "
        f"CASE WHEN {a}_lab_lln IS NOT NULL OR {a}_lab_uln IS NOT NULL THEN 'lab'"
        f" WHEN w.{a}_p.lln IS NOT NULL OR w.{a}_p.uln IS NOT NULL THEN 'profile' END AS {a}_range"
        for a in names
    )
    # Ages past the last day limit of the ranges table differ only in whole years: the distinct demographics
    # (a few hundred) pick their rows, not each of the panels.
    tables = _sql_tables([])
    day_cap = 1 + max(d for r in tables["ranges"] for d in (r[3], r[4]) if d is not None)

    def low(a: str) -> str:
        return f"coalesce({a} < {a}_lln, false)"

    def not_low(a: str) -> str:
        return f"coalesce({a} >= {a}_lln, false)"

    possible = "NOT coalesce(anc > wbc, false)"  # an ANC above the WBC: no conclusion on the white cells
    f = {code: low(a) for a, code in book.LOW_FINDINGS.items()}
    f["leukopenia"], f["neutropenia"] = f"({low('wbc')} AND {possible})", f"({low('anc')} AND {possible})"
    f["agranulocytosis"] = f"(coalesce(anc < {book.AGRANULOCYTOSIS_BELOW}, false) AND {possible})"
    f["left_shift"] = "(coalesce(bands > bands_uln, false) OR coalesce(bands_pct > bands_pct_uln, false))"
    f["leukocytosis"] = "coalesce(wbc > wbc_uln, false)"
    fever = criteria.scheme("ctcae-v5").term("Febrile neutropenia").fever
    # met or possible (leukon.rules.book.fever_any): a fever at the sustained threshold whose duration is unknown
    f["febrile_neutropenia"] = (
        f"coalesce(anc {fever.anc_op} {fever.anc_bound} AND temperature {fever.sustained_op} {fever.sustained_c}, false)"
    )
    base = ", ".join(f"{cond} AS f_{code}" for code, cond in f.items())
    # patterns of the findings above, read from their columns
    lines = [" OR ".join(f"f_{c}" for c in codes) for _, codes, _ in book.CELL_LINES]
    n_low = " + ".join(f"({x})::INT" for x in lines)
    pattern = {
        "neutropenia_without_leukopenia": f"f_neutropenia AND {not_low('wbc')}",
        "leukopenia_without_neutropenia": f"f_leukopenia AND {not_low('anc')}",
        "pancytopenia": f"({n_low}) = 3",
        "bicytopenia": f"({n_low}) = 2",
    }
    order = [c for c in book.FINDING_LABELS if c in f or c in pattern]
    findings = ", ".join(f"CASE WHEN {pattern.get(c, f'f_{c}')} THEN '{c}' END" for c in order)

    def grade(term) -> str:
        v = term.analyte
        out = f"CASE WHEN {v} IS NULL THEN NULL"
        for r in term.bands[0].rules:
            bound = f"{v}_lln" if r.bound == "LLN" else (f"{v}_uln" if r.bound == "ULN" else repr(r.bound))
            if isinstance(r.bound, str):
                out += f" WHEN {bound} IS NULL THEN NULL"
            out += f" WHEN {v} {r.op} {bound} THEN {r.grade if r.label is None else repr(r.label)}"
        return out + (" ELSE 0 END" if term.bands[0].rules[-1].label is None else " END")

    ctcae = criteria.scheme("ctcae-v5")
    grades = ", ".join(
        f"{grade(ctcae.term(t))} AS g_{i}"
        for i, t in enumerate(ctcae.terms)
        if ctcae.term(t).fever is None and len(ctcae.term(t).bands) == 1
    )
    severity = criteria.scheme("clinical").term("Neutropenia severity")
    sev = grade(severity).replace("CASE WHEN anc IS NULL THEN NULL", "CASE WHEN NOT f_neutropenia THEN NULL")
    sev = sev[: -len(" END")] + f" ELSE '{book.severity_labels()[-2]}' END"
    return f"""
CREATE MACRO tidy(x) AS CASE WHEN x IS NULL OR x = 0 OR isinf(x) OR isnan(x) THEN x
                             ELSE round(x, {SIGNIFICANT_DIGITS - 1} - floor(log10(abs(x)))::INT) END;
CREATE MACRO canon(x, factor, off) AS CASE WHEN factor = 1 AND off = 0 THEN x ELSE tidy(x * factor + off) END;

CREATE TEMP TABLE checked AS
SELECT r.file_row_number AS source_row, r.patient_id, r.specimen_id, r.taken_at, r.sex, r.birth_date, r.ancestry,
       u.analyte, u.idx, canon(r.value, u.factor, u."offset") AS v,
       CASE WHEN r.lln >= 0 THEN canon(r.lln, u.factor, u."offset") END AS lab_lln,
       CASE WHEN r.uln >= 0 THEN canon(r.uln, u.factor, u."offset") END AS lab_uln,
       CASE WHEN r.patient_id IS NULL OR r.patient_id = '' THEN 'missing patient id'
            WHEN r.taken_at IS NULL THEN 'missing time'
            WHEN u.factor IS NULL THEN coalesce(u.reason, 'unknown analyte code')
            WHEN r.value IS NULL OR isnan(r.value) THEN 'missing value'
            WHEN isinf(r.value) THEN 'infinite value'
            WHEN r.value < 0 THEN 'negative value'
            WHEN u.is_fraction AND v > 100 THEN 'percentage over 100'
            WHEN v > u.plausible_max THEN 'implausible, too high'
            WHEN v < u.plausible_min THEN 'implausible, too low' END AS reason
FROM read_parquet('{path}', file_row_number = true) r
LEFT JOIN units u ON u.code = r.analyte AND u.unit = coalesce(r.unit, '');

CREATE TEMP TABLE rejects AS SELECT source_row, reason FROM checked WHERE reason IS NOT NULL;

CREATE TEMP TABLE p AS
SELECT patient_id, specimen_id, CASE WHEN specimen_id IS NULL THEN taken_at END AS tkey, min(taken_at) AS taken_at,
       count(*) AS n_results, bit_or(1::UBIGINT << idx) AS mask,
       any_value(sex) AS sex_raw, any_value(birth_date) AS birth_date, any_value(ancestry) AS ancestry_raw,
       {pivot}
FROM checked WHERE reason IS NULL
GROUP BY ALL;

CREATE TEMP TABLE repeats AS
SELECT patient_id, specimen_id, tkey, list(analyte) FILTER (WHERE conflict) AS conflicts,
       sum(CASE WHEN conflict THEN n ELSE n - 1 END) AS n_duplicates
FROM (
    SELECT c.patient_id, c.specimen_id, CASE WHEN c.specimen_id IS NULL THEN c.taken_at END AS tkey, c.analyte,
           count(*) AS n, min(c.v) <> max(c.v) AS conflict
    FROM checked c SEMI JOIN (SELECT * FROM p WHERE n_results > bit_count(mask)) f
      ON c.patient_id = f.patient_id AND c.specimen_id IS NOT DISTINCT FROM f.specimen_id
     AND (CASE WHEN c.specimen_id IS NULL THEN c.taken_at END) IS NOT DISTINCT FROM f.tkey
    WHERE c.reason IS NULL
    GROUP BY ALL HAVING count(*) > 1
)
GROUP BY ALL;

CREATE TEMP TABLE panels AS
WITH v AS (
    SELECT p.patient_id, p.specimen_id, p.taken_at, n_results, {values}, coalesce(r.n_duplicates, 0) AS n_duplicates,
           CASE WHEN lower(sex_raw) IN ({female}) THEN 'female' WHEN lower(sex_raw) IN ({male}) THEN 'male' END AS sex,
           lower(ancestry_raw) AS ancestry,
           CASE WHEN date_diff('day', birth_date, taken_at::DATE) >= 0 THEN date_diff('day', birth_date, taken_at::DATE) END AS age_days
    FROM p LEFT JOIN repeats r ON r.patient_id = p.patient_id AND r.specimen_id IS NOT DISTINCT FROM p.specimen_id
     AND r.tkey IS NOT DISTINCT FROM p.tkey
),
d AS (
    SELECT * REPLACE ({replace}),
           least(coalesce(age_days, {book.ADULT_AGE_DAYS}), {day_cap}) AS age_key,
           floor(coalesce(age_days, {book.ADULT_AGE_DAYS}) / {book.DAYS_PER_YEAR})::INT AS age_years
    FROM (SELECT *, {", ".join(derive)} FROM v)
),
demo AS (SELECT DISTINCT age_key, age_years, sex, ancestry FROM d),
picked AS (
    SELECT demo.*, r.analyte, arg_min(struct_pack(lln := r.lln, uln := r.uln), r.priority) AS r
    FROM demo JOIN ranges r
      ON (r.min_days IS NULL OR age_key >= r.min_days) AND (r.max_days IS NULL OR age_key <= r.max_days)
     AND (r.min_years IS NULL OR age_years >= r.min_years) AND (r.max_years IS NULL OR age_years <= r.max_years)
     AND (r.sex = 'any' OR r.sex = demo.sex) AND (r.ancestry = 'any' OR r.ancestry = demo.ancestry)
    GROUP BY ALL
),
wide AS (SELECT age_key, age_years, sex, ancestry, {wide_ranges} FROM picked GROUP BY ALL),
l AS (
    SELECT d.* EXCLUDE ({", ".join(f"{a}_lab_lln, {a}_lab_uln" for a in names)}), {limits}
    FROM d LEFT JOIN wide w ON w.age_key = d.age_key AND w.age_years = d.age_years
     AND w.sex IS NOT DISTINCT FROM d.sex AND w.ancestry IS NOT DISTINCT FROM d.ancestry
),
fx AS (SELECT *, {base} FROM l)
SELECT * EXCLUDE ({", ".join(f"f_{c}" for c in f)}),
       list_filter([{findings}], lambda x: x IS NOT NULL) AS findings,
       {sev} AS neutropenia_severity, {grades}
FROM fx;
"""


def run_duckdb(path: str) -> tuple[int, dict]:
    """The like-for-like DuckDB query (`duckdb_sql`): panels and rejects materialised as tables."""
    import duckdb

    con = duckdb.connect()
    pairs = con.execute(f"SELECT DISTINCT analyte, unit FROM read_parquet('{path}')").fetchall()
    tables = _sql_tables(pairs)
    con.execute(
        'CREATE TEMP TABLE units (code VARCHAR, unit VARCHAR, analyte VARCHAR, idx INT, factor DOUBLE, "offset" DOUBLE,'
        " plausible_min DOUBLE, plausible_max DOUBLE, is_fraction BOOLEAN, reason VARCHAR)"
    )
    con.executemany("INSERT INTO units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tables["units"])
    con.execute(
        "CREATE TEMP TABLE ranges (analyte VARCHAR, sex VARCHAR, ancestry VARCHAR, min_days INT, max_days INT,"
        " min_years INT, max_years INT, lln DOUBLE, uln DOUBLE, priority INT)"
    )
    con.executemany("INSERT INTO ranges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tables["ranges"])
    con.execute(duckdb_sql(path))
    n = con.execute("SELECT count(*) FROM panels").fetchone()[0]
    counts = dict(
        con.execute("SELECT f, count(*) FROM (SELECT unnest(findings) AS f FROM panels) GROUP BY f").fetchall()
    )
    counts["(rejected rows)"] = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
    counts["(duplicate rows)"] = con.execute("SELECT sum(n_duplicates) FROM panels").fetchone()[0]
    counts["(rejected rows)"] += counts["(duplicate rows)"]
    return n, counts


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
    if engine == "probe":
        print(json.dumps(run_probe()))
        return
    t0 = time.perf_counter()
    if engine == "floor":
        n = run_floor(path)
    elif engine == "sort":
        n = run_sort(path)
    elif engine == "leukon":
        n = run_leukon(path, course=False)
    elif engine == "leukon+course":
        n = run_leukon(path, course=True)
    elif engine == "cli":
        n = run_cli(path)
    elif engine == "duckdb":
        n = run_duckdb(path)
    else:
        n = run_pandas(path)
    seconds = time.perf_counter() - t0
    n, counts = n if isinstance(n, tuple) else (n, None)
    if engine == "pandas":
        seconds *= 100  # the sample is 1 % of specimens
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"engine": engine, "seconds": seconds, "out_rows": n, "peak_mb": peak_mb, "counts": counts,
                      "touched_gb": touched_gb()}))  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=int, default=10_000_000)
    p.add_argument("--engines", default=",".join(ENGINES))
    p.add_argument("--file", help="use this long-format Parquet file instead of generating one")
    p.add_argument("--keep", action="store_true", help="keep the generated file")
    p.add_argument(
        "--memory-settings",
        choices=("command", "default"),
        default="command",
        help="in every engine's process: the settings the leukon command gives itself (NumPy's huge-page advice "
        "off, jemalloc's purge delays) or the libraries' defaults",
    )
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
    env = dict(STARTED_ENV)
    if args.memory_settings == "command":  # the same for every engine (the floor uses Polars too)
        from leukon.cli.memory import command_env

        env = command_env(env)
    shown = ("NUMPY_MADVISE_HUGEPAGE", "_RJEM_MALLOC_CONF")
    print(" ".join(f"{k}={env.get(k, '(default)')}" for k in shown), "in every engine", flush=True)
    # In the engines' environment: with NumPy's huge-page advice on, the probe would time 2 MB pages, which this
    # project's VM prices very differently from the 4 KB pages the engines get (7-8 s against 0.5 s a GB).
    probe = subprocess.run(
        [sys.executable, __file__, "--child", "probe"], capture_output=True, text=True, check=True, env=env
    )
    probe = json.loads(probe.stdout)
    print(
        "this machine: new memory took " + ", ".join(f"{s:.2f}" for s in probe["steps"])
        + f" s for each 0.5 GB, held one after another, in a fresh process; then {probe['again']:.2f} s for 1 GB"
        " after freeing them",
        flush=True,
    )  # fmt: skip
    res = {}
    for engine in args.engines.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--child", engine, "--file", str(path)], capture_output=True, text=True, env=env
        )
        if out.returncode:
            print(f"{engine}: failed\n{out.stderr[-2000:]}", flush=True)
            continue
        res[engine] = json.loads(out.stdout.strip().splitlines()[-1])
        r = res[engine]
        print(
            f"  {engine:<14} {r['seconds']:8.2f} s  {rows / r['seconds'] / 1e6:7.2f} M results/s  peak {r['peak_mb']:7.0f} MB"
            f"  touched {r['touched_gb']:5.1f} GB",
            flush=True,
        )
    floor = res.get("floor", {}).get("seconds")
    print(
        f"\n{'engine':<16}{'seconds':>9}{'M results/s':>13}{'x floor':>9}{'x duckdb':>10}{'peak MB':>9}{'GB touched':>12}"
    )
    for engine, r in res.items():
        xf = r["seconds"] / floor if floor else float("nan")
        xd = r["seconds"] / res["duckdb"]["seconds"] if "duckdb" in res else float("nan")
        print(
            f"{engine:<16}{r['seconds']:>9.2f}{rows / r['seconds'] / 1e6:>13.2f}{xf:>9.2f}{xd:>10.2f}{r['peak_mb']:>9.0f}"
            f"{r['touched_gb']:>12.1f}"
        )
    engines = ("leukon", "leukon+course", "cli")
    stages = {e: (res[e].get("counts") or {}).pop("(stages)", None) for e in engines if e in res}
    touched = {e: (res[e].get("counts") or {}).pop("(touched)", None) or {} for e in engines if e in res}
    for engine, by_stage in stages.items():
        if by_stage:  # where the time goes, timed inside the engine's process (start-up is the rest of its seconds)
            shown = ", ".join(f"{k} {v:.2f} ({touched[engine].get(k, 0):.1f} GB)" for k, v in by_stage.items())
            print(
                f"\n{engine} by stage, s (GB touched): {shown}; start-up and the rest"
                f" {res[engine]['seconds'] - sum(by_stage.values()):.2f}"
            )
    if "leukon" in res and "leukon+course" in res and "sort" in res:
        extra = res["leukon+course"]["seconds"] - res["leukon"]["seconds"]
        stage = (stages.get("leukon+course") or {}).get("course")
        print(
            f"\ncourse (episodes, labels, cyclic) adds {extra:.2f} s = {extra / res['sort']['seconds']:.1f}x the sort by patient and time it needs"
        )
        if stage is not None:  # the same, timed inside the one process (no run-to-run noise of two processes)
            print(f"course stage timed in its process: {stage:.2f} s = {stage / res['sort']['seconds']:.1f}x the sort")
    mine, theirs = res.get("leukon", {}).get("counts"), res.get("duckdb", {}).get("counts")
    if mine and theirs:
        print(f"\nsame work? finding and reject counts\n{'':<34}{'leukon':>10}{'duckdb':>10}")
        for key in sorted(set(mine) | set(theirs), key=lambda k: -(mine.get(k) or 0)):
            a, b = mine.get(key, 0), theirs.get(key, 0)
            print(f"{key:<34}{a:>10}{b:>10}{'' if a == b else '  differs'}")
    if not args.keep and not args.file:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
