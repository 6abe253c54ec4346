"""Unit spellings to canonical units, and plausibility.

Canonical units: counts in 10^9/L, fractions in %, haemoglobin in g/dL, temperature in degrees C.
A count unit is parsed rather than listed: ``<multiplier>/<volume>``, so ``10^3/uL``, ``x10E9/L``,
``K/µL``, ``thou/mcL``, ``cells/mm3``, ``/nL``, ``10*8/L`` and the UCUM forms (``1/uL``, ``{cells}/uL``,
``10*3/uL``) all resolve, and ``mg/dL``, ``10^9/M`` or ``mm3`` do not. Matching ignores case, spaces and
the µ/u/mc spellings of micro; an exponent whose superscript was lost in an export (``x 10 9/L``) is read.

A number without a unit is never assumed to be in the canonical unit beyond the analyte's ``bare_max``
(``analytes.toml``): ``check_value("anc", 700)`` refuses, naming cells/uL as the probable unit.

>>> to_canonical("wbc", 4600, "/uL")
4.6
>>> to_canonical("wbc", 4.6, "K/µL")
4.6
>>> to_canonical("temperature", 101.0, "°F")
38.3333333333333
>>> parse_unit("count", "mg/dL") is None
True
>>> parse_unit("count", "x 10 9/L").factor, parse_unit("count", "1/uL").factor
(1.0, 0.001)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from leukon.errors import InputError, UnitError
from leukon.rules.analytes import ANALYTES

#: Significant digits kept after a unit conversion (and a derived count), so float noise
#: (1.09 x 1000 = 1090.0000000000002) never moves a value across a threshold. The same policy as admiral's
#: lab grading (signif(x, 15)); a value already in the canonical unit is left exactly as given.
SIGNIFICANT_DIGITS = 15


@dataclass(frozen=True, slots=True)
class Conversion:
    """canonical = raw * factor + offset."""

    factor: float
    offset: float = 0.0
    canonical: str = ""


def canonical_spelling(unit: str) -> str:
    """Fold a unit's spelling: lower case, no spaces, micro as u, exponent marks as ^."""
    s = unit.strip().lower()
    for sup, digit in (("³", "3"), ("⁶", "6"), ("⁸", "8"), ("⁹", "9")):
        s = s.replace("10" + sup, "10^" + digit)
    # Exports that drop the superscript: "x 10 9/L", "10 3/uL"; and "10+9/L", "1e9/L", "10exp9/L".
    s = re.sub(r"(?<![\d.])10\s+(\d{1,2})(?=\s*(?:/|[a-z{]))", r"10^\1", s)
    s = re.sub(r"(?<![\d.])(?:10\+|10exp|1e)(\d{1,2})(?!\d)", r"10^\1", s)
    s = s.replace("℃", "°c").replace("℉", "°f")
    for words, short in _WORDS:
        s = s.replace(words, short)
    for micro in ("µ", "μ", "mc"):
        s = s.replace(micro, "u")
    s = s.replace("×", "x").replace(" ", "").replace("³", "3").replace("{", "").replace("}", "")
    s = s.replace("**", "^").replace("*", "^")
    s = re.sub(r"10e(\d)", r"10^\1", s)
    s = re.sub(r"10\((\d+)\)", r"10^\1", s)
    s = s.replace("mm^3", "mm3").replace("cumm", "mm3").replace("cu.mm", "mm3").replace("/cmm", "/mm3")
    return s


_WORDS = (
    (" per ", "/"),
    ("cubic millimeter", "mm3"),
    ("cubic millimetre", "mm3"),
    ("microliter", "ul"),
    ("microlitre", "ul"),
    ("milliliter", "ml"),
    ("millilitre", "ml"),
    ("nanoliter", "nl"),
    ("nanolitre", "nl"),
    ("liter", "l"),
    ("litre", "l"),
)

# Litres per volume unit in the denominator of a count unit.
_VOLUME_L = {"l": 1.0, "ml": 1e-3, "ul": 1e-6, "mm3": 1e-6, "nl": 1e-9}
# Cells per numerator word (before any power of ten).
_MULTIPLIER = {
    "": 1.0,
    "1": 1.0,  # UCUM writes a bare count as 1: "1/uL"
    "cells": 1.0,
    "cell": 1.0,
    "#": 1.0,
    "k": 1e3,
    "thou": 1e3,
    "thousand": 1e3,
    "thousands": 1e3,
    "tsd": 1e3,  # German "Tsd/µl" (Tausend)
    "miles": 1e3,  # Spanish "miles/µL"
    "m": 1e6,
    "mil": 1e6,
    "million": 1e6,
    "g": 1e9,
    "giga": 1e9,
    "gpt": 1e9,
    "billion": 1e9,
    "billioncells": 1e9,
    "mrd": 1e9,  # German "Mrd/l" (Milliarden)
}
_COUNT = re.compile(
    r"^x?(?:(?P<power>10\^(?P<exp>\d{1,2}))|e(?P<eexp>\d{1,2}))?(?P<word>[a-z#]*|1)/(?P<vol>[a-z0-9]+)$"
)
_PERCENT = {"%", "percent", "pct", "/100wbc", "/100leukocytes", "/100wbcs", "%ofwbc", "%wbc"}
_MASS = {"g/dl": 1.0, "g%": 1.0, "gm/dl": 1.0, "g/100ml": 1.0, "g/l": 0.1, "mg/ml": 0.1, "mmol/l": 1.611344}
_CELSIUS = {"c", "°c", "degc", "cel", "celsius", "degreescelsius", "degreec", "deg.c", "°celsius", "degreesc"}
_FAHRENHEIT = {"f", "°f", "degf", "[degf]", "fahrenheit", "degreesfahrenheit", "degreef", "deg.f", "degreesf"}


@lru_cache(maxsize=4096)
def parse_unit(dimension: str, unit: str) -> Conversion | None:
    """The conversion of `unit` to the canonical unit of `dimension`, or None if it does not fit."""
    s = canonical_spelling(unit)
    if dimension == "count":
        m = _COUNT.match(s)
        if not m or m["vol"] not in _VOLUME_L or m["word"] not in _MULTIPLIER:
            return None
        exp = m["exp"] or m["eexp"]
        cells = (10.0 ** int(exp) if exp else 1.0) * _MULTIPLIER[m["word"]]
        return Conversion(tidy(cells / _VOLUME_L[m["vol"]] / 1e9), canonical="10^9/L")
    if dimension == "fraction":
        return Conversion(1.0, canonical="%") if s in _PERCENT else None
    if dimension == "mass_concentration":
        f = _MASS.get(s)  # mmol/L: 1.611344 g/dL per mmol/L, as the ricu R package converts AUMCdb
        return Conversion(f, canonical="g/dL") if f else None
    if dimension == "temperature":
        if s in _CELSIUS:
            return Conversion(1.0, canonical="Cel")
        if s in _FAHRENHEIT:
            return Conversion(5.0 / 9.0, -32.0 * 5.0 / 9.0, canonical="Cel")
        return None
    raise ValueError(f"unknown dimension {dimension!r}")


def conversion_for(analyte: str, unit: str | None) -> Conversion:
    """The conversion for `analyte` given in `unit`; the canonical unit when `unit` is None.

    Raises UnitError naming the analyte and the units it accepts.
    """
    a = ANALYTES[analyte]
    if unit is None or unit == "":
        return parse_unit(a.dimension, a.unit)  # type: ignore[return-value]
    conv = parse_unit(a.dimension, unit)
    if conv is None:
        raise UnitError(
            analyte, f"unit {unit!r} is not a {DIMENSION_NAMES[a.dimension]}; use one of {_EXAMPLES[a.dimension]}"
        )
    return conv


DIMENSION_NAMES = {
    "count": "cell count per volume",
    "fraction": "percentage of white cells",
    "mass_concentration": "haemoglobin concentration",
    "temperature": "temperature unit",
}
_EXAMPLES = {
    "count": "10^9/L, 10^3/uL, K/uL, G/L, /uL, cells/mm3, 10^8/L",
    "fraction": "%",
    "mass_concentration": "g/dL, g/L, mmol/L",
    "temperature": "Cel, °C, °F",
}


def tidy(x: float) -> float:
    """Round to the named float policy (SIGNIFICANT_DIGITS) so conversions compare exactly."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{SIGNIFICANT_DIGITS}g}")


def to_canonical(analyte: str, value: float, unit: str | None = None) -> float:
    """`value` in `unit` expressed in the analyte's canonical unit (float policy applied to conversions)."""
    conv = conversion_for(analyte, unit)
    if conv.factor == 1.0 and conv.offset == 0.0:
        return float(value)  # nothing was computed, so there is no conversion noise to remove
    return tidy(value * conv.factor + conv.offset)


def check_value(analyte: str, value: object, unit: str | None = None) -> float:
    """Validate and convert one value; raise InputError naming the field when it cannot be used.

    Rejected: non-numbers, NaN and infinities, negative values, percentages over 100, values beyond
    the analyte's plausible range (reported as a probable unit error, never graded), and numbers without
    a unit that are not plausible in the canonical unit (`check_bare`).

    >>> check_value("wbc", 4600, "10^9/L")
    Traceback (most recent call last):
    ...
    leukon.errors.InputError: wbc: 4600 10^9/L is not plausible (above 1000 10^9/L); probably a unit error: 4600 cells/uL would be 4.6 10^9/L. Check the unit.
    """
    a = ANALYTES[analyte]
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(str(value).strip())
        except ValueError:
            raise InputError(analyte, f"{value!r} is not a number; give a numeric value") from None
    v = float(value)
    if not math.isfinite(v):
        raise InputError(analyte, f"{value!r} is not a finite number; give a measured value")
    if v < 0:
        raise InputError(analyte, f"{value!r} is negative; counts and percentages cannot be below 0")
    if is_missing_unit(unit):
        check_bare(analyte, v)
        unit = None
    out = to_canonical(analyte, v, unit)
    shown = f"{value:g} {unit or a.unit}"
    if a.dimension == "fraction" and out > 100:
        raise InputError(analyte, f"{shown} is over 100 %; give a percentage between 0 and 100")
    if out > a.plausible_max or out < a.plausible_min:
        hint = ""
        if a.dimension == "count" and out > a.plausible_max:
            hint = f"; probably a unit error: {v:g} cells/uL would be {tidy(v / 1000):g} 10^9/L. Check the unit."
        elif a.dimension == "temperature":
            hint = "; check the unit (Cel or °F)"
        bound = (
            f"above {a.plausible_max:g} {a.unit}" if out > a.plausible_max else f"below {a.plausible_min:g} {a.unit}"
        )
        raise InputError(analyte, f"{shown} is not plausible ({bound}){hint or '.'}")
    return out


def check_bare(analyte: str, value: float) -> None:
    """Refuse a number given without a unit when it is not plausible in the analyte's canonical unit.

    A bare "700" for an ANC is far more likely 700 cells/uL (grade 3 neutropenia) than 700 x 10^9/L, and
    reading it in 10^9/L would call a dangerous count high. Limits and their reasons are data
    (``bare_max``, ``bare_hint`` and ``bare_why`` in analytes.toml).

    >>> check_bare("anc", 2.0)
    >>> check_bare("anc", 700)
    Traceback (most recent call last):
    ...
    leukon.errors.InputError: anc: 700 without a unit is not plausible in 10^9/L (above 50), a probable unit error: it looks like cells/uL (700 cells/uL = 0.7 10^9/L); give the unit, e.g. '700 cells/uL'
    """
    a = ANALYTES[analyte]
    if value <= a.bare_max:
        return
    conv = parse_unit(a.dimension, a.bare_hint)
    likely = f" ({value:g} {a.bare_hint} = {tidy(value * conv.factor + conv.offset):g} {a.unit})" if conv else ""
    raise InputError(
        analyte,
        f"{value:g} without a unit is not plausible in {a.unit} (above {a.bare_max:g}), a probable unit error: "
        f"it looks like {a.bare_hint}{likely}; give the unit, e.g. '{value:g} {a.bare_hint}'",
    )


def is_missing_unit(unit: str | None) -> bool:
    """True when no unit was given (None or blank text)."""
    return unit is None or not str(unit).strip()
