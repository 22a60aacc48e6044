"""Package exports imported on first use (PEP 562), so that importing a package does not load all of its modules.

A package lists its public names and the module of each, and sets ``__getattr__ = lazy.exports(__name__, table)``;
``from remit.policy import PolicyEngine`` then imports ``remit.policy.engine`` (and cedarpy) only at that moment.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, table: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for ``package`` that imports each name of ``table`` from its module, once."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    return __getattr__
