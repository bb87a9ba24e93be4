"""The template rejects an assistant turn with zero tool calls, or with several.

Why: OpenAI clients send ``tool_calls: []`` for "no call" and several calls for parallel tool use;
the official templates raise on both ("This model only supports single tool-calls at once!"), so
a server returns an error instead of a completion.

Anti-pattern::

    {%- if not message.tool_calls|length == 1 %}{{- raise_exception("...single tool-calls...") }}

Best practice::

    {%- for tool_call in message.tool_calls %} ... {%- endfor %}   (and treat [] as no call)
"""

from __future__ import annotations

from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class ToolCallCount(Rule):
    code = "LL115"
    name = "tool-call-count"
    severity = "info"
    versions = ("3.1", "3.2", "3.2-vision")

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for name, what in (("zero-calls", "an empty tool_calls list"), ("two-calls", "two tool calls in one turn")):
            run = ctx.probe(name)
            if run is not None and run.error is not None:
                yield ctx.finding(self, ctx.error_line(run.error), f"rejects {what}: {run.error.reason}")
