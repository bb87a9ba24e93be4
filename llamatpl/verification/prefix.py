"""The prefix property, and the assistant's turns located with it.

Incremental training masks and a server's KV-cache reuse both rely on it: rendering
``messages[:k]`` (closed) must be a prefix of rendering the whole conversation, and where message
``k`` is the assistant's, rendering ``messages[:k]`` with the generation prompt must be too (the
server rendered that, the model wrote message ``k``, and the next request starts from it). A template
that rewrites earlier turns (marks the last message, drops earlier reasoning, moves the tools) breaks
it. Prefixes the template refuses to render are not requests a server would see, and are skipped.

:func:`assistant_spans` finds the assistant's turns in a prompt from those renders (``llamatpl
prepare``); :func:`check_prefixes` (``verify --prefix``) checks the property with the same renders,
through the same engine, and runs :func:`assistant_spans` too, so it passes no conversation whose
turns ``prepare`` cannot locate. The renders are the engine's own (:meth:`Engine.prefix`): the first
messages as the engine reads the whole request, closed or with the generation prompt, whatever the
engine does to a trailing assistant message in the prompt it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache

from ..engines import Engine, get_engine
from ..engines.base import cut
from ..errors import EngineRejected, InputError, RenderError
from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.templates import ChatTemplate
from .compare import REJECTED, VERIFY_TODAY, Verdict

__all__ = ["CATEGORY", "FIRST_IS_ASSISTANT", "MaskError", "NotPrefixStable", "assistant_spans", "check_prefixes", "cut"]

CATEGORY = "not-prefix-stable"

# why an assistant message first is refused (the exported generation-tags template raises it too)
FIRST_IS_ASSISTANT = ("the conversation starts with an assistant message: its turn starts where the conversation "
                      "before it ends when rendered with the generation prompt, and the template cannot render that "
                      "empty conversation, so the turn cannot be located (begin with a system or user message)")

# (count, generation_prompt) -> the first ``count`` messages rendered, closed or with the generation prompt
PrefixRender = Callable[[int, bool], str]


class MaskError(InputError):
    """The assistant's turns cannot be located in the prompt."""


class NotPrefixStable(MaskError):
    """The template renders an earlier part of the conversation differently once more of it arrives."""

    def __init__(self, message: str, part: str, whole: str) -> None:
        super().__init__(message)
        self.part, self.whole = part, whole


def _is_assistant(message: object) -> bool:
    return (type(message) is dict or isinstance(message, Mapping)) and message.get("role") == "assistant"


def assistant_spans(conversation: Conversation, prefix: PrefixRender, prompt: str, *,
                    engine: Engine | None = None) -> tuple[tuple[int, int], ...]:
    """The character spans of ``prompt`` (the whole conversation, rendered) that the assistant generates.

    ``prefix(count, generation_prompt)`` renders the first ``count`` messages as ``prompt`` was
    rendered (:meth:`Engine.prefix`). The last message counts as ``engine`` left it in the prompt
    (:meth:`Engine.meaning`): a turn left open (``continue_final_message``, llama.cpp's prefill,
    TGI's cut) runs to the end. Raises :class:`NotPrefixStable` naming the first assistant message
    whose prefixes are not prefixes of the prompt, and :class:`MaskError` for a turn that no
    render can locate.
    """
    messages = conversation.messages
    last = len(messages) - 1
    if messages and _is_assistant(messages[0]):
        raise MaskError(f"{conversation.name}: messages[0]: {FIRST_IS_ASSISTANT}")
    open_last = last > 0 and _is_assistant(messages[last]) and bool(
        (conversation if engine is None else engine.meaning(conversation)).continue_final_message)
    if open_last:
        _check_open_turn(conversation, prefix, prompt, engine)
    spans: list[tuple[int, int]] = []
    done = 0
    for index, message in enumerate(messages):
        if not _is_assistant(message):
            continue
        before = prefix(index, True)
        if index == last and open_last and before.startswith(prompt):
            break  # the continued turn adds no text (llama.cpp leaves an empty one out, TGI trims the end)
        if index < last or (not open_last and conversation.add_generation_prompt):
            through = prefix(index + 1, False)
        elif not open_last:
            through = prompt  # closed, no generation prompt: the prompt is this prefix
        else:  # left open, it runs to the end, unless the engine wrote it closed after all (TGI, text not found)
            closed = prefix(index + 1, False)
            through = closed if prompt.startswith(closed) else prompt
        start, end = len(before), len(through)
        if not prompt.startswith(through) or not through.startswith(before) or start < done:
            stable_before = prompt.startswith(before) and start >= done
            which = f"messages[:{index + 1}]" if stable_before else f"messages[:{index}] with the generation prompt"
            raise NotPrefixStable(f"{conversation.name}: messages[{index}]: the template is not prefix-stable: "
                                  f"rendering {which} is not a prefix of the whole prompt, so the assistant's turn "
                                  "cannot be found (see llamatpl verify --prefix)",
                                  through if stable_before else before, prompt)
        if end > start:
            spans.append((start, end))
        done = end
    return tuple(spans)


def _check_open_turn(conversation: Conversation, prefix: PrefixRender, prompt: str, engine: Engine | None) -> None:
    """The engine left the last (assistant) message open: refuse what it did not write, and a prompt
    that does not start with the conversation before that message."""
    last = len(conversation.messages) - 1
    where = f"{conversation.name}: messages[{last}]"
    refusal = None if engine is None else engine.mask_refusal(conversation)
    if refusal:
        raise MaskError(f"{where}: {refusal}")
    base = prefix(last, False)
    if prompt.startswith(base):
        return
    whole = prefix(last + 1, False)
    if not whole.startswith(base):
        raise NotPrefixStable(f"{where}: the template is not prefix-stable: rendering messages[:{last}] is not a "
                              f"prefix of rendering messages[:{last + 1}], so the assistant's turn cannot be found "
                              "(see llamatpl verify --prefix)", base, whole)
    who = "transformers (continue_final_message)" if engine is None else engine.name
    raise MaskError(f"{where}: {who} continues the final assistant message by cutting the prompt after the last "
                    "place its text occurs, which is not where the template writes it, so the turns cannot be "
                    "located")


def check_prefixes(template: ChatTemplate, conversation: Conversation, *, today: date = VERIFY_TODAY,
                   limits: Limits = DEFAULT_LIMITS, engine: Engine | None = None) -> Verdict:
    """A passing verdict, or one with category ``not-prefix-stable`` naming the first prefix that breaks,
    or a ``rejected`` one: the engine refuses the request, or its assistant turns cannot be located
    (as ``llamatpl prepare`` would refuse it)."""
    engine = engine or get_engine()
    if engine.name == "transformers":
        conv = Conversation.from_data(conversation)
    else:  # sent as the engine's users send it
        conv = engine.as_request(Conversation.from_request(conversation))

    @lru_cache(maxsize=None)
    def render(count: int, generation_prompt: bool) -> str:
        return engine.prefix(conv, count, generation_prompt, template, today=today, limits=limits)

    try:
        full = render(len(conv.messages), False)
    except EngineRejected as exc:
        return Verdict(conv, category=REJECTED, error=exc.message)
    except RenderError:
        return Verdict(conv)
    for count in range(1, len(conv.messages)):
        for generation_prompt in [False, True] if _is_assistant(conv.messages[count]) else [False]:
            try:
                part = render(count, generation_prompt)
            except (RenderError, EngineRejected):
                continue
            if not full.startswith(part):
                how = "with the generation prompt" if generation_prompt else "closed"
                return _broken(conv, part, full, f"messages[:{count}] rendered {how} is not a prefix of the "
                                                 "whole conversation rendered")
    try:
        prompt = engine.render(conv, template, today=today, limits=limits)
        assistant_spans(conv, render, prompt, engine=engine)
    except NotPrefixStable as exc:
        return _broken(conv, exc.part, exc.whole, exc.message)
    except (InputError, RenderError) as exc:  # MaskError and EngineRejected are InputErrors
        return Verdict(conv, category=REJECTED, error=exc.message)
    return Verdict(conv, rendered=full)


def _broken(conv: Conversation, part: str, whole: str, error: str) -> Verdict:
    at = next((i for i, (a, b) in enumerate(zip(part, whole)) if a != b), min(len(part), len(whole)))
    return Verdict(conv, category=CATEGORY, rendered=whole, expected=part, text_divergence=at,
                   error=f"{error} (they differ at character {at})")
