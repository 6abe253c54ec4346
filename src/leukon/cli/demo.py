"""`leukon demo`: assess a few built-in example CBCs, one per pattern the source articles describe."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from leukon.cli import terminal
from leukon.cli.app import command
from leukon.pipelines.assess import assess_mapping

#: (name, values, options). Values in the units a lab report would print them.
EXAMPLES: list[tuple[str, dict, dict]] = [
    ("CTCAE published example (FHIR CTC AE IG)", {"wbc": 2.0, "anc": 0.7}, {"age_years": 56, "sex": "female"}),
    ("Differential only, cells/uL, with bands", {"wbc": (3100, "/uL"), "neutrophils_pct": 20, "bands_pct": 5,
     "lymphocytes_pct": 60, "monocytes_pct": 12, "eosinophils_pct": 2, "basophils_pct": 1}, {"age_years": 34}),
    ("HIV-like lymphopenia", {"wbc": 3.2, "anc": 2.1, "lymphocytes": 0.6, "cd4": (180, "cells/uL")}, {"age_years": 41, "sex": "male"}),
    ("Duffy-null adult, low-normal ANC", {"wbc": 3.4, "anc": 1.3}, {"age_years": 29, "ancestry": "duffy-null"}),
    ("Same counts, no ancestry given", {"wbc": 3.4, "anc": 1.3}, {"age_years": 29}),
    ("Fever after chemotherapy", {"wbc": (0.9, "K/uL"), "anc": (0.2, "K/uL"), "temperature": (101.3, "°F")}, {"age_years": 63}),
    ("Clozapine, agranulocytosis", {"wbc": 1.8, "anc": 0.05, "lymphocytes": 1.5}, {"age_years": 38}),
    ("Pancytopenia", {"wbc": 2.1, "anc": 0.9, "hemoglobin": 8.4, "platelets": 62}, {"age_years": 70, "sex": "male"}),
    ("Infant, 4 months", {"wbc": 7.5, "anc": 1.2}, {"age_days": 120}),
    ("Healthy adult", {"wbc": 6.4, "anc": 3.6, "lymphocytes": 2.0, "hemoglobin": 14.1, "platelets": 250}, {"age_years": 45, "sex": "female"}),
]  # fmt: skip


def register(subparsers) -> None:
    """Add `demo [--patients N] [--out DIR] [--quiet]`."""
    p = subparsers.add_parser("demo", help="run leukon on its built-in example data")
    p.add_argument("--patients", type=int, default=2000, help="size of the synthetic cohort (default 2000)")
    p.add_argument("--out", default=None, help="folder for the screening outputs (default: a temporary folder)")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(run=command("demo", run))


def run(args: argparse.Namespace) -> int:
    """`leukon demo` from its parsed arguments."""
    return show(quiet=args.quiet, patients=args.patients, out=args.out)


def show(*, quiet: bool = False, patients: int = 2000, out: str | None = None) -> int:
    """The README's main job: example CBCs one by one, then a synthetic cohort screened end to end."""
    console = terminal.console(quiet=quiet)
    examples(console)
    cohort(console, patients=patients, out=out)
    return 0


def cohort(console: Console, *, patients: int, out: str | None) -> None:
    """Generate a synthetic cohort, screen it, and show that the planted scenarios are found."""
    import tempfile
    from pathlib import Path

    from leukon import synth
    from leukon.cli.screen import print_summary
    from leukon.pipelines.screen import screen

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(out or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        df = synth.cohort(patients, seed=7)
        path = synth.write(df, folder / "cohort.parquet")
        synth.patients(df).write_parquet(folder / "patients.parquet")
        console.print(f"\nSynthetic cohort: {patients:,} patients, {df.height:,} results -> {path.name}")
        result = screen(
            path, format="long", out=folder / "screen", patients=str(folder / "patients.parquet"), force=True
        )
        print_summary(result, console, out=str(folder / "screen") if out else None)
        planted = synth.scenarios(patients, seed=7)
        if result.patients is not None:
            by = (
                result.patients.join(planted, on="patient_id", how="left")
                .group_by("scenario", "label_neutrophils", "label_lymphocytes", "cyclic")
                .len()
                .sort("scenario", "len", descending=[False, True])
            )
            t = Table(
                title="planted scenario -> course found (neutrophils, lymphocytes, cyclic test)", title_justify="left"
            )
            for col in ("scenario", "neutrophils", "lymphocytes", "cyclic", "patients"):
                t.add_column(col)
            for row in by.iter_rows():
                t.add_row(*(str(x) for x in row[:-1]), f"{row[-1]:,}")
            console.print(t)


def examples(console: Console) -> None:
    table = Table(title="leukon demo: built-in example CBCs", title_justify="left")
    for col in ("example", "findings", "CTCAE v5 WBC / ANC", "clinical"):
        table.add_column(col, overflow="fold")  # long finding codes wrap at 80 columns instead of being cut
    for name, values, options in EXAMPLES:
        a = assess_mapping(values, **options)
        codes = ", ".join(f.code + (" (possible)" if f.certainty == "possible" else "") for f in a.findings) or "none"
        w = a.grade("ctcae-v5", "White blood cell decreased")
        n = a.grade("ctcae-v5", "Neutrophil count decreased")
        sev = a.grade_result("clinical", "Neutropenia severity").label or ""
        table.add_row(name, codes, f"{'n/a' if w is None else w} / {'n/a' if n is None else n}", sev,
                      style="bold red" if a.emergency else None)  # fmt: skip
    console.print(table)
    console.print("Not a diagnosis: leukon reads numbers against published criteria. Try `leukon assess --help`.")
