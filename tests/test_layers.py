"""The layout follows the data flow: a package imports only from packages before it, and the rule book stays free
of Polars (so one CBC never loads a data-frame engine), and no module imports another's private names."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "leukon"
#: Left to right, as the data flows; the two entry points (service, cli) come last.
ORDER = ["errors", "rules", "measurements", "sources", "panels", "findings", "course", "pipelines", "knowledge",
         "outputs", "synth", "spark", "service", "cli"]  # fmt: skip
NOT_IN_RULES = ("polars", "numpy", "pyarrow", "scipy", "duckdb")


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) < 2:
        return None
    name = "spark" if parts[1].startswith("_spark") else parts[1]
    return name if name in ORDER else None


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    package = list(rel.parts[:-1])  # a module and a package's __init__ both sit in this package
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module or ""
            out.append((target, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


FILES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_point_one_way(path):
    module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts).removesuffix(".__init__")
    mine = _layer(module)
    for target, names in _imports(path):
        if mine == "rules":
            assert target.split(".")[0] not in NOT_IN_RULES, f"{module} imports {target}: the rule book has no engine"
        other = _layer(target)
        if mine and other:
            assert ORDER.index(other) <= ORDER.index(mine), f"{module} ({mine}) imports {target} ({other})"
        if target.startswith("leukon") and target != module:
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{module} imports private names {private} from {target}"
