"""The prompt has HTML entities (``&#34;``, ``&quot;``, ``&lt;``) that the conversation did not have.

Why: an HTML-escaping filter (``| e``, ``| escape``, autoescaped markup, or Jinja's own ``tojson``
under an engine that autoescapes) turns ``"`` into ``&#34;``: the model reads tool JSON as
``{&#34;city&#34;: ...}``, text it was never trained on. functionary v3.1's template escapes its
tool definitions this way.

Anti-pattern::

    {{- tool | tojson | e }}

Best practice::

    {{- tool | tojson }}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|quot|amp|lt|gt|apos);")
_PROBES = ("caps-tools", "caps-call-content-missing-object-args", "caps-result-object-named", "plain", "tool-call")


@register
class HtmlEntities(Rule):
    code = "LT012"
    name = "html-entities"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for name in _PROBES:
            run = ctx.rendered(name)
            if run is None or run.text is None:
                continue
            given = json.dumps(run.conversation.to_data(), ensure_ascii=False)
            found = next((m for m in _ENTITY.finditer(run.text) if m.group() not in given), None)
            if found is not None:
                yield ctx.finding(self, run.line_at(found.start()),
                                  f"writes the HTML entity {found.group()} where the input had none (probe {name})")
                return
