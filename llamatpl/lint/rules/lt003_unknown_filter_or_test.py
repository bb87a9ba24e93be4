"""A filter, test or function that transformers' environment does not have.

Why: transformers renders with Jinja's built-ins plus ``tojson``, ``raise_exception`` and
``strftime_now``; anything else fails to compile or raises, so the model gets no prompt.

Anti-pattern::

    {{ message['content'] | strip }}   {{ now() }}

Best practice::

    {{ message['content'] | trim }}    {{ strftime_now("%d %b %Y") }}
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from ...rendering.environment import ENVIRONMENT
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class UnknownFilterOrTest(Rule):
    code = "LT003"
    name = "unknown-filter-or-test"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for f in ctx.find(nodes.Filter):
            if f.name not in ENVIRONMENT.filters:
                yield ctx.finding(self, f.lineno, f"unknown filter '{f.name}'")
        for t in ctx.find(nodes.Test):
            if t.name not in ENVIRONMENT.tests:
                yield ctx.finding(self, t.lineno, f"unknown test '{t.name}'")
        for call in ctx.find(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name in ctx.free_names:
                yield ctx.finding(self, call.lineno, f"unknown function '{call.node.name}'")
