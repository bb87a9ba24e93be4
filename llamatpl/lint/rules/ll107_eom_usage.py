"""``<|eom_id|>`` where Meta's format has ``<|eot_id|>``, or the reverse.

Why: ``<|eom_id|>`` means "I called a built-in tool, run it and come back"; ``<|eot_id|>`` ends the
turn. The official 3.1 template ends every tool call in ``<|eom_id|>`` once ``builtin_tools`` is
set, custom calls included; the model then learns to wait where it should have answered.

Anti-pattern::

    {%- if builtin_tools is defined %}{{- "<|eom_id|>" }}{%- else %}{{- "<|eot_id|>" }}{%- endif %}

Best practice::

    {%- if builtin_tools is defined and tool_call.name in builtin_tools %}{{- "<|eom_id|>" }}
    {%- else %}{{- "<|eot_id|>" }}{%- endif %}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...probes.turns import turns
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

PROBES = ("builtin-call", "custom-call-with-builtins", "tool-call", "string-arguments")


@register
class EomUsage(Rule):
    code = "LL107"
    name = "eom-usage"
    severity = "warning"
    versions = ("3.1", "3.2", "3.2-vision")

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for name in PROBES:
            run = ctx.rendered(name)
            if run is None or run.text is None:
                continue
            got, want = turns(run.text), turns(run.expected.prompt)
            if len(got) != len(want):
                continue
            for g, w in zip(got, want):
                if g.end and w.end and g.end != w.end:
                    yield ctx.finding(self, run.line_at(g.end_at),
                                      f"the {g.role} turn ends in {g.end} where Meta's format has {w.end} (probe '{name}')")
                    return
