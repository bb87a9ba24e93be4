"""Something the conversation gives (a system message, a tool result, a call's arguments) is not in the prompt.

Why: a template that silently drops part of the conversation trains and prompts the model on a
conversation nobody sent. vLLM's ``tool_chat_template_llama3.1_json.jinja`` writes a tool result
given as text but drops one given as an object (``{"temperature": 21}``): the model never sees
the answer of its own call. The probes give each part a marker string found nowhere else, in
several shapes, so the finding names the shape that loses it.

Anti-pattern::

    {%- if message.content is string %}{{- message.content }}{%- endif %}   (an object result vanishes)

Best practice::

    {%- if message.content is string %}{{- message.content }}{%- else %}{{- message.content | tojson }}{%- endif %}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...probes.shapes import CALL_VALUE, FUNCTION, RESULT, SYSTEM, shapes_of
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

_PARTS = (  # probe prefix, marker, what is lost, the template text near where it should be written
    ("caps-result-", RESULT, "the tool result is", "tool"),
    ("caps-call-", CALL_VALUE, "the call's arguments are", "tool_calls"),
)


@register
class ContentLost(Rule):
    code = "LT010"
    name = "content-lost"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        system = ctx.rendered("caps-system")
        if system is not None and system.text is not None and SYSTEM not in system.text:
            yield ctx.finding(self, 1, "the system message's content is not in the prompt")
        if not self._handles_tools(ctx):
            return  # a template without tool support is not expected to write tool turns
        for prefix, marker, part, near in _PARTS:
            # with tool definitions given; arguments as JSON text are LT011's (garbled is not lost)
            names = [n for n in shapes_of(prefix) if not n.endswith("-no-tools") and "-text-args" not in n]
            runs = [r for r in (ctx.rendered(name) for name in names) if r is not None and r.text is not None]
            kept = [r for r in runs if marker in (r.text or "")]
            lost = [r for r in runs if marker not in (r.text or "")]
            if not lost:
                continue
            shape = lost[0].name.removeprefix("caps-")
            cause = f"probe {shape}" if not kept else (
                f"probe {shape}; in probe {kept[0].name.removeprefix('caps-')} it is written")
            yield ctx.finding(self, ctx.literal_line(near), f"{part} not in the prompt ({cause})")

    @staticmethod
    def _handles_tools(ctx: LintContext) -> bool:
        # judged on the template itself: an engine that adds tool text on its own (TGI) does not count
        run = ctx.baseline.get("caps-tools") if ctx.baseline is not None else ctx.rendered("caps-tools")
        return run is not None and FUNCTION in (run.text or "")
