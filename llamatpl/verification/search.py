"""Search for conversations that break a template, one feature area at a time, with hypothesis.

Each feature area (:mod:`llamatpl.verification.areas`: plain chat, tools in the system message,
parallel calls, ...) is searched on its own, so one failure does not hide the rest: every area
reports pass, fail (with its own category and shrunk counterexample), unsupported (the template
refuses it with ``raise_exception``, or ignores it) or rejected (a serving engine refused every
conversation). The search is deterministic for a given seed. Hypothesis shrinks a failing
conversation towards fewer turns, no tools and plain content.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ..engines.base import Engine
from .areas import area_conversations, areas_for, areas_of, ignored_pair
from .compare import VERIFY_TODAY, Verdict, declared_dialect, explained, verify_conversation
from ..errors import RenderError
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.renderer import render_text
from .reference import Dialect
from .reference.disputes import resolve_dialect
from ..rendering.templates import ChatTemplate
from .prefix import check_prefixes

MIN_PER_AREA = 20  # examples each narrow area gets at least; "combined" gets --examples


@dataclass
class Tally:
    """Conversations checked, refused by the engine, and the first failure: for a run or one area."""

    examples: int = 0
    failure: Verdict | None = None
    inherent: Counter[str] = field(default_factory=Counter)
    rejected: int = 0
    first_rejection: str | None = None

    @property
    def accepted(self) -> int:
        return self.examples - self.rejected

    def count(self, verdict: Verdict) -> None:
        self.examples += 1
        if verdict.rejected:
            self.rejected += 1
            self.first_rejection = self.first_rejection or verdict.error
        if verdict.inherent:
            self.inherent[verdict.inherent] += 1


@dataclass
class Feature(Tally):
    """One feature area's outcome: ``status`` is pass, fail, disputed (every failure found rests on a
    point where Meta's sources disagree), unsupported or rejected; ``note`` says why."""

    status: str = "pass"
    note: str = ""
    disputed: Verdict | None = None  # the smallest failure seen that rests only on disputed points

    def record(self, verdict: Verdict) -> bool:
        """Keep a disputed-only failure aside; return whether ``verdict`` is a fault to report."""
        if verdict.reasons and all(r.disputed for r in verdict.reasons):
            if self.disputed is None or _size(verdict) < _size(self.disputed):
                self.disputed = verdict
            return False
        return True


def _size(verdict: Verdict) -> int:
    return len(str(verdict.conversation.to_data()))


@dataclass
class Report(Tally):
    """The outcome of a verify run: totals, the first failing area's verdict, and every area's result."""

    template: str = ""
    version: str = ""
    dialect: str = ""
    #: the template's prompt format and its evidence (``Llama 3.1 (...)`` or ``ChatML, not Llama 3.x (...)``)
    format: str = ""
    strict: bool = False
    seconds: float = 0.0
    #: seconds spent in each stage: generation, render, reference, tokenize, compare
    timings: dict[str, float] = field(default_factory=dict)
    engine: str = "transformers"
    #: each feature area searched (or, for given conversations, seen), in order
    features: dict[str, Feature] = field(default_factory=dict)
    prefix: bool = False  # checked the prefix property instead of the reference

    @property
    def ok(self) -> bool:
        """No template fault, and at least one conversation the engine accepted."""
        return self.failure is None and self.accepted > 0


def verify_template(template: ChatTemplate, *, version: str | None = None, examples: int = 100, seed: int = 0,
                    strict: bool = False, dialect: str | Dialect | None = None,
                    conversations: Iterable[Conversation] | None = None,
                    today: date = VERIFY_TODAY, tokenizer: Any = None, limits: Limits = DEFAULT_LIMITS,
                    engine: Engine | None = None, features: list[str] | None = None, prefix: bool = False) -> Report:
    """Verify ``template`` area by area: ``examples`` generated conversations for the combined area and
    ``max(MIN_PER_AREA, examples // 5)`` for each narrow one, or ``conversations`` (each once, sorted
    into the areas they exercise). ``features`` restricts the areas searched.

    With ``strict`` an inherent token difference fails too. Under a serving ``engine``, conversations
    it refuses are counted in ``rejected`` and never pass. With ``prefix``, the combined area is
    searched for the prefix property instead (:mod:`llamatpl.verification.prefix`).
    """
    v = version or template.version
    declared = declared_dialect(template.text)
    d = resolve_dialect(dialect, v, declared)
    report = Report(template=template.name, version=v, format=template.format.describe(), dialect=d.name, strict=strict,
                    engine=engine.name if engine else "transformers", prefix=prefix)
    started = time.perf_counter()
    areas = areas_for(v, ["combined"] if prefix else features)
    run = _Run(template, v, d, declared, strict, today, tokenizer, limits, engine, report.timings, prefix=prefix)
    if conversations is not None:
        wanted = {a.name for a in areas}
        for conv in conversations:
            verdict = run.check(conv)
            report.count(verdict)
            for name in areas_of(conv):
                if name in wanted:
                    _record(report.features.setdefault(name, Feature()), run.judged(verdict), strict)
    else:
        for area in areas:
            budget = examples if area.name == "combined" else max(MIN_PER_AREA, examples // 5)
            report.features[area.name] = feature = run.search(area.name, budget, seed)
            report.examples += feature.examples
            report.rejected += feature.rejected
            report.first_rejection = report.first_rejection or feature.first_rejection
            report.inherent.update(feature.inherent)
    for name, feature in report.features.items():
        _settle(feature, name, run)
    report.failure = next((f.failure for status in ("fail", "disputed") for f in report.features.values()
                           if f.status == status), None)
    report.seconds = time.perf_counter() - started
    measured = sum(report.timings.values())
    report.timings = {"generation": max(report.seconds - measured, 0.0), **report.timings}
    return report


def _record(feature: Feature, verdict: Verdict, strict: bool) -> None:
    feature.count(verdict)
    if feature.failure is None and not verdict.rejected and not verdict.passes(strict=strict):
        if feature.record(verdict):
            feature.failure = verdict


def _settle(feature: Feature, name: str, run: _Run) -> None:
    """Decide the area's status from its failure, and explain a failure by Meta's disputed points."""
    f = feature.failure
    if f is None and feature.disputed is not None:
        feature.status, feature.failure = "disputed", feature.disputed
        feature.note = "; ".join(str(r) for r in feature.disputed.reasons)
        return
    if f is None:
        feature.status = "pass" if feature.accepted else "rejected"
        if not feature.accepted:
            feature.note = f"{feature.rejected} of {feature.examples} conversations rejected"
        return
    if f.deliberate:
        feature.status, feature.note = "unsupported", f"raises on purpose: {f.error}"
    elif run.ignores(name):
        feature.status, feature.note = "unsupported", "ignores the feature (renders the same without it)"
    else:
        feature.status = "fail"
    feature.failure = run.judged(f)


class _Fault(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.category or verdict.inherent)
        self.verdict = verdict


@dataclass
class _Run:
    """What every check of one verify run shares, and the one hypothesis search per area."""

    template: ChatTemplate
    version: str
    dialect: Dialect
    declared: str
    strict: bool
    today: date
    tokenizer: Any
    limits: Limits
    engine: Engine | None
    timings: dict[str, float]
    prefix: bool = False  # check the prefix property instead of the reference
    limited: Verdict | None = None  # a runaway template fails every example: do not wait out each deadline

    def check(self, conversation: Conversation) -> Verdict:
        if self.limited is not None:
            return replace(self.limited, conversation=conversation)
        if self.prefix:
            return check_prefixes(self.template, conversation, today=self.today, limits=self.limits,
                                  engine=self.engine)
        verdict = verify_conversation(self.template, conversation, version=self.version, dialect=self.dialect,
                                      today=self.today, tokenizer=self.tokenizer, timings=self.timings,
                                      limits=self.limits, engine=self.engine, reasons=False)
        if verdict.limited:
            self.limited = verdict
        return verdict

    def judged(self, verdict: Verdict) -> Verdict:
        """The verdict with the disputed points its text difference rests on."""
        if self.prefix:
            return verdict
        return explained(verdict, version=self.version, dialect=self.dialect, declared=self.declared, today=self.today)

    def ignores(self, area: str) -> bool:
        """Whether the template renders the area's sample conversation the same without its feature."""
        pair = ignored_pair(area)
        if pair is None:
            return False
        try:
            return self._render(pair[0]) == self._render(pair[1])
        except RenderError:
            return False

    def _render(self, conversation: Conversation) -> str:
        tpl = self.template
        return render_text(tpl.text_for(has_tools=conversation.tools is not None), conversation,
                           special_tokens=tpl.special_tokens, today=self.today, name=tpl.name, limits=self.limits)

    def search(self, area: str, examples: int, seed: int) -> Feature:
        from hypothesis import HealthCheck, Phase, Verbosity, given, settings
        from hypothesis import seed as fix_seed

        feature = Feature()
        found = False

        def check(conversation: Conversation) -> None:
            nonlocal found
            verdict = self.check(conversation)
            if not found:  # count what was generated, not the replays made while shrinking
                feature.count(verdict)
            if verdict.rejected or verdict.passes(strict=self.strict):
                return
            verdict = self.judged(verdict)
            if feature.record(verdict):  # a disputed-only failure is kept aside; the search goes on
                found = True
                raise _Fault(verdict)

        strategy = area_conversations(area, self.version, max_tool_calls=3 if self.dialect.parallel_calls else 1)
        run = settings(
            max_examples=examples, database=None, deadline=None, derandomize=False, verbosity=Verbosity.quiet,
            suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
            phases=(Phase.generate, Phase.shrink),
        )(given(strategy)(check))
        try:
            fix_seed(seed)(run)()
        except _Fault as fault:
            feature.failure = fault.verdict
        return feature
