"""What every serving engine module provides: request handling, then a render with its backend.

An engine turns a request body (a :class:`~llamatpl.rendering.conversation.Conversation` read with
``checks="request"``; its raw JSON is ``conversation.request``) into the exact prompt text that
engine would tokenize, or raises :class:`~llamatpl.errors.EngineRejected` with the engine's reason.
Its own server flags (``--engine-args``) are parsed by :meth:`Engine.parse_args`.
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any, ClassVar

from ..errors import EngineRejected, RenderError, UsageError
from ..rendering import backend
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.templates import ChatTemplate


class Engine:
    """A serving engine: ``name``, the ``release`` mirrored, and the ``backend`` that renders Jinja."""

    name: ClassVar[str]
    release: ClassVar[str]
    backend: ClassVar[str]  # "jinja2" or "minijinja"
    # the transformers release whose apply_chat_template the engine calls, if it calls one
    transformers_pin: ClassVar[str | None] = None

    def __init__(self, *, engine_args: str | Sequence[str] = "", transformers: str | None = None) -> None:
        try:
            args = shlex.split(engine_args) if isinstance(engine_args, str) else list(engine_args)
        except ValueError as exc:  # an unbalanced quote
            raise UsageError(f"--engine-args: {exc}: {engine_args!r}") from None
        self.options = self.parse_args(args)
        self.transformers = self.check_transformers(transformers)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # every engine's renders are checked and cached as its own; transformers' renderer labels
        # its renders itself (and its per-call path stays free of the wrapper)
        if "render" in cls.__dict__ and cls.__dict__.get("name") != "transformers":
            setattr(cls, "render", _in_backend_scope(cls.__dict__["render"]))

    def backend_scope(self) -> str | None:
        """The label the fast backend's verdicts are kept under for this engine and its flags
        (``None``: transformers, whose renderer labels its own renders)."""
        if self.name == "transformers":
            return None
        options = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self.options).items()))
        return f"{self.name} {self.release} ({options}) transformers={self.transformers}"

    # ------------------------------------------------------------------ set-up (usage errors)

    def flags(self, parser: argparse.ArgumentParser) -> None:
        """Add the server flags that change the prompt (none by default)."""

    def parse_args(self, args: list[str]) -> argparse.Namespace:
        parser = argparse.ArgumentParser(prog=f"--engine {self.name} --engine-args", add_help=False,
                                         exit_on_error=False, allow_abbrev=False)
        self.flags(parser)
        try:
            options, unknown = parser.parse_known_args(args)
        except (argparse.ArgumentError, ValueError) as exc:
            raise UsageError(f"--engine-args: {self.name}: {exc}") from None
        except SystemExit:  # argparse still exits on some errors (a missing value)
            raise UsageError(f"--engine-args: {self.name}: cannot read {shlex.join(args)!r}") from None
        if unknown:
            raise UsageError(f"--engine-args: {self.name} has no flag {unknown[0]!r} that changes the prompt "
                             f"(known: {self.known_flags(parser) or 'none'})")
        return options

    @staticmethod
    def known_flags(parser: argparse.ArgumentParser) -> str:
        return ", ".join(s for a in parser._actions for s in a.option_strings)

    def check_transformers(self, transformers: str | None) -> str | None:
        """The transformers release to match; an engine that does not render through transformers,
        or is pinned to another release, makes it a usage error."""
        if transformers is not None and self.transformers_pin is None and self.name != "transformers":
            raise UsageError(f"--engine {self.name} --transformers {transformers}: {self.name} does not render "
                             "with transformers' apply_chat_template")
        return transformers

    # ------------------------------------------------------------------ the work

    def render(self, conversation: Conversation, template: ChatTemplate, *, today: date | None = None,
               limits: Limits = DEFAULT_LIMITS, trace: list[tuple[int, int]] | None = None) -> str:
        """The prompt text this engine builds for ``conversation`` (a request body) with ``template``.

        ``trace``, when given and the backend can, receives ``(end offset, template line)`` per
        output chunk (jinja2 backends; minijinja leaves it empty)."""
        raise NotImplementedError

    def as_request(self, conversation: Conversation) -> Conversation:
        """``conversation`` in the shapes this engine accepts, as its request body (for verify: the
        strategies generate llamatpl conversations; each engine sends them as its users would).

        By default a content that is neither text nor a list of parts (a tool result given as an
        object, as llamatpl's own format allows) goes as its JSON text, as the OpenAI API wants it."""
        body = dict(request_of(conversation))
        messages = body.get("messages")
        if isinstance(messages, list):
            body["messages"] = [{**m, "content": json.dumps(m["content"], ensure_ascii=False)}
                                if isinstance(m, Mapping) and isinstance(m.get("content"), (dict, int, float, bool))
                                else m for m in messages]
        return Conversation.from_request(body, name=conversation.name)

    def meaning(self, conversation: Conversation) -> Conversation:
        """What the prompt this engine builds stands for, in llamatpl's terms: the conversation the
        reference encodes for verify (llama.cpp reads a trailing assistant turn as a prefill)."""
        return conversation

    def prefix(self, conversation: Conversation, count: int, generation_prompt: bool, template: ChatTemplate, *,
               today: date | None = None, limits: Limits = DEFAULT_LIMITS) -> str:
        """The first ``count`` messages of ``conversation`` (a request body), read as this engine reads
        the whole request, rendered closed or with the generation prompt, whatever its last message.

        These renders locate the turns of :meth:`render`'s prompt (training masks, ``verify
        --prefix``): an engine that continues a trailing assistant message, or always adds the
        generation prompt, overrides this to render what the name says."""
        return self.render(cut(conversation, count, generation_prompt), template, today=today, limits=limits)

    def mask_refusal(self, conversation: Conversation) -> str | None:
        """Why the prompt this engine builds for ``conversation`` cannot carry a training mask, or None
        (asked when the engine leaves the last, assistant, message open: what it writes of it)."""
        return None

    # ------------------------------------------------------------------ helpers for engine modules

    def reject(self, conversation: Conversation, path: str, reason: str, *,
               template_error: RenderError | None = None) -> EngineRejected:
        """``conv.json: vllm rejects messages[1].tool_calls[0].function.arguments: an object; ...``"""
        where = f"{path}: " if path else ""
        said = f"{self.name} rejects {where}{reason}"
        return EngineRejected(f"{conversation.name}: {said}", template_error=template_error, reason=said)


def _in_backend_scope(render: Any) -> Any:
    """Run an engine's ``render`` in its backend scope, with a replay of its own path for the check."""

    @functools.wraps(render)
    def scoped(self: Engine, conversation: Conversation, template: ChatTemplate, **kwargs: Any) -> str:
        label = self.backend_scope()
        if label is None:
            return str(render(self, conversation, template, **kwargs))
        limits = kwargs.get("limits", DEFAULT_LIMITS)

        def replay(conv: Conversation) -> str:
            return str(render(self, self.as_request(conv), template, limits=limits))

        with backend.scope(label, replay):
            return str(render(self, conversation, template, **kwargs))

    return scoped


def cut(conversation: Conversation, count: int, generation_prompt: bool) -> Conversation:
    """The first ``count`` messages, closed or with the generation prompt (request body too)."""
    messages = conversation.messages[:count]
    request = conversation.request
    if request is not None:
        request = {**request, "messages": messages, "add_generation_prompt": generation_prompt,
                   "continue_final_message": False}
    return replace(conversation, messages=messages, add_generation_prompt=generation_prompt,
                   continue_final_message=False, request=request)


def request_of(conversation: Conversation) -> Mapping[str, Any]:
    """The raw request body (as read, or as a llamatpl conversation writes itself)."""
    return conversation.request if conversation.request is not None else conversation.to_data()
