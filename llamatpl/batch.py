"""Render every conversation of a file (JSON, JSONL or stdin), streaming, for the CLI and for scale."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from .conversation import Conversation, iter_conversations
from .limits import DEFAULT_LIMITS, Limits
from .renderer import render_text
from .templates import ChatTemplate
from .tokens import get_tokenizer


@dataclass(frozen=True)
class Rendered:
    """One conversation's prompt, and its token ids when they were asked for."""

    conversation: Conversation
    prompt: str
    ids: list[int] | None = None


def render_file(
    path: str,
    template: ChatTemplate,
    *,
    today: date | None = None,
    with_ids: bool = False,
    generation_prompt: bool | None = None,
    limits: Limits = DEFAULT_LIMITS,
    tokenizer: Any = None,
    add_special_tokens: bool = False,
) -> Iterator[Rendered]:
    """Yield each conversation of ``path`` rendered through ``template`` (lazily, line by line).

    ``generation_prompt`` overrides every conversation's ``add_generation_prompt`` when given.
    ``tokenizer`` replaces Meta's for the ids; ``add_special_tokens`` tokenizes as a pipeline that
    adds BOS again would.
    """
    if with_ids and tokenizer is None:
        tokenizer = get_tokenizer(template.version)
    if not with_ids:
        tokenizer = None
    for conversation in iter_conversations(path):
        if generation_prompt is not None:
            conversation = replace(conversation, add_generation_prompt=generation_prompt)
        prompt = render_text(
            template.text_for(has_tools=conversation.tools is not None),
            conversation,
            special_tokens=template.special_tokens,
            today=today,
            limits=limits,
            name=template.name,
        )
        ids = tokenizer.encode_prompt(prompt, add_special_tokens=add_special_tokens) if tokenizer is not None else None
        yield Rendered(conversation, prompt, ids)
