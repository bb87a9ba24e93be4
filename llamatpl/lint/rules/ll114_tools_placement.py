"""Tool definitions land in a turn that is not the user's, or ``tools=[]`` is treated as tools present.

Why: the official 3.1/3.2 templates put the tools into whatever message follows the system
message, an assistant greeting included; and an empty tool list still switches on
``Environment: ipython`` and the tool instructions, so the model calls tools that do not exist.

Anti-pattern::

    {%- set first_user_message = messages[0]['content'] %}      (whatever its role)
    {%- if tools is not none %}                                 (true for [])

Best practice::

    {%- if tools %} ... {%- endif %}, and put tools in the system message or the first *user* message.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...probes.turns import turns
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

MARKERS = ("Environment: ipython", "Given the following functions", "You have access to the following functions")


@register
class ToolsPlacement(Rule):
    code = "LL114"
    name = "tools-placement"
    severity = "warning"
    versions = ("3.1", "3.2", "3.2-vision")

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        run = ctx.rendered("assistant-first")
        if run is not None and run.text is not None:
            user_text = run.conversation.messages[2]["content"]
            for turn in turns(run.text):
                if '"get_weather"' in turn.body and turn.role != "system" and user_text not in turn.body:
                    yield ctx.finding(self, run.line_at(turn.start + turn.body.index('"get_weather"')),
                                      "tool definitions go into the message after the system message although it "
                                      "is not the user's (probe 'assistant-first')")
                    break
        empty = ctx.rendered("empty-tools")
        if empty is not None and empty.text is not None:
            for marker in MARKERS:
                if marker in empty.text:
                    yield ctx.finding(self, empty.line_at(empty.text.index(marker)),
                                      f"tools=[] is treated as tools present ('{marker}' is written)")
                    return
