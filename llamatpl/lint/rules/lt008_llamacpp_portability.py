"""A construct llama.cpp's own Jinja engine reads differently from Python's Jinja2.

Why: llama.cpp (b10573) renders chat templates with its own C++ Jinja engine (``common/jinja/``),
not Jinja2. Its ``format`` filter only fills ``{}`` placeholders, ``selectattr`` reads a dotted
attribute as one key and two arguments as (test, value), ``ns.items`` is a builtin function, and
a ``for`` over a string raises. The prompt a llama-server user gets then differs, or there is none.

Anti-pattern::

    {{ "%s"|format(name) }}    {{ calls|selectattr("function.name", "equalto", "f")|list }}

Best practice::

    {{ name }}                  {% for c in calls if c.function.name == "f" %}...{% endfor %}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...engines.llamacpp_portability import portability_warnings
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class LlamaCppPortability(Rule):
    code = "LT008"
    backend_of = "llama.cpp"
    name = "llamacpp-portability"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.compile_error is not None:
            return
        for line, construct, message in portability_warnings(ctx.source):
            yield ctx.finding(self, line, f"{construct}: {message} (llama.cpp)")
