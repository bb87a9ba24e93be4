"""The 3.1/3.2 system message lacks ``Cutting Knowledge Date: December 2023`` or ``Today Date: D Mon YYYY``.

Why: Llama 3.1 and later were trained with these two lines opening every system message; without
them the model loses its sense of time (and the BFCL found measurable accuracy changes).

Anti-pattern::

    {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" + system_message }}

Best practice::

    {{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
    {{- "Cutting Knowledge Date: December 2023\\n" }}
    {{- "Today Date: " + date_string + "\\n\\n" }}
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

_TODAY = re.compile(r"Today Date: \d{1,2} [A-Z][a-z]{2} \d{4}\n")


@register
class KnowledgeDate(Rule):
    code = "LL105"
    name = "knowledge-date"
    severity = "error"
    versions = ("3.1", "3.2", "3.2-vision")

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        run = ctx.rendered("system")
        if run is None or run.text is None:
            return
        line = ctx.literal_line("system<|end_header_id|>", 1)
        if "Cutting Knowledge Date: December 2023\n" not in run.text:
            yield ctx.finding(self, line, "the system message lacks 'Cutting Knowledge Date: December 2023'")
        if not _TODAY.search(run.text):
            yield ctx.finding(self, line, "the system message lacks 'Today Date: D Mon YYYY'")
