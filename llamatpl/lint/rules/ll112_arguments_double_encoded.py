"""Tool-call ``arguments`` given as a JSON string (the OpenAI wire format) are JSON-encoded again.

Why: OpenAI clients send ``"arguments": "{\\"city\\": \\"Paris\\"}"``. ``| tojson`` on that string
writes ``"parameters": "{\\"city\\": ...}"``, a string where the model was trained on an object,
and the model learns to answer with "an array in quotes".

Anti-pattern::

    {{- tool_call.arguments | tojson }}

Best practice::

    {%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class ArgumentsDoubleEncoded(Rule):
    code = "LL112"
    name = "arguments-double-encoded"
    severity = "warning"
    versions = ("3.1", "3.2", "3.2-vision")

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        run = ctx.rendered("string-arguments")
        if run is None or run.text is None:
            return
        arguments = run.conversation.messages[1]["tool_calls"][0]["function"]["arguments"]
        encoded = json.dumps(arguments, ensure_ascii=False)
        if encoded in run.text:
            yield ctx.finding(self, run.line_at(run.text.index(encoded)),
                              f"arguments given as JSON text are encoded again: {encoded}")
