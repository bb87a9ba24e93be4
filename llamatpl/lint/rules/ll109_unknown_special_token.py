"""The template writes special-token text the model's tokenizer does not define.

Why: ``<|python_tag|>`` and ``<|eom_id|>`` are reserved tokens in Llama 3.0, and ``<|image|>`` is
a special token only in the 3.2 vision models; elsewhere such text is tokenized as a handful of
ordinary pieces the model reads as text.

When a tokenizer comes with the template (a ``tokenizer_config.json``'s added tokens, a model
folder, a GGUF's token list), that tokenizer is the judge and a token it lacks is an error. A bare
``.jinja`` is judged by Llama 3's tokenizer: a Llama 3 token of another 3.x version is an error, and
a token no Llama 3 tokenizer has (Hermes' ``<|im_start|>``) is a warning naming the tokenizer family
that defines it: a fine-tune may well have added it.

Anti-pattern::

    {{- "<|python_tag|>" }}   in a Llama 3.0 template

Best practice::

    Use only the special tokens of the model's own tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2 import nodes

from ...tokens.tokenizer import special_tokens
from ...tokens.vocabulary import token_family
from ...versions import VERSIONS
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
                if token not in seen and (found := self._judge(ctx, token, line)) is not None:
                    seen.add(token)
                    yield found

    def _judge(self, ctx: LintContext, token: str, line: int) -> Finding | None:
        if ctx.tokenizer_tokens is not None:
            if token in ctx.tokenizer_tokens:
                return None
            return ctx.finding(self, line, f"{token} is not a special token of the model's tokenizer")
        if token in ctx.special_tokens:
            return None
        if any(token in special_tokens(v) for v in VERSIONS):
            return ctx.finding(self, line, f"{token} is not a special token of Llama {ctx.version}")
        message = (f"{token} is not in Llama 3's tokenizer; {token_family(token)} would define it "
                   "(lint with the model's tokenizer_config.json to check)")
        return ctx.finding(self, line, message)._replace(severity="warning")
