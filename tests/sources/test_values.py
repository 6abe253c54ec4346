"""Result and range text as exports write it, and lab test names in four languages."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from importlib import resources

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from leukon.rules.analytes import ABSOLUTE, PERCENT, by_local_name, fold_name
from leukon.sources.mapping import resolve
from leukon.sources.values import detect_decimal, parse_range, parse_value, value_parts

# Hundredths from 0 to 999.99, as text with either decimal mark.
amounts = st.integers(0, 99999).map(lambda c: Decimal(c) / 100)


def _text(d: Decimal, mark: str) -> str:
    return f"{d:.2f}".replace(".", mark)


@settings(deadline=None)  # a loaded CI machine must not fail a correct test on time
@given(amounts, st.sampled_from(["<", "<=", ">", ">=", "≤", "≥", ""]), st.sampled_from(["", " ", "  "]),
       st.sampled_from(["", " L", " H", " LL", "*", " (H)"]), st.sampled_from([".", ","]))  # fmt: skip
def test_a_result_cell_reads_back_its_number_and_operator(d, op, gap, flag, mark):
    value, censor = parse_value(f"{op}{gap}{_text(d, mark)}{flag}", decimal=mark)
    assert value == float(d)
    assert censor == {"≤": "<=", "≥": ">=", "": None}.get(op, op)


@settings(deadline=None)  # a loaded CI machine must not fail a correct test on time
@given(amounts, amounts, st.sampled_from(["-", " - ", "–", " to "]), st.sampled_from(["", " x10^9/L", " G/l"]),
       st.sampled_from([".", ","]))  # fmt: skip
def test_a_range_string_reads_back_its_limits(lo, hi, dash, unit, mark):
    text = f"{_text(lo, mark)}{dash}{_text(hi, mark)}{unit}"
    got = parse_range(text, decimal=mark)
    if lo >= hi:
        assert got is None  # an empty or reversed range is refused, never half-read
    else:
        assert got == (float(lo), float(hi), unit.strip() or None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.4-10.8", (3.4, 10.8, None)),
        ("<5", (None, 5.0, None)),
        ("<=5", (None, 5.0, None)),
        (">=1.5", (1.5, None, None)),
        ("> 1.5", (1.5, None, None)),
        ("3.4 - 10.8 x10^9/L", (3.4, 10.8, "x10^9/L")),
        ("(4.0-11.0)", (4.0, 11.0, None)),
        ("[150 - 400] 10^3/uL", (150.0, 400.0, "10^3/uL")),
        ("3,400-10,800 /uL", (3400.0, 10800.0, "/uL")),  # thousands separators in a decimal-point file
        ("normal", None),
        ("", None),
        ("10-5", None),
    ],
)
def test_range_strings(text, expected):
    assert parse_range(text) == expected


def test_decimal_comma_detection():
    assert detect_decimal(["3,1", "0,45", "12", "<0,5"]) == (",", None)
    assert detect_decimal(["3.1", "4,200"]) == (".", None)  # points present: commas are thousands
    assert detect_decimal(["0,450"])[0] == ","  # a leading 0 is no thousands group
    mark, note = detect_decimal(["3,100", "12,500"])
    assert mark == "." and "pass decimal=','" in note
    assert detect_decimal([]) == (".", None)


def test_value_parts_keeps_unreadable_text_for_the_reject_reason():
    s = pl.Series("v", ["3.1", "<0.5", "see note", None, "0.45 L", "1,5"])
    out = value_parts(".")(s).struct.unnest()
    assert out["text"].to_list() == ["3.1", "0.5", "see note", None, "0.45", "1,5"]
    assert out["censor"].to_list() == [None, "<", None, None, None, None]
    out = value_parts(",")(s).struct.unnest()
    assert out["text"].to_list()[-1] == "1.5"


# --- names ----------------------------------------------------------------------------------------------

NAMES = tomllib.loads(resources.files("leukon.rules").joinpath("data", "names.toml").read_text("utf-8"))["name"]
EVERY_NAME = [(row, lang, name) for row in NAMES for lang in ("en", "de", "fr", "es") for name in row.get(lang, ())]


@pytest.mark.parametrize(("row", "lang", "name"), EVERY_NAME, ids=[f"{lang}:{n}" for _, lang, n in EVERY_NAME])
def test_every_listed_name_resolves_to_its_analyte(row, lang, name):
    hit = by_local_name(name)
    assert hit is not None
    if "analyte" in row:
        assert hit.resolve("10^9/L") == row["analyte"] and hit.resolve("%") == row["analyte"]
    else:
        line = row["either"]
        assert hit.resolve("10^9/L") == ABSOLUTE[line]
        assert hit.resolve("G/l") == ABSOLUTE[line]
        assert hit.resolve("%") == PERCENT[line] and hit.resolve(None) == PERCENT[line]


@pytest.mark.parametrize(
    ("name", "unit", "analyte"),
    [
        ("Neutrophils (Absolute)", "x10E3/uL", "anc"),
        ("NEUTROPHILS, ABSOLUTE", "K/uL", "anc"),
        ("Abs Neut", None, "anc"),
        ("ANC", "cells/uL", "anc"),
        ("Segs", "%", "neutrophils_pct"),
        ("Lymphs", "%", "lymphocytes_pct"),
        ("Lymphs (Absolute)", "K/uL", "lymphocytes"),
        ("Abs Lymph", "K/uL", "lymphocytes"),
        ("WBC Count", "K/uL", "wbc"),
        ("Leukocytes", "G/L", "wbc"),
        ("Leukozyten", "G/l", "wbc"),
        ("Neutrophile Granulozyten", "G/l", "anc"),
        ("Polynucléaires neutrophiles", "G/L", "anc"),
        ("Neutrófilos", "%", "neutrophils_pct"),
        ("Linfocitos", "10^3/µL", "lymphocytes"),
        ("Plaquetas", "10^3/µL", "platelets"),
        ("751-8", "K/uL", "anc"),  # a LOINC code still wins over any name
        ("3013650", "K/uL", "anc"),  # an OMOP concept id
    ],
)
def test_names_as_labs_print_them(name, unit, analyte):
    assert resolve(name, unit).analyte == analyte


@settings(deadline=None)  # a loaded CI machine must not fail a correct test on time
@given(st.sampled_from([n for _, _, n in EVERY_NAME]), st.sampled_from([str.upper, str.lower, str.title]),
       st.sampled_from(["", " ", "  "]))  # fmt: skip
def test_case_and_spacing_do_not_change_a_name(name, case, pad):
    assert fold_name(pad + case(name) + pad) == fold_name(name)


cells = st.one_of(
    st.builds(
        lambda op, d, flag, mark: f"{op}{_text(d, mark)}{flag}",
        st.sampled_from(["", "<", ">=", "≤"]),
        amounts,
        st.sampled_from(["", " L", "*"]),
        st.sampled_from([".", ","]),
    ),
    st.sampled_from(["3,100", "12,500.5", "1.234,5", "see note", "----", "", " 7 ", "1e3", "<", "0,45"]),
    st.text(alphabet="0123456789.,<> LH", max_size=8),
)


@settings(deadline=None)  # a loaded CI machine must not fail a correct test on time
@given(st.lists(cells, min_size=1, max_size=20), st.sampled_from([".", ","]))
# Found by this test: text matching the pattern that is no number ("0,0,0" with a decimal comma, "<1.2.3") was
# half cleaned ("0.0,0", "1.2.3" with "<"), so its reject quoted text the file does not hold.
@example(["0.00", "0,0,0"], ",")
@example(["<1.2.3", "1,2,3"], ".")
def test_the_vectorised_reader_agrees_with_the_scalar_one(texts, mark):
    """value_exprs (Polars, for tables) and parse_value (one cell) read every cell alike."""
    out = value_parts(mark)(pl.Series("v", texts)).struct.unnest()
    for text, got_text, got_censor in zip(texts, out["text"], out["censor"], strict=True):
        number, censor = parse_value(text, mark)
        plain = _float(text.strip())
        if number is not None and not (mark == "." and plain is not None):
            assert (_float(got_text), got_censor) == (number, censor), text
        elif plain is not None and mark == ".":
            assert (_float(got_text), got_censor) == (plain, None), text
        else:
            assert got_censor is None and got_text == text.strip(), text


def _float(text: str | None) -> float | None:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


_CODES = st.sampled_from(
    [None, "", " ", "718-7", " 26464-8 ", "6690-2", "WBC", "Lymphs", "Neutrofils Abs", "zzz", "anc"]
)
_UNITS = st.sampled_from([None, "", " ", "g/dL", "K/uL", " 10^9/L ", "%", "cells/uL", "x"])


@settings(deadline=None)
@given(st.lists(st.tuples(_CODES, _UNITS), max_size=60))
def test_the_batch_resolver_answers_each_row_as_resolve_does(rows):
    """The batch resolver numbers each row's (code, unit) pair and resolves each distinct pair once; every row
    still gets `resolve`'s answer for its own pair (nulls, blanks and unknown codes included)."""
    from leukon.sources.mapping import RESOLVED, resolver

    pairs = pl.DataFrame(rows, schema={"k": pl.String, "u": pl.String}, orient="row").to_struct("p")
    got = resolver()(pairs).struct.unnest()
    assert got.dtypes == list(RESOLVED.to_schema().values())
    for (code, unit), answer in zip(rows, got.iter_rows(), strict=True):
        want = resolve(code, unit)
        clean = None if want.unit is None else want.unit.strip() or None
        assert answer == (want.analyte, clean, want.reason), (code, unit)


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=80), st.sampled_from([1, 10**6]))
def test_pairs_are_numbered_alike_by_count_and_by_sort(pairs, scale):
    """Pairs of category numbers are counted with a bincount when the numbers are small and sorted when they are
    not (a process that has made many categories); either way each row points at a row holding its own pair,
    and rows with different pairs point at different ones."""
    import numpy as np

    from leukon.sources.mapping import _pairs

    k = np.array([a * scale for a, _ in pairs], dtype=np.uint32)
    u = np.array([b * scale for _, b in pairs], dtype=np.uint32)
    rows, where = _pairs(k, u)
    assert len(rows) == len(set(pairs))
    for i in range(len(pairs)):
        held = rows[where[i]]
        assert (k[held], u[held]) == (k[i], u[i])
