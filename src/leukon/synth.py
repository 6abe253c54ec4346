"""A synthetic CBC cohort in the long format, with planted white-cell patterns and a little dirt.

Scenarios follow the source articles (knowledge/data/sources.toml): chemotherapy cycles with a nadir near day 10-14
and recovery by the next cycle; cyclic neutropenia (period about 21 days, some patients sampled three
times a week); Duffy-null people with a stable low-normal ANC; HIV-like lymphopenia (leukopenia without
neutropenia); clozapine agranulocytosis under weekly monitoring; acute viral pseudo-leukopenia
(lymphocytes redistributed for a few days); healthy controls.

Each patient gets one lab's reporting style: absolute counts by LOINC code in 10^9/L, names in K/uL, a
manual differential in % with bands and WBC in /uL (no ANC: it must be derived), or no differential.
A small fraction of rows is dirty (unknown unit, duplicated row, unparseable time, another test's code,
missing patient id) so the reject path is exercised. Everything is vectorised with numpy: one call
builds millions of rows in seconds, and the same seed always gives the same cohort. A large cohort is made and
written `PIECE_PATIENTS` at a time (`pieces`, `write_pieces`), so its size is bounded by the disk, not memory.

>>> df = cohort(20, seed=1)
>>> df.columns
['patient_id', 'specimen_id', 'taken_at', 'analyte', 'value', 'unit', 'lln', 'uln', 'sex', 'birth_date', 'ancestry']
>>> scenarios(20, seed=1)["scenario"].is_in(list(SCENARIOS)).all()
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import polars as pl

#: Scenario -> share of patients.
SCENARIOS: dict[str, float] = {
    "healthy": 0.35,
    "chemotherapy": 0.15,
    "cyclic_neutropenia": 0.05,
    "duffy_null": 0.10,
    "hiv_lymphopenia": 0.08,
    "clozapine_agranulocytosis": 0.05,
    "viral_pseudoleukopenia": 0.12,
    "pediatric_healthy": 0.10,
}
#: Canonical value columns (10^9/L for counts, g/dL, degrees C, cells/uL for CD4).
LINES = ("anc", "bands", "lymph", "mono", "eos", "baso")
DIRT_KINDS = ("unknown_unit", "duplicate", "bad_time", "other_test", "no_patient")

# Reporting styles: (value key, code as the lab writes it, unit, factor from canonical, decimals, lln, uln).
_T = tuple[str, str, str, float, int, float | None, float | None]
STYLES: dict[str, list[_T]] = {
    "loinc_si": [
        ("wbc", "6690-2", "10^9/L", 1, 2, 4.0, 11.0),
        ("anc", "751-8", "10^9/L", 1, 2, 1.5, 7.5),
        ("neut_pct", "770-8", "%", 1, 1, 40, 75),
        ("lymph", "731-0", "10^9/L", 1, 2, 1.0, 4.0),
        ("mono", "742-7", "10^9/L", 1, 2, 0.2, 0.8),
        ("eos", "711-2", "10^9/L", 1, 2, 0.0, 0.5),
        ("baso", "704-7", "10^9/L", 1, 2, 0.0, 0.1),
        ("hgb", "718-7", "g/dL", 1, 1, 12.0, 16.0),
        ("plt", "777-3", "10^9/L", 1, 0, 150, 400),
    ],
    "names_kul": [
        ("wbc", "WBC", "K/uL", 1, 1, 4.5, 11.0),
        ("anc", "Neutrophils #", "K/uL", 1, 2, 1.8, 7.7),
        ("lymph", "Lymphocytes #", "K/uL", 1, 2, 1.0, 4.8),
        ("mono", "Monocytes #", "K/uL", 1, 2, 0.2, 0.9),
        ("eos", "Eosinophils #", "K/uL", 1, 2, 0.0, 0.5),
        ("baso", "Basophils #", "K/uL", 1, 2, 0.0, 0.2),
        ("hgb", "Hemoglobin", "g/dL", 1, 1, 12.0, 16.0),
        ("plt", "Platelets", "K/uL", 1, 0, 150, 450),
    ],
    "manual_diff": [  # no ANC: the kernel derives it from WBC x (segs + bands) / 100
        ("wbc", "WBC", "/uL", 1000, -1, 4000, 11000),
        ("neut_pct", "Segs", "%", 1, 0, 40, 70),
        ("bands_pct", "Bands", "%", 1, 0, 0, 5),
        ("lymph_pct", "Lymphocytes", "%", 1, 0, 20, 45),
        ("mono_pct", "Monocytes", "%", 1, 0, 2, 10),
        ("eos_pct", "Eosinophils", "%", 1, 0, 0, 6),
        ("baso_pct", "Basophils", "%", 1, 0, 0, 2),
        ("hgb", "Hgb", "g/dL", 1, 1, None, None),
        ("plt", "PLT", "x10E3/uL", 1, 0, None, None),
    ],
    "loinc_pct": [
        ("wbc", "6690-2", "10*3/uL", 1, 1, 4.0, 10.5),
        ("neut_pct", "770-8", "%", 1, 1, 40, 74),
        ("bands_pct", "26508-2", "%", 1, 0, 0, 5),
        ("lymph_pct", "736-9", "%", 1, 1, 14, 46),
        ("mono_pct", "5905-5", "%", 1, 1, 4, 13),
        ("eos_pct", "713-8", "%", 1, 1, 0, 7),
        ("baso_pct", "706-2", "%", 1, 1, 0, 3),
        ("hgb", "718-7", "g/dL", 1, 1, 11.5, 15.5),
        ("plt", "777-3", "10*3/uL", 1, 0, 150, 379),
    ],
    "no_diff": [
        ("wbc", "26464-8", "10*9/L", 1, 1, None, None),
        ("hgb", "718-7", "g/dL", 1, 1, None, None),
        ("plt", "26515-7", "10*9/L", 1, 0, None, None),
    ],
}
STYLE_SHARE = {"loinc_si": 0.35, "names_kul": 0.25, "manual_diff": 0.12, "loinc_pct": 0.13, "no_diff": 0.15}
EXTRA: dict[str, list[_T]] = {  # rows present only when the value is (temperature: fever checks; CD4)
    "temp_c": [("temp_c", "8310-5", "Cel", 1, 1, None, None)],
    "temp_f": [("temp_f", "Temp", "[degF]", 1, 1, None, None)],
    "cd4": [("cd4", "24467-3", "cells/uL", 1, 0, 500, 1500)],
}
_EPOCH = np.datetime64("2021-01-04T00:00", "m")


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream]))


def assign(n_patients: int, seed: int) -> np.ndarray:
    """Scenario index per patient (into list(SCENARIOS)); its own random stream, so stable."""
    p = np.array(list(SCENARIOS.values()))
    return _rng(seed, 0).choice(len(p), size=n_patients, p=p / p.sum())


def scenarios(n_patients: int, *, seed: int = 0, first_patient: int = 0) -> pl.DataFrame:
    """patient_id and the scenario planted in `cohort(n_patients, seed=seed, first_patient=first_patient)`."""
    names = np.array(list(SCENARIOS))
    ids = _ids("P", first_patient + np.arange(n_patients), 7)
    return pl.DataFrame({"patient_id": ids, "scenario": names[assign(n_patients, seed)]})


def _ids(prefix: str, idx: np.ndarray, width: int) -> pl.Series:
    digits = pl.Series(idx, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return pl.select(pl.lit(prefix) + digits).to_series()


# --- schedules and counts per scenario -------------------------------------------------------------------


def _within(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(patient position repeated per draw, draw number within patient) for draw counts `n`."""
    owner = np.repeat(np.arange(len(n)), n)
    starts = np.cumsum(n) - n
    return owner, np.arange(n.sum()) - np.repeat(starts, n)


def _baseline(rng: np.random.Generator, m: int) -> dict[str, np.ndarray]:
    """Healthy adult counts per patient (10^9/L), log-normal around published normal values."""
    return {
        "anc": rng.lognormal(np.log(3.6), 0.25, m),
        "bands": rng.uniform(0.0, 0.25, m),
        "lymph": rng.lognormal(np.log(2.0), 0.25, m),
        "mono": rng.lognormal(np.log(0.45), 0.25, m),
        "eos": rng.lognormal(np.log(0.15), 0.5, m),
        "baso": rng.uniform(0.01, 0.07, m),
        "plt": rng.normal(260, 50, m).clip(160, 420),
    }


def _scenario(name: str, rng: np.random.Generator, m: int) -> dict[str, np.ndarray]:
    """Draw days and canonical counts for `m` patients of one scenario (arrays per draw)."""
    base = _baseline(rng, m)
    f = {k: np.ones(0) for k in ("anc", "lymph", "mono", "plt", "hgb_drop")}
    temp = None
    cd4 = None
    if name in ("healthy", "pediatric_healthy"):
        n = rng.integers(1, 4, m)
        owner, k = _within(n)
        day = k * rng.integers(90, 300, len(k))
        f = {"anc": 1.0, "lymph": 1.0, "mono": 1.0, "plt": 1.0, "hgb_drop": 0.0}
        if name == "pediatric_healthy":
            base["lymph"] = base["lymph"] * 1.8  # children have more lymphocytes
    elif name == "chemotherapy":
        cycles = rng.integers(4, 7, m)
        n = cycles * 6
        owner, k = _within(n)
        cycle, slot = k // 6, k % 6
        length = np.where(rng.random(m) < 0.8, 21, 14)[owner]
        d_in = np.array([0, 7, 10, 12, 14, 18])[slot] + np.where(slot > 0, rng.integers(-1, 2, len(k)), 0)
        d_in = np.minimum(d_in, length - 2)
        day = cycle * length + d_in
        nadir = rng.uniform(10, 14, m)[owner] * length / 21
        depth = np.minimum(0.985, rng.uniform(0.55, 0.95, m)[owner] + 0.03 * cycle)
        dip = np.exp(-((d_in - nadir) ** 2) / (2 * 2.5**2))
        f = {"anc": 1 - depth * dip, "lymph": 1 - 0.5 * depth * dip, "mono": 1 - 0.9 * depth * dip,
             "plt": 1 - 0.6 * depth * np.exp(-((d_in - nadir - 2) ** 2) / 18), "hgb_drop": 0.45 * cycle}  # fmt: skip
        fever = (rng.random(m) < 0.25)[owner] & (cycle == 0) & (dip > 0.6)
        temp = np.where(fever, rng.uniform(38.3, 39.6, len(k)), np.nan)
    elif name == "cyclic_neutropenia":
        dense = rng.random(m) < 0.5
        n = np.where(dense, 3 * rng.integers(8, 13, m), rng.integers(12, 20, m))
        owner, k = _within(n)
        day = np.where(dense[owner], (k // 3) * 7 + np.array([0, 2, 4])[k % 3], k * 7)
        period = rng.normal(21, 0.8, m).clip(19, 23)[owner]
        phase = rng.uniform(0, 21, m)[owner]
        wave = (1 + np.cos(2 * np.pi * (day - phase) / period)) / 2  # 1 at the peak, 0 at the nadir
        trough, peak = rng.uniform(0.05, 0.3, m)[owner], rng.uniform(2.0, 3.5, m)[owner]
        anc = trough + (peak - trough) * wave**1.5
        f = {"anc": anc / base["anc"][owner], "lymph": 1.0, "mono": 1 + 1.2 * (1 - wave), "plt": 1.0,
             "hgb_drop": 0.0}  # fmt: skip
    elif name == "duffy_null":
        n = rng.integers(2, 6, m)
        owner, k = _within(n)
        day = k * rng.integers(60, 200, len(k))
        base["anc"] = rng.uniform(1.0, 1.6, m)
        f = {"anc": 1.0, "lymph": 1.0, "mono": 1.0, "plt": 1.0, "hgb_drop": 0.0}
    elif name == "hiv_lymphopenia":
        n = rng.integers(4, 9, m)
        owner, k = _within(n)
        day = k * 91 + rng.integers(-10, 11, len(k)) * (k > 0)
        base["lymph"] = rng.uniform(0.35, 0.85, m)
        base["anc"] = rng.uniform(1.9, 3.2, m)
        f = {"anc": 1.0, "lymph": 1 - 0.03 * k, "mono": 1.0, "plt": 1.0, "hgb_drop": 0.0}
        cd4 = np.where(rng.random(len(k)) < 0.6, rng.uniform(120, 450, len(k)).round(), np.nan)
    elif name == "clozapine_agranulocytosis":
        onset = rng.integers(6, 19, m)
        after = np.array([0, 1, 2, 3, 5, 7, 10, 14, 21, 28])
        n = onset + len(after)
        owner, k = _within(n)
        before = k < onset[owner]
        day = np.where(before, k * 7, onset[owner] * 7 + after[np.clip(k - onset[owner], 0, len(after) - 1)])
        t = day - onset[owner] * 7
        floor = rng.uniform(0.03, 0.35, m)[owner]
        recovery = np.clip((t - 7) / 18, 0, 1)
        anc = np.where(t == 0, 0.7, floor + (2.5 - floor) * recovery)
        f = {"anc": np.where(before, 1.0, anc / base["anc"][owner]), "lymph": 1.0, "mono": 1.0, "plt": 1.0,
             "hgb_drop": 0.0}  # fmt: skip
        temp = np.where((t >= 2) & (t <= 5) & (rng.random(len(k)) < 0.4), rng.uniform(38.2, 39.4, len(k)), np.nan)
    elif name == "viral_pseudoleukopenia":
        after = np.array([-120, 0, 1, 3, 6, 14])
        n = np.full(m, len(after))
        owner, k = _within(n)
        day = 120 + after[k]
        acute = np.isin(after[k], [0, 1, 3])
        f = {"anc": np.where(acute, rng.uniform(0.4, 0.6, len(k)), 1.0),
             "lymph": np.where(acute, rng.uniform(0.2, 0.4, len(k)), 1.0),
             "mono": 1.0, "plt": np.where(acute, 0.85, 1.0), "hgb_drop": 0.0}  # fmt: skip
        temp = np.where(np.isin(after[k], [0, 1]), rng.uniform(37.9, 38.9, len(k)), np.nan)
    else:  # pragma: no cover - SCENARIOS and this function must list the same names
        raise ValueError(name)
    size = len(day)
    noise = {c: rng.lognormal(0, 0.06, size) for c in LINES}
    out = {"owner": owner, "day": day.astype(np.int64)}
    for c in LINES:
        scale = f["anc"] if c == "bands" else f.get(c, 1.0)  # bands fall and rise with the neutrophils
        out[c] = base[c][owner] * scale * noise[c]
    out["plt"] = base["plt"][owner] * f["plt"] * rng.lognormal(0, 0.05, size)
    out["hgb_drop"] = np.broadcast_to(np.asarray(f["hgb_drop"], dtype=float), size).copy()
    out["temp"] = temp if temp is not None else np.full(size, np.nan)
    out["cd4"] = cd4 if cd4 is not None else np.full(size, np.nan)
    return out


# --- the cohort -----------------------------------------------------------------------------------------


def cohort(
    n_patients: int, *, seed: int = 0, dirt: float = 0.002, first_patient: int = 0, first_specimen: int = 0
) -> pl.DataFrame:
    """A long-format cohort: patient_id, specimen_id, taken_at (text), analyte (code or name as labs
    write it), value, unit, lln, uln, sex, birth_date, ancestry ('duffy-null' for the Duffy-null scenario,
    else null). `dirt` is the share of rows made dirty. Patients and specimens are numbered from
    `first_patient` and `first_specimen` (a piece of a larger cohort, see `pieces`)."""
    return _cohort(n_patients, seed=seed, dirt=dirt, first_patient=first_patient, first_specimen=first_specimen)[0]


def _cohort(
    n_patients: int, *, seed: int, dirt: float, first_patient: int, first_specimen: int
) -> tuple[pl.DataFrame, int]:
    """`cohort` and the number of specimens it holds."""
    if n_patients < 1:
        raise ValueError("n_patients must be at least 1")
    rng = _rng(seed, 1)
    which = assign(n_patients, seed)
    names = list(SCENARIOS)
    female = rng.random(n_patients) < 0.52
    age = np.where(which == names.index("pediatric_healthy"), rng.uniform(1, 17, n_patients),
                   rng.uniform(18, 88, n_patients))  # fmt: skip
    hgb_base = np.where(female, rng.normal(13.6, 0.9, n_patients), rng.normal(15.0, 1.0, n_patients))
    start = rng.integers(0, 3 * 365, n_patients)
    styles = np.array(list(STYLE_SHARE))
    lab = rng.choice(len(styles), size=n_patients, p=list(STYLE_SHARE.values()))

    parts = []
    for i, name in enumerate(names):
        members = np.flatnonzero(which == i)
        if len(members):
            part = _scenario(name, _rng(seed, 100 + i), len(members))
            part["patient"] = members[part.pop("owner")]
            parts.append(part)
    spec = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    pat = spec["patient"]
    ns = len(pat)
    # Composite values per specimen; the WBC is the sum of its lines, so percentages add up to ~100.
    wbc = sum(spec[c] for c in LINES)
    vals = {"wbc": wbc, **{c: spec[c] for c in LINES}, "plt": spec["plt"], "cd4": spec["cd4"]}
    vals["hgb"] = (hgb_base[pat] - spec["hgb_drop"]) * rng.lognormal(0, 0.02, ns)
    for c, pct in (("anc", "neut_pct"), ("bands", "bands_pct"), ("lymph", "lymph_pct"), ("mono", "mono_pct"),
                   ("eos", "eos_pct"), ("baso", "baso_pct")):  # fmt: skip
        vals[pct] = 100 * spec[c] / wbc
    vals["temp_c"] = np.where(lab[pat] % 2 == 0, spec["temp"], np.nan)
    vals["temp_f"] = np.where(lab[pat] % 2 == 1, spec["temp"] * 9 / 5 + 32, np.nan)
    style = np.where(rng.random(ns) < 0.9, lab[pat], rng.choice(len(styles), size=ns))
    minutes = (start[pat] + spec["day"]) * 1440 + rng.integers(6 * 60 + 30, 11 * 60, ns)
    taken = _EPOCH + minutes.astype("timedelta64[m]")
    # Specimens sorted by patient and time get ids in that order, like an accession sequence.
    order = np.lexsort((minutes, pat))

    rows = []
    templates = [(s, t) for s in styles for t in STYLES[s]]
    for s, (key, code, unit, factor, dec, lln, uln) in templates:
        idx = order[style[order] == np.flatnonzero(styles == s)[0]]
        rows.append(_rows(idx, vals[key], code, unit, factor, dec, lln, uln))
    for extra in EXTRA.values():
        for key, code, unit, factor, dec, lln, uln in extra:
            idx = order[~np.isnan(vals[key][order])]
            rows.append(_rows(idx, vals[key], code, unit, factor, dec, lln, uln))
    spec_idx = np.concatenate([r[0] for r in rows])
    rank = np.empty(ns, dtype=np.int64)
    rank[order] = np.arange(ns)
    df = pl.DataFrame(
        {
            "s": rank[spec_idx],
            "patient": pat[spec_idx],
            "taken_at": taken[spec_idx].astype("datetime64[us]"),
            "analyte": pl.concat([r[1] for r in rows]),
            "value": np.concatenate([r[2] for r in rows]),
            "unit": pl.concat([r[3] for r in rows]),
            "lln": pl.concat([r[4] for r in rows]),
            "uln": pl.concat([r[5] for r in rows]),
        }
    ).sort("s", maintain_order=True)
    df = _dirty(df, _rng(seed, 2), dirt)
    birth = (np.datetime64("2024-01-01") - (age * 365.25).astype("timedelta64[D]")).astype("datetime64[D]")
    who = df["patient"].fill_null(0).to_numpy()
    mark = pl.col("dirt")
    return df.select(
        pl.when(mark == DIRT_KINDS.index("no_patient"))
        .then(None)
        .otherwise(_ids("P", first_patient + who, 7))
        .alias("patient_id"),
        _ids("S", first_specimen + df["s"].to_numpy(), 9).alias("specimen_id"),
        pl.when(mark == DIRT_KINDS.index("bad_time"))
        .then(pl.lit("2024-02-30 08:00"))  # no 30 February: an unparseable time
        .otherwise(pl.col("taken_at").dt.to_string("%Y-%m-%d %H:%M"))
        .alias("taken_at"),
        pl.when(mark == DIRT_KINDS.index("other_test"))
        .then(pl.lit("17849-1"))  # reticulocytes %: another test in the same export
        .otherwise(pl.col("analyte"))
        .alias("analyte"),
        "value",
        pl.when(mark == DIRT_KINDS.index("unknown_unit")).then(pl.lit("mmol/L")).otherwise("unit").alias("unit"),
        "lln",
        "uln",
        pl.Series("sex", np.where(female, "F", "M"))[who],
        pl.Series("birth_date", birth)[who],
        # Duffy-null patients are taken to have been phenotyped (blood bank), as Choosing Wisely advises.
        pl.when(pl.Series(which == names.index("duffy_null"))[who]).then(pl.lit("duffy-null")).alias("ancestry"),
    ), ns


#: Patients made at a time by `pieces`. The memory of making a cohort grows with it, about 27 KB a patient
#: (140,000 patients, 10.2 M results, peaked at 3.76 GB; 2026-12), so 1.4 M patients in one piece need 37 GB;
#: a piece of 50,000 patients (3.6 M results) stays near 1.4 GB.
PIECE_PATIENTS = 50_000


def pieces(
    n_patients: int, *, seed: int = 0, dirt: float = 0.002, piece: int | None = None
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """A cohort of `n_patients` made `piece` (default `PIECE_PATIENTS`) patients at a time, as (results,
    scenarios) pairs.

    The first piece is `cohort(min(n_patients, piece), seed=seed)` itself, so a cohort of one piece is the same
    as `cohort` makes. Each later piece has its own seed, drawn from (`seed`, its number), and numbers its
    patients and specimens on from where the piece before it stopped: ids stay unique over the whole cohort,
    and the same seed always gives the same cohort."""
    piece = piece or PIECE_PATIENTS
    first_specimen = 0
    for i, start in enumerate(range(0, n_patients, piece)):
        n = min(piece, n_patients - start)
        s = seed if i == 0 else int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
        df, specimens = _cohort(n, seed=s, dirt=dirt, first_patient=start, first_specimen=first_specimen)
        first_specimen += specimens
        yield df, scenarios(n, seed=s, first_patient=start)


def _rows(idx, values, code, unit, factor, dec, lln, uln):
    """One template's rows for specimens `idx`: (idx, code, value, unit, lln, uln) columns."""
    n = len(idx)
    return (
        idx,
        pl.repeat(code, n, eager=True, dtype=pl.String),
        np.round(values[idx] * factor, dec),
        pl.repeat(unit, n, eager=True, dtype=pl.String),
        pl.repeat(lln, n, eager=True, dtype=pl.Float64),
        pl.repeat(uln, n, eager=True, dtype=pl.Float64),
    )


def _dirty(df: pl.DataFrame, rng: np.random.Generator, share: float) -> pl.DataFrame:
    """Mark about `share` of rows dirty (column `dirt`: index into DIRT_KINDS, -1 clean), split evenly over
    the kinds; a duplicate is an exact copy placed right after its original."""
    k = round(df.height * share / len(DIRT_KINDS))
    if k:
        dups = np.sort(rng.choice(df.height, size=k, replace=False))
        df = pl.concat([df, df[dups]]).sort("s", maintain_order=True)
    mark = np.full(df.height, -1, dtype=np.int8)
    if k:
        picks = rng.choice(df.height, size=k * (len(DIRT_KINDS) - 1), replace=False).reshape(-1, k)
        others = [i for i, kind in enumerate(DIRT_KINDS) if kind != "duplicate"]
        for i, rows in zip(others, picks, strict=True):
            mark[rows] = i
    return df.with_columns(dirt=pl.Series(mark))


def patients(df: pl.DataFrame) -> pl.DataFrame:
    """The patients table of a cohort: patient_id, sex ('female'|'male'), birth_date, ancestry."""
    return (
        df.filter(pl.col("patient_id").is_not_null())
        .group_by("patient_id", maintain_order=True)
        .agg(pl.col("sex").first(), pl.col("birth_date").first(), pl.col("ancestry").first())
        .with_columns(pl.col("sex").replace_strict({"F": "female", "M": "male"}))
    )


def write(df: pl.DataFrame, path: str | Path, *, format: str | None = None) -> Path:
    """Write a cohort (or its scenarios table) as CSV or Parquet, chosen by `format` or the suffix."""
    path = Path(path)
    fmt = _format(path, format)
    if fmt == "parquet":
        df.write_parquet(path)
    else:
        df.write_csv(path)
    return path


def write_pieces(
    parts: Iterable[tuple[pl.DataFrame, pl.DataFrame]], path: str | Path, scenarios_to: str | Path,
    *, format: str | None = None,
) -> int:  # fmt: skip
    """Write the pieces of a cohort (`pieces`) one after another into one file at `path` (CSV or Parquet, by
    `format` or the suffix; Parquet in row groups of `ROW_GROUP`) and their scenarios into one CSV at `scenarios_to`,
    holding one piece at a time. Returns the number of results written."""
    path = Path(path)
    out = _Appender(path, _format(path, format), scenarios_to)
    rows = 0
    try:
        for df, sc in parts:
            out.add(df, sc)
            rows += df.height
    finally:
        out.close()
    return rows


#: Rows in a Parquet row group of a cohort written in pieces, about what Polars writes in one piece: a row group
#: is what a streaming reader holds at once (a piece in one row group, 3.6 M results, tripled the peak of
#: `screen --chunks` at 30 M results).
ROW_GROUP = 1 << 17


class _Appender:
    """Appends pieces to a Parquet file or a CSV file (one header), and their scenarios."""

    def __init__(self, path: Path, fmt: str, scenarios_to: str | Path):
        self.path, self.fmt, self.scenarios_to, self.pieces, self.parquet = path, fmt, scenarios_to, 0, None

    def add(self, df: pl.DataFrame, sc: pl.DataFrame) -> None:
        first = self.pieces == 0
        if self.fmt == "parquet":
            table = df.to_arrow()
            if self.parquet is None:
                import pyarrow.parquet as pq

                self.parquet = pq.ParquetWriter(self.path, table.schema)
            self.parquet.write_table(table, row_group_size=ROW_GROUP)
        else:
            with open(self.path, "wb" if first else "ab") as f:
                df.write_csv(f, include_header=first)
        with open(self.scenarios_to, "wb" if first else "ab") as f:
            sc.write_csv(f, include_header=first)
        self.pieces += 1

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


def _format(path: Path, format: str | None) -> str:
    fmt = format or ("parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be csv or parquet, not {fmt!r}")
    return fmt


def scenarios_path(path: str | Path) -> Path:
    """Where `leukon synth` writes the scenarios table beside a cohort file: <stem>.scenarios.csv."""
    p = Path(path)
    stem = p.name.split(".")[0]
    return p.with_name(f"{stem}.scenarios.csv")
