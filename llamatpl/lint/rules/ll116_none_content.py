"""``null`` or list content renders as ``None`` or a Python repr in the prompt, or makes it raise.

Why: OpenAI clients send ``"content": null`` beside tool calls and content-part lists
(``[{"type": "text", "text": ...}]``); a text template that concatenates them writes
``None`` or ``[{'type': 'text', ...}]`` into the prompt.

Anti-pattern::

    {{- message['content'] | trim }}

Best practice::

    {%- if message['content'] is string %}{{- message['content'] }}
    {%- elif message['content'] %}{%- for part in message['content'] %}{{- part['text'] }}{%- endfor %}{%- endif %}
"""

from __future__ import annotations

from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

REPRS = ("[{'type'", "{'type'", "None")


@register
class NoneContent(Rule):
    code = "LL116"
    name = "none-content"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for name in ("list-content", "null-content"):
            run = ctx.probe(name)
            if run is None:
                continue
            if run.guarded:
                return  # LT007 / LT005
            if run.error is not None:
                yield ctx.finding(self, ctx.error_line(run.error), f"{name.replace('-', ' ')} makes the template raise: "
                                  f"{run.error.reason}")
                return
            assert run.text is not None
            for marker in REPRS:
                if marker in run.text:
                    yield ctx.finding(self, run.line_at(run.text.index(marker)),
                                      f"{name.replace('-', ' ')} renders as a Python value ({marker!r}...)")
                    return
