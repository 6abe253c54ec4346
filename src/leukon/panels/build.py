"""Canonical measurements to panels (one row a specimen): pivot, demographics, derived counts, ranges.

Derived counts and ranges are the rule book's stages (`leukon.rules.book.derive_steps`, `range_row_steps`,
`range_steps`), compiled to Polars; `assess` compiles the same steps for one CBC.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from leukon.measurements.normalize import REJECT_SCHEMA, resolve_duplicates
from leukon.panels.expressions import null_columns, with_steps
from leukon.rules import book
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import DEFAULT_PROFILE

ALL = list(ANALYTES)


#: The panels' row order: the run folder's (`leukon.pipelines.run_folder.SORT_KEYS`), so writing them needs no sort.
PANEL_ORDER = ("patient_id", "taken_at", "specimen_id")


def pivot(used: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.DataFrame, pl.Series]:
    """One row a specimen with `<analyte>`, `<analyte>_lab_lln`, `<analyte>_lab_uln` columns (canonical units),
    the rejects for repeated results, and the source rows that reached a panel. Panels come in PANEL_ORDER.

    A specimen is the source's specimen id, or the same patient and time when there is none. Specimens holding
    one analyte twice are found from the layout before any value is spread; only their results are re-checked
    (`resolve_duplicates`), so "first" never silently chooses between two results.
    """
    u = used.collect()
    keys = _keys(u)
    found = set(u["analyte"].unique().cast(pl.String).to_list())  # unique first: casting 10^7 Enum values is slow
    present = [a for a in ALL if a in found]
    limits = u["lln"].null_count() < u.height or u["uln"].null_count() < u.height
    censored = "censor" in u.columns and u["censor"].null_count() < u.height
    order = u.select(pl.arg_sort_by(keys, nulls_last=True, maintain_order=True)).to_series()
    s = u[order]
    layout = _Layout(s, keys, present)
    rejects = pl.DataFrame(schema=REJECT_SCHEMA)
    used_rows = u["source_row"]  # in input order (counted without hashing when sorted)
    if layout.repeats.any():
        flagged = pl.Series(layout.repeats[layout.group])  # per result: its specimen holds a repeat
        rows = flagged.arg_true()
        kept, rejects = resolve_duplicates(s[rows].with_columns(_at=rows))
        keep = ~flagged.to_numpy()
        keep[kept["_at"].to_numpy()] = True
        s = s.filter(pl.Series(keep))  # still in key order, without the rejected results
        layout = _Layout(s, keys, present)
        in_input_order = np.empty(len(keep), dtype=bool)
        in_input_order[order.to_numpy()] = keep
        used_rows = used_rows.filter(pl.Series(in_input_order))
    return layout.panels(s, present, limits, censored).lazy(), rejects, used_rows


def _panel_value_columns() -> list[str]:
    return [f"{a}{s}" for a in ALL for s in ("", "_lab_lln", "_lab_uln")]


def _keys(u: pl.DataFrame) -> list[str]:
    """The cheapest grouping that is right: specimen id alone when every row has one."""
    nulls = u["specimen_id"].null_count()
    if nulls == 0:
        return ["specimen_id"]
    if nulls == u.height:
        return ["patient_id", "time_key", "specimen_id"]
    return ["patient_id", "specimen_id", "time_key"]


class _Layout:
    """Where each result of `s` (results sorted by `keys`) lands in the panels: one row a specimen, in PANEL_ORDER.

    The pivot is a scatter: each result gets its specimen's row number g, and every analyte column is filled at
    once by writing the values to slot analyte * specimens + g (the issue's "pivot by scatter"; 48 filtered
    aggregations cost 2.5x as much). Numbering the specimens in PANEL_ORDER puts the panels in the order they
    are written in without gathering their hundred columns. `repeats` flags a specimen with an analyte twice."""

    def __init__(self, s: pl.DataFrame, keys: list[str], present: list[str]):
        new = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys]).fill_null(True)
        first = s.select(new).to_series().to_numpy()  # each specimen's first result
        starts, group = np.flatnonzero(first), np.cumsum(first) - 1
        extra = [c for c in ("patient_id", "specimen_id", "time_key") if c not in keys]
        never = np.iinfo(np.int64).max  # a missing time, so that the earliest known time wins
        times = np.minimum.reduceat(s["taken_at"].to_physical().fill_null(never).to_numpy(), starts)
        grouped = (
            s[starts]
            .select(*keys, *extra)
            .with_columns(
                taken_at=pl.Series(times).replace(never, None).cast(pl.Datetime("us")),
                n_results=pl.Series(np.diff(np.append(starts, s.height)), dtype=pl.UInt32),
                first_source_row=pl.Series(np.minimum.reduceat(s["source_row"].to_numpy(), starts)),
            )
            .with_columns(specimen_id=_specimen_id())
            .drop("time_key")
        )
        order = grouped.select(pl.arg_sort_by(PANEL_ORDER, nulls_last=True, maintain_order=True)).to_series()
        self.grouped = grouped[order]
        rank = np.empty(len(order), dtype=np.int64)
        rank[order.to_numpy()] = np.arange(len(order))
        self.group = rank[group]  # each result's row in the panels
        n = grouped.height
        index = np.full(len(ALL), -1, dtype=np.int64)  # analyte (Enum position) -> position in `present`
        index[[ALL.index(a) for a in present]] = np.arange(len(present))
        analyte = index[s["analyte"].to_physical().to_numpy()]
        self.slot = analyte * n + self.group
        # A specimen repeats an analyte when it has more results than distinct analytes: each result sets its
        # analyte's bit, and the bits set in a specimen are counted (values are never null here, so two results in
        # one slot are a repeat). One small integer a specimen, not a count per slot of every analyte.
        if not len(starts):
            self.repeats = np.zeros(0, bool)
        elif len(present) <= 64:
            bit = np.left_shift(np.uint64(1), np.arange(len(present), dtype=np.uint64))  # analyte -> its bit
            bits = np.bitwise_or.reduceat(bit[analyte], starts)
            self.repeats = np.empty(n, bool)
            self.repeats[rank] = np.bitwise_count(bits) < np.diff(np.append(starts, s.height))
        else:  # more analytes than bits: count the results in each slot
            self.repeats = (np.bincount(self.slot, minlength=n * len(present)).reshape(-1, n) > 1).any(axis=0)

    def panels(self, s: pl.DataFrame, present: list[str], limits: bool, censored: bool) -> pl.DataFrame:
        """The specimens with every analyte's value (and lab limits, censoring operator when asked); s has no repeats."""
        n, k = self.grouped.height, max(len(present), 1)

        def spread(values: pl.Series) -> np.ndarray:  # (analytes x specimens), NaN where nothing was written
            out = np.full(n * k, np.nan)
            out[self.slot] = values.cast(pl.Float64).fill_null(np.nan).to_numpy()
            return out.reshape(k, n)

        cols = {}
        for what, suffix in (("value", ""), *((("lln", "_lab_lln"), ("uln", "_lab_uln")) if limits else ())):
            m = spread(s[what])
            cols |= {f"{a}{suffix}": pl.Series(m[j]).fill_nan(None) for j, a in enumerate(present)}
        if censored:  # "<0.5": the value holds the bound and `<a>_censor` the operator (leukon.rules.book.holds)
            ops = sorted(s["censor"].drop_nulls().unique().to_list())
            m = spread(s["censor"].replace_strict(ops, range(len(ops)), default=None, return_dtype=pl.Float64))
            labels = pl.Series(ops, dtype=pl.String)
            cols |= {
                f"{a}_censor": labels.gather(pl.Series(m[j]).fill_nan(None).cast(pl.UInt32))
                for j, a in enumerate(present)
            }
        missing = {c: pl.lit(None, pl.Float64) for c in _panel_value_columns() if c not in cols}
        missing |= {f"{a}_censor": pl.lit(None, pl.String) for a in ALL if f"{a}_censor" not in cols}
        return self.grouped.with_columns(**cols).with_columns(**missing)


def _specimen_id() -> pl.Expr:
    """The source's specimen id, or "<patient>@<time>" for the results grouped by patient and time."""
    key = pl.col("patient_id") + pl.lit("@") + pl.col("time_key").dt.strftime("%Y-%m-%dT%H:%M:%S")
    return pl.when(pl.col("specimen_id").is_null()).then(key).otherwise(pl.col("specimen_id"))


def with_demographics(panels: pl.LazyFrame, patients: pl.LazyFrame | None) -> pl.LazyFrame:
    """age_days (whole days from birth to the specimen date), sex and ancestry per panel (null when unknown)."""
    if patients is None:
        return panels.with_columns(
            age_days=pl.lit(None, pl.Int64),
            age_hours=pl.lit(None, pl.Int64),
            sex=pl.lit(None, pl.String),
            ancestry=pl.lit(None, pl.String),
        )
    cols = patients.collect_schema().names()
    p = patients.select(
        pl.col("patient_id").cast(pl.String),
        (pl.col("sex") if "sex" in cols else pl.lit(None)).cast(pl.String).alias("sex"),
        (pl.col("birth_date") if "birth_date" in cols else pl.lit(None)).cast(pl.Date).alias("birth_date"),
        (pl.col("ancestry") if "ancestry" in cols else pl.lit(None)).cast(pl.String).alias("ancestry"),
    ).unique("patient_id", keep="first")
    out = panels.join(p, on="patient_id", how="left")
    age = (pl.col("taken_at").dt.date() - pl.col("birth_date")).dt.total_days()
    # Birth dates in tables carry no time of day, so the hours of life of a newborn are not known (null).
    return out.with_columns(age_days=pl.when(age >= 0).then(age), age_hours=pl.lit(None, pl.Int64)).drop("birth_date")


CENSOR_COLUMNS = [f"{a}_censor" for a in ALL]


def derive_steps_frame(panels: pl.LazyFrame, nulls: frozenset[str] = frozenset()) -> pl.LazyFrame:
    """Derived absolute counts and their methods (`leukon.rules.book.derive_steps`)."""
    return with_steps(panels, book.derive_steps(), nulls)


RANGE_ORIGIN = pl.Enum(list(book.RANGE_ORIGINS))


def ranges_frame(panels: pl.LazyFrame, profile: str) -> pl.LazyFrame:
    """`<a>_lln`, `<a>_uln`, `<a>_range` (lab or profile) and `<a>_range_row` for every analyte."""
    p = with_steps(panels, book.range_row_steps(profile))
    return with_steps(p, book.range_steps())


def build_panels(
    used: pl.LazyFrame, patients: pl.LazyFrame | None = None, *, profile: str = DEFAULT_PROFILE
) -> tuple[pl.LazyFrame, pl.DataFrame, pl.Series]:
    """Panels with canonical and derived counts, their methods and the range for each analyte; the rejects
    for repeated results found while building them; the source rows that reached a panel."""
    p, rejects, used_rows = pivot(used)
    p = with_demographics(p, patients)
    p = derive_steps_frame(p, null_columns(p, CENSOR_COLUMNS))
    p = ranges_frame(p, profile)
    p = p.with_columns([pl.col(f"{a}_range").cast(RANGE_ORIGIN) for a in ALL])
    helpers = [f"{a}_lab_{s}" for a in ALL for s in ("lln", "uln")]
    # Tables do not say how long a fever lasted or whether the ANC is expected to fall: unknown, not "no".
    p = p.drop(helpers).with_columns(
        profile=pl.lit(profile),
        fever_sustained=pl.lit(None, pl.Boolean),
        anc_expected_fall=pl.lit(None, pl.Boolean),
    )
    return p, rejects, used_rows
