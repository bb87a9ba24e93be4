"""The variables transformers passes a template (its messages changed by release), prepared once per conversation.

Two input rules depend on the release (``transformers=``): from 5.21 reasoning fields are aliased
(``thinking`` / ``reasoning_content``); from 5.23 message keys whose value is ``None`` are dropped
(so ``"content": null`` reads as undefined). The fast backend also needs to know whether the
input holds what minijinja writes otherwise (:mod:`.fastscan`). Both are worked out once per
conversation object and kept on it, so rendering the same conversation again (another template, a
prefix of it for a training mask, a benchmark loop) skips them. A conversation is treated as
unchanged while its message list, last message and tool list are the same objects of the same
lengths: build a new one (or append messages) rather than editing a rendered message in place.
A conversation parsed from a JSONL line comes with the scan's flags read while parsing
(:func:`.fastscan.loads_scanned`), and a prefix of a prepared conversation (:func:`part_of`) with
the whole's variables cut short: neither is walked again.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from . import fastscan
from ..errors import InputError
from .conversation import Conversation

REASONING_FIELDS = ("reasoning_content", "thinking", "reasoning")


def prepared(conversation: Conversation, transformers: str,
             special_tokens: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    """(the variables the template is rendered with, :func:`.fastscan.scan`'s flags for them)."""
    rules = input_rules(transformers)
    messages, tools = conversation.messages, conversation.tools
    key = (rules, id(special_tokens), id(messages), len(messages), id(messages[-1]) if messages else 0,
           id(tools), -1 if tools is None else len(tools))
    state = conversation.__dict__
    known = state.get("_prepared")
    if known is not None and known[0] == key:
        return known[1], known[2]
    whole = state.get("_part_of")
    found = None if whole is None else whole.__dict__.get("_prepared")
    if found is not None and found[0][:2] == key[:2]:
        # a prefix of a conversation already prepared: its messages are the first ones of the whole's,
        # each prepared on its own (template_messages), and it holds no value the whole lacks
        variables = {**found[1], "messages": found[1]["messages"][:len(messages)],
                     "add_generation_prompt": conversation.add_generation_prompt}
        flags = found[2]
    else:
        text_flags = state.get("_text_flags")  # read off its JSON text by parse_line, if that needs no walk
        flags = found[2] if found is not None else fastscan.scan(
            messages, tools, conversation.documents, conversation.variables, special_tokens) if text_flags is None \
            else fastscan.scan_conversation(text_flags, messages, special_tokens)
        variables = context(conversation, special_tokens, template_messages(conversation, *rules))
    object.__setattr__(conversation, "_prepared", (key, variables, flags))
    return variables, flags


def part_of(part: Conversation, whole: Conversation) -> Conversation:
    """Mark ``part`` as a prefix of ``whole``: some of its first messages (the same objects), the
    same tools, documents and variables, its own ``add_generation_prompt``, no final message
    continued (:func:`llamatpl.engines.base.cut`). Once ``whole`` has been rendered, ``part``
    renders with ``whole``'s prepared messages cut short and its scan flags (it holds no value
    ``whole`` lacks, so they can only over-state what it needs, and an over-stated flag renders on
    jinja2, the reference): each prefix a training mask renders skips that work."""
    if len(part.messages) <= len(whole.messages) and part.tools is whole.tools and \
            part.documents is whole.documents and part.variables is whole.variables and \
            not part.continue_final_message:
        object.__setattr__(part, "_part_of", whole)
    return part


def context(conversation: Conversation, special_tokens: Mapping[str, str],
            messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The variables a template is rendered with, exactly as transformers passes them (renders copy
    them: jinja2 into its context, minijinja into its own values)."""
    return {**special_tokens, **conversation.variables, "messages": messages, "tools": conversation.tools,
            "documents": conversation.documents, "add_generation_prompt": conversation.add_generation_prompt}


@functools.lru_cache(maxsize=16)
def input_rules(transformers: str) -> tuple[bool, bool]:
    """(drop ``None``-valued keys, alias reasoning fields) for a transformers release ``X.Y``."""
    try:
        release = tuple(int(part) for part in transformers.split(".")[:2])
    except ValueError:
        raise InputError(f"--transformers: {transformers!r} is not a release such as 5.23") from None
    return release >= (5, 23), release >= (5, 21)


def template_messages(conversation: Conversation, drop_none: bool = True, alias: bool = True) -> list[dict[str, Any]]:
    """The messages as the matched transformers release passes them to the template.

    A message that needs no change is passed as it is, and so is the list when none does: the
    sandbox is immutable, the template cannot change them (a caller that edits the list copies it).
    """
    messages = conversation.messages
    out = None
    if drop_none or alias:
        for i, message in enumerate(messages):
            nones = drop_none and None in message.values()
            reasoning = alias and ("reasoning_content" in message or "thinking" in message or "reasoning" in message)
            if nones or reasoning:
                if out is None:
                    out = list(messages)
                out[i] = _adjusted(message, nones, reasoning)
    return messages if out is None else out


def _adjusted(message: dict[str, Any], nones: bool, reasoning: bool) -> dict[str, Any]:
    m = {k: v for k, v in message.items() if v is not None} if nones else dict(message)
    if reasoning and any(m.get(k) is not None for k in REASONING_FIELDS):
        value = next(m[k] for k in REASONING_FIELDS if m.get(k) is not None)
        m = {"thinking": value, **m, "reasoning_content": value}
    return m
