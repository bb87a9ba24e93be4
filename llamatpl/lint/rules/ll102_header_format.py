"""A turn header is not ``<|start_header_id|>ROLE<|end_header_id|>`` followed by two newlines.

Why: every Llama 3 turn starts with exactly this; a missing newline, a space in the role or a
stray character is a different token sequence from the one the model was trained on.

Anti-pattern::

    {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n' + message['content'] }}

Best practice::

    {{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] }}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

ROLES = ("system", "user", "assistant", "ipython", "tool")
_HEADER = re.compile(r"<\|start_header_id\|>(.*?)<\|end_header_id\|>(.{0,2})", re.S)


@register
class HeaderFormat(Rule):
    code = "LL102"
    name = "header-format"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for run in ctx.probes():
            if run.text is None:
                continue
            for match in _HEADER.finditer(run.text):
                role, after = match.group(1), match.group(2)
                if role not in ROLES:
                    yield ctx.finding(self, run.line_at(match.start()), f"header role {role!r} is not a Llama role "
                                      f"(probe '{run.name}')")
                    return
                if after != "\n\n" and not (run.name == "continue-final" and match.end() >= len(run.text)):
                    yield ctx.finding(self, run.line_at(match.start()), f"the {role} header is followed by "
                                      f"{after!r}, not two newlines (probe '{run.name}')")
                    return
