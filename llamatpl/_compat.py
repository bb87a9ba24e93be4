"""Module paths of llamatpl 0.1, kept importable for one release with a ``DeprecationWarning``.

``import llamatpl.compare`` (say) finds the module at its new home, ``llamatpl.verification.compare``,
and registers it under both names, so objects are shared, never copied.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from importlib.machinery import ModuleSpec
from types import ModuleType

# 0.1 path (under llamatpl.) -> 0.2 path (under llamatpl.)
MOVED = {
    "compare": "verification.compare",
    "search": "verification.search",
    "_strategies": "verification.strategies",
    "reference": "verification.reference",
    "conversation": "rendering.conversation",
    "templates": "rendering.templates",
    "environment": "rendering.environment",
    "limits": "rendering.limits",
    "renderer": "rendering.renderer",
    "batch": "rendering.jsonl",
    "hf_export": "tokens.export",
    "toolcall_parser": "toolcalls.parser",
    "features": "probes.features",
    "turns": "probes.turns",
    "caps": "probes.caps",
    "differ": "diffing.differ",
}


class _MovedFinder:
    """A meta path finder and loader (duck-typed: importlib.abc costs 10 ms at start-up)."""

    def __init__(self, package: str) -> None:
        self._prefix = package + "."

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        if not fullname.startswith(self._prefix):
            return None
        head, _, tail = fullname[len(self._prefix):].partition(".")
        if head not in MOVED:
            return None
        return ModuleSpec(fullname, self)  # type: ignore[arg-type]  # a duck-typed Loader

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        head, _, tail = spec.name[len(self._prefix):].partition(".")
        new = self._prefix + MOVED[head] + (f".{tail}" if tail else "")
        warnings.warn(f"{spec.name} moved to {new}; the old path goes in llamatpl 0.3",
                      DeprecationWarning, stacklevel=2)
        module = importlib.import_module(new)
        sys.modules[spec.name] = module
        return module

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed under its new name already."""


def install(package: str) -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder(package))  # before PathFinder, which would load a moved
        # package's submodules a second time under the old name
