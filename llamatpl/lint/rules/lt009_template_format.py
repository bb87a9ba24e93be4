"""The template is not in Llama 3's format: the Llama-format rules (LL1xx) do not apply to it.

Why: Llama 3 prompts are built from ``<|start_header_id|>role<|end_header_id|>`` headers. ChatML
(``<|im_start|>``), Llama 4 (``<|header_start|>``), Mistral (``[INST]``) and other formats are
valid prompts for their own models; judging them by Llama 3's rules would report every turn as a
defect. lint says which format it found (and the evidence) and runs only the format-independent
rules on it: syntax, sandbox, portability, undefined names, content lost, HTML escaping, limits.

Anti-pattern::

    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
    (linted as if it were a Llama 3 template)

Best practice::

    {{- '<|start_header_id|>' + message.role + '<|end_header_id|>\\n\\n' + message.content + '<|eot_id|>' }}
    (for a Llama 3 model; for another model, its own format, and lint reports this as info only)
"""

from __future__ import annotations

from collections.abc import Iterator

from ...versions import detect_format
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class TemplateFormat(Rule):
    code = "LT009"
    name = "template-format"
    severity = "info"
    needs_parse = False

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        found = detect_format(ctx.source)
        if not found.is_llama3:
            yield ctx.finding(self, 1, f"format: {found.describe()}: Llama-format rules (LL1xx) skipped")
