"""Canonical measurements to panels (one row a specimen): pivot, demographics, derived counts, ranges.

Derived counts and ranges are the rule book's stages (`leukon.rules.book.derive_steps`, `range_row_steps`,
`range_steps`), compiled to Polars; `assess` compiles the same steps for one CBC.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from leukon.frames import run_starts
from leukon.measurements.normalize import REJECT_SCHEMA, UNUSED, resolve_duplicates
from leukon.panels.expressions import null_columns, with_steps
from leukon.rules import book
from leukon.rules.analytes import ANALYTES
from leukon.rules.criteria import DEFAULT_PROFILE

ALL = list(ANALYTES)
if len(ALL) > 64:  # a specimen's analytes are one bit each of a 64-bit integer (`_in_repeating_specimen`)
    raise ImportError(f"{len(ALL)} analytes: the pivot's repeat check holds at most 64")


#: The panels' row order: the run folder's (`leukon.pipelines.run_folder.SORT_KEYS`), so writing them needs no sort.
PANEL_ORDER = ("patient_id", "taken_at", "specimen_id")


def pivot(used: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.DataFrame, pl.Series]:
    """One row a specimen with `<analyte>`, `<analyte>_lab_lln`, `<analyte>_lab_uln` columns (canonical units),
    the rejects for repeated results, and the source rows that reached a panel. Panels come in PANEL_ORDER.

    A specimen is the source's specimen id, or the same patient and time when there is none. Specimens holding
    one analyte twice are found from the layout before any value is spread; only their results are re-checked
    (`resolve_duplicates`), so "first" never silently chooses between two results. Rows true in `UNUSED`
    (`normalize(..., marked=True)`) are left out.
    """
    u = used.collect()
    usable = ~u[UNUSED] if UNUSED in u.columns else None

    def of_usable(column: str) -> pl.Series:  # a small column of the usable rows (never the text ids)
        return u[column] if usable is None else u[column].filter(usable)

    keys = _keys(u, usable)
    # unique first: casting 10^7 Enum values is slow
    found = set(of_usable("analyte").unique().cast(pl.String).to_list())
    present = [a for a in ALL if a in found]
    limits = _any_known(u, "lln", usable) or _any_known(u, "uln", usable)
    censored = "censor" in u.columns and _any_known(u, "censor", usable)
    grouping = _grouping(u, keys)
    order = grouping.select(pl.arg_sort_by(grouping.columns, nulls_last=True, maintain_order=True)).to_series()
    if usable is not None:
        order = order.filter(usable.gather(order))
    # Specimens and repeats are found on the keys and analytes alone; the value columns are then gathered once,
    # in key order and without the rejected repeats, and the text keys only at the specimens' first results.
    first = _specimen_starts(grouping[order], grouping.columns)
    del grouping
    index = np.full(len(ALL), -1, dtype=np.int8)  # analyte (Enum position) -> position in `present` (ALL <= 64)
    index[[ALL.index(a) for a in present]] = np.arange(len(present))
    analyte = index[u["analyte"].to_physical()[order].to_numpy()]
    rejects = pl.DataFrame(schema=REJECT_SCHEMA)
    used_rows = of_usable("source_row")  # in input order (counted without hashing when sorted)
    flagged = _in_repeating_specimen(first, analyte, len(present))
    if flagged.any():
        rows = pl.Series(np.flatnonzero(flagged), dtype=pl.UInt32)
        kept, rejects = resolve_duplicates(u[order[rows]].with_columns(_at=rows))
        keep = ~flagged
        keep[kept["_at"].to_numpy()] = True
        order, analyte = order.filter(pl.Series(keep)), analyte[keep]  # still in key order, without the rejected
        specimen = np.cumsum(first, dtype=_index_type(len(first)))  # each result's specimen, from 1
        specimen = specimen[keep]  # a specimen whose every result was rejected is gone
        first = np.append(True, specimen[1:] != specimen[:-1]) if len(specimen) else specimen.astype(bool)
        in_input_order = np.zeros(u.height, dtype=bool)
        in_input_order[order.to_numpy()] = True
        used_rows = u["source_row"].filter(pl.Series(in_input_order))
    # The columns spread over the panels, gathered whole in one (parallel) gather; the text keys are gathered at
    # each specimen's first result only.
    spread = [
        "taken_at",
        "source_row",
        "value",
        *(("lln", "uln") if limits else ()),
        *(("censor",) if censored else ()),
    ]
    s = u.select(spread)[order]
    ids = u.select(*keys, *(c for c in ("patient_id", "specimen_id", "time_key") if c not in keys))
    layout = _Layout(s, ids, order, first, analyte)
    return layout.panels(s, present, limits, censored).lazy(), rejects, used_rows


def _grouping(u: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Columns that group the results by specimen when sorted (each specimen's results stay in input order): the
    keys themselves when the input comes sorted by the first, else one hash of the keys a result.

    Sorting text in a random order is slow, and so is gathering it in that order to find where specimens begin
    (10.1 M results in random order: 7.3 s and 2.3 s). Hashes sort as integers (0.7 s), and specimens then come
    in the order of their hashes, which the panels do not keep (they are put in PANEL_ORDER afterwards). Two
    keys with one hash would merge two specimens, so the hashes are used only when they number as many distinct
    values as the keys do; otherwise the keys are sorted as before."""
    if u[keys[0]].is_sorted(nulls_last=True):  # sorting text already in order is fast
        return u.select(keys)
    key = pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)
    hashes = u.select(key.hash(seed=0).alias("_key_hash"))
    # Counting the distinct keys fills a hash table of text, which the streaming engine does on every core: 1.1-1.2 s
    # at 10.1 M results in random order, against 2.3 s on the in-memory engine.
    distinct = u.lazy().select(key.n_unique()).collect(engine="streaming").item()
    return hashes if hashes["_key_hash"].n_unique() == distinct else u.select(keys)


def _any_known(u: pl.DataFrame, column: str, usable: pl.Series | None) -> bool:
    """True when some usable row has `column`."""
    known = u[column].is_not_null()
    return bool((known if usable is None else known & usable).any())


def _specimen_starts(s: pl.DataFrame, keys: list[str]) -> np.ndarray:
    """True for each result of `s` (sorted by `keys`) that begins a specimen."""
    return s.select(run_starts(keys)).to_series().to_numpy()


def _in_repeating_specimen(first: np.ndarray, analyte: np.ndarray, analytes: int) -> np.ndarray:
    """True for each result whose specimen holds some analyte twice (`first`: where specimens begin; `analyte`:
    each result's analyte number, below `analytes`).

    A specimen repeats an analyte when its results outnumber the analyte bits they set: one small integer a
    specimen, not a count for every slot of every analyte (174 MB at 10 M results). Values are never null here
    (normalize rejects them), so two results of one analyte in a specimen are a repeat."""
    starts = np.flatnonzero(first)
    if not len(starts):
        return np.zeros(len(first), bool)
    sizes = np.diff(np.append(starts, len(first)))
    # analyte -> its bit, in the smallest integer that holds them (ALL fits in 64): one a result
    bits = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if np.iinfo(t).bits >= analytes)
    bit = np.left_shift(bits(1), np.arange(analytes, dtype=bits))
    repeats = np.bitwise_count(np.bitwise_or.reduceat(bit[analyte], starts)) < sizes
    return np.repeat(repeats, sizes)


def _panel_value_columns() -> list[str]:
    return [f"{a}{s}" for a in ALL for s in ("", "_lab_lln", "_lab_uln")]


def _keys(u: pl.DataFrame, usable: pl.Series | None) -> list[str]:
    """The cheapest grouping that is right: specimen id alone when every usable row has one."""
    missing = u["specimen_id"].is_null()
    nulls = int((missing if usable is None else missing & usable).sum())
    if nulls == 0:
        return ["specimen_id"]
    if nulls == (u.height if usable is None else int(usable.sum())):
        return ["patient_id", "time_key", "specimen_id"]
    return ["patient_id", "specimen_id", "time_key"]


class _Layout:
    """Where each result lands in the panels: one row a specimen, in PANEL_ORDER. `s` holds the results used,
    sorted by the specimen keys and without repeats (the input's rows at `order`), with the columns spread over
    the panels only; `ids` holds the input's id columns, taken at `order` for each specimen's first result;
    `first` marks where a specimen begins, and `analyte` is each result's analyte number.

    The pivot is a scatter: each result gets its specimen's row number g, and every analyte column is filled at
    once by writing the values to slot analyte * specimens + g (the issue's "pivot by scatter"; 48 filtered
    aggregations cost 2.5x as much). Numbering the specimens in PANEL_ORDER puts the panels in the order they
    are written in without gathering their hundred columns."""

    def __init__(self, s: pl.DataFrame, ids: pl.DataFrame, order: pl.Series, first: np.ndarray, analyte: np.ndarray):
        # Row numbers as small as they can be: every array here is new memory, which costs more than the arithmetic.
        starts = np.flatnonzero(first)
        group = np.cumsum(first, dtype=_index_type(len(starts)))
        group -= 1
        never = np.iinfo(np.int64).max  # a missing time, so that the earliest known time wins
        times = np.minimum.reduceat(s["taken_at"].to_physical().fill_null(never).to_numpy(), starts)
        grouped = (
            ids[order.gather(starts)]  # the specimen's ids, from its first result
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
        n = grouped.height
        rank = np.empty(n, dtype=_index_type(n))
        rank[order.to_numpy()] = np.arange(n, dtype=rank.dtype)
        # each result's row in the panels, by analyte: analyte * specimens + the specimen's row
        self.slot = analyte.astype(_index_type(n * (int(analyte.max(initial=0)) + 1)))
        self.slot *= n
        self.slot += rank[group]

    def panels(self, s: pl.DataFrame, present: list[str], limits: bool, censored: bool) -> pl.DataFrame:
        """The specimens with every analyte's value (and lab limits, censoring operator when asked)."""
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


def _index_type(size: int) -> type:
    """The smallest signed integer type that numbers `size` things."""
    return np.int32 if size < 2**31 else np.int64


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
    # The panels keep their order (PANEL_ORDER, relied on when writing), on any engine: the streaming engine's
    # join does not keep the left side's order unless asked (no cost on the in-memory engine, 1.3 M panels).
    out = panels.join(p, on="patient_id", how="left", maintain_order="left")
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
    return with_steps(p, book.range_steps(), dtypes={f"{a}_range": RANGE_ORIGIN for a in ALL})


def build_panels(
    used: pl.LazyFrame, patients: pl.LazyFrame | None = None, *, profile: str = DEFAULT_PROFILE
) -> tuple[pl.LazyFrame, pl.DataFrame, pl.Series]:
    """Panels with canonical and derived counts, their methods and the range for each analyte; the rejects
    for repeated results found while building them; the source rows that reached a panel."""
    p, rejects, used_rows = pivot(used)
    p = with_demographics(p, patients)
    p = derive_steps_frame(p, null_columns(p, CENSOR_COLUMNS))
    p = ranges_frame(p, profile)
    helpers = [f"{a}_lab_{s}" for a in ALL for s in ("lln", "uln")]
    # Tables do not say how long a fever lasted or whether the ANC is expected to fall: unknown, not "no".
    p = p.drop(helpers).with_columns(
        profile=pl.lit(profile),
        fever_sustained=pl.lit(None, pl.Boolean),
        anc_expected_fall=pl.lit(None, pl.Boolean),
    )
    return p, rejects, used_rows
