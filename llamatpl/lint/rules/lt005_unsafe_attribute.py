"""Underscore or dunder attribute access, template loading, or another sandbox escape attempt.

Why: chat templates come from model hubs and GGUF files; ``__class__``, ``__globals__`` and their
kind are how sandbox escapes start. transformers' sandbox refuses them at render time; a template
that tries is hostile or broken, and either way must not ship.

Anti-pattern::

    {{ ''.__class__.__mro__[1].__subclasses__() }}
    {% include 'other.jinja' %}

Best practice::

    Read only the conversation's own keys: {{ message['content'] }}
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from ...errors import SandboxViolation
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class UnsafeAttribute(Rule):
    code = "LT005"
    name = "unsafe-attribute"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for node in ctx.find_unsafe():
            if isinstance(node, nodes.Getattr):
                what = f"reads the private attribute '{node.attr}'"
            elif isinstance(node, nodes.Getitem):
                what = f"reads the private key '{node.arg.value}'"  # type: ignore[attr-defined]
            else:
                what = f"loads another template ({type(node).__name__.lower()}); chat templates must stand alone"
            yield ctx.finding(self, node.lineno, what)
        seen = set()
        for run in ctx.probes():
            if isinstance(run.error, SandboxViolation) and run.error.line not in seen:
                seen.add(run.error.line)
                yield ctx.finding(self, ctx.error_line(run.error), f"the sandbox refused it: {run.error.reason}")
