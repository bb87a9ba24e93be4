"""Probe conversations: small conversations that expose how a template behaves, rendered with a trace.

Lint's behavioural rules, ``diff``'s features and ``caps`` all render these through the sandbox and
its limits, never outside it. A :class:`ProbeRun` keeps the rendered text (or the error), and maps
any offset of the output back to the template line that wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..engines.base import Engine
from ..errors import EngineRejected, LimitExceeded, LlamatplError, RenderError, SandboxViolation
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.renderer import render_text
from ..rendering.templates import DEFAULT_SPECIAL_TOKENS, ChatTemplate
from ..verification.compare import VERIFY_TODAY, Verdict, compare
from ..verification.reference import Expected, encode
from .shapes import CAPS_PROBES

_WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def _call(name: str, arguments: Any, call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _tool_turns(arguments: Any, result: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [_call("get_weather", arguments)]},
            {"role": "tool", "tool_call_id": "call_1", "content": result}]


PROBES: dict[str, dict[str, Any]] = {
    "plain": {"messages": [{"role": "user", "content": "Hello there"}]},
    "system": {"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]},
    "multi-turn": {"messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"},
                                {"role": "assistant", "content": "Hello! How can I help?"},
                                {"role": "user", "content": "Tell me a joke."}]},
    "no-generation-prompt": {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
                             "add_generation_prompt": False},
    # generation prompt, format-independent: "plain" minus this, and what opens an assistant reply
    "plain-no-generation-prompt": {"messages": [{"role": "user", "content": "Hello there"}],
                                   "add_generation_prompt": False},
    "assistant-opener": {"messages": [{"role": "user", "content": "Hello there"},
                                      {"role": "assistant", "content": "mk reply 6607"}], "add_generation_prompt": False},
    "whitespace": {"messages": [{"role": "system", "content": "  Be exact.\n"},
                                {"role": "user", "content": "\n  indented line  \n"},
                                {"role": "assistant", "content": " answer "}, {"role": "user", "content": "next\n"}]},
    "tool-call": {"tools": [_WEATHER], "messages": [
        *_tool_turns({"city": "Paris"}, {"temperature": 21, "condition": "sunny"}),
        {"role": "assistant", "content": "It is 21 degrees and sunny."}, {"role": "user", "content": "Thanks"}]},
    # a text result isolates the tool role's header from what a template does with an object result
    "text-result": {"tools": [_WEATHER], "messages": _tool_turns({"city": "Paris"}, "sunny, 21C")},
    "tool-call-in-system": {"tools": [_WEATHER], "tools_in_user_message": False,
                            "messages": _tool_turns({"city": "Paris"}, {"temperature": 21})},
    "string-arguments": {"tools": [_WEATHER], "messages": _tool_turns('{"city": "Paris"}', "sunny, 20C"),
                         "add_generation_prompt": False},
    "json-text-output": {"tools": [_WEATHER], "messages": _tool_turns({"city": "Paris"}, '{"t": 1}')},
    "builtin-call": {"builtin_tools": ["brave_search", "wolfram_alpha"], "messages": [
        {"role": "user", "content": "Price of gold?"},
        {"role": "assistant", "tool_calls": [_call("brave_search", {"query": "gold price"})]},
        {"role": "ipython", "content": "2,398 USD"}]},
    "custom-call-with-builtins": {"builtin_tools": ["brave_search"], "tools": [_WEATHER],
                                  "messages": _tool_turns({"city": "Paris"}, "sunny")},
    "two-calls": {"tools": [_WEATHER], "messages": [
        {"role": "user", "content": "Paris and Rome?"},
        {"role": "assistant", "tool_calls": [_call("get_weather", {"city": "Paris"}),
                                             _call("get_weather", {"city": "Rome"}, "call_2")]}],
        "add_generation_prompt": False},
    "zero-calls": {"tools": [_WEATHER], "messages": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello", "tool_calls": []}],
        "add_generation_prompt": False},
    "list-content": {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]},
    "null-content": {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None},
                                  {"role": "user", "content": "Still there?"}]},
    "empty-tools": {"tools": [], "messages": [{"role": "user", "content": "Hello there"}]},
    "assistant-first": {"tools": [_WEATHER], "messages": [
        {"role": "system", "content": "Be kind."}, {"role": "assistant", "content": "How can I help?"},
        {"role": "user", "content": "Weather in Paris?"}]},
    "image": {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is this?"}]}]},
    "continue-final": {"messages": [{"role": "user", "content": "Write a haiku."},
                                    {"role": "assistant", "content": "Autumn moonlight"}],
                       "continue_final_message": True},
    **CAPS_PROBES,
}


@dataclass
class ProbeRun:
    """One probe rendered through one template: the text or the error, and where each chunk came from."""

    name: str
    conversation: Conversation
    template_text: str
    version: str
    text: str | None = None
    error: RenderError | None = None
    trace: list[tuple[int, int]] = field(default_factory=list)
    rejected: str | None = None  # the serving engine refused the probe's request: "vllm rejects PLACE: WHY"

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def guarded(self) -> bool:
        """The sandbox or a limit stopped the render (LT005 and LT007 report those)."""
        return isinstance(self.error, (LimitExceeded, SandboxViolation))

    def line_at(self, offset: int) -> int:
        """The template line that wrote the output character at ``offset``."""
        start = 0
        for end, line in self.trace:
            if offset < end:
                return _refine(self.template_text, (self.text or "")[start:end], line)
            start = end
        return self.trace[-1][1] if self.trace else 1

    @cached_property
    def expected(self) -> Expected:
        return encode(self.conversation, version=self.version, today=VERIFY_TODAY)

    @cached_property
    def verdict(self) -> Verdict:
        """The text comparison with the reference (lint needs no tokens, so none are computed)."""
        if self.text is None:
            return Verdict(self.conversation, category="raises", error=self.error.message if self.error else None)
        return compare(self.conversation, self.text, self.expected, version=self.version, tokens=False)


def _refine(template_text: str, chunk: str, line: int) -> int:
    """A constant chunk is traced to the statement before it; find its literal at or after that line."""
    first = chunk.split("\n", 1)[0]
    if len(first) < 3:
        first = chunk.replace("\n", "\\n")[:24]
    if len(first) < 3:
        return line
    lines = template_text.split("\n")
    for number in range(line, min(len(lines), line + 40) + 1):
        if first in lines[number - 1]:
            return number
    return line


class ProbeSet:
    """Probes of one template, each rendered once on first use. After one probe runs into a limit
    the rest report that same failure instead of running: a runaway template costs one deadline."""

    def __init__(self, template_text: str, version: str, *, special_tokens: dict[str, str] | None = None,
                 limits: Limits = DEFAULT_LIMITS, engine: Engine | None = None,
                 baseline: ProbeSet | None = None) -> None:
        self.template_text = template_text
        self.version = version
        self.special_tokens = special_tokens
        self.limits = limits
        self.engine = engine
        self.baseline = baseline  # transformers' runs, whose traces serve an engine that cannot trace
        self._runs: dict[str, ProbeRun] = {}
        self._limited: ProbeRun | None = None

    def get(self, name: str) -> ProbeRun:
        if name not in self._runs:
            if self._limited is not None:
                return self._limited
            run = run_probe(name, self.template_text, self.version, special_tokens=self.special_tokens,
                            limits=self.limits, engine=self.engine)
            if run.text is not None and not run.trace and self.baseline is not None:
                same = self.baseline.get(name)
                if same.text == run.text:
                    run.trace = same.trace
            if isinstance(run.error, LimitExceeded):
                self._limited = run
            self._runs[name] = run
        return self._runs[name]


def run_probe(name: str, template_text: str, version: str, *, special_tokens: dict[str, str] | None = None,
              limits: Limits = DEFAULT_LIMITS, engine: Engine | None = None) -> ProbeRun:
    """Render probe ``name`` through ``template_text`` (sandboxed, limited), keeping a trace.

    With a serving ``engine`` the probe is sent in that engine's accepted shapes through its request
    handling (the run's conversation is the one as sent); a refusal is kept in ``rejected``.
    """
    conversation = Conversation.from_data(PROBES[name], name=f"probe {name}")
    request = None
    if engine is not None and engine.name != "transformers":
        try:
            request = engine.as_request(Conversation.from_request(PROBES[name], name=f"probe {name}"))
            conversation = Conversation.from_data(request)
        except LlamatplError as exc:  # the probe cannot be put in this engine's shapes
            reason = exc.reason if isinstance(exc, EngineRejected) else exc.message
            return ProbeRun(name, conversation, template_text, version, rejected=reason)
    run = ProbeRun(name, conversation, template_text, version)
    try:
        if request is not None and engine is not None:
            tpl = ChatTemplate("template", template_text, version, "given",
                               special_tokens=special_tokens or DEFAULT_SPECIAL_TOKENS)
            run.text = engine.render(request, tpl, today=VERIFY_TODAY, limits=limits, trace=run.trace)
        else:
            run.text = render_text(template_text, conversation,
                                   special_tokens=special_tokens or DEFAULT_SPECIAL_TOKENS,
                                   today=VERIFY_TODAY, name="template", trace=run.trace, limits=limits)
    except EngineRejected as exc:
        if exc.template_error is not None:
            run.error = exc.template_error
        else:
            run.rejected = exc.reason
        run.trace = []
    except RenderError as exc:
        run.error = exc
        run.trace = []
    except LlamatplError as exc:  # does not compile: no render at all
        run.error = RenderError(exc.message, reason=exc.message)
        run.trace = []
    return run

