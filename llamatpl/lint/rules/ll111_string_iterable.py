"""``is iterable`` or ``is sequence`` is applied where a string can arrive (strings are iterable in Jinja).

Why: the official 3.1 template tests ``message.content is iterable`` to JSON-encode lists and
objects, but a string passes that test too, so a plain tool result ``sunny`` is written ``"sunny"``.

Anti-pattern::

    {%- if message.content is mapping or message.content is iterable %}{{- message.content | tojson }}

Best practice::

    {%- if message.content is string %}{{- message.content }}{%- else %}{{- message.content | tojson }}
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class StringIterable(Rule):
    code = "LL111"
    name = "string-iterable"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        checked = {t.node.dump() for t in ctx.find(nodes.Test) if t.name == "string"}
        for test in ctx.find(nodes.Test):
            if test.name in ("iterable", "sequence") and test.node.dump() not in checked:
                yield ctx.finding(self, test.lineno, f"'is {test.name}' is true for strings too; test 'is string' first")
