"""The template writes special-token text the version's tokenizer does not define.

Why: ``<|python_tag|>`` and ``<|eom_id|>`` are reserved tokens in Llama 3.0, and ``<|image|>`` is
a special token only in the 3.2 vision models; elsewhere such text is tokenized as a handful of
ordinary pieces the model reads as text.

Anti-pattern::

    {{- "<|python_tag|>" }}   in a Llama 3.0 template

Best practice::

    Use only the special tokens of the model's own tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2 import nodes

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

_SPECIAL = re.compile(r"<\|[A-Za-z0-9_]+\|>")


@register
class UnknownSpecialToken(Rule):
    code = "LL109"
    name = "unknown-special-token"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        seen: set[str] = set()
        literals = [(n.value, n.lineno) for n in ctx.find(nodes.Const) if isinstance(n.value, str)]
        literals += [(n.data, n.lineno) for n in ctx.find(nodes.TemplateData)]
        for text, line in sorted(literals, key=lambda item: item[1]):
            for token in _SPECIAL.findall(text):
                if token not in ctx.special_tokens and token not in seen:
                    seen.add(token)
                    yield ctx.finding(self, line, f"{token} is not a special token of Llama {ctx.version}")
