"""A tool call's arguments are garbled: JSON text iterated as characters, or string values left unquoted.

Why: OpenAI clients send ``arguments`` as JSON text. A template that loops over it as if it were an
object (``for k, v in arguments.items()`` on a string, or ``for k in arguments``) writes one
fragment per character; vLLM's ``tool_chat_template_llama3.2_pythonic.jinja`` writes
``[get_weather({=, "=, c=, ...)]``. Writing ``key=value`` without quoting a string value makes
``city=Paris`` a Python name, not a string, so the call the model learns cannot be parsed back.
(Encoding JSON text a second time is LL112's.)

Anti-pattern::

    {%- for name, value in call.arguments | items %}{{ name }}={{ value }}{%- endfor %}

Best practice::

    {%- set args = call.arguments | fromjson if call.arguments is string else call.arguments %}
    {%- for name, value in args | items %}{{ name }}={{ value | tojson }}{%- endfor %}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...probes.shapes import CALL_VALUE, shapes_of
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

_UNQUOTED = re.compile(r"key\s*[=:]\s*" + re.escape(CALL_VALUE))


@register
class ArgumentsGarbled(Rule):
    code = "LT011"
    name = "arguments-garbled"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        runs = [r for r in (ctx.rendered(n) for n in shapes_of("caps-call-")) if r is not None and r.text is not None]
        as_object = [r for r in runs if "-object-args" in r.name and CALL_VALUE in (r.text or "")]
        if not as_object:
            return  # the template does not write calls at all (LT010 or caps say so)
        for run in as_object:
            found = _UNQUOTED.search(run.text or "")
            if found:
                yield ctx.finding(self, run.line_at(found.start()), f"a string value is written unquoted: "
                                  f"{found.group()} (arguments given as an object)")
                break
        as_text = [r for r in runs if "-text-args" in r.name]
        if as_text and all(CALL_VALUE not in (r.text or "") for r in as_text):
            run = as_text[0]
            where = (run.text or "").find("{=")
            cause = "iterated character by character" if where >= 0 or '"=' in (run.text or "") else "lost"
            yield ctx.finding(self, run.line_at(max(where, 0)), f"arguments given as JSON text are {cause} "
                              "(given as an object they are written)")
