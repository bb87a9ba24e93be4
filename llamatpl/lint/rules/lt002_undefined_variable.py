"""A variable is neither a render input nor set by the template, and is used without an ``is defined`` guard.

Why: transformers passes ``messages``, ``tools``, ``documents``, ``add_generation_prompt`` and the
special tokens; anything else (``date_string``, ``builtin_tools``...) is there only when a caller
passes it. Unguarded, it renders as an empty string, or fails the moment an attribute is read.

Anti-pattern::

    {{- "Today Date: " + date_string }}

Best practice::

    {%- if date_string is not defined %}{%- set date_string = "26 Jul 2024" %}{%- endif %}
    {{- "Today Date: " + date_string }}
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


def guarded_names(ctx: LintContext) -> set[str]:
    """Names the template tests with ``is defined`` / ``is undefined`` somewhere."""
    return {t.node.name for t in ctx.find(nodes.Test)
            if t.name in ("defined", "undefined") and isinstance(t.node, nodes.Name)}


def callee_names(ctx: LintContext) -> set[str]:
    return {c.node.name for c in ctx.find(nodes.Call) if isinstance(c.node, nodes.Name)}


@register
class UndefinedVariable(Rule):
    code = "LT002"
    name = "undefined-variable"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        assigned = {n.name for n in ctx.find(nodes.Name) if n.ctx in ("store", "param")}
        free = ctx.free_names - (guarded_names(ctx) | callee_names(ctx) | assigned)  # unknown callees are LT003's
        for name in sorted(free):
            first = next((n for n in ctx.find(nodes.Name) if n.name == name and n.ctx == "load"), None)
            yield ctx.finding(self, first.lineno if first else 1,
                              f"'{name}' is not a render input and is used without an 'is defined' guard")
