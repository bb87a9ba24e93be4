"""BOS is missing from the prompt, not at its start, or written more than once.

Why: Llama 3 expects exactly one ``<|begin_of_text|>``, first. A template that writes it while the
server's tokenizer also adds one gives the model two; a template that forgets it gives none.

Anti-pattern::

    {{ bos_token }}{% for message in messages %}{% if loop.first %}{{ bos_token }}{% endif %}...

Best practice::

    {{- bos_token }} once, at the very start, and tokenize with add_special_tokens=False.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

BOS = "<|begin_of_text|>"


@register
class Bos(Rule):
    code = "LL101"
    name = "bos"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for name in ("plain", "multi-turn"):
            run = ctx.rendered(name)
            if run is None or run.text is None:
                continue
            count = run.text.count(BOS)
            if count == 0:
                yield ctx.finding(self, 1, f"the prompt has no {BOS} (probe '{name}')")
            elif count > 1:
                second = run.text.index(BOS, 1)
                yield ctx.finding(self, run.line_at(second), f"{BOS} is written {count} times (probe '{name}')")
            elif not run.text.startswith(BOS):
                yield ctx.finding(self, run.line_at(run.text.index(BOS)), f"{BOS} is not at the start of the prompt")
            else:
                continue
            return
