"""A probe render ran into a time, size or recursion limit.

Why: a template that loops without end, builds huge strings or recurses without a base case hangs
or exhausts a server's memory on the first request. llamatpl renders it under limits (see
docs/limits.md) and reports where it stopped.

Anti-pattern::

    {% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}

Best practice::

    Loop over the conversation itself: {% for message in messages %}...{% endfor %}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import LimitExceeded
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class RenderLimit(Rule):
    code = "LT007"
    name = "render-limit"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for run in ctx.probes():
            if isinstance(run.error, LimitExceeded):
                yield ctx.finding(self, ctx.error_line(run.error), f"{run.error.reason} on probe '{run.name}'")
                return
