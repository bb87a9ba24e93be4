"""Meta's reference decoder (llama-models 0.3.0, ``ChatFormat.decode_assistant_message_from_content``)
as an oracle: its calls and content, or ``None`` when it raises (it gives no verdict)."""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _chat_format() -> Any:
    from llama_models.llama3.chat_format import ChatFormat
    from llama_models.llama3.tokenizer import Tokenizer

    return ChatFormat(Tokenizer.get_instance())


def meta_decode(text: str) -> dict[str, Any] | None:
    """``{"calls": [(name, arguments)], "content": str | None}``; content is None when a call is
    found (Meta leaves ""), as llamatpl reports it."""
    from llama_models.datatypes import StopReason

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints when a <function=> tag fails
            message = _chat_format().decode_assistant_message_from_content(text, StopReason.end_of_turn)
    except Exception:  # noqa: BLE001 - raising is its verdict: none
        return None
    calls = [(getattr(c.tool_name, "value", c.tool_name), c.arguments) for c in message.tool_calls]
    return {"calls": calls, "content": None if calls else message.content}
