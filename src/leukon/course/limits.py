"""The lower limit each count is judged against: the specimen's own range, chosen once per distinct context.

An episode starts below the specimen's lower limit of normal (LLN), not below one number for everybody:
normal ANC is lower in Duffy-null adults (1.21 x 10^9/L, Hibbs et al., Blood 2025) and in infants from
2 weeks to 1 year (1.0 x 10^9/L, 5-Minute Pediatric Consult), and the lab's own limit wins over any
profile. The ranges themselves are never re-stated here; they come from one place, in this order:

1. a fixed LLN the caller set (``CourseParams.lln``): origin "fixed";
2. a ``<analyte>_lln`` column in the counts (the screening stage writes one per specimen, with
   ``<analyte>_range`` saying "lab" or "profile"): origin "lab", "profile", or "given" when the table does
   not say which. An empty value there means the screening stage found no range, so the count is not
   assessed (we do not second-guess it with another range);
3. otherwise `leukon.rules.ranges.reference_range` for the specimen's profile, sex, age and ancestry
   (the ``profile``, ``sex``, ``age_days``, ``ancestry`` columns when present), called once per distinct
   combination. No range (e.g. WBC in the first month) means the count is "not assessed", with the reason.

Each count gets ``_lln_<column>``, ``_uln_<column>`` and ``_lim_<column>`` (an id into the small table of
limit descriptions: origin, source, and why a count was not assessed), so millions of counts carry two
floats and an integer, not repeated text.

>>> import polars as pl
>>> counts = pl.DataFrame({"anc": [1.3, 1.3, 0.9], "age_days": [40 * 365, 40 * 365, 100],
...     "ancestry": ["duffy-null", None, None]})
>>> lf, table = attach_limits(counts.lazy(), ("anc",))
>>> lf.select("_lln_anc").collect()["_lln_anc"].to_list()
[1.21, 1.5, 1.0]
>>> wbc, t = attach_limits(pl.LazyFrame({"wbc": [3.1], "age_days": [10]}), ("wbc",))  # no WBC range at 10 days
>>> t.join(wbc.collect(), left_on="limit_id", right_on="_lim_wbc")["reason"][0]
"the standard profile has no reference range for wbc at this age; give the lab's range"
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from leukon.rules.criteria import DEFAULT_PROFILE
from leukon.rules.ranges import ReferenceRange, age_breaks, check_ancestry, check_profile, check_sex, reference_range

#: The specimen context a profile range depends on, as the screening stage names its panel columns.
CONTEXT = ("profile", "sex", "age_days", "ancestry")
#: The limit-description table: one row per distinct (origin, source, reason).
TABLE_SCHEMA = {"limit_id": pl.UInt32, "origin": pl.String, "source": pl.String, "reason": pl.String}
ORIGINS = ("lab", "profile", "given", "fixed")
LAB_SOURCE = "the laboratory's reference range given with the result"


def lln_column(column: str) -> str:
    return f"_lln_{column}"


def uln_column(column: str) -> str:
    return f"_uln_{column}"


def limit_column(column: str) -> str:
    return f"_lim_{column}"


class _Descriptions:
    """Interns (origin, source, reason) triples to small integer ids."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str | None, str | None, str | None], int] = {}

    def id(self, origin: str | None, source: str | None, reason: str | None = None) -> int:
        return self.ids.setdefault((origin, source, reason), len(self.ids))

    def table(self) -> pl.DataFrame:
        rows = [(i, *k) for k, i in self.ids.items()]
        return pl.DataFrame(rows, schema=TABLE_SCHEMA, orient="row")


def _same_range_age(age: pl.Expr) -> pl.Expr:
    """`leukon.rules.ranges.same_range_age` for a column: the first age of its interval between `age_breaks`."""
    out = age  # below the first break (a negative age) it stays as it is
    for b in age_breaks():
        out = pl.when(age >= b).then(pl.lit(b, pl.Int64)).otherwise(out)
    return out


def _profile_source(rr: ReferenceRange, age_days: int | None) -> str:
    unknown = "" if age_days is not None else "; age not given, adult limits"
    return f"{rr.profile} profile: {rr.source}{unknown}"


def _no_range(column: str, profile: str, age_days: int | None, rr: ReferenceRange | None) -> str:
    """Why a count has no lower limit. The age itself is left out (the caller reports the span of ages), so
    one reason covers every count of the same kind."""
    if rr is not None and rr.lln is None:
        return f"the {rr.profile} profile gives no lower limit for {column}; give the lab's range"
    at = "for an adult (age not given)" if age_days is None else "at this age"
    return f"the {profile} profile has no reference range for {column} {at}; give the lab's range"


class _Selector:
    """`reference_range` once per distinct (analyte, profile, sex, age, ancestry), with the values checked
    (an unknown sex, ancestry or profile raises InputError naming the field)."""

    def __init__(self, default_profile: str) -> None:
        self.default_profile = default_profile
        self.memo: dict[tuple, ReferenceRange | None] = {}
        self.checked: dict[tuple[str, object], object] = {}

    def _check(self, field: str, value, check):
        key = (field, value)
        if key not in self.checked:
            self.checked[key] = check(value)
        return self.checked[key]

    def context(self, ctx: dict) -> tuple[str, str | None, int | None, str | None]:
        """(profile, sex, age_days, ancestry) checked and normalised, from one row of context columns."""
        profile = self._check("profile", ctx["profile"], check_profile) if ctx.get("profile") else self.default_profile
        sex = self._check("sex", ctx.get("sex"), check_sex)
        ancestry = self._check("ancestry", ctx.get("ancestry"), check_ancestry)
        return profile, sex, ctx.get("age_days"), ancestry

    def __call__(self, analyte: str, context: tuple) -> ReferenceRange | None:
        key = (analyte, *context)
        if key not in self.memo:
            profile, sex, age, ancestry = context
            self.memo[key] = reference_range(analyte, profile=profile, sex=sex, age_days=age, ancestry=ancestry)
        return self.memo[key]


def _outcome(
    c: str, given: bool, rr: ReferenceRange | None, prof: str, age_days: int | None, desc: _Descriptions
) -> tuple:
    """(lln, uln, profile lln, id when no value is given, id of a given profile value) for one range.

    Only whether the age is known matters beyond the range itself (the texts say "at this age" or "age not
    given"), so the caller can reuse one outcome for every context that selects the same range."""
    if given:
        src = _profile_source(rr, age_days) if rr is not None else f"{prof} profile"
        if rr is None or rr.lln is None:
            why = _no_range(c, prof, age_days, rr)
        else:
            why = f"no lower limit was given with this count ({c}_lln is empty)"
        return None, rr.uln if rr else None, rr.lln if rr else None, desc.id(None, None, why), desc.id("profile", src)
    if rr is None or rr.lln is None:
        return None, rr.uln if rr else None, None, desc.id(None, None, _no_range(c, prof, age_days, rr)), None
    return rr.lln, rr.uln, None, desc.id("profile", _profile_source(rr, age_days)), None


def check_contexts(panels: pl.DataFrame | pl.LazyFrame, *, profile: str = DEFAULT_PROFILE) -> None:
    """Raise the InputError `attach_limits` raises for an unknown profile, sex or ancestry anywhere in `panels`
    (each distinct value checked once), so that a caller working a batch of patients at a time finds it first."""
    schema = panels.collect_schema()
    select = _Selector(check_profile(profile))
    for k in ("profile", "sex", "ancestry"):
        if k in schema:
            for value in panels.lazy().select(pl.col(k).cast(pl.String).unique()).collect().to_series().to_list():
                select.context({k: value})


def attach_limits(
    lf: pl.LazyFrame,
    columns: Iterable[str],
    *,
    profile: str = DEFAULT_PROFILE,
    fixed: dict[str, float] | None = None,
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """Add each count's LLN, ULN and limit id for `columns`, and return the limit-description table.

    profile: the profile for rows without a ``profile`` column. fixed: {column: LLN} set by the caller,
    used for every count of that column. Also adds ``_age_days`` (Int64, null when unknown) for grading.
    """
    fixed = fixed or {}
    schema = lf.collect_schema()
    columns = [c for c in columns if c in schema]
    desc = _Descriptions()
    select = _Selector(check_profile(profile))
    ctx_cols = [c for c in CONTEXT if c in schema]
    given = {c: f"{c}_lln" in schema for c in columns if c not in fixed}
    keys = ctx_cols  # the range tag of a given limit is read by an expression, so it does not multiply contexts

    def key_expr(k: str) -> pl.Expr:
        if k == "age_days":  # ages that select the same profile rows share one lookup (not one per day of life)
            return _same_range_age(pl.col(k).cast(pl.Int64, strict=False)).alias(f"_k_{k}")
        return pl.col(k).cast(pl.String).alias(f"_k_{k}")

    age = pl.col("age_days").cast(pl.Int64, strict=False) if "age_days" in schema else pl.lit(None, pl.Int64)
    lf = lf.with_columns(age.alias("_age_days"))
    if keys:
        combos = lf.select(key_expr(k) for k in keys).unique().collect()
        contexts = [select.context(dict(zip(keys, r, strict=True))) for r in combos.iter_rows()]
    else:
        combos, contexts = None, [select.context({})]

    # Per context and column: the LLN/ULN/id when no value is given ("absent"), and the id of a given value
    # that the screening stage says came from the profile ("present"; it names the profile row's source).
    per = {c: {"lln": [], "uln": [], "plln": [], "absent": [], "present": []} for c in columns if c not in fixed}
    # Context outer, analyte inner: the range selector works out a whole context at once and keeps it, so the
    # analytes of one context reuse it.
    outcomes: dict[tuple, tuple] = {}  # many contexts share one range: describe each range once
    for ctx in contexts:
        prof, age_days = ctx[0], ctx[2]
        for c, out in per.items():
            rr = select(c, ctx)
            key = (c, rr, prof, age_days is None)
            if key not in outcomes:
                outcomes[key] = _outcome(c, given[c], rr, prof, age_days, desc)
            for k, x in zip(("lln", "uln", "plln", "absent", "present"), outcomes[key], strict=True):
                out[k].append(x)

    def value(c: str, what: str, dtype: pl.DataType) -> pl.Expr:
        if combos is None:
            return pl.lit(per[c][what][0], dtype)
        return pl.col(f"_v_{what}_{c}")

    if combos is not None and per:
        extra = {
            f"_v_{what}_{c}": pl.Series(vals, dtype=pl.Float64 if what in ("lln", "uln", "plln") else pl.UInt32)
            for c, d in per.items()
            for what, vals in d.items()
        }
        table = combos.with_columns(**extra)
        # the counts keep their order: the course reads them in time order, and outputs must not depend on a hash
        lf = lf.with_columns(key_expr(k) for k in keys).join(table.lazy(), on=[f"_k_{k}" for k in keys], how="left",
                                                             nulls_equal=True, maintain_order="left")  # fmt: skip

    exprs = []
    for c in columns:
        if c in fixed:
            fid = desc.id("fixed", "the lower limit set by the caller (CourseParams.lln)")
            exprs += [
                pl.lit(float(fixed[c]), pl.Float64).alias(lln_column(c)),
                (pl.col(f"{c}_uln").cast(pl.Float64) if f"{c}_uln" in schema else pl.lit(None, pl.Float64)).alias(
                    uln_column(c)
                ),
                pl.lit(fid, pl.UInt32).alias(limit_column(c)),
            ]
            continue
        lln, uln = value(c, "lln", pl.Float64), value(c, "uln", pl.Float64)
        lim = value(c, "absent", pl.UInt32)
        if given[c]:
            v = pl.col(f"{c}_lln").cast(pl.Float64, strict=False)
            v = pl.when(v.is_finite() & (v >= 0)).then(v)
            lln = v
            present = pl.lit(desc.id("given", f"the {c}_lln column given with the counts"), pl.UInt32)
            if f"{c}_range" in schema:
                tag = pl.col(f"{c}_range").cast(pl.String)
                # A profile limit is described by the profile row for this specimen's context only when that
                # row gives the same limit: without the context columns we cannot tell which row it was.
                same = (v == value(c, "plln", pl.Float64)).fill_null(False)
                upstream = desc.id("profile", "the profile range chosen for this specimen before `follow`")
                present = (
                    pl.when(tag == "lab")
                    .then(pl.lit(desc.id("lab", LAB_SOURCE), pl.UInt32))
                    .when((tag == "profile") & same)
                    .then(value(c, "present", pl.UInt32))
                    .when(tag == "profile")
                    .then(pl.lit(upstream, pl.UInt32))
                    .otherwise(present)
                )
            lim = pl.when(v.is_not_null()).then(present).otherwise(lim)
            if f"{c}_uln" in schema:
                uln = pl.coalesce(pl.col(f"{c}_uln").cast(pl.Float64, strict=False), uln)
        exprs += [lln.alias(lln_column(c)), uln.alias(uln_column(c)), lim.cast(pl.UInt32).alias(limit_column(c))]
    lf = lf.with_columns(exprs)
    helper = [n for n in lf.collect_schema() if n.startswith(("_k_", "_v_"))]
    return lf.drop(helper), desc.table()


__all__ = ["CONTEXT", "ORIGINS", "attach_limits", "check_contexts", "limit_column", "lln_column", "uln_column"]
