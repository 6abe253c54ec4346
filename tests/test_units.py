"""Unit spellings, conversions and plausibility."""

import pytest

from leukon.errors import InputError, UnitError
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
]  # fmt: skip


@pytest.mark.parametrize(("unit", "factor"), COUNT_UNITS)
def test_count_spellings(unit, factor):
    assert parse_unit("count", unit).factor == pytest.approx(factor, rel=1e-15)


@pytest.mark.parametrize("unit", ["mg/dL", "10^9/M", "mm3", "g/dL", "%", "mmol/L", "cells", "10^9", "", "L/10^9"])
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
