"""Tool results are not written under an ``ipython`` header (Llama 3.1 and later).

Why: Meta's format names the tool-result role ``ipython``; a ``tool`` header is text the model was
never trained to read as a tool result.

Anti-pattern::

    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}   (for role "tool")

Best practice::

    {%- if message.role in ["tool", "ipython"] %}{{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...probes.turns import turns
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class ToolRole(Rule):
    code = "LL106"
    name = "tool-role"
    severity = "error"
    versions = ("3.1", "3.2", "3.2-vision")

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        run = ctx.rendered("tool-call")
        if run is None or run.text is None:
            return
        for turn in turns(run.text):
            if turn.role == "tool":
                yield ctx.finding(self, run.line_at(turn.start), "a tool result is written under a 'tool' header, "
                                  "not 'ipython'")
                return
        if not any(t.role == "ipython" for t in turns(run.text)):
            yield ctx.finding(self, 1, "a tool result has no 'ipython' turn")
