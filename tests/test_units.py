"""Unit spellings, conversions and plausibility."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import leukon
from leukon.errors import InputError, UnitError
from leukon.rules.criteria import SCHEMES
from leukon.rules.units import check_value, parse_unit, to_canonical

# (spelling, factor to 10^9/L)
COUNT_UNITS = [
    ("10^9/L", 1), ("10*9/L", 1), ("10**9/L", 1), ("x10E9/L", 1), ("x 10^9 / L", 1), ("10⁹/L", 1), ("G/L", 1),
    ("giga/L", 1), ("Gpt/L", 1), ("/nL", 1), ("10^3/uL", 1), ("10*3/uL", 1), ("10^3/µL", 1), ("10^3/μL", 1),
    ("10^3/mcL", 1), ("10³/µl", 1), ("K/uL", 1), ("K/µL", 1), ("k/ul", 1), ("thou/uL", 1), ("thou/mcL", 1),
    ("10^3/mm3", 1), ("10^3/mm^3", 1), ("10*6/mL", 1), ("billion cells per liter", 1), ("{cells}/uL", 0.001),
    ("/uL", 0.001), ("/µL", 0.001), ("cells/uL", 0.001), ("cells/µL", 0.001), ("#/uL", 0.001), ("/mm3", 0.001),
    ("/mm³", 0.001), ("cells/mm3", 0.001), ("cells/cumm", 0.001), ("10^3/mL", 0.001), ("10^8/L", 0.1),
    ("10^6/L", 0.001), ("10^12/L", 1000),
    # UCUM and export spellings (issue 9 item 3, issue 11)
    ("1/uL", 0.001), ("1/mm3", 0.001), ("{cells}/mm3", 0.001), ("10*3/{cells}/uL", None), ("/mcL", 0.001),
    ("x 10 9/L", 1), ("x10 9/l", 1), ("10 3/uL", 1), ("x10E9/L", 1), ("10+9/L", 1), ("1e9/L", 1), ("G/l", 1),
    ("10^3/mm3", 1), ("K/cmm", 1), ("cells/cmm", 0.001), ("Tsd/µl", 1), ("Mrd/l", 1), ("miles/µL", 1),
    ("10*9/L", 1), ("10^9 cells/L", 1), ("x10^3/µL", 1), ("×10⁹/L", 1),
]  # fmt: skip
COUNT_UNITS = [(u, f) for u, f in COUNT_UNITS if f is not None]


@pytest.mark.parametrize(("unit", "factor"), COUNT_UNITS)
def test_count_spellings(unit, factor):
    assert parse_unit("count", unit).factor == pytest.approx(factor, rel=1e-15)


@pytest.mark.parametrize(
    "unit", ["mg/dL", "10^9/M", "mm3", "g/dL", "%", "mmol/L", "cells", "10^9", "", "L/10^9", "10/uL", "2/uL"]
)
def test_incompatible_count_units(unit):
    assert parse_unit("count", unit) is None


def test_incompatible_unit_error_names_the_field_and_the_fix():
    with pytest.raises(UnitError) as e:
        check_value("wbc", 3.0, "mg/dL")
    assert e.value.field == "wbc"
    assert "10^9/L" in str(e.value) and "mg/dL" in str(e.value)


def test_percent_temperature_and_haemoglobin():
    assert to_canonical("neutrophils_pct", 55, "%") == 55
    assert to_canonical("neutrophils_pct", 55, "percent") == 55
    assert to_canonical("temperature", 100.4, "°F") == pytest.approx(38.0)
    assert to_canonical("temperature", 38.3, "Cel") == 38.3
    assert to_canonical("temperature", 101, "[degF]") == pytest.approx(38.3333333333333)
    assert to_canonical("hemoglobin", 120, "g/L") == 12.0
    assert to_canonical("hemoglobin", 7.5, "mmol/L") == pytest.approx(12.08508)
    assert parse_unit("fraction", "10^9/L") is None
    assert parse_unit("temperature", "K") is None


def test_float_noise_is_removed():
    # 1.09 x 1000 = 1090.0000000000002 in binary floating point; after conversion it must be exactly 1.09
    assert to_canonical("anc", 1.09 * 1000, "/uL") == 1.09
    assert to_canonical("anc", (0.1 + 0.2) * 1000, "/uL") == 0.3
    # A value already in the canonical unit is not computed on, so it is kept exactly as given.
    assert to_canonical("anc", 0.1 + 0.2, "10^9/L") == 0.1 + 0.2


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "fragment"),
    [
        ("wbc", -1, None, "negative"),
        ("wbc", float("nan"), None, "finite"),
        ("wbc", float("inf"), None, "finite"),
        ("wbc", "abc", None, "not a number"),
        ("neutrophils_pct", 101, "%", "over 100"),
        ("wbc", 4600, "10^9/L", "unit error"),
        ("wbc", 1001, None, "not plausible"),
        ("temperature", 101, "Cel", "check the unit"),
    ],
)
def test_bad_values(analyte, value, unit, fragment):
    with pytest.raises(InputError, match=fragment) as e:
        check_value(analyte, value, unit)
    assert e.value.field == analyte
    assert "\n" not in str(e.value)


def test_wbc_4600_per_ul_is_fine():
    assert check_value("wbc", 4600, "/uL") == 4.6


# --- a number without a unit (issue 9 item 2) -----------------------------------------------------------


@pytest.mark.parametrize("value", [700, 2])
def test_grade_without_a_unit_is_not_gradable(value):
    r = leukon.grade_detail("ctcae-v5", "Neutrophil count decreased", value, None)
    assert r.grade is None and r.reason.startswith("unit missing")
    assert leukon.grade("ctcae-v5", "Neutrophil count decreased", value, None) is None
    assert leukon.grade("ctcae-v5", "Neutrophil count decreased", value, "  ") is None


def test_grade_without_a_value_still_says_the_value_is_missing():
    assert leukon.grade_detail("ctcae-v5", "Neutrophil count decreased", None, None).reason == "no ANC value"


@pytest.mark.parametrize(
    ("analyte", "value", "probable"),
    [
        ("anc", 700, "cells/uL"),
        ("anc", 300, "cells/uL"),
        ("anc", 51, "cells/uL"),
        ("wbc", 3100, "cells/uL"),
        ("cd4", 350, "cells/uL"),
        ("lymphocytes", 800, "cells/uL"),
        ("platelets", 150000, "/uL"),
        ("hemoglobin", 130, "g/L"),
        ("temperature", 101.3, "[degF]"),
    ],
)
def test_implausible_bare_number_names_the_probable_unit(analyte, value, probable):
    with pytest.raises(InputError) as e:
        check_value(analyte, value)
    msg = str(e.value)
    assert e.value.field == analyte and "\n" not in msg
    assert f"looks like {probable}" in msg and "give the unit" in msg


@pytest.mark.parametrize(
    ("analyte", "value", "canonical"),
    [
        ("anc", 0.7, 0.7),
        ("anc", 50, 50),  # the limit itself is accepted
        ("wbc", 3.1, 3.1),
        ("neutrophils_pct", 55, 55),  # percentages keep % as the default
        ("temperature", 38.6, 38.6),  # and temperature degrees C
        ("hemoglobin", 12.5, 12.5),
        ("platelets", 250, 250),
    ],
)
def test_plausible_bare_number_is_read_in_the_canonical_unit(analyte, value, canonical):
    assert check_value(analyte, value) == canonical
    assert check_value(analyte, value, "") == canonical


def test_assess_refuses_a_bare_anc_of_700():
    with pytest.raises(InputError, match="looks like cells/uL"):
        leukon.assess(anc=700)
    a = leukon.assess(anc=(700, "cells/uL"))
    assert a.has("neutropenia")


def test_cli_assess_anc_700_exits_2_naming_the_unit(capsys):
    from leukon.cli.app import main

    assert main(["assess", "--anc", "700"]) == 2
    out, err = capsys.readouterr()
    assert "no cytopenia" not in out and "looks like cells/uL" in err and len(err.strip().splitlines()) == 1
    assert main(["assess", "--anc", "700 cells/uL"]) == 0


# --- the same count in any unit gets the same grade (issue 9 item 3) ----------------------------------

COUNT_TERMS = [
    (sid, t.term)
    for sid, s in SCHEMES.items()
    if sid in ("ctcae-v5", "ctcae-v6", "daids-v2.1")
    for t in s.terms.values()
    if t.kind == "count"
]


def test_cd4_in_ucum_per_microlitre_is_gradable():
    assert leukon.grade("ctcae-v5", "CD4 lymphocytes decreased", 150, "1/uL") == 3
    assert leukon.grade("ctcae-v5", "CD4 lymphocytes decreased", 150, "{cells}/uL") == 3


@settings(max_examples=300, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=3000),
    unit=st.sampled_from(COUNT_UNITS),
    term=st.sampled_from(COUNT_TERMS),
    lln_cents=st.sampled_from([None, 150, 400]),
    age_days=st.sampled_from([400, 3000, 20000]),
)
def test_same_count_in_any_unit_gets_the_same_grade(cents, unit, term, lln_cents, age_days):
    """A count written in any spelling leukon knows grades exactly as the same count in 10^9/L."""
    spelling, factor = unit
    scheme, name = term

    def in_unit(c):  # c hundredths of 10^9/L written exactly in `spelling`
        return None if c is None else float(Decimal(c) / 100 / Decimal(str(factor)))

    lln = None if lln_cents is None else lln_cents / 100
    try:
        ref = leukon.grade_detail(scheme, name, cents / 100, "10^9/L", lln=lln, age_days=age_days)
    except InputError:  # beyond the analyte's plausible range (CD4 above 20 10^9/L): refused in every unit
        with pytest.raises(InputError):
            leukon.grade_detail(scheme, name, in_unit(cents), spelling, age_days=age_days)
        return
    got = leukon.grade_detail(scheme, name, in_unit(cents), spelling, lln=in_unit(lln_cents), age_days=age_days)
    assert (got.grade, got.reason is None) == (ref.grade, ref.reason is None)


def test_cli_grade_reads_a_plausible_bare_number_and_refuses_an_ambiguous_one(capsys):
    from leukon.cli.app import main

    term = ["grade", "--scheme", "ctcae-v5", "--term", "Neutrophil count decreased"]
    assert main([*term, "--value", "0.7"]) == 0
    assert "grade 3" in capsys.readouterr().out
    assert main([*term, "--value", "700"]) == 2
    assert "looks like cells/uL" in capsys.readouterr().err
    assert main([*term, "--value", "700", "--unit", "1/uL"]) == 0
    assert "grade 3" in capsys.readouterr().out
