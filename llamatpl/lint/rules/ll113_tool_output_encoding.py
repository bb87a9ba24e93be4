"""A string tool result is JSON-quoted, or JSON text in a string is encoded a second time.

Why: a tool that returns ``sunny, 20C`` should be seen as ``sunny, 20C``; the official templates
write ``"sunny, 20C"``, and a tool returning JSON text ``{"t": 1}`` becomes ``"{\\"t\\": 1}"``, which
the model reads as a string, not data.

Anti-pattern::

    {%- if message.content is mapping or message.content is iterable %}{{- message.content | tojson }}

Best practice::

    {%- if message.content is string %}{{- message.content }}{%- else %}{{- message.content | tojson }}{%- endif %}
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class ToolOutputEncoding(Rule):
    code = "LL113"
    name = "tool-output-encoding"
    severity = "warning"
    versions = ("3.1", "3.2", "3.2-vision")

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for name, what in (("json-text-output", "JSON text in a tool result is encoded again"),
                           ("string-arguments", "a string tool result is JSON-quoted")):
            run = ctx.rendered(name)
            if run is None or run.text is None:
                continue
            content = run.conversation.messages[-1]["content"]
            quoted = json.dumps(content, ensure_ascii=False)
            if quoted in run.text:
                yield ctx.finding(self, run.line_at(run.text.index(quoted)), f"{what}: {quoted}")
                return
