"""The messages vLLM 0.33.0 hands to ``apply_chat_template``, built from validated request messages.

Mirrors ``vllm/renderers/chat_utils/chat_message.py`` (``parse_chat_message_content``,
``parse_chat_message_content_parts``, ``_postprocess_messages``) and, in ``vllm/renderers/hf.py``,
``_convert_developer_to_system`` + ``_consolidate_system_messages`` (called by
``safe_apply_chat_template`` when the template never names the developer role).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._vllm_request import TEXT_PARTS

_BILLING_HEADER = "x-anthropic-billing-header"


def conversation_messages(messages: list[Mapping[str, Any]], content_format: str) -> list[dict[str, Any]]:
    """Each request message as the template sees it (what survives, and in which shape)."""
    out = [_parse_message(m, content_format) for m in messages]
    for message in out:
        _parse_tool_call_arguments(message)
    return out


def _parse_message(message: Mapping[str, Any], content_format: str) -> dict[str, Any]:
    role = message["role"]
    content = message.get("content")
    parts: list[Any] = [] if content is None else (
        [{"type": "text", "text": content}] if isinstance(content, str) else list(content))
    if role == "system":
        parts = _strip_billing_header(parts)
    texts = [_part_text(p) for p in parts]
    if content_format == "openai":
        result: dict[str, Any] = {"role": role, "content": [
            {"type": "tool_reference", "name": t} if p.get("type") == "tool_reference" else {"type": "text", "text": t}
            for p, t in zip(parts, texts)]}
    else:
        # parse_chat_message_content_parts keeps only truthy parts: an empty text part is dropped
        result = {"role": role, "content": "\n".join(t for t in texts if t)}
    if role == "assistant":
        calls = message.get("tool_calls")
        if calls is not None:
            result["tool_calls"] = [_validated_call(c) for c in calls]
        reasoning = message.get("reasoning")
        if reasoning is None:
            reasoning = message.get("reasoning_content")  # renamed to reasoning before validation
        if reasoning is not None:
            result["reasoning"] = reasoning
            result["reasoning_content"] = reasoning
    elif role == "tool":
        if "tool_call_id" in message:
            result["tool_call_id"] = message["tool_call_id"]
        listed = result["content"]
        if isinstance(listed, list) and all(item.get("type") == "text" for item in listed):
            result["content"] = "\n".join(item["text"] for item in listed)
    for key in ("name", "task"):
        if isinstance(message.get(key), str):
            result[key] = message[key]
    if role == "developer":
        result["tools"] = message.get("tools")
    return result


def _part_text(part: Mapping[str, Any]) -> str:
    part_type = part.get("type")
    if part_type == "tool_reference":
        return str(part.get("name"))
    return str(part.get(TEXT_PARTS.get(str(part_type), "text")))


def _strip_billing_header(parts: list[Any]) -> list[Any]:
    """``_strip_claude_code_billing_header``: a system text part's attribution line is dropped."""
    kept = []
    for part in parts:
        text = part.get("text") if part.get("type") == "text" else None
        if not (isinstance(text, str) and text.startswith(_BILLING_HEADER)):
            kept.append(part)
            continue
        rest = text.partition("\n")[2]
        if rest:
            kept.append({**part, "text": rest})
    return kept


def _validated_call(call: Mapping[str, Any]) -> dict[str, Any]:
    """A tool call as pydantic's ``ChatCompletionMessageFunctionToolCallParam`` keeps it."""
    function = call["function"]
    return {"id": call["id"], "function": {"arguments": function["arguments"], "name": function["name"]},
            "type": call["type"]}


def _parse_tool_call_arguments(message: dict[str, Any]) -> None:
    """``_postprocess_messages``: JSON text to an object; anything else to ``{}``; no empty list."""
    if message["role"] != "assistant" or not isinstance(message.get("tool_calls"), list):
        return
    if not message["tool_calls"]:
        del message["tool_calls"]
        return
    for call in message["tool_calls"]:
        text = call["function"]["arguments"]
        parsed: Any = None
        if text:
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = None
        call["function"]["arguments"] = parsed if isinstance(parsed, dict) else {}


def developer_as_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``developer`` becomes ``system`` (its ``tools`` dropped); then, if a system message is not
    first or there are several, they merge into one first message joined by a blank line."""
    converted = [{**{k: v for k, v in m.items() if k != "tools"}, "role": "system"} if m["role"] == "developer"
                 else m for m in messages]
    systems: list[str] = []
    others: list[dict[str, Any]] = []
    merge = False
    for i, message in enumerate(converted):
        if message["role"] != "system":
            others.append(message)
            continue
        if i > 0 or systems:
            merge = True
        content = message.get("content", "")
        if isinstance(content, list):
            content = "\n".join([p["text"] for p in content if isinstance(p, Mapping) and "text" in p]
                                 + [p for p in content if isinstance(p, str)])
        if content:
            systems.append(content)
    if not merge:
        return converted
    return [{"role": "system", "content": "\n\n".join(systems)}, *others]
