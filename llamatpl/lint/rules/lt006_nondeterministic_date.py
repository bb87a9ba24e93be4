"""``strftime_now`` reads the clock: the same conversation renders differently from day to day.

Why: Llama 3.2's official template dates its system message with the render day, so caches, eval
baselines and golden files break at midnight. Pin the date where reproducibility matters.

Anti-pattern::

    {%- set date_string = strftime_now("%d %b %Y") %}

Best practice::

    {%- if date_string is not defined %}{%- set date_string = "26 Jul 2024" %}{%- endif %}
    (and pass date_string, or use llamatpl render --today, when you need today's date)
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class NondeterministicDate(Rule):
    code = "LT006"
    name = "nondeterministic-date"
    severity = "info"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for call in ctx.find(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == "strftime_now":
                yield ctx.finding(self, call.lineno, "reads the clock with strftime_now: renders change with the date")
