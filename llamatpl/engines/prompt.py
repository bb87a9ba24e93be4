"""``llamatpl.render``: a conversation to the prompt a chosen serving engine builds (transformers by default)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..rendering.conversation import Conversation
from ..rendering.limits import DEFAULT_LIMITS, Limits
from ..rendering.renderer import parse_today
from ..rendering.templates import ChatTemplate, resolve_template
from . import DEFAULT, get_engine


def render(
    conversation: Conversation | Mapping[str, Any] | list[Any],
    *,
    version: str | None = None,
    template: str | ChatTemplate | None = None,
    today: date | str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    transformers: str | None = None,
    engine: str = DEFAULT,
    engine_args: str | Sequence[str] = "",
) -> str:
    """Render ``conversation`` to the exact prompt text a server would tokenize.

    ``template`` is a name (``official:3.1``, ``tuned:3.2``), a path, or a resolved
    :class:`~llamatpl.rendering.templates.ChatTemplate`; ``version`` alone means the official
    template of that version. ``today`` pins the clock (``strftime_now``, and the date an engine
    injects: a ``date`` or ``"YYYY-MM-DD"``); by default the clock is read, as the engines do.

    ``engine`` is the serving engine whose prompt to build (``transformers``, ``vllm``,
    ``llama.cpp``, ``tgi``), with its server flags in ``engine_args``; under an engine other than
    transformers the conversation is read as that engine's request body and a request it would
    refuse raises :class:`~llamatpl.errors.EngineRejected`. ``transformers`` names the release whose
    ``apply_chat_template`` to match (5.23 by default; vLLM pins its own).
    Raises :class:`~llamatpl.errors.RenderError` when the template raises,
    :class:`~llamatpl.errors.LimitExceeded` when it passes ``limits``.
    """
    chosen = get_engine(engine, engine_args=engine_args, transformers=transformers)
    conv = (Conversation.from_data(conversation) if chosen.name == DEFAULT
            else Conversation.from_request(conversation))
    tpl = template if isinstance(template, ChatTemplate) else resolve_template(template, version=version)
    return chosen.render(conv, tpl, today=parse_today(today), limits=limits)
