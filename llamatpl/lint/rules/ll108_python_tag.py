"""A built-in tool call without ``<|python_tag|>``, or a custom JSON tool call with it (Llama 3.1).

Why: in Meta's 3.1 format ``<|python_tag|>`` opens a built-in call (``brave_search.call(...)``,
code for the interpreter). Custom JSON calls are plain text in the official template.

Anti-pattern::

    {{- tool_call.name + ".call(" }} ...        (built-in call, no tag)

Best practice::

    {{- "<|python_tag|>" + tool_call.name + ".call(" }} ...
"""

from __future__ import annotations

from collections.abc import Iterator

from ...probes.turns import turns
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

TAG = "<|python_tag|>"


@register
class PythonTag(Rule):
    code = "LL108"
    name = "python-tag"
    severity = "warning"
    versions = ("3.1",)

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        builtin = ctx.rendered("builtin-call")
        if builtin is not None and builtin.text is not None:
            call = next((t for t in turns(builtin.text) if t.role == "assistant" and ".call(" in t.body), None)
            if call is not None and not call.body.lstrip("\n").startswith(TAG):
                yield ctx.finding(self, builtin.line_at(call.start), "a built-in tool call lacks <|python_tag|>")
        custom = ctx.rendered("tool-call")
        if custom is not None and custom.text is not None and TAG in custom.text:
            yield ctx.finding(self, custom.line_at(custom.text.index(TAG)), "a custom JSON tool call has <|python_tag|>")
