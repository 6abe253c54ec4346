"""Argument helpers shared by the sub-commands: analyte flags, ANALYTE=VALUE pairs, numbers, source options.

Each sub-command module builds its own parser with these, so a flag is spelt and parsed the same way in
`assess`, `screen` and `follow`. Every failure raises `InputError` naming the flag; the one error handler
in `leukon.cli.app` turns it into one line and exit code 2.
"""

from __future__ import annotations

import argparse

from leukon.errors import InputError
from leukon.pipelines.requests import SOURCE_FLAGS
from leukon.rules.analytes import ANALYTES

#: Short spellings people use at the bedside, beside the analyte's own flag.
ANALYTE_ALIASES = {
    "lymphocytes": ["--alc"],
    "hemoglobin": ["--hgb"],
    "platelets": ["--plt"],
    "temperature": ["--temp"],
}
_METAVAR = {
    "count": "VALUE [UNIT]",
    "fraction": "PERCENT",
    "mass_concentration": "G_DL [UNIT]",
    "temperature": "DEG [C|F]",
}


def help_text(text: str) -> str:
    """`text` safe for an argparse help string: argparse %-formats help, so a literal % (a unit) crashes it."""
    return text.replace("%", "%%")


def analyte_flag(analyte: str) -> str:
    """`neutrophils_pct` -> `--neutrophils-pct`."""
    return "--" + analyte.replace("_pct", "-pct").replace("_", "-")


def add_analyte_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per analyte (`--wbc VALUE [UNIT]`, `--neutrophils-pct PERCENT`, ...), stored under its id."""
    for a in ANALYTES.values():
        parser.add_argument(
            analyte_flag(a.id),
            *ANALYTE_ALIASES.get(a.id, []),
            dest=a.id,
            metavar=_METAVAR[a.dimension],
            help=help_text(f"{a.name} ({a.unit})"),
        )


def pairs(items: list[str] | None, field: str) -> dict[str, str]:
    """`["wbc=3.5", "anc = 1.5"]` -> {"wbc": "3.5", "anc": "1.5"}; keys must be analyte ids."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise InputError(field, f"{item!r} should look like ANALYTE=VALUE, e.g. wbc=3.5")
        k, v = item.split("=", 1)
        k = k.strip().lower().replace("-", "_")
        if k not in ANALYTES:
            raise InputError(field, f"unknown analyte {k!r}; use one of {', '.join(ANALYTES)}")
        out[k] = v.strip()
    return out


def number(field: str, text: str) -> float:
    """`text` as a float, or InputError naming `field`."""
    try:
        return float(text)
    except ValueError:
        raise InputError(field, f"{text!r} is not a number") from None


def whole(field: str, text: str) -> int:
    """`text` as a whole number ("400" or "400.0"), or InputError naming `field`."""
    v = number(field, text)
    if v != v or v in (float("inf"), float("-inf")) or v != int(v):
        raise InputError(field, f"{text!r} must be a whole number")
    return int(v)


def value_and_unit(analyte: str, text: str) -> tuple[str, str | None]:
    """`"3100 /uL"` -> ("3100", "/uL"); `"3.1"` -> ("3.1", None)."""
    parts = text.strip().split(None, 1)
    if not parts:
        raise InputError(analyte, "empty value")
    return parts[0], (parts[1] if len(parts) > 1 else None)


def analyte_values(args: argparse.Namespace, units: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    """The analyte flags that were given, as {analyte: (value text, unit or None)}."""
    values = {}
    for a in ANALYTES:
        text = getattr(args, a, None)
        if text is not None:
            v, u = value_and_unit(a, text)
            values[a] = (v, u or units.get(a))
    return values


# --- lab tables -----------------------------------------------------------------------------------------

#: Column flags shared by the table readers: flag -> read() option (`--patient-id MRN` -> patient_id="MRN").


def add_source_arguments(p: argparse.ArgumentParser) -> None:
    """Add --format, --table, --patients, --time-format and one --<field> COLUMN flag per field."""
    p.add_argument("--format", default="long", choices=("long", "wide", "omop", "mimic-iv", "fhir", "hl7v2"),
                   help="table layout, or a message format (a FHIR Bundle or HL7 v2 file is recognised by itself)")  # fmt: skip
    p.add_argument("--table", help="table name in a DuckDB/SQLite file (or write FILE.duckdb:TABLE)")
    p.add_argument("--patients", "--patients-file", dest="patients_file", metavar="FILE",
                   help="patients table: PERSON (omop), patients.csv.gz (mimic-iv), or any with patient_id, sex, "
                        "birth_date")  # fmt: skip
    p.add_argument("--time-format", metavar="FORMAT",
                   help=help_text("strftime format of the time column, e.g. %m/%d/%Y %H:%M; only it is then "
                                  "accepted"))  # fmt: skip
    for f in SOURCE_FLAGS:
        p.add_argument("--" + f.replace("_", "-"), dest=f"col_{f}", metavar="COLUMN", help=f"column holding {f}")
    p.add_argument("--map", dest="map_file", metavar="FILE",
                   help="mapping file (TOML) of the lab's own test codes/names and unit spellings to leukon's")  # fmt: skip
    p.add_argument("--decimal", choices=(".", ","), default=None,
                   help="decimal mark of the number cells (default: detected; 3,1 is read as 3.1 when the file "
                        "uses commas)")  # fmt: skip


def source_options(args: argparse.Namespace) -> dict:
    """The read() keyword options from flags added by add_source_arguments (unset flags left out)."""
    opts = {f: getattr(args, f"col_{f}") for f in SOURCE_FLAGS if getattr(args, f"col_{f}", None)}
    for key, attr in (("table", "table"), ("patients", "patients_file"), ("time_format", "time_format"),
                      ("map", "map_file"), ("decimal", "decimal")):  # fmt: skip
        if getattr(args, attr, None):
            opts[key] = getattr(args, attr)
    return opts


# --- reference profiles ---------------------------------------------------------------------------------


def add_profiles_argument(p: argparse.ArgumentParser) -> None:
    """Add --profiles FILE: the lab's own reference-range profiles, chosen then with --profile ID."""
    p.add_argument("--profiles", dest="profiles_file", metavar="FILE",
                   help="TOML file of your own reference-range profiles (by age, sex, ancestry); pick one with "
                        "--profile ID")  # fmt: skip


def load_profiles(args: argparse.Namespace) -> argparse.Namespace:
    """Register the profiles of --profiles FILE (validated; a bad file is one error line) before a command runs."""
    if getattr(args, "profiles_file", None):
        from leukon.rules.criteria import register_profiles

        register_profiles(args.profiles_file)
    return args
