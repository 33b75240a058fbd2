"""Lazy package attributes: a name is imported from its module on first access, so
``import conveyor.<package>`` stays light (PEP 562 module ``__getattr__``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package: str,
    modules: Mapping[str, str],
    namespace: dict[str, Any],
    *,
    before: Callable[[], None] | None = None,
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` comes from the relative module
    ``modules[name]`` on first access and is then kept in ``namespace`` (the package's
    ``globals()``). ``before`` runs first on each such import (a check that an extra is
    installed)."""

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        if before is not None:
            before()
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    return __getattr__
