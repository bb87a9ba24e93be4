"""Every rule, found by importing the modules under ``llamatpl/lint/rules/``, and selection by code or name."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from ..errors import LlamatplError
from .registry import RULES
from .rule import Rule


def all_rules() -> list[type[Rule]]:
    """Every rule, sorted by code (the rule modules are imported on first call)."""
    if not RULES:
        from . import rules

        for info in pkgutil.iter_modules(rules.__path__):
            importlib.import_module(f"{rules.__name__}.{info.name}")
    return [RULES[c] for c in sorted(RULES)]


def get_rule(code_or_name: str) -> type[Rule]:
    for rule in all_rules():
        if code_or_name.upper() == rule.code or code_or_name == rule.name:
            return rule
    raise LlamatplError(f"unknown rule {code_or_name!r} (see llamatpl rules)")


def _matches(rule: type[Rule], pattern: str) -> bool:
    return rule.code.startswith(pattern.upper()) or rule.name == pattern or pattern.upper() == "ALL"


def select_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[type[Rule]]:
    """Rules chosen by code, code prefix (``LL``, ``LL1``) or name; unknown patterns are an error."""
    select, ignore = list(select), list(ignore)
    rules = all_rules()
    for pattern in (*select, *ignore):
        if not any(_matches(r, pattern) for r in rules):
            raise LlamatplError(f"--select/--ignore: {pattern!r} matches no rule (see llamatpl rules)")
    chosen = [r for r in rules if not select or any(_matches(r, p) for p in select)]
    return [r for r in chosen if not any(_matches(r, p) for p in ignore)]
