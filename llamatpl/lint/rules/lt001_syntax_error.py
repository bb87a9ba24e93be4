"""The template does not parse as Jinja.

Why: a template that does not parse renders nothing; servers fail at start-up or, worse, fall back
to a default template without saying so.

Anti-pattern::

    {% for message in messages %}{{ message['content'] }}

Best practice::

    {% for message in messages %}{{ message['content'] }}{% endfor %}
"""

from __future__ import annotations

from collections.abc import Iterator

import jinja2

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class SyntaxErrorRule(Rule):
    code = "LT001"
    name = "syntax-error"
    severity = "error"
    needs_parse = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if isinstance(ctx.parsed, jinja2.TemplateSyntaxError):
            yield ctx.finding(self, ctx.parsed.lineno, f"does not parse: {ctx.parsed.message}")
