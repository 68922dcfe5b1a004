"""Lazy public names of a package: ``__getattr__`` and ``__dir__`` made from one table of
``{name: defining module}``, so importing the package stays quick (most modules pull in
Numba kernels) and ``dir()`` lists every public name."""

from __future__ import annotations

import importlib


def lazy_exports(package: str, exports: dict[str, str], namespace: dict):
    """``(__getattr__, __dir__)`` for ``package``, whose globals are ``namespace``."""

    def __getattr__(name):
        if name in exports:
            value = getattr(importlib.import_module(exports[name]), name)
            namespace[name] = value  # later look-ups skip this function
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
