"""Message content is trimmed where the version's reference keeps it, or kept where it strips it.

Why: each Llama version has its own reference encoder. For 3.1 and later (llama-models'
``ChatFormat``) content is written verbatim: ``| trim`` removes leading indentation from code,
trailing newlines from prompts and spaces a fine-tune relied on, so the model sees different tokens
than in training and than the user sent. For Llama 3.0 the reference (meta-llama/llama3,
``llama/tokenizer.py`` ``ChatFormat.encode_message``) strips every content, and the official 3.0
template's ``| trim`` matches it: there a template that keeps surrounding whitespace is the one
that differs.

Anti-pattern (Llama 3.1 and later)::

    {{- message['content'] | trim }}

Best practice (Llama 3.1 and later; for 3.0 keep ``| trim``)::

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
        if run is None:
            return
        if run.verdict.category == "untrimmed-content":
            yield ctx.finding(self, run.line_at(run.verdict.text_divergence or 0), "message content keeps its "
                              "surrounding whitespace; Meta's Llama 3.0 reference strips it (use | trim)")
            return
        if run.verdict.category not in ("trimmed-content", "content-mismatch"):
            return
        lines = sorted({f.lineno for f in ctx.find(nodes.Filter) if f.name == "trim" and f.node is not None
                        and _mentions_content(f.node)})
        for line in lines:
            yield ctx.finding(self, line, "message content is trimmed; Meta's reference keeps it verbatim")
        if not lines:
            at = run.verdict.text_divergence or 0
            yield ctx.finding(self, run.line_at(at), f"message content is altered ({run.verdict.category}); "
                              "Meta's reference keeps it verbatim")
