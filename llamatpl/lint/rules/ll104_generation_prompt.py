"""``add_generation_prompt`` is ignored: no assistant header when it is true, or one when it is false.

Why: servers set ``add_generation_prompt=True`` so the model answers as the assistant; trainers set
it false so the prompt ends where the data ends. Ignoring it either way shifts every token after it.

Anti-pattern::

    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}   (always)

Best practice::

    {%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}
"""

from __future__ import annotations

from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

PROMPT = "<|start_header_id|>assistant<|end_header_id|>\n\n"


@register
class GenerationPrompt(Rule):
    code = "LL104"
    name = "generation-prompt"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        asked = ctx.rendered("plain")
        if asked is not None and asked.text is not None and not asked.text.endswith(PROMPT):
            yield ctx.finding(self, ctx.literal_line("add_generation_prompt", 1),
                              "add_generation_prompt=true does not end the prompt with the assistant header")
        unasked = ctx.rendered("no-generation-prompt")
        if unasked is not None and unasked.text is not None and unasked.text.endswith(PROMPT):
            yield ctx.finding(self, unasked.line_at(len(unasked.text) - 1),
                              "add_generation_prompt=false still ends the prompt with the assistant header")
