"""What every tool-call reader returns: calls as (name, decoded arguments), the text left, and why
an output is refused.

Readers never produce OpenAI's wire form themselves: :func:`openai_calls` does that once, so the
``arguments`` JSON text is written the same way whatever read it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import LlamatplError


class ToolCallParseError(LlamatplError):
    """The output is refused: unreadable as the chosen reader reads it, or arguments not an object."""


@dataclass(frozen=True)
class Call:
    """One tool call: its name and its arguments, already decoded from JSON or Python literals."""

    name: str
    arguments: Any  # an object once accepted; readers may return what their engine passes on


@dataclass(frozen=True)
class Reading:
    """A model output read by one reader: the calls in order, and the text left (``None`` when the
    reader drops it, as vLLM's parsers do once they find a call)."""

    calls: tuple[Call, ...] = ()
    content: str | None = None


def openai_calls(calls: tuple[Call, ...] | list[Call]) -> list[dict[str, Any]]:
    """``[{"id", "type": "function", "function": {"name", "arguments"}}]`` with ``arguments`` as JSON
    text, as OpenAI's API sends it. Ids are ``call_0``, ``call_1``, ...: stable, so output is diffable."""
    return [{"id": f"call_{i}", "type": "function",
             "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)}}
            for i, call in enumerate(calls)]


def is_json_value(value: Any) -> bool:
    """True when ``value`` is made only of JSON's types. NaN and infinities pass: Python's json
    writes and reads them (as ``NaN``, ``Infinity``), and so do Meta's decoder and vLLM."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, list):
        return all(is_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_json_value(v) for k, v in value.items())
    return False
