"""Message content is trimmed or otherwise altered: the prompt is not token-exact with Meta's reference.

Why: Meta's reference encoder writes content verbatim. ``| trim`` removes leading indentation from
code, trailing newlines from prompts and spaces a fine-tune relied on; the model sees different
tokens than in training and than the user sent.

Anti-pattern::

    {{- message['content'] | trim }}

Best practice::

    {{- message['content'] }}
"""

from __future__ import annotations

from collections.abc import Iterator

from jinja2 import nodes

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


def _mentions_content(node: nodes.Node) -> bool:
    names = {n.name for n in node.find_all(nodes.Name)} | {n.attr for n in node.find_all(nodes.Getattr)}
    consts = {n.value for n in node.find_all(nodes.Const) if isinstance(n.value, str)}
    return bool({"content", "system_message", "first_user_message"} & (names | consts))


@register
class ContentTrim(Rule):
    code = "LL110"
    name = "content-trim"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        run = ctx.rendered("whitespace")
        if run is None or run.verdict.category not in ("trimmed-content", "content-mismatch"):
            return
        lines = sorted({f.lineno for f in ctx.find(nodes.Filter) if f.name == "trim" and f.node is not None
                        and _mentions_content(f.node)})
        for line in lines:
            yield ctx.finding(self, line, "message content is trimmed; Meta's reference keeps it verbatim")
        if not lines:
            at = run.verdict.text_divergence or 0
            yield ctx.finding(self, run.line_at(at), f"message content is altered ({run.verdict.category}); "
                              "Meta's reference keeps it verbatim")
