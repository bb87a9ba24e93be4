"""A turn does not end in exactly one ``<|eot_id|>`` or ``<|eom_id|>``.

Why: the end token tells the model a turn is over. A turn without one runs into the next header;
a doubled one (the seed copy of the 3.1 template writes ``<|eom_id|>`` three times) is a sequence
the model never saw.

Anti-pattern::

    {{- "<|eom_id|>" }}
    {{- "<|eom_id|>" }}

Best practice::

    {{- "<|eom_id|>" if builtin_call else "<|eot_id|>" }}   (once per turn)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ...probes.turns import turns
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

_DOUBLED = re.compile(r"(?:<\|eot_id\|>|<\|eom_id\|>){2,}")


@register
class EndToken(Rule):
    code = "LL103"
    name = "end-token"
    severity = "error"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for run in ctx.probes():
            if run.text is None:
                continue
            doubled = _DOUBLED.search(run.text)
            if doubled:
                second = doubled.start() + len("<|eot_id|>")
                yield ctx.finding(self, run.line_at(second), f"a turn ends in {doubled.group()} (probe '{run.name}')")
                return
            parts = turns(run.text)
            for turn in parts[:-1]:  # the last turn may be the open generation prompt
                if not turn.end:
                    yield ctx.finding(self, run.line_at(turn.start), f"the {turn.role} turn has no end token "
                                      f"(probe '{run.name}')")
                    return
