"""Rules: the base class, registration by code, discovery of the rule modules, and selection.

A rule is a class in its own module under ``llamatpl/lint/rules/``; its docstring is its
documentation (what it checks, why, an anti-pattern and a best practice), which ``llamatpl rules``
and ``docs/rules.md`` show.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from ..errors import LlamatplError
from ..versions import VERSIONS

if TYPE_CHECKING:
    from .context import LintContext
    from .finding import Finding

_RULES: dict[str, type[Rule]] = {}


class Rule:
    """Base of every rule. Subclasses set ``code``, ``name``, ``severity`` and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[str]
    versions: ClassVar[tuple[str, ...]] = VERSIONS
    needs_parse: ClassVar[bool] = True  # most rules have nothing to say about a template that does not parse

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().split("\n", 1)[0]


def register(cls: type[Rule]) -> type[Rule]:
    if cls.code in _RULES:
        raise RuntimeError(f"rule {cls.code} registered twice")
    _RULES[cls.code] = cls
    return cls


def all_rules() -> list[type[Rule]]:
    """Every rule, sorted by code (the rule modules are imported on first call)."""
    if not _RULES:
        from . import rules

        for info in pkgutil.iter_modules(rules.__path__):
            importlib.import_module(f"{rules.__name__}.{info.name}")
    return [_RULES[c] for c in sorted(_RULES)]


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
