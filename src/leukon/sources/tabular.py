"""Long (one row per result) and wide (one row per CBC) tables.

Analyte codes are LOINC codes, leukon ids, catalogue aliases or OMOP concept ids, matched without case
(`leukon.rules.analytes.code_table`). A bare name is read with its unit: "Neutrophils" in K/uL is the absolute
count, "Neutrophils" in % the percentage, because labs print both under one name.
"""

from __future__ import annotations

import re
from functools import cache

import polars as pl

from leukon.measurements.normalize import ANALYTE_ENUM
from leukon.rules.analytes import ABSOLUTE, ANALYTES, PERCENT, by_name, code_table

from ..errors import InputError
from . import base, columns
from .io import ROW, Table, open_table

ROW_FIELDS = ("patient_id", "taken_at", "specimen_id", "sex", "birth_date")
LONG_FIELDS = ("patient_id", "taken_at", "analyte", "value", "unit", "lln", "uln", "specimen_id", "sex",
               "birth_date", "ancestry")  # fmt: skip
_NULL = pl.lit(None, pl.String)


@cache
def _codes() -> dict[str, str]:
    return {k.lower(): v for k, v in code_table().items()}


@cache
def _bare_names() -> list[str]:
    """Aliases that name a white-cell line without saying count or percentage (LOINC codes are explicit)."""
    lines = set(ABSOLUTE.values()) | set(PERCENT.values())
    return [a for a in (alias for i in lines for alias in (i, *ANALYTES[i].aliases)) if "%" not in a]


@cache
def _switch_maps() -> tuple[dict[str, str], dict[str, str]]:
    """(bare name -> absolute-count id, bare name -> percentage id) for names whose unit decides."""
    codes = _codes()
    to_abs = {k: ABSOLUTE[line] for k in _bare_names() for line in PERCENT if codes.get(k) == PERCENT[line]}
    to_pct = {k: PERCENT[line] for k in _bare_names() for line in ABSOLUTE if codes.get(k) == ABSOLUTE[line]}
    return to_abs, to_pct


def with_analyte(lf: pl.LazyFrame, key: str, unit: str, out: str = "analyte") -> pl.LazyFrame:
    """Add `out`: the analyte id for code column `key` (as written), a bare name switched by `unit`
    (a count unit has a '/', a percentage is '%').

    Codes and units are few while rows are many, so the mapping runs once per distinct (code, unit)
    pair and is spread back by integer pair codes, not by string work on every row.
    """
    pair = pl.struct(pl.col(key).alias("k"), pl.col(unit).alias("u"))
    return lf.with_columns(pair.map_batches(_map_pairs, return_dtype=ANALYTE_ENUM).alias(out))


def _map_pairs(pairs: pl.Series) -> pl.Series:
    df = pairs.struct.unnest()
    if df.is_empty():
        return pl.Series([], dtype=ANALYTE_ENUM)
    k = df["k"].cast(pl.String).cast(pl.Categorical).to_physical().cast(pl.UInt64).fill_null(0xFFFFFFFF)
    u = df["u"].cast(pl.String).cast(pl.Categorical).to_physical().cast(pl.UInt64).fill_null(0xFFFFFFFF)
    code = k * (1 << 32) + u
    first = pl.DataFrame({"code": code}).with_row_index("i").group_by("code").agg(pl.col("i").first())
    small = df[first["i"]].with_columns(code=first["code"])
    mapped = small.select(
        "code",
        map_code(base.text(pl.col("k").cast(pl.String)).str.to_lowercase(), pl.col("u").cast(pl.String)).alias("a"),
    )
    return code.replace_strict(mapped["code"], mapped["a"].cast(ANALYTE_ENUM), default=None, return_dtype=ANALYTE_ENUM)


def map_code(key: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """`with_analyte` as one expression (for small frames and for the OMOP source-value fallback)."""
    to_abs, to_pct = _switch_maps()
    unit = base.text(unit)
    return pl.coalesce(
        pl.when(unit.str.contains("/", literal=True)).then(key.replace_strict(to_abs, default=None)),
        pl.when(unit == "%").then(key.replace_strict(to_pct, default=None)),
        key.replace_strict(_codes(), default=None, return_dtype=pl.String),
    )


def _col(name: str | None) -> pl.Expr:
    return pl.col(name) if name else _NULL


def _check_options(options: dict, allowed: tuple[str, ...], fmt: str) -> None:
    extra = sorted(set(options) - set(allowed))
    if extra:
        raise InputError(extra[0], f"not an option of the {fmt} format; options: {', '.join(allowed)}")


def patients_from(lf: pl.LazyFrame, cols: dict[str, str | None]) -> pl.LazyFrame | None:
    """A patients table from patient_id/sex/birth_date/ancestry columns, or None when none of the last three is there."""
    if not (cols.get("sex") or cols.get("birth_date") or cols.get("ancestry")):
        return None
    schema = lf.collect_schema()
    birth = cols.get("birth_date")
    pid = cols["patient_id"]
    # Results repeat the patient's fields on every row: reduce to one raw row per patient id first, so the
    # text clean-up and parsing below run on thousands of rows, not millions.
    fields = [c for c in (cols.get("sex"), birth, cols.get("ancestry")) if c]
    given = [pl.col(c).filter(pl.col(c).cast(pl.String).str.len_bytes() > 0).first() for c in fields]
    per_patient = lf.group_by(pl.col(pid)).agg(given)
    return base.one_per_patient(
        per_patient.select(
            base.text(pl.col(pid)).alias("patient_id"),
            base.sex(_col(cols.get("sex"))).alias("sex"),
            (base.birth_date(pl.col(birth), schema[birth]) if birth else pl.lit(None, pl.Date)).alias("birth_date"),
            base.ancestry(_col(cols.get("ancestry"))).alias("ancestry"),
        )
    )


def read_patients(spec: str, *, fields: dict[str, str | None] | None = None) -> pl.LazyFrame:
    """A separate patients file (patient_id and sex and/or birth_date columns) as the patients table."""
    t = open_table(spec, field_name="patients")
    want = {k: columns.CANDIDATES[k] for k in ("patient_id", "sex", "birth_date", "ancestry")}
    cols = columns.resolve(t.columns, want, required=("patient_id",), given=fields or {}, label=t.label)
    out = patients_from(t.frame, cols)
    if out is None:
        raise InputError("patients", f"{t.label} has neither a sex nor a birth date column; add one")
    return out


def read_long(
    spec: str,
    *,
    table: str | None = None,
    time_format: str | None = None,
    patients: str | None = None,
    **names: str | None,
) -> base.Source:
    """One row per result. `names` maps fields (LONG_FIELDS) to headers when they differ from the usual."""
    _check_options(names, LONG_FIELDS, "long")
    t = open_table(spec, table=table)
    fields = {k: columns.CANDIDATES[k] for k in LONG_FIELDS}
    cols = columns.resolve(
        t.columns, fields, required=("patient_id", "taken_at", "analyte", "value"), given=names, label=t.label
    )
    staged = t.frame.select(
        pl.col(ROW),
        pl.col(cols["patient_id"]).alias("patient_id"),
        _col(cols["specimen_id"]).alias("specimen_id"),
        pl.col(cols["taken_at"]).alias("taken_at"),
        base.text(pl.col(cols["analyte"])).alias("code"),
        pl.col(cols["value"]).alias("value"),
        _col(cols["unit"]).alias("unit"),
        _col(cols["lln"]).alias("lln"),
        _col(cols["uln"]).alias("uln"),
        _NULL.alias("reason"),
        pl.struct(t.columns).alias("raw"),
    )
    staged = with_analyte(staged, "code", "unit")
    pats = read_patients(patients) if patients else patients_from(t.frame, cols)
    return base.finish(
        staged,
        row_count=t.row_count,
        format="long",
        label=t.label,
        patients=pats,
        time_format=time_format,
        time_only=time_format is not None,
        notes=t.notes,
        keepalive=t.keepalive,
    )


# --- wide -----------------------------------------------------------------------------------------------

_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*[\(\[]\s*(?P<unit>[^\)\]]+?)\s*[\)\]]\s*$")
_SUFFIXES = ("_unit", "_units", "_lln", "_uln")


def wide_columns(
    header: list[str], taken: set[str], analytes: dict[str, str] | None
) -> dict[str, tuple[str, str | None]]:
    """Analyte columns of a wide table: {column: (analyte id, unit written in the header or None)}."""
    out: dict[str, tuple[str, str | None]] = {}
    if analytes:
        by_lower = {c.lower(): c for c in header}
        for col, code in analytes.items():
            real = by_lower.get(col.lower())
            hit = by_name(code) or by_name(col)
            if real is None or hit is None:
                what = f"column {col!r} is not in the table" if real is None else f"{code!r} is not an analyte"
                raise InputError("analytes", f"{what}; map columns to ids such as wbc, anc, neutrophils_pct")
            out[real] = (hit.id, None)
        return out
    for col in header:
        low = col.lower()
        if col in taken or low.endswith(_SUFFIXES):
            continue
        m = _HEADER_UNIT.match(col)
        name, unit = (m["name"], m["unit"]) if m else (col, None)
        key = name.strip().lower()
        hit = by_name(key)
        if hit is None:
            continue
        out[col] = (_by_unit(key, hit.id, unit), unit)
    return out


def _by_unit(key: str, analyte: str, unit: str | None) -> str:
    """The same line switch as `map_code`, for one header."""
    if unit is None or key not in _bare_names():
        return analyte
    for line, pct in PERCENT.items():
        if analyte == pct and "/" in unit:
            return ABSOLUTE[line]
        if analyte == ABSOLUTE[line] and unit.strip() == "%":
            return pct
    return analyte


def _companion(header: list[str], col: str, suffix: str) -> str | None:
    by_lower = {c.lower(): c for c in header}
    base_name = _HEADER_UNIT.match(col)["name"] if _HEADER_UNIT.match(col) else col
    for stem in (col, base_name.strip()):
        for s in (suffix, suffix + "s") if suffix == "_unit" else (suffix,):
            hit = by_lower.get((stem + s).lower())
            if hit:
                return hit
    return None


def read_wide(
    spec: str,
    *,
    table: str | None = None,
    time_format: str | None = None,
    patients: str | None = None,
    analytes: dict[str, str] | None = None,
    units: dict[str, str] | None = None,
    **names: str | None,
) -> base.Source:
    """One row per CBC, one column per analyte.

    A column's unit comes from a `<column>_unit` column, else `units[column]`, else the header
    ("WBC (10^9/L)"), else none (the kernel then reports the unit as missing). `<column>_lln` and
    `<column>_uln` columns give reference limits. Accounting is per input row: a row with at least one
    usable result is used (its bad cells are listed in `Source.dropped`), a row with none is a reject.
    """
    _check_options(names, ROW_FIELDS, "wide")
    t = open_table(spec, table=table)
    fields = {k: columns.CANDIDATES[k] for k in ROW_FIELDS}
    cols = columns.resolve(t.columns, fields, required=("patient_id", "taken_at"), given=names, label=t.label)
    header = t.columns
    found = wide_columns(header, {c for c in cols.values() if c}, analytes)
    if not found:
        raise InputError(
            "analytes",
            f"no analyte columns recognised in {t.label}; name them (CLI --analyte COLUMN=wbc) or use headers "
            "such as WBC, ANC, Neutrophils %, 751-8",
        )
    units = {k.lower(): v for k, v in (units or {}).items()}
    schema = t.frame.collect_schema()
    as_text = not all(schema[c].is_numeric() for c in found)
    # One staged frame per analyte column, stacked: the wide table's cells in the long layout.
    used = set(found) | {c for c in cols.values() if c}
    cells = []
    for col, (analyte, header_unit) in found.items():
        unit_col = _companion(header, col, "_unit")
        lln, uln = _companion(header, col, "_lln"), _companion(header, col, "_uln")
        used |= {c for c in (unit_col, lln, uln) if c}
        default = units.get(col.lower()) or header_unit
        value = pl.col(col).cast(pl.String) if as_text else pl.col(col).cast(pl.Float64)
        cells.append(
            t.frame.select(
                pl.col(ROW),
                pl.col(cols["patient_id"]).cast(pl.String).alias("patient_id"),
                _col(cols["specimen_id"]).cast(pl.String).alias("specimen_id"),
                pl.col(cols["taken_at"]).alias("taken_at"),
                pl.lit(col).alias("code"),
                pl.lit(analyte).alias("analyte"),
                value.alias("value"),
                (pl.col(unit_col).cast(pl.String) if unit_col else pl.lit(default, pl.String)).alias("unit"),
                (pl.col(lln).cast(pl.String) if lln else _NULL).alias("lln"),
                (pl.col(uln).cast(pl.String) if uln else _NULL).alias("uln"),
                _NULL.alias("reason"),
                pl.lit(None, pl.Null).alias("raw"),
                base.text(value.cast(pl.String)).alias("value_text"),
                base.text(value.cast(pl.String)).is_null().alias("empty"),
            )
        )
    staged = pl.concat(cells, how="vertical")
    checked = base.checked(staged, time_format=time_format, time_only=time_format is not None)
    ignored = [c for c in header if c not in used]
    notes = [*t.notes, *([f"ignored columns: {', '.join(ignored)}"] if ignored else [])]
    pats = read_patients(patients) if patients else patients_from(t.frame, cols)
    return _wide_source(t, checked, pats, notes)


def _wide_source(t: Table, checked: pl.LazyFrame, pats: pl.LazyFrame | None, notes: list[str]) -> base.Source:
    """Per-row accounting over per-cell checks (see read_wide)."""
    usable = pl.col("_kind").is_null() & ~pl.col("empty")
    bad = base.describe(checked.filter(pl.col("_kind").is_not_null() & ~pl.col("empty")))
    rows = (
        checked.group_by(ROW)
        .agg(usable.any().alias("used"))
        .join(bad.group_by(ROW).agg(pl.col("reason").sort_by("_kind").first().alias("first")), on=ROW, how="left")
    )
    rejected = rows.filter(~pl.col("used")).select(
        ROW, pl.coalesce("first", pl.lit("no analyte value in row")).alias("reason")
    )
    rejects = (
        t.frame.join(rejected, on=ROW, how="inner")
        .select(ROW, base.raw_json(pl.struct(t.columns)).alias("raw"), "reason")
        .sort(ROW)
    )
    dropped = bad.join(rows.filter("used").select(ROW), on=ROW, how="semi").select(
        ROW, pl.col("code").alias("column"), pl.col("value_text").alias("raw"), "reason"
    )
    return base.Source(
        measurements=checked.filter(usable).select(list(base.MEASUREMENTS_SCHEMA)),
        rejects=rejects,
        patients=pats,
        row_count=t.row_count,
        format="wide",
        label=t.label,
        dropped=dropped,
        notes=notes,
        keepalive=t.keepalive,
    )
