"""One specimen's counts: derive missing absolute counts from percentages and check consistency.

ANC = WBC x (neutrophils % + bands %) / 100 when no ANC was measured; likewise for each other line
(DESIGN.md). Each value records its method. Derived values follow the same float policy as conversions.

>>> vals, notes = derive({"wbc": 2.0, "neutrophils_pct": 30.0, "bands_pct": 5.0})
>>> vals["anc"]
(0.7, 'derived_with_bands')
>>> derive({"wbc": 2.0, "neutrophils_pct": 35.0})[0]["anc"]
(0.7, 'derived_without_bands')
"""

from __future__ import annotations

from dataclasses import dataclass

from leukon.rules.analytes import ABSOLUTE, PERCENT, WHITE_LINES
from leukon.rules.units import tidy

MEASURED = "measured"
WITH_BANDS = "derived_with_bands"
WITHOUT_BANDS = "derived_without_bands"
DERIVED = "derived"

#: A five-part differential (plus bands) should add up to 100 %; beyond +/- 5 points it is suspect.
DIFF_SUM_TOLERANCE = 5.0
#: Measured and derived ANC further apart than this fraction of the measured value are flagged.
ANC_MISMATCH = 0.20


@dataclass(frozen=True, slots=True)
class Note:
    """A warning or an explanation of something not assessed; `field` names the input concerned."""

    code: str
    message: str
    field: str | None = None

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "field": self.field}


def derive(measured: dict[str, float]) -> tuple[dict[str, tuple[float, str]], list[Note]]:
    """Canonical measured values in, every available value with its method out, plus consistency notes."""
    out: dict[str, tuple[float, str]] = {k: (v, MEASURED) for k, v in measured.items()}
    notes: list[Note] = []
    wbc = measured.get("wbc")
    if wbc is not None:
        for line in WHITE_LINES:
            abs_id, pct_id = ABSOLUTE[line], PERCENT[line]
            pct = measured.get(pct_id)
            if abs_id in measured or pct is None:
                continue
            if line == "neutrophils":
                bands_pct = measured.get("bands_pct")
                if bands_pct is not None:
                    out[abs_id] = (tidy(wbc * (pct + bands_pct) / 100.0), WITH_BANDS)
                elif "bands" in measured:
                    out[abs_id] = (tidy(wbc * pct / 100.0 + measured["bands"]), WITH_BANDS)
                else:
                    out[abs_id] = (tidy(wbc * pct / 100.0), WITHOUT_BANDS)
            else:
                out[abs_id] = (tidy(wbc * pct / 100.0), DERIVED)
    notes.extend(consistency(measured))
    return out, notes


def consistency(measured: dict[str, float]) -> list[Note]:
    """Differential sum, measured-vs-derived ANC, and absolute counts above the WBC."""
    notes = []
    pcts = [measured.get(PERCENT[line]) for line in WHITE_LINES if line != "bands"]
    if all(p is not None for p in pcts):
        total = sum(pcts) + measured.get("bands_pct", 0.0)  # type: ignore[arg-type]
        if abs(total - 100.0) > DIFF_SUM_TOLERANCE:
            notes.append(
                Note(
                    "differential_sum",
                    f"the differential adds up to {tidy(total):g} %, outside 100 +/- {DIFF_SUM_TOLERANCE:g}; check the percentages",
                    "differential",
                )
            )
    wbc, anc, npct = measured.get("wbc"), measured.get("anc"), measured.get("neutrophils_pct")
    if wbc is not None and anc is not None and npct is not None:
        derived = wbc * (npct + measured.get("bands_pct", 0.0)) / 100.0
        ref = max(anc, derived)
        if ref > 0 and abs(anc - derived) / ref > ANC_MISMATCH:
            notes.append(
                Note(
                    "anc_mismatch",
                    f"measured ANC {anc:g} and ANC from the differential {tidy(derived):g} differ by more than"
                    f" {ANC_MISMATCH:.0%}; the measured ANC is used",
                    "anc",
                )
            )
    if wbc is not None:
        for line in WHITE_LINES:
            a = measured.get(ABSOLUTE[line])
            if a is not None and a > wbc:
                notes.append(
                    Note(
                        "absolute_above_wbc",
                        f"{ABSOLUTE[line]} {a:g} is above the WBC {wbc:g}; check both values",
                        ABSOLUTE[line],
                    )
                )
    return notes
