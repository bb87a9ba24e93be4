"""The base class of every lint rule.

A rule is a class in its own module under ``llamatpl/lint/rules/``; its docstring is its
documentation (what it checks, why, an anti-pattern and a best practice), which ``llamatpl rules``
and ``docs/rules.md`` show.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

from ..versions import VERSIONS

if TYPE_CHECKING:
    from .context import LintContext
    from .finding import Finding


class Rule:
    """Base of every rule. Subclasses set ``code``, ``name``, ``severity`` and implement :meth:`check`."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[str]
    versions: ClassVar[tuple[str, ...]] = VERSIONS
    needs_parse: ClassVar[bool] = True  # most rules have nothing to say about a template that does not parse
    #: A rule that models one engine's own Jinja backend (LT004: TGI's minijinja, LT008: llama.cpp's
    #: engine) names it here: it checks the template once and its findings concern that engine's users.
    #: Every other rule runs on each engine's probe renders and is tagged by where it fires.
    backend_of: ClassVar[str | None] = None

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().split("\n", 1)[0]
