"""The rule book: every clinical rule of a panel, written once as expressions over its columns.

A panel row has, per analyte ``a`` (canonical units): ``a`` (the value), ``a_lab_lln``/``a_lab_uln`` (limits given
with the result), and the patient's ``age_days``, ``sex``, ``ancestry``, plus ``temperature``,
``fever_sustained`` and ``anc_expected_fall`` where known. The stages below add columns, left to right:

    derive_steps()        a (derived when missing) and a_method
    range_row_steps(p)    a_range_row: which profile row applies (by age, sex, ancestry)   -- demographics only
    range_steps()         a_lln, a_uln, a_range ("lab" | "profile")
    finding_rules(p)      one `FindingRule` a finding code (condition, evidence, detail)
    warning_rules(p)      `NoteRule`s for consistency checks and range warnings
    not_assessed_rules()  `NoteRule`s saying what could not be assessed, and why
    term_program(...)     a grading term's grade, band and reason; fever_program(...) for febrile neutropenia

`leukon.rules.logic.program` compiles these for `assess`; `leukon.panels.expressions` compiles the same objects to
Polars for `screen`. Nothing here is evaluated directly, and no threshold below appears anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from leukon.rules import criteria
from leukon.rules.analytes import ABSOLUTE, ANALYTES, PERCENT, WHITE_LINES
from leukon.rules.criteria import LLN, Band, Term
from leukon.rules.logic import Expr, Message, all_, any_, coalesce, col, lit, lookup, max_, tidy, when

# --- thresholds of the panel rules, each with its source ----------------------------------------------------------

#: A five-part differential (plus bands) should add up to 100 %; more than 5 points off is suspect (leukon's
#: tolerance for rounding in reported percentages).
DIFF_SUM_TOLERANCE = 5.0
#: Measured and derived ANC further apart than this fraction of the larger are flagged (leukon's choice).
ANC_MISMATCH = 0.20
#: Agranulocytosis: ANC below 0.5 x 10^9/L, most often drug-induced (Andres & Maloisel, Curr Opin Hematol 2006;
#: ASH Education Program 2017, drug-induced neutropenia). Below 0.1 it is profound: the stricter definition some
#: texts use, a virtual absence of neutrophils (Medscape, agranulocytosis), kept as the named alternative.
AGRANULOCYTOSIS_BELOW = 0.5
AGRANULOCYTOSIS_SOURCE = "Andres & Maloisel, Curr Opin Hematol 2006; ASH Education Program 2017: agranulocytosis is an ANC below 0.5 x 10^9/L"
AGRANULOCYTOSIS_STRICT_BELOW = 0.1
AGRANULOCYTOSIS_STRICT_SOURCE = "Medscape: a virtual absence of neutrophils, ANC typically below 100/uL"
AGRANULOCYTOSIS_ADVICE = (
    "if a medicine may have caused it (clozapine, antithyroid drugs, sulfonamides, some antibiotics and"
    " anticonvulsants), stop the suspected medicine and have a clinician review you the same day"
)
#: Left shift: bands above their upper limit (Verywell Health: bands 0-500/mm3 and 0-5 % of white cells).
LEFT_SHIFT_SOURCE = "Verywell Health: band neutrophils 0-500/mm3 and 0-5 % of white cells"
#: Age assumed when none is given: adult rows apply, and the assessment warns that age was missing.
ADULT_AGE_DAYS = 30 * 365
#: Days in a year when whole years are counted from days, as DAIDS counts them.
DAYS_PER_YEAR = 365.25
LAB_RANGE_SOURCE = "the laboratory's reference range given with the result"

#: Lines whose count below the LLN gives a finding of that name.
LOW_FINDINGS = {
    "wbc": "leukopenia",
    "anc": "neutropenia",
    "lymphocytes": "lymphopenia",
    "monocytes": "monocytopenia",
    "eosinophils": "eosinopenia",
    "basophils": "basopenia",
    "hemoglobin": "anemia",
    "platelets": "thrombocytopenia",
}
#: Finding codes (the JSON contract), in report order, with their plain names.
FINDING_LABELS = {
    "leukopenia": "Leukopenia (low total white cells)",
    "neutropenia": "Neutropenia (low neutrophils)",
    "lymphopenia": "Lymphopenia (low lymphocytes)",
    "monocytopenia": "Monocytopenia (low monocytes)",
    "eosinopenia": "Eosinopenia (low eosinophils)",
    "basopenia": "Basopenia (low basophils)",
    "agranulocytosis": "Agranulocytosis (neutrophils almost absent)",
    "neutropenia_without_leukopenia": "Neutropenia with a normal total white count",
    "leukopenia_without_neutropenia": "Leukopenia without neutropenia",
    "left_shift": "Left shift (raised immature band neutrophils)",
    "anemia": "Anaemia (low haemoglobin)",
    "thrombocytopenia": "Thrombocytopenia (low platelets)",
    "bicytopenia": "Bicytopenia (two blood cell lines low)",
    "pancytopenia": "Pancytopenia (all three blood cell lines low)",
    "leukocytosis": "Leukocytosis (high total white cells)",
    "febrile_neutropenia": "Febrile neutropenia: a medical emergency",
}
#: The three blood cell lines of bicytopenia / pancytopenia: (name, finding codes meaning "low", analytes measuring it)
CELL_LINES = (
    ("white cells", ("leukopenia", "neutropenia"), ("wbc", "anc")),
    ("haemoglobin", ("anemia",), ("hemoglobin",)),
    ("platelets", ("thrombocytopenia",), ("platelets",)),
)

MEASURED, WITH_BANDS, WITHOUT_BANDS, DERIVED = "measured", "derived_with_bands", "derived_without_bands", "derived"
METHODS = (MEASURED, WITH_BANDS, WITHOUT_BANDS, DERIVED)
RANGE_ORIGINS = ("lab", "profile")


def short_name(analyte: str) -> str:
    return "ANC" if analyte == "anc" else ("WBC" if analyte == "wbc" else ANALYTES[analyte].name)


# --- stage 1: derived counts --------------------------------------------------------------------------------------


def derive_steps() -> list[tuple[str, Expr]]:
    """ANC = WBC x (neutrophils % + bands %) / 100 when no ANC was measured; likewise WBC x % for each other white
    line. With bands given only as a count, ANC = WBC x neutrophils % / 100 + bands. Each value records its method."""
    wbc = col("wbc")
    steps: list[tuple[str, Expr]] = []
    for line in WHITE_LINES:
        a, pct = ABSOLUTE[line], PERCENT[line]
        measured = col(a).not_null()
        exact = all_(col(f"{x}_censor").is_null() for x in ("wbc", pct))  # a bound times a % is no count
        can = wbc.not_null() & col(pct).not_null() & ~measured & exact
        if line == "neutrophils":
            with_pct = can & col("bands_pct").not_null() & col("bands_pct_censor").is_null()
            with_abs = can & col("bands_pct").is_null() & col("bands").not_null() & col("bands_censor").is_null()
            method = (
                when(measured, MEASURED).when(with_pct | with_abs, WITH_BANDS).when(can, WITHOUT_BANDS).otherwise(None)
            )
            value = (
                when(measured, col(a))
                .when(with_pct, tidy(wbc * (col(pct) + col("bands_pct")) / 100.0))
                .when(with_abs, tidy(wbc * col(pct) / 100.0 + col("bands")))
                .when(can, tidy(wbc * col(pct) / 100.0))
            )
        else:
            method = when(measured, MEASURED).when(can, DERIVED)
            value = when(measured, col(a)).when(can, tidy(wbc * col(pct) / 100.0))
        steps += [(f"{a}_method", method), (a, value)]
    return steps


# --- stage 2: reference ranges ------------------------------------------------------------------------------------


def age_years(age_days: Expr) -> Expr:
    return (age_days / DAYS_PER_YEAR).floor()


def in_age_band(band: criteria.AgeBand, age_days: Expr, age_hours: Expr | None = None) -> Expr:
    """Inclusive limits in days, in whole years (floor(days / 365.25)) and, for newborns, in hours of life; open
    limits always hold. A band with hour limits needs the age in hours: whole days do not say where in the first
    72 h a newborn is."""
    conds = []
    if band.min_days is not None:
        conds.append(age_days >= band.min_days)
    if band.max_days is not None:
        conds.append(age_days <= band.max_days)
    if band.min_years is not None:
        conds.append(age_years(age_days) >= band.min_years)
    if band.max_years is not None:
        conds.append(age_years(age_days) <= band.max_years)
    if band.needs_hours:
        hours = age_hours if age_hours is not None else lit(None)
        conds.append(hours.not_null())
        if band.min_hours is not None:
            conds.append(hours >= band.min_hours)
        if band.max_hours is not None:
            conds.append(hours <= band.max_hours)
    return all_(conds)


def _specificity(row: criteria.RangeRow) -> tuple:
    """A row that names the ancestry, then the sex, then the narrower age band wins."""
    return (row.ancestry != "any", row.sex != "any", -row.age.span_days())


def profile_row(analyte: str, profile: str, *, ancestry: Expr | None = None) -> Expr:
    """The index in `criteria.RANGES` of the profile row that applies (the chosen profile, then the standard one),
    or null when none covers this analyte at this age."""
    age = coalesce(col("age_days"), ADULT_AGE_DAYS)
    who = col("ancestry") if ancestry is None else ancestry
    rows = criteria.RANGES
    chain = None
    for p in dict.fromkeys((profile, criteria.DEFAULT_PROFILE)):
        fits = [i for i, r in enumerate(rows) if r.profile == p and r.analyte == analyte]
        for i in sorted(fits, key=lambda i: _specificity(rows[i]), reverse=True):  # stable: ties keep file order
            r = rows[i]
            cond = in_age_band(r.age, age, col("age_hours"))
            if r.sex != "any":
                cond = cond & col("sex").eq(r.sex)
            if r.ancestry != "any":
                cond = cond & who.eq(r.ancestry)
            chain = when(cond, i) if chain is None else chain.when(cond, i)
    return lit(None) if chain is None else chain


def row_field(index: Expr, name: str) -> Expr:
    return lookup(index, [getattr(r, name) for r in criteria.RANGES])


def range_row_steps(profile: str) -> list[tuple[str, Expr]]:
    """Which profile row applies to each analyte; depends on the demographics only (so `assess` caches it).
    The Duffy-null check also needs the rows a Duffy-null and a non-Duffy-null person would get."""
    steps = [(f"{a}_range_row", profile_row(a, profile)) for a in ANALYTES]
    steps += [
        ("_anc_duffy_row", profile_row("anc", profile, ancestry=lit("duffy-null"))),
        ("_anc_generic_row", profile_row("anc", profile, ancestry=lit(None))),
    ]
    return steps


def range_steps() -> list[tuple[str, Expr]]:
    """The lab's limit wins for its side; the other side comes from the profile row. The origin is "lab" when the
    lab gave either limit."""
    steps = []
    for a in ANALYTES:
        row = col(f"{a}_range_row")
        p_lln, p_uln = row_field(row, "lln"), row_field(row, "uln")
        lab_lln, lab_uln = col(f"{a}_lab_lln"), col(f"{a}_lab_uln")
        origin = when(lab_lln.not_null() | lab_uln.not_null(), "lab").when(
            p_lln.not_null() | p_uln.not_null(), "profile"
        )
        steps += [
            (f"{a}_lln", coalesce(lab_lln, p_lln)),
            (f"{a}_uln", coalesce(lab_uln, p_uln)),
            (f"{a}_range", origin),
        ]
    return steps


# --- censored values ----------------------------------------------------------------------------------------------

#: A censored result ("<0.5") stands for an interval; `holds` is True only when a comparison holds for every value in
#: it, `fails` only when it holds for none. Everything else is undecided and said so, never read as the bound.
CENSOR_OPS = ("<", "<=", ">", ">=")
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def holds(a: str, op: str, bound: Expr | float) -> Expr:
    """`<a> op bound` for the true value behind `<a>` and `<a>_censor` (exact when the censor is null)."""
    v, c = col(a), col(f"{a}_censor")
    exact = c.is_null() & v.cmp(op, bound)
    if op in ("<", "<="):
        strict, loose = c.eq("<"), c.eq("<=")
    else:
        strict, loose = c.eq(">"), c.eq(">=")
    looser = {"<": "<=", "<=": "<=", ">": ">=", ">=": ">="}[op]
    # t < v <= bound gives t < bound; t <= v op bound gives t op bound
    return exact | (strict & v.cmp(looser, bound)) | (loose & v.cmp(op, bound))


def undecided(a: str, op: str, bound: Expr | float) -> Expr:
    """A censored value for which `op bound` may or may not hold."""
    return col(a).not_null() & col(f"{a}_censor").not_null() & ~holds(a, op, bound) & ~holds(a, _NEGATE[op], bound)


def censored_interval(a: str, column: str | None = None) -> tuple[Expr, Expr]:
    """The ends of the values a censored analyte `a` (in `column`, default `a`, with `<column>_censor`) stands for,
    within the analyte's plausible range; a strict bound moves by one part in 2^52, so exactly compared thresholds
    see the values just inside."""
    an = ANALYTES[a]
    column = column or a
    v, c = col(column), col(f"{column}_censor")
    step = 2.0**-52
    lo = when(c.eq(">"), v * (1 + step)).when(c.eq(">="), v).otherwise(an.plausible_min)
    hi = when(c.eq("<"), v * (1 - step)).when(c.eq("<="), v).otherwise(max_(v, an.plausible_max))
    return lo, hi


# --- stage 3: findings, warnings, not assessed --------------------------------------------------------------------


@dataclass(frozen=True)
class FindingRule:
    """A finding code, when it holds, and its evidence. `analyte` names the value compared; `threshold` the column
    holding the limit (or a number); `evidence` is "range" (the analyte's range: basis and source follow it),
    "definition" (a fixed threshold with `source`) or "pattern" (a pattern of other findings)."""

    code: str
    condition: Expr
    evidence: str
    analyte: str | None = None
    comparator: str | None = None
    threshold: str | float | None = None
    source: str | None = None
    detail: Message | None = None
    severity: str | None = None

    @property
    def label(self) -> str:
        return FINDING_LABELS[self.code]


@dataclass(frozen=True)
class NoteRule:
    """A warning or a not-assessed note: its code, when it applies, its message and the input field concerned."""

    code: str
    condition: Expr
    message: Message
    field: str | None


def low(a: str) -> Expr:
    """Below the LLN, for every value a censored result can stand for."""
    return holds(a, "<", col(f"{a}_lln"))


def not_low(a: str) -> Expr:
    """At or above the LLN, for every value a censored result can stand for."""
    return holds(a, ">=", col(f"{a}_lln"))


def known(a: str) -> Expr:
    return col(a).not_null() & col(f"{a}_lln").not_null()


def impossible_pair() -> Expr:
    """An ANC above the WBC cannot be (neutrophils are some of the white cells): neither value is trusted for a
    conclusion about the white cells until both are checked."""
    return col("anc") > col("wbc")


def low_white(a: str) -> Expr:
    """WBC or ANC below its LLN, and only when the pair is possible."""
    return low(a) & ~impossible_pair()


def line_lows() -> list[Expr]:
    """Per blood cell line (white cells, haemoglobin, platelets): is it low (a possible WBC/ANC pair only)."""
    return [any_(low_white(a) if a in ("wbc", "anc") else low(a) for a in analytes) for _, _, analytes in CELL_LINES]


def line_measured() -> list[Expr]:
    """Per blood cell line: was it measured at all."""
    return [any_(col(a).not_null() for a in analytes) for _, _, analytes in CELL_LINES]


def finding_conditions() -> dict[str, Expr]:
    """Each finding code's condition (febrile neutropenia: see `fever_any`)."""
    out = {code: low(a) for a, code in LOW_FINDINGS.items()}
    out["leukopenia"], out["neutropenia"] = low_white("wbc"), low_white("anc")
    out["agranulocytosis"] = holds("anc", "<", AGRANULOCYTOSIS_BELOW) & ~impossible_pair()
    out["neutropenia_without_leukopenia"] = low_white("anc") & known("wbc") & not_low("wbc")
    out["leukopenia_without_neutropenia"] = low_white("wbc") & known("anc") & not_low("anc")
    out["left_shift"] = holds("bands", ">", col("bands_uln")) | holds("bands_pct", ">", col("bands_pct_uln"))
    n_low = line_lows()
    out["pancytopenia"] = all_(n_low)
    out["bicytopenia"] = _exactly_two(n_low)
    out["leukocytosis"] = holds("wbc", ">", col("wbc_uln"))
    return out


def _exactly_two(conds: list[Expr]) -> Expr:
    a, b, c = conds
    return (a & b & ~c) | (a & ~b & c) | (~a & b & c)


SEVERITY_UNDECIDED = "not determined: the censored ANC spans severities"


def severity_term() -> Term:
    return criteria.scheme("clinical").term("Neutropenia severity")


def severity_labels() -> list[str]:
    """The clinical severity labels, most severe first, and the label for an ANC low by its range but above the
    mildest severity bound."""
    rules = severity_term().bands[0].rules
    return [r.label or "" for r in rules] + [
        f"below the reference range, above {rules[-1].bound:g}",
        SEVERITY_UNDECIDED,
    ]


def severity_expr() -> Expr:
    """Neutropenia severity on the clinical scale, for a neutropenic ANC (null otherwise)."""
    rules = severity_term().bands[0].rules
    chain = when(~low_white("anc"), None)
    for r in rules:
        chain = chain.when(undecided("anc", r.op, r.bound), SEVERITY_UNDECIDED).when(
            holds("anc", r.op, r.bound), r.label
        )
    return chain.otherwise(severity_labels()[-2])


def finding_rules() -> list[FindingRule]:
    c = finding_conditions()
    out = []
    for a, code in LOW_FINDINGS.items():
        if code in ("anemia", "thrombocytopenia"):
            continue
        out.append(FindingRule(code, c[code], "range", a, "<", f"{a}_lln"))
    strict = holds("anc", "<", AGRANULOCYTOSIS_STRICT_BELOW)
    out.append(
        FindingRule(
            "agranulocytosis",
            c["agranulocytosis"] & strict,
            "definition",
            "anc",
            "<",
            AGRANULOCYTOSIS_STRICT_BELOW,
            f"{AGRANULOCYTOSIS_SOURCE}; below 0.1 it is profound ({AGRANULOCYTOSIS_STRICT_SOURCE})",
            detail=Message(
                f"profound: ANC {{anc}} is below {AGRANULOCYTOSIS_STRICT_BELOW:g}; {AGRANULOCYTOSIS_ADVICE}",
                anc=col("anc"),
            ),
            severity="profound",
        )
    )
    out.append(
        FindingRule(
            "agranulocytosis", c["agranulocytosis"] & ~strict, "definition", "anc", "<", AGRANULOCYTOSIS_BELOW,
            AGRANULOCYTOSIS_SOURCE,
            detail=Message(f"ANC {{anc}} is below {AGRANULOCYTOSIS_BELOW:g}; {AGRANULOCYTOSIS_ADVICE}", anc=col("anc")),
            severity="severe",
        )
    )  # fmt: skip
    out.append(
        FindingRule(
            "neutropenia_without_leukopenia", c["neutropenia_without_leukopenia"], "pattern",
            detail=Message("the ANC is low although the total white count is within range"),
        )
    )  # fmt: skip
    out.append(
        FindingRule(
            "leukopenia_without_neutropenia", c["leukopenia_without_neutropenia"] & ~low("lymphocytes"), "pattern",
            detail=Message("the total white count is low while the ANC is within range"),
        )
    )  # fmt: skip
    out.append(
        FindingRule(
            "leukopenia_without_neutropenia", c["leukopenia_without_neutropenia"] & low("lymphocytes"), "pattern",
            detail=Message(
                "the total white count is low while the ANC is within range; low lymphocytes account for it"
                " (the lymphopenia pattern, as in HIV)"
            ),
        )
    )  # fmt: skip
    bands_high = holds("bands", ">", col("bands_uln"))
    out.append(FindingRule("left_shift", bands_high, "range", "bands", ">", "bands_uln", LEFT_SHIFT_SOURCE))
    out.append(
        FindingRule(
            "left_shift", ~bands_high & holds("bands_pct", ">", col("bands_pct_uln")), "range", "bands_pct", ">",
            "bands_pct_uln", LEFT_SHIFT_SOURCE,
        )
    )  # fmt: skip
    for code in ("anemia", "thrombocytopenia"):
        a = next(k for k, v in LOW_FINDINGS.items() if v == code)
        out.append(FindingRule(code, c[code], "range", a, "<", f"{a}_lln"))
    out += _line_pattern_rules(c)
    out.append(FindingRule("leukocytosis", c["leukocytosis"], "range", "wbc", ">", "wbc_uln"))
    return out


def _line_pattern_rules(c: dict[str, Expr]) -> list[FindingRule]:
    """Bicytopenia and pancytopenia, with which lines are low and which were not measured."""
    lows = line_lows()
    measured = line_measured()
    names = [n for n, _, _ in CELL_LINES]
    out = [FindingRule("pancytopenia", c["pancytopenia"], "pattern", detail=Message("low: " + ", ".join(names)))]
    for skip in range(3):  # the line that is not low
        pair = [names[i] for i in range(3) if i != skip]
        cond = c["bicytopenia"] & ~lows[skip]
        text = "low: " + " and ".join(pair)
        out.append(FindingRule("bicytopenia", cond & measured[skip], "pattern", detail=Message(text)))
        out.append(
            FindingRule(
                "bicytopenia", cond & ~measured[skip], "pattern",
                detail=Message(text + f"; {names[skip]} not measured, so pancytopenia cannot be excluded"),
            )
        )  # fmt: skip
    return out


NEWBORN_HOURS = 72  # the first 72 h of life, when the ANC limit moves by the hour (Manroe et al., 1979)


def newborn_hours_needed() -> Expr:
    """An ANC in the first three days of life with no range because only whole days are known."""
    first_days = col("age_days") < NEWBORN_HOURS // 24
    return col("anc").not_null() & col("anc_lln").is_null() & first_days & col("age_hours").is_null()


def newborn_hour_uncovered() -> Expr:
    """An ANC in the first 72 h whose hour of life no cited table covers."""
    return col("anc").not_null() & col("anc_lln").is_null() & (col("age_hours") < NEWBORN_HOURS)


def not_assessed_rules() -> list[NoteRule]:
    """What could not be assessed: a missing value (WBC, ANC), a missing range, lines not measured."""
    out = [
        NoteRule("leukopenia", col("wbc").is_null(), Message("leukopenia not assessed: no WBC given"), "wbc"),
        NoteRule(
            "neutropenia", col("anc").is_null(),
            Message("neutropenia not assessed: no ANC, and no WBC with neutrophil % to derive it"), "anc",
        ),
    ]  # fmt: skip
    out.append(
        NoteRule(
            "neutropenia",
            newborn_hours_needed(),
            Message(
                "neutropenia not assessed: in the first 72 hours of life the ANC lower limit changes by the hour"
                " (Manroe et al., J Pediatr 1979); give the age in hours (age_hours)"
            ),
            "age_hours",
        )
    )
    out.append(
        NoteRule(
            "neutropenia",
            newborn_hour_uncovered(),
            Message(
                "neutropenia not assessed: no hour-specific ANC lower limit is cited for hour {hours} of life;"
                " give the lab's neonatal range",
                hours=col("age_hours"),
            ),
            "age_hours",
        )
    )
    for code in ("leukopenia", "neutropenia"):
        out.append(
            NoteRule(
                code,
                impossible_pair(),
                Message(
                    f"{code} not assessed: the ANC {{anc}} is above the WBC {{wbc}}, which cannot be; check both values",
                    anc=col("anc"),
                    wbc=col("wbc"),
                ),
                "anc",
            )
        )
    out.append(
        NoteRule(
            "febrile_neutropenia",
            col("temperature").not_null() & col("anc").is_null() & ~fever_any(),
            Message(
                "febrile neutropenia not assessed: no ANC, and the WBC {wbc} does not settle it; give the ANC or the"
                " differential",
                wbc=col("wbc"),
            ),
            "anc",
        )
    )
    for a, code in LOW_FINDINGS.items():
        out.append(
            NoteRule(
                code, undecided(a, "<", col(f"{a}_lln")),
                Message(
                    f"{code} not assessed: the censored result {{op}}{{value}} does not say whether {short_name(a)} is"
                    " below the lower limit {lln}", op=col(f"{a}_censor"), value=col(a), lln=col(f"{a}_lln"),
                ),
                a,
            )
        )  # fmt: skip
    for a, code in LOW_FINDINGS.items():
        newborn = newborn_hours_needed() | newborn_hour_uncovered() if a == "anc" else lit(False)
        out.append(
            NoteRule(
                code,
                col(a).not_null() & col(f"{a}_lln").is_null() & ~newborn,
                Message(
                    f"{code} not assessed: no reference range for {ANALYTES[a].name} at this age; give the lab's LLN"
                ),
                a,
            )
        )
    lows = [any_(low(a) for a in analytes) for _, _, analytes in CELL_LINES]
    measured = line_measured()
    names = [n for n, _, _ in CELL_LINES]
    any_low = any_(lows)
    # one rule per combination of unmeasured lines, so the message names exactly those
    for mask in range(1, 8):
        absent = [i for i in range(3) if mask >> i & 1]
        cond = any_low & all_(~measured[i] if i in absent else measured[i] for i in range(3))
        text = "bicytopenia/pancytopenia not fully assessed: no " + " or ".join(names[i] for i in absent) + " value"
        out.append(NoteRule("pancytopenia", cond, Message(text), None))
    return out


def warning_rules(profile: str) -> list[NoteRule]:
    """Consistency checks on the reported counts, and warnings about the range that was used."""
    pcts = [col(PERCENT[line]) for line in WHITE_LINES if line != "bands"]
    total = pcts[0]
    for p in pcts[1:]:
        total = total + p
    total = tidy(total + coalesce(col("bands_pct"), 0.0))
    derived_anc = col("wbc") * (col("neutrophils_pct") + coalesce(col("bands_pct"), 0.0)) / 100.0
    ref = max_(col("anc"), derived_anc)
    out = [
        NoteRule(
            "differential_sum",
            all_(p.not_null() for p in pcts) & ((total - 100.0).abs() > DIFF_SUM_TOLERANCE),
            Message(
                "the differential adds up to {total} %, outside 100 +/- {tol}; check the percentages",
                total=total, tol=DIFF_SUM_TOLERANCE,
            ),
            "differential",
        ),
        NoteRule(
            "anc_mismatch",
            col("anc_method").eq(MEASURED) & (ref > 0.0) & ((col("anc") - derived_anc).abs() / ref > ANC_MISMATCH),
            Message(
                "measured ANC {anc} and ANC from the differential {derived} differ by more than {pct}; the"
                " measured ANC is used",
                anc=col("anc"), derived=tidy(derived_anc), pct=f"{ANC_MISMATCH:.0%}",
            ),
            "anc",
        ),
    ]  # fmt: skip
    for line in WHITE_LINES:
        a = ABSOLUTE[line]
        out.append(
            NoteRule(
                "absolute_above_wbc",
                col(f"{a}_method").eq(MEASURED) & (col(a) > col("wbc")),
                Message(f"{a} {{value}} is above the WBC {{wbc}}; check both values", value=col(a), wbc=col("wbc")),
                a,
            )
        )
    out.append(
        NoteRule(
            "age_missing", col("age_days").is_null(),
            Message("age not given: adult reference ranges were used"), "age",
        )
    )  # fmt: skip
    for a in ANALYTES:
        row = col(f"{a}_range_row")
        out.append(
            NoteRule(
                "range_unverified",
                col(a).not_null() & col(f"{a}_range").eq("profile") & row_field(row, "evidence").eq("R"),
                Message(
                    f"the {a} range ({{lln}}-{{uln}}) is a general value, not read in a cited source; give the lab's"
                    " range",
                    lln=col(f"{a}_lln"), uln=col(f"{a}_uln"),
                ),
                a,
            )
        )  # fmt: skip
    out.append(_duffy_null_rule())
    return out


def _duffy_null_rule() -> NoteRule:
    """The lab's range wins, but for a Duffy-null person say when the ANC is low only by that range: institutional
    intervals misclassify many Duffy-null adults as neutropenic (Hibbs et al., Blood 2025)."""
    duffy, generic = col("_anc_duffy_row"), col("_anc_generic_row")
    d_lln, d_uln = row_field(duffy, "lln"), row_field(duffy, "uln")
    differs = ~row_field(generic, "lln").eq(d_lln) | ~row_field(generic, "uln").eq(d_uln)
    cond = (
        col("ancestry").eq("duffy-null")
        & col("anc_range").eq("lab")
        & d_lln.not_null()
        & differs
        & (col("anc") >= d_lln)
        & (col("anc") < col("anc_lln"))
    )
    msg = Message(
        "ANC {anc} is below the lab's range but within the Duffy-null reference interval ({lln}-{uln}, {source});"
        " the lab's range was used",
        anc=col("anc"), lln=d_lln, uln=d_uln, source=row_field(duffy, "source"),
    )  # fmt: skip
    return NoteRule("duffy_null_range", cond, msg, "anc")


# --- grading terms ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermProgram:
    """A term compiled to expressions: the grade (null = not gradable), the index of the age band used, and the
    reasons (first whose condition holds) when the grade is null."""

    grade: Expr
    band: Expr
    reasons: tuple[tuple[Expr, Message], ...]


def _band_grade(band: Band, value: Expr, lln: Expr) -> Expr:
    if band.not_gradable:
        return lit(None)
    chain = None
    for rule in band.rules:
        if rule.bound == LLN:
            chain = when(lln.is_null(), None) if chain is None else chain.when(lln.is_null(), None)
            chain = chain.when(value.cmp(rule.op, lln), rule.grade)
        else:
            c = value.cmp(rule.op, rule.bound)
            chain = when(c, rule.grade) if chain is None else chain.when(c, rule.grade)
    return lit(0) if chain is None else chain.otherwise(0)


def term_program(term: Term, value: Expr, lln: Expr, age_days: Expr) -> TermProgram:
    """The grade of `value` under `term`: the first rule that holds, most severe first; a value on a threshold
    takes the milder grade when the rule says "<"; a rule against the LLN needs one, else not gradable."""
    name, unit = short_name(term.analyte), ANALYTES[term.analyte].unit
    reasons: list[tuple[Expr, Message]] = [(value.is_null(), Message(f"no {name} value"))]
    if not term.needs_age:
        bands = [(lit(True), term.bands[0])]
        grade = when(value.is_null(), None).otherwise(_band_grade(term.bands[0], value, lln))
        band_index: Expr = lit(0)
    else:
        bands = [(in_age_band(b.age, age_days), b) for b in term.bands]
        grade = when(value.is_null(), None).when(age_days.is_null(), None)
        band_index = when(age_days.is_null(), None)
        for i, (inside, b) in enumerate(bands):
            grade = grade.when(inside, _band_grade(b, value, lln))
            band_index = band_index.when(inside, i)
        grade = grade.otherwise(None)
        reasons.append(
            (age_days.is_null(), Message(f"age needed: {term.scheme} grades {term.term!r} by age; give the age"))
        )
        reasons.append((~any_(inside for inside, _ in bands), Message("no criteria for age {age} days", age=age_days)))
    for inside, b in bands:
        if b.not_gradable:
            reasons.append((inside, Message(b.not_gradable.replace("{", "{{").replace("}", "}}"))))
            continue
        worse: list[Expr] = []
        for rule in b.rules:
            if rule.bound == LLN:
                msg = Message(
                    f"{name} {{value}} {unit} is at or above the grade {rule.grade + 1} threshold and no LLN was"
                    f" given; give the lower limit of normal to tell grade 0 from grade {rule.grade}",
                    value=value,
                )
                reasons.append((inside & lln.is_null() & ~any_(worse), msg))
                break
            worse.append(value.cmp(rule.op, rule.bound))
    return TermProgram(grade, band_index, tuple(reasons))


def censored_term_program(term: Term, a: str, lln: Expr, age_days: Expr) -> TermProgram:
    """`term_program` for a value that may be censored (`<a>_censor`): graded only when both ends of the interval it
    stands for get the same grade (every term is monotone, which the criteria loader checks); otherwise not
    gradable, with the two grades it could be."""
    exact = term_program(term, col(a), lln, age_days)
    lo, hi = censored_interval(term.analyte, a)
    at_lo, at_hi = term_program(term, lo, lln, age_days), term_program(term, hi, lln, age_days)
    c = col(f"{a}_censor")
    agree = at_lo.grade.eq(at_hi.grade)
    grade = when(c.is_null(), exact.grade).when(agree, at_lo.grade).otherwise(None)
    band = when(c.is_null(), exact.band).otherwise(at_lo.band)
    shown = "censored ({cop} {cvalue} " + ANALYTES[term.analyte].unit + ")"
    first = when(at_hi.grade < at_lo.grade, at_hi.grade).otherwise(at_lo.grade)
    second = when(at_hi.grade < at_lo.grade, at_lo.grade).otherwise(at_hi.grade)
    reasons = [(c.is_null() & cond, msg) for cond, msg in exact.reasons]
    for cond, msg in at_lo.reasons + at_hi.reasons:  # an end that cannot be graded (no LLN, no age) says why
        reasons.append(
            (
                c.not_null() & cond,
                Message("not gradable: " + shown + ": " + msg.template, cop=c, cvalue=col(a), **msg.params),
            )
        )
    reasons.append(
        (
            c.not_null() & ~agree,
            Message("not gradable: " + shown + ": the value could be grade {g1} or grade {g2}",
                    cop=c, cvalue=col(a), g1=first, g2=second),
        )
    )  # fmt: skip
    return TermProgram(grade, band, tuple(reasons))


@dataclass(frozen=True)
class FeverProgram:
    """Febrile neutropenia under one scheme: grade (its grade when met, 0 when not, null when not assessed),
    `possible` (met only if a fever of 38.0 C lasted long enough and nobody said whether it did) and reasons."""

    grade: Expr
    possible: Expr
    reasons: tuple[tuple[Expr, Message], ...]


def fever_program(term: Term, inputs: dict[str, Expr] | None = None) -> FeverProgram:
    """Inputs: anc, wbc, temperature (C), fever_sustained (bool or null) and anc_expected_fall (bool or null).

    The ANC is below the scheme's bound when measured or derived below it; when there is no ANC, a WBC below the
    bound settles it too, because an absolute neutrophil count cannot exceed the total white count. IDSA 2011 also
    counts an ANC expected to fall below its bound within 48 h, whatever the current ANC."""
    f = term.fever
    assert f is not None
    i = {k: col(k) for k in ("anc", "wbc", "temperature", "fever_sustained", "anc_expected_fall")} | (inputs or {})
    anc, wbc, temp = i["anc"], i["wbc"], i["temperature"]
    by_anc = anc.cmp(f.anc_op, f.anc_bound)
    by_wbc = anc.is_null() & wbc.cmp(f.anc_op, f.anc_bound)
    expected = i["anc_expected_fall"].eq(True) if f.anc_expected_fall_bound is not None else lit(False)
    anc_low = by_anc | by_wbc | expected
    undetermined = anc.is_null() & ~anc_low
    single = temp.cmp(f.single_op, f.single_c)
    warm = temp.cmp(f.sustained_op, f.sustained_c)
    sustained, unknown = i["fever_sustained"].eq(True), i["fever_sustained"].is_null()
    grade = (
        when(temp.is_null(), None)
        .when(undetermined, None)
        .when(~anc_low, 0)
        .when(single, f.grade)
        .when(warm & sustained, f.grade)
        .when(warm & unknown, None)
        .otherwise(0)
    )
    possible = temp.not_null() & anc_low & ~single & warm & unknown
    bound = f"{f.anc_bound:g}"
    why_low = [
        (by_anc, "ANC {anc} " + f"{f.anc_op} {bound}", {"anc": anc}),
        (
            by_wbc,
            "no ANC, but the WBC {wbc} is " + f"{f.anc_op} {bound} and an ANC cannot exceed the WBC",
            {"wbc": wbc},
        ),
    ]
    if f.anc_expected_fall_bound is not None:
        why_low.append((expected, f"ANC expected to fall below {bound} within 48 h", {}))
    reasons: list[tuple[Expr, Message]] = [
        (temp.is_null(), Message("no temperature given; febrile neutropenia needs one")),
        (undetermined & wbc.is_null(), Message("no ANC value, and no WBC to bound it: give the ANC or the differential")),
        (
            undetermined,
            Message(
                "no ANC value; the WBC {wbc} does not settle whether the ANC is " + f"{f.anc_op} {bound}: give the ANC",
                wbc=wbc,
            ),
        ),
    ]  # fmt: skip
    taken: Expr = lit(False)
    for cond, text, params in why_low:
        this = cond & ~taken
        taken = taken | cond
        reasons.append(
            (
                this & single,
                Message(text + "; single temperature {t} C " + f"{f.single_op} {f.single_c:g} C", t=temp, **params),
            )
        )
        reasons.append(
            (
                this & warm & sustained,
                Message(text + "; temperature {t} C sustained over " + f"{f.sustained_hours:g} h", t=temp, **params),
            )
        )
    reasons.append(
        (
            possible,
            Message(
                "temperature {t} C meets the definition only if it lasted over "
                + f"{f.sustained_hours:g} h; say whether it did (fever_sustained)",
                t=temp,
            ),
        )
    )
    return FeverProgram(grade, possible, tuple(reasons))


@cache
def fever_terms() -> tuple[Term, ...]:
    return tuple(t for s in criteria.SCHEMES.values() for t in s.terms.values() if t.kind == "febrile_neutropenia")


def fever_any() -> Expr:
    """Febrile neutropenia met or possible under any scheme's definition (the panel finding)."""
    parts = []
    for t in fever_terms():
        p = fever_program(t)
        parts.append((p.grade > 0) | p.possible)
    return any_(parts)
