"""Search for a conversation that breaks a template, with hypothesis, and shrink it to the smallest.

Conversations come from :func:`llamatpl.strategies.conversations` for the template's version. The
search is deterministic for a given seed. Hypothesis shrinks a failing conversation towards fewer
turns, no tools and plain content, so the report shows the smallest conversation it could find
that still breaks the template (possibly in a simpler way than the first failure it met).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ..engines.base import Engine
from .compare import VERIFY_TODAY, Verdict, declared_dialect, verify_conversation
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from .reference import Dialect, get_dialect
from ..rendering.templates import ChatTemplate
from .prefix import check_prefixes


@dataclass
class Report:
    """The outcome of a verify run: how many examples, the failing verdict if any, inherent counts."""

    template: str
    version: str
    dialect: str
    examples: int = 0
    failure: Verdict | None = None
    inherent: Counter[str] = field(default_factory=Counter)
    strict: bool = False
    seconds: float = 0.0
    #: seconds spent in each stage: generation, render, reference, tokenize, compare
    timings: dict[str, float] = field(default_factory=dict)
    engine: str = "transformers"
    #: conversations the serving engine refused (never a pass), and the first refusal's reason
    rejected: int = 0
    first_rejection: str | None = None
    prefix: bool = False  # checked the prefix property instead of the reference

    @property
    def accepted(self) -> int:
        return self.examples - self.rejected

    @property
    def ok(self) -> bool:
        """No template fault, and at least one conversation the engine accepted."""
        return self.failure is None and self.accepted > 0


class _Fault(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.category or verdict.inherent)
        self.verdict = verdict


def verify_template(template: ChatTemplate, *, version: str | None = None, examples: int = 100, seed: int = 0,
                    strict: bool = False, dialect: str | Dialect | None = None,
                    conversations: Iterable[Conversation] | None = None,
                    today: date = VERIFY_TODAY, tokenizer: Any = None, limits: Limits = DEFAULT_LIMITS,
                    engine: Engine | None = None, prefix: bool = False) -> Report:
    """Verify ``template`` over ``conversations`` (each once) or ``examples`` generated ones.

    Fails on the first template fault; with ``strict`` an inherent token difference fails too.
    Under a serving ``engine``, conversations it refuses are counted in ``rejected`` and skipped.
    With ``prefix``, checks the prefix property instead (:mod:`llamatpl.verification.prefix`).
    """
    v = version or template.version
    d = get_dialect(dialect or declared_dialect(template.text))
    report = Report(template.name, v, d.name, strict=strict, prefix=prefix,
                    engine=engine.name if engine else "transformers")
    started = time.perf_counter()
    if conversations is not None:
        for conv in conversations:
            verdict = _judge(report, template, conv, v, d, today, tokenizer, limits, engine)
            _count(report, verdict)
            if not verdict.rejected and not verdict.passes(strict=strict):
                report.failure = verdict
                break
    else:
        _search(report, template, v, d, examples, seed, strict, today, tokenizer, limits, engine)
    report.seconds = time.perf_counter() - started
    measured = sum(report.timings.values())
    report.timings = {"generation": max(report.seconds - measured, 0.0), **report.timings}
    return report


def _judge(report: Report, template: ChatTemplate, conversation: Conversation, version: str, dialect: Dialect,
           today: date, tokenizer: Any, limits: Limits, engine: Engine | None) -> Verdict:
    if report.prefix:
        return check_prefixes(template, conversation, today=today, limits=limits)
    return verify_conversation(template, conversation, version=version, dialect=dialect, today=today,
                               tokenizer=tokenizer, timings=report.timings, limits=limits, engine=engine)


def _count(report: Report, verdict: Verdict) -> None:
    report.examples += 1
    if verdict.rejected:
        report.rejected += 1
        report.first_rejection = report.first_rejection or verdict.error
    if verdict.inherent:
        report.inherent[verdict.inherent] += 1


def _search(report: Report, template: ChatTemplate, version: str, dialect: Dialect, examples: int, seed: int,
            strict: bool, today: date, tokenizer: Any, limits: Limits, engine: Engine | None) -> None:
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as fix_seed

    from .strategies import conversations as strategy

    found = False
    limited: Verdict | None = None

    def check(conversation: Conversation) -> None:
        nonlocal found, limited
        if limited is not None:  # a runaway template fails every example: do not wait out each deadline
            verdict = replace(limited, conversation=conversation)
        else:
            verdict = _judge(report, template, conversation, version, dialect, today, tokenizer, limits, engine)
            if not found:  # count what was generated, not the replays made while shrinking
                _count(report, verdict)
        if verdict.rejected:
            return
        if not verdict.passes(strict=strict):
            found = True
            limited = verdict if verdict.limited else None
            raise _Fault(verdict)

    run = settings(
        max_examples=examples, database=None, deadline=None, derandomize=False, verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
        phases=(Phase.generate, Phase.shrink),
    )(given(strategy(version=version, max_tool_calls=3 if dialect.parallel_calls else 1))(check))
    try:
        fix_seed(seed)(run)()
    except _Fault as fault:
        report.failure = fault.verdict
