"""Long (one row per result) and wide (one row per CBC) tables.

Analyte codes are LOINC codes, OMOP concept ids, leukon ids or the names laboratories print, in English,
German, French or Spanish, and a lab's own codes from a mapping file (`map=`); see `leukon.sources.mapping`.
A bare name is read with its unit: "Neutrophils" in K/uL is the absolute count, "Neutrophils" in % the
percentage, because labs print both under one name.

Result cells may be censored ("<0.5", kept with the operator in `censor`), flagged ("0.45 L") or written
with a decimal comma (`decimal=","`, or detected); reference ranges may come as one string ("3.4-10.8",
"<5", ">=1.5", "3.4 - 10.8 x10^9/L") in a range column. See `leukon.sources.values`.
"""

from __future__ import annotations

import re

import polars as pl

from leukon.rules.analytes import by_name
from leukon.rules.units import parse_unit, tidy

from ..errors import InputError
from . import base, columns, mapping, values
from .io import ROW, Table, open_table

ROW_FIELDS = ("patient_id", "taken_at", "specimen_id", "sex", "birth_date")
LONG_FIELDS = ("patient_id", "taken_at", "analyte", "value", "unit", "lln", "uln", "range", "specimen_id", "sex",
               "birth_date", "ancestry")  # fmt: skip
#: Rows read to detect a decimal comma in a text value column.
DECIMAL_SAMPLE = 2000
NULL_TEXT = pl.lit(None, pl.String)


def map_code(key: pl.Expr, unit: pl.Expr) -> pl.Expr:
    """The analyte id a code or name column means (with the unit deciding count vs %), as one expression.

    The same resolution as `read_long` (`leukon.sources.mapping.resolve`), without a local mapping file;
    the OMOP adapter uses it for source values whose concept id is 0.
    """
    pair = pl.struct(key.cast(pl.String).alias("k"), base.text(unit).alias("u"))
    resolved = pair.map_batches(mapping.resolver(), return_dtype=mapping.RESOLVED, is_elementwise=True)
    return resolved.struct.field("analyte").cast(pl.String)


def _col(name: str | None) -> pl.Expr:
    return pl.col(name) if name else NULL_TEXT


def check_options(options: dict, allowed: tuple[str, ...], fmt: str) -> None:
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
    given = [pl.col(c).filter(_filled(c, schema[c])).first() for c in fields]
    per_patient = lf.group_by(pl.col(pid)).agg(given)
    return base.one_per_patient(
        per_patient.select(
            base.text(pl.col(pid)).alias("patient_id"),
            base.sex(_col(cols.get("sex"))).alias("sex"),
            (base.birth_date(pl.col(birth), schema[birth]) if birth else pl.lit(None, pl.Date)).alias("birth_date"),
            base.ancestry(_col(cols.get("ancestry"))).alias("ancestry"),
        )
    )


def _filled(name: str, dtype: pl.DataType) -> pl.Expr:
    """A cell that holds something: non-empty text, or any value of another type (a date is never formatted)."""
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return pl.col(name).cast(pl.String).str.len_bytes() > 0
    return pl.col(name).is_not_null()


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
    map: str | mapping.LocalMap | None = None,
    decimal: str | None = None,
    **names: str | None,
) -> base.Source:
    """One row per result. `names` maps fields (LONG_FIELDS) to headers when they differ from the usual.

    `map`: a mapping file of local codes and units (`leukon.sources.mapping`). `decimal`: the decimal mark
    of the number cells ('.' or ','); by default it is detected, and an ambiguous column is noted.
    """
    check_options(names, LONG_FIELDS, "long")
    local = mapping.load_map(map)
    decimal = values.check_decimal(decimal)
    t = open_table(spec, table=table)
    fields = {k: columns.CANDIDATES[k] for k in LONG_FIELDS}
    taken_at, split = _taken_at(t.columns, names)
    cols = columns.resolve(
        t.columns,
        fields,
        required=("patient_id", "taken_at", "analyte", "value"),
        given={**names, "taken_at": split[0]} if split else names,
        label=t.label,
    )
    schema = t.frame.collect_schema()
    notes = list(t.notes)
    taken_at = taken_at if split else pl.col(cols["taken_at"])
    decimal = _decimal_of(t.frame, cols["value"], schema, decimal, notes)
    value, censor = _value_and_censor(cols["value"], schema, decimal)
    staged = t.frame.select(
        pl.col(ROW),
        pl.col(cols["patient_id"]).alias("patient_id"),
        _col(cols["specimen_id"]).alias("specimen_id"),
        taken_at.alias("taken_at"),
        # As written: the code mapping strips each distinct code once, and `base.checked` the column.
        pl.col(cols["analyte"]).cast(pl.String).alias("code"),
        value.alias("value"),
        _col(cols["unit"]).alias("unit"),
        _limit(cols["lln"], schema, decimal).alias("lln"),
        _limit(cols["uln"], schema, decimal).alias("uln"),
        NULL_TEXT.alias("reason"),
        pl.struct(t.columns).alias("raw"),
        censor.alias("censor"),
        _col(cols["range"]).cast(pl.String).alias("_range"),
    )
    staged = mapping.with_resolved(staged, "code", "unit", local)
    staged = (with_range(staged, decimal) if cols["range"] else staged).drop("_range")
    pats = read_patients(patients) if patients else patients_from(t.frame, cols)
    return base.finish(
        staged,
        row_count=t.row_count,
        format="long",
        label=t.label,
        patients=pats,
        time_format=time_format,
        time_only=time_format is not None,
        notes=notes,
        keepalive=t.keepalive,
        engine=t.engine,
        by_rows=t.by_rows,
    )


def _taken_at(header: list[str], names: dict) -> tuple[pl.Expr | None, tuple[str, str] | None]:
    """The time of a specimen from separate date and time columns (analyser and European exports), if any."""
    split = None if names.get("taken_at") else columns.date_and_time(header)
    if split is None:
        return None, None
    return base.text(pl.col(split[0])) + pl.lit(" ") + base.text(pl.col(split[1])), split


def _decimal_of(frame: pl.LazyFrame, column: str, schema: pl.Schema, decimal: str | None, notes: list[str]) -> str:
    """The decimal mark of a value column: the caller's, else detected from its first text cells."""
    if decimal is not None or schema[column] != pl.String:
        return decimal or "."
    sample = frame.select(base.text(pl.col(column)).alias("v")).filter(pl.col("v").is_not_null()).head(DECIMAL_SAMPLE)
    found, note = values.detect_decimal(sample.collect()["v"].to_list())
    if note:
        notes.append(f"{column}: {note}")
    elif found == ",":
        notes.append(f"{column}: decimal commas detected (3,1 read as 3.1); pass decimal='.' if that is wrong")
    return found


def _value_and_censor(column: str, schema: pl.Schema, decimal: str) -> tuple[pl.Expr, pl.Expr]:
    """The value as cleaned text (or the numeric column as is) and its censoring operator."""
    if schema[column] != pl.String:
        return pl.col(column), NULL_TEXT
    return values.value_exprs(pl.col(column), decimal)


def _limit(column: str | None, schema: pl.Schema, decimal: str) -> pl.Expr:
    """A reference-limit column as cleaned text (decimal commas and thousands separators read)."""
    if column is None:
        return NULL_TEXT
    if schema[column] != pl.String:
        return pl.col(column)
    return values.value_exprs(pl.col(column), decimal)[0]


RANGE_PARTS = pl.Struct({"lln": pl.String, "uln": pl.String, "unit": pl.String, "reason": pl.String})


def with_range(staged: pl.LazyFrame, decimal: str) -> pl.LazyFrame:
    """Fill `lln`/`uln` (where the table gave none) from the `_range` string, in the result's unit."""

    def run(s: pl.Series) -> pl.Series:
        df = s.struct.unnest()
        df.columns = ["a", "u", "r"]
        distinct = df.unique(maintain_order=True)
        rows = [_range_parts(a, u, r, decimal) for a, u, r in distinct.iter_rows()]
        table = distinct.with_columns(
            *(pl.Series(n, [r[i] for r in rows], dtype=pl.String) for i, n in enumerate(("lln", "uln", "uo", "why")))
        )
        out = df.join(table, on=["a", "u", "r"], how="left", nulls_equal=True, maintain_order="left")
        return out.select(lln="lln", uln="uln", unit="uo", reason="why").to_struct(s.name)

    given = pl.struct(pl.col("analyte").cast(pl.String), pl.col("unit").cast(pl.String), pl.col("_range"))
    parts = (  # row by row (each row's parts come from its own text), so a large input can stream
        pl.when(pl.col("_range").is_not_null())
        .then(given)
        .map_batches(run, return_dtype=RANGE_PARTS, is_elementwise=True)
    )
    staged = staged.with_columns(parts.alias("_rp"))
    field = pl.col("_rp").struct.field
    return staged.with_columns(
        pl.coalesce(pl.col("lln").cast(pl.String), field("lln")).alias("lln"),
        pl.coalesce(pl.col("uln").cast(pl.String), field("uln")).alias("uln"),
        pl.coalesce(base.text(pl.col("unit")), field("unit")).alias("unit"),
        pl.coalesce(pl.col("reason"), field("reason")).alias("reason"),
    ).drop("_rp")


def _range_parts(analyte: str | None, unit: str | None, text: str | None, decimal: str) -> tuple:
    """(lln, uln, unit, reason) as text for one (analyte, unit, range string)."""
    if text is None or not text.strip() or analyte is None:
        return None, None, None, None
    parsed = values.parse_range(text, decimal)
    if parsed is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        return None, None, None, f"reference range not understood {shown!r}; write it as LOW-HIGH, <HIGH or >=LOW"
    lo, hi, range_unit = parsed
    if range_unit and unit and range_unit.strip() != unit.strip():
        from leukon.rules.analytes import ANALYTES

        dim = ANALYTES[analyte].dimension
        f_range, f_row = parse_unit(dim, range_unit), parse_unit(dim, unit)
        if f_range is None or f_row is None or f_range.offset or f_row.offset:
            return None, None, None, f"reference range unit {range_unit!r} cannot be compared with the unit {unit!r}"
        lo, hi = (None if x is None else tidy(x * f_range.factor / f_row.factor) for x in (lo, hi))
    return (
        None if lo is None else repr(lo),
        None if hi is None else repr(hi),
        None if unit else range_unit,
        None,
    )


# --- wide -----------------------------------------------------------------------------------------------

_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*[\(\[]\s*(?P<unit>[^\)\]]+?)\s*[\)\]]\s*$")
_SUFFIXES = ("_unit", "_units", "_lln", "_uln")


def wide_columns(
    header: list[str], taken: set[str], analytes: dict[str, str] | None, local: mapping.LocalMap = mapping.EMPTY
) -> dict[str, tuple[str, str | None]]:
    """Analyte columns of a wide table: {column: (analyte id, unit written in the header or None)}.

    A header is read like a code in a long table (`leukon.sources.mapping.resolve`), with the unit written
    in it ("NEUT#(10^3/uL)", "Lymphozyten [G/l]") deciding a name that does not say count or percentage.
    """
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
        hit = mapping.resolve(name.strip(), unit, local)
        if hit.analyte is None:
            continue
        out[col] = (hit.analyte, hit.unit)
    return out


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
    map: str | mapping.LocalMap | None = None,
    decimal: str | None = None,
    **names: str | None,
) -> base.Source:
    """One row per CBC, one column per analyte.

    Headers are read like codes in a long table (`map=` adds a lab's own); cells may be censored ("<0.1")
    or use a decimal comma (`decimal`, else detected). An analyser export's separate date and time columns
    are joined into the time of the specimen.

    A column's unit comes from a `<column>_unit` column, else `units[column]`, else the header
    ("WBC (10^9/L)"), else none (the kernel then reports the unit as missing). `<column>_lln` and
    `<column>_uln` columns give reference limits. Accounting is per input row: a row with at least one
    usable result is used (its bad cells are listed in `Source.dropped`), a row with none is a reject.
    """
    check_options(names, ROW_FIELDS, "wide")
    local = mapping.load_map(map)
    decimal = values.check_decimal(decimal)
    t = open_table(spec, table=table)
    fields = {k: columns.CANDIDATES[k] for k in ROW_FIELDS}
    taken_at, split = _taken_at(t.columns, names)
    given = {**names, "taken_at": split[0]} if split else names
    cols = columns.resolve(t.columns, fields, required=("patient_id", "taken_at"), given=given, label=t.label)
    header = t.columns
    taken_at = taken_at if split else pl.col(cols["taken_at"])
    time_cols = set(split) if split else {cols["taken_at"]}
    found = wide_columns(header, {c for c in cols.values() if c} | time_cols, analytes, local)
    if not found:
        raise InputError(
            "analytes",
            f"no analyte columns recognised in {t.label}; name them (CLI --analyte COLUMN=wbc) or use headers "
            "such as WBC, ANC, Neutrophils %, 751-8",
        )
    units = {k.lower(): v for k, v in (units or {}).items()}
    schema = t.frame.collect_schema()
    as_text = not all(schema[c].is_numeric() for c in found)
    notes = list(t.notes)
    if as_text and decimal is None:
        sample = t.frame.select(pl.concat_list([base.text(pl.col(c).cast(pl.String)) for c in found]).alias("v"))
        sample = sample.head(DECIMAL_SAMPLE).explode("v").drop_nulls().collect()["v"].to_list()
        decimal, note = values.detect_decimal(sample)
        if note or decimal == ",":
            notes.append(note or "decimal commas detected (3,1 read as 3.1); pass decimal='.' if that is wrong")
    decimal = decimal or "."
    # One staged frame per analyte column, stacked: the wide table's cells in the long layout.
    used = set(found) | {c for c in cols.values() if c} | time_cols
    cells = []
    for col, (analyte, header_unit) in found.items():
        unit_col = _companion(header, col, "_unit")
        lln, uln = _companion(header, col, "_lln"), _companion(header, col, "_uln")
        used |= {c for c in (unit_col, lln, uln) if c}
        default = units.get(col.lower()) or header_unit
        given = pl.col(col).cast(pl.String) if as_text else pl.col(col).cast(pl.Float64)
        value, censor = _value_and_censor(col, pl.Schema({col: pl.String}), decimal) if as_text else (given, NULL_TEXT)
        cells.append(
            t.frame.select(
                pl.col(ROW),
                pl.col(cols["patient_id"]).cast(pl.String).alias("patient_id"),
                _col(cols["specimen_id"]).cast(pl.String).alias("specimen_id"),
                taken_at.alias("taken_at"),
                pl.lit(col).alias("code"),
                pl.lit(analyte).alias("analyte"),
                (value.cast(pl.String) if as_text else value).alias("value"),
                (pl.col(unit_col).cast(pl.String) if unit_col else pl.lit(default, pl.String)).alias("unit"),
                (pl.col(lln).cast(pl.String) if lln else NULL_TEXT).alias("lln"),
                (pl.col(uln).cast(pl.String) if uln else NULL_TEXT).alias("uln"),
                NULL_TEXT.alias("reason"),
                pl.lit(None, pl.Null).alias("raw"),
                base.text(given.cast(pl.String)).alias("value_text"),
                base.text(given.cast(pl.String)).is_null().alias("empty"),
                censor.alias("censor"),
            )
        )
    staged = pl.concat(cells, how="vertical")
    checked = base.checked(staged, time_format=time_format, time_only=time_format is not None)
    ignored = [c for c in header if c not in used]
    notes += [f"ignored columns: {', '.join(ignored)}"] if ignored else []
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
        measurements=base.as_measurements(checked.filter(usable)),
        rejects=rejects,
        patients=pats,
        row_count=t.row_count,
        format="wide",
        label=t.label,
        dropped=dropped,
        notes=notes,
        keepalive=t.keepalive,
        engine=t.engine,
    )
