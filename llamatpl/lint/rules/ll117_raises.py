"""The template raises on a conversation its Llama version supports.

Why: a template that raises turns a request into a server error. Tool-call counts are LL115's and
null or list content LL116's; this rule reports every other probe that fails.

Anti-pattern::

    {{- message['content'] + '<|eot_id|>' }}   (raises when content is missing)

Best practice::

    {{- (message['content'] or '') + '<|eot_id|>' }}
"""

from __future__ import annotations

from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

COUNTED_ELSEWHERE = ("zero-calls", "two-calls", "continue-final", "null-content", "list-content")


@register
class Raises(Rule):
    code = "LL117"
    name = "raises"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.compile_error is not None:
            return
        for run in ctx.probes():
            if run.error is None or run.name in COUNTED_ELSEWHERE:
                continue
            if run.guarded:
                continue  # LT007 / LT005
            yield ctx.finding(self, ctx.error_line(run.error), f"raises on probe '{run.name}': {run.error.reason}")
            return
