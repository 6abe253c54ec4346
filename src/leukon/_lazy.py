"""Public names imported on first use (PEP 562), so that importing a package costs only what is used."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_names(
    package: str, where: dict[str, str], namespace: dict
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`, whose names in `where` (name -> defining module) are imported
    on first access and then kept in `namespace` (the package's globals), so later lookups skip the function."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
