"""Probe conversations render differently, or fail, under minijinja (the engine TGI uses).

Why: Text Generation Inference renders chat templates with MiniJinja, not Python's Jinja2. Python
string methods, ``tojson`` options, loop and namespace details differ; a template that works in
transformers can give a different prompt, or none, behind TGI.

Anti-pattern::

    {{- message['content'].split('\\n')|map('trim')|join('\\n') }}     (Python-only idioms)

Best practice::

    Stick to filters and tests both engines share (trim, tojson, length, items, is defined...).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...verification.compare import VERIFY_TODAY, first_difference
from ...rendering.renderer import template_context
from ...rendering.templates import DEFAULT_SPECIAL_TOKENS
from ..context import LintContext
from ..finding import Finding
from ..registry import Rule, register

FUEL = 2_000_000  # minijinja's instruction budget: its own guard against runaway templates


class _Raised(Exception):
    pass


def _environment() -> Any:
    import minijinja

    env = minijinja.Environment()
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.pycompat = True  # TGI installs minijinja's pycompat method callback
    env.fuel = FUEL

    def raise_exception(message: str) -> None:
        raise _Raised(message)

    env.add_function("raise_exception", raise_exception)  # type: ignore[attr-defined]  # missing from its stubs
    env.add_function("strftime_now", lambda fmt: VERIFY_TODAY.strftime(fmt))  # type: ignore[attr-defined]
    return env


@register
class EnginePortability(Rule):
    code = "LT004"
    backend_of = "tgi"
    name = "engine-portability"
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.compile_error is not None or any(ctx.find_unsafe()):
            return  # never hand a template our own sandbox refused to another engine
        try:
            env = _environment()
        except ImportError:
            return
        for run in ctx.probes():
            if not run.ok or run.text is None or run.conversation.continue_final_message:
                continue
            try:
                other = env.render_str(ctx.source, **template_context(run.conversation, DEFAULT_SPECIAL_TOKENS))
            except Exception as exc:  # noqa: BLE001 - any minijinja failure is the finding
                yield ctx.finding(self, 1, f"fails under minijinja on probe '{run.name}': {str(exc).splitlines()[0]}")
                return
            at = first_difference(run.text, other)
            if at is not None:
                yield ctx.finding(self, run.line_at(min(at, len(run.text) - 1)),
                                  f"renders differently under minijinja at character {at} (probe '{run.name}')")
                return
