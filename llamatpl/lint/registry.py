"""The rule registry: each rule module registers its class here by code.

A rule is a :class:`~llamatpl.lint.rule.Rule` subclass in its own module under ``llamatpl/lint/rules/``,
decorated with :func:`register`; :mod:`llamatpl.lint.catalog` discovers and selects them.
"""

from __future__ import annotations

from .rule import Rule

__all__ = ["RULES", "Rule", "register"]

RULES: dict[str, type[Rule]] = {}


def register(cls: type[Rule]) -> type[Rule]:
    if cls.code in RULES:
        raise RuntimeError(f"rule {cls.code} registered twice")
    RULES[cls.code] = cls
    return cls
