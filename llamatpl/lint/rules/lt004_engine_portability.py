"""Probe conversations render differently, or fail, under minijinja (the engine TGI uses).

Why: Text Generation Inference renders chat templates with MiniJinja, not Python's Jinja2, set up
as its router sets it up (no ``trim_blocks``/``lstrip_blocks``, pycompat methods; the same
environment ``--engine tgi`` renders with, :mod:`llamatpl.rendering.minijinja_backend`). Python
string methods, ``tojson`` options, loop and namespace details differ; a template that works in
transformers can give a different prompt, or none, behind TGI.

Anti-pattern::

    {{- message['content'].split('\\n')|map('trim')|join('\\n') }}     (Python-only idioms)

Best practice::

    Stick to filters and tests both engines share (trim, tojson, length, items, is defined...).
"""

from __future__ import annotations

from collections.abc import Iterator

from ...errors import LlamatplError
from ...rendering.minijinja_backend import render_minijinja
from ...rendering.renderer import template_context
from ...rendering.templates import DEFAULT_SPECIAL_TOKENS
from ...verification.compare import VERIFY_TODAY, first_difference
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register


@register
class EnginePortability(Rule):
    code = "LT004"
    backend_of = "tgi"
    name = "engine-portability"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.compile_error is not None or any(ctx.find_unsafe()):
            return  # never hand a template our own sandbox refused to another engine
        for run in ctx.probes():
            if not run.ok or run.text is None or run.conversation.continue_final_message:
                continue
            try:
                other = render_minijinja(ctx.source, template_context(run.conversation, DEFAULT_SPECIAL_TOKENS),
                                         name="template", today=VERIFY_TODAY)
            except LlamatplError as exc:  # any minijinja failure (or limit) is the finding
                yield ctx.finding(self, getattr(exc, "line", None) or 1,
                                  f"fails under minijinja on probe '{run.name}': {exc.message.partition(': ')[2]}")
                return
            at = first_difference(run.text, other)
            if at is not None:
                yield ctx.finding(self, run.line_at(min(at, len(run.text) - 1)),
                                  f"renders differently under minijinja at character {at} (probe '{run.name}')")
                return
