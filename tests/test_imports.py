"""The one-CBC path stays light: `import leukon`, `leukon.assess` and `leukon assess` never import Polars.

A behaviour test, not a timing test: each case runs in a fresh interpreter and reads `sys.modules` at the end
(timings are in benchmarks/bench_startup.py). Polars, numpy, scipy, matplotlib and pyarrow are for tables and
charts; rich only for text printed to a terminal.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import leukon

HEAVY = ("polars", "numpy", "scipy", "matplotlib", "pyarrow", "pandas", "rich", "uvicorn", "fastapi")


def _loaded_after(code: str) -> set[str]:
    """The HEAVY packages in `sys.modules` after running `code` in a fresh interpreter."""
    probe = textwrap.dedent(code) + textwrap.dedent(f"""
        import json as _json, sys as _sys
        print(_json.dumps(sorted(m for m in {HEAVY!r} if m in _sys.modules)))
    """)
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.splitlines()[-1]))


def test_import_leukon_imports_nothing_heavy():
    assert _loaded_after("import leukon") == set()


def test_assess_and_grade_do_not_import_polars():
    loaded = _loaded_after("""
        import leukon
        a = leukon.assess(wbc=(3100, "/uL"), neutrophils_pct=20, bands_pct=5, age_years=34)
        assert {f.code for f in a.findings} >= {"leukopenia", "neutropenia"}, a.findings
        a.to_json()
        assert leukon.grade("ctcae-v5", "Neutrophil count decreased", 0.7, "10^9/L") == 3
        leukon.grade_detail("ctcae-v5", "Neutrophil count decreased", 1.6, "10^9/L")
        leukon.assess_mapping({"wbc": ("2.0", None), "anc": ("0.7", None)})
    """)
    assert loaded == set()


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["assess", "--wbc", "2", "--anc", "0.7", "--json"], set()),
        (["assess", "--wbc", "2", "--anc", "0.7"], {"rich"}),  # the text table is drawn with rich
        (["grade", "--scheme", "ctcae-v5", "--term", "Neutrophil count decreased", "--value", "0.7", "--unit", "10^9/L"], set()),
    ],
)  # fmt: skip
def test_cli_one_cbc_commands_do_not_import_polars(argv, allowed):
    loaded = _loaded_after(f"""
        import contextlib, io
        from leukon.cli.app import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main({argv!r}) == 0
    """)
    assert loaded <= allowed


def test_the_cyclic_test_never_imports_scipy(tmp_path):
    """The periodogram is NumPy: importing scipy.signal would cost more than the whole course stage of a screen."""
    loaded = _loaded_after("""
        import numpy as np, polars as pl, datetime as dt
        from leukon.course import follow
        days = [7 * w + k for w in range(8) for k in (0, 2, 4)]
        anc = [1.5 + 1.3 * float(np.cos(2 * np.pi * d / 21)) for d in days]
        t0 = dt.datetime(2024, 1, 1, 8)
        panels = pl.DataFrame({"patient_id": "p", "taken_at": [t0 + dt.timedelta(days=d) for d in days], "anc": anc})
        assert follow(panels, "p").patient("p").cyclic.verdict == "cyclic"
    """)
    assert "scipy" not in loaded


def test_table_names_load_on_first_use():
    """`screen` is where Polars comes in; the lazy names are the very objects of their modules."""
    loaded = _loaded_after("""
        import leukon
        from leukon.pipelines.screen import screen
        assert leukon.screen is screen and "screen" in dir(leukon)
    """)
    assert "polars" in loaded


def test_lazy_names_resolve_and_unknown_names_raise():
    from leukon.course import follow
    from leukon.pipelines.assess import Assessment

    assert leukon.follow is follow and leukon.Assessment is Assessment
    assert set(leukon.__all__) <= set(dir(leukon))
    with pytest.raises(AttributeError, match="no attribute 'nosuchname'"):
        leukon.nosuchname  # noqa: B018


def test_assess_without_explain_leaves_the_knowledge_base_unread():
    """`leukon assess` offers --explain and --audience, but loads the knowledge base only when asked to explain
    (its modules took 13 ms of a cold start)."""
    probe = textwrap.dedent("""
        import contextlib, io, sys
        from leukon.cli.app import main
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["assess", "--wbc", "2", "--anc", "0.7"]) == 0
        print(sorted(m for m in sys.modules if m.startswith("leukon.knowledge.")))
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["assess", "--wbc", "2", "--anc", "0.7", "--explain"]) == 0
        print("leukon.knowledge.kb" in sys.modules)
    """)
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["[]", "True"]


def test_knowledge_names_are_the_functions_even_after_their_modules_load():
    """A lazy name must not be shadowed by a submodule of the same name once that submodule is imported."""
    import leukon.knowledge as knowledge
    from leukon.knowledge import explanations, kb, topics

    assert knowledge.explain is explanations.explain and knowledge.lookup is topics.lookup
    assert knowledge.AUDIENCES is kb.AUDIENCES and leukon.explain is explanations.explain
    assert set(knowledge.__all__) <= set(dir(knowledge))
