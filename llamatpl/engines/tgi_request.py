"""TGI's chat request, read the way its router's serde types read it (v3.3.7, ``router/src/lib.rs``).

What is accepted, what is refused and what each message becomes before the template runs:

* ``Message`` is ``{role: String, name: Option<String>, #[serde(flatten)] body: MessageBody}`` and
  ``MessageBody`` is untagged: ``Content {content: MessageContent}`` is tried first, then
  ``Tool {tool_calls: Vec<ToolCall>}``. So a message with usable ``content`` keeps it and its
  ``tool_calls`` are ignored; ``content: null`` with ``tool_calls`` is a tool-call message; neither
  is refused. Unknown keys (``tool_call_id``, ``reasoning``...) are ignored.
* ``MessageContent`` is a string or a list of ``MessageChunk`` (``{"type": "text", "text"}`` or
  ``{"type": "image_url", "image_url": {"url"}}``); any other part type is refused.
* ``From<Message> for TextMessage`` flattens every message to ``{role, content}``: parts joined
  with ``""``, an image as ``![](url)``, a tool-call message as the JSON of its calls
  (``serde_json::to_string(&tool_calls)``), and ``tool_call_id`` never set.
* ``ToolCall`` is ``{id, type, function: FunctionDefinition}``, all required;
  ``FunctionDefinition`` is ``{description: Option<String>, name, arguments}`` where ``arguments``
  (alias ``parameters``) is any JSON value, serialized back as a string (``serialize_as_string``:
  an object becomes compact JSON text, a string is JSON-quoted again).
* ``Tool`` is ``{type: String, function: FunctionDefinition}``: ``parameters`` is required.
* ``ToolChoice`` (``ToolTypeDeserializer``): null or absent is ``auto``; ``"none"``, ``"auto"``,
  ``"required"``, any other string names a function; ``{"type": "function", "function": {"name"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..rendering.rust_text import serde_json

Reject = Callable[[str, str], Exception]  # (path, reason) -> the exception to raise

MESSAGE_BODY = "a `content` (a string or a list of text/image_url parts) or a `tool_calls` list"


@dataclass(frozen=True)
class Message:
    """One request message after serde: its role and either text parts or tool calls."""

    role: str
    parts: list[str] | None  # MessageBody::Content, chunks already as text (SingleText is one part)
    tool_calls: list[dict[str, Any]] | None  # MessageBody::Tool, as TGI serializes them back

    def text(self) -> str:
        """``From<Message> for TextMessage``: the content TGI's template sees."""
        if self.parts is not None:
            return "".join(self.parts)
        return serde_json(self.tool_calls)


def _string(value: Any, path: str, reject: Reject, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise reject(path, f"expected a string, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(value), type(value).__name__)


def function_definition(raw: Any, path: str, reject: Reject) -> dict[str, Any]:
    """``FunctionDefinition`` as TGI serializes it: description (null if absent), name, arguments as text."""
    if not isinstance(raw, Mapping):
        raise reject(path, f"expected an object with \"name\" and \"arguments\", got {_kind(raw)}")
    if "arguments" in raw and "parameters" in raw:
        raise reject(path, "both `arguments` and `parameters` (TGI: duplicate field `arguments`)")
    key = "arguments" if "arguments" in raw else "parameters"
    if key not in raw:
        raise reject(f"{path}.{key}", "missing; TGI requires `arguments` (or `parameters`) (missing field `arguments`)")
    return {"description": _string(raw.get("description"), f"{path}.description", reject, optional=True),
            "name": _string(raw.get("name"), f"{path}.name", reject),
            "arguments": serde_json(raw[key])}


def tool_calls(raw: Any, path: str, reject: Reject) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise reject(path, f"expected a list of tool calls, got {_kind(raw)}")
    calls = []
    for i, call in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(call, Mapping):
            raise reject(where, f"expected an object with \"id\", \"type\" and \"function\", got {_kind(call)}")
        for key in ("id", "type"):
            if key not in call:
                raise reject(f"{where}.{key}", f"missing; TGI requires a string `{key}` on every tool call")
            _string(call[key], f"{where}.{key}", reject)
        calls.append({"id": call["id"], "type": call["type"],
                      "function": function_definition(call.get("function"), f"{where}.function", reject)})
    return calls


def _content_parts(raw: Any, path: str) -> list[str] | str:
    """The parts of a ``MessageContent``, or why serde cannot read it."""
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list):
        return f"expected a string or a list of parts, got {_kind(raw)}"
    parts = []
    for i, chunk in enumerate(raw):
        where = f"{path}[{i}]"
        kind = chunk.get("type") if isinstance(chunk, Mapping) else None
        if kind == "text" and isinstance(chunk.get("text"), str):
            parts.append(chunk["text"])
        elif kind == "image_url" and isinstance(chunk.get("image_url"), Mapping) \
                and isinstance(chunk["image_url"].get("url"), str):
            parts.append(f"![]({chunk['image_url']['url']})")
        elif kind in ("text", "image_url"):
            field = "text" if kind == "text" else "image_url.url"
            return f"{where}.{field}: expected a string"
        else:
            return f"{where}.type: {json.dumps(kind)} is not a part TGI reads (only \"text\" and \"image_url\")"
    return parts


def message(raw: Mapping[str, Any], path: str, reject: Reject) -> Message:
    """One ``Message``: role, then the untagged body (content first, then tool_calls)."""
    if "role" not in raw:
        raise reject(f"{path}.role", "missing; TGI requires a string role")
    role = _string(raw["role"], f"{path}.role", reject)
    _string(raw.get("name"), f"{path}.name", reject, optional=True)
    problem = "missing"
    if "content" in raw:
        parts = _content_parts(raw["content"], f"{path}.content")
        if isinstance(parts, list):
            return Message(str(role), parts, None)
        problem = parts
    if "tool_calls" in raw:
        return Message(str(role), None, tool_calls(raw["tool_calls"], f"{path}.tool_calls", reject))
    where, detail = path, ""
    if problem != "missing":  # a part's own path when a part is at fault
        where, detail = problem.split(": ", 1) if problem.startswith(path) else (f"{path}.content", problem)
        detail += "; "
    raise reject(where, f"{detail}TGI needs {MESSAGE_BODY} (data did not match any variant of untagged "
                        "enum MessageBody)")


def tools(raw: Any, reject: Reject) -> list[dict[str, Any]] | None:
    """``ChatRequest.tools``: ``Option<Vec<Tool>>``, each as TGI serializes it back."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise reject("tools", f"expected a list of tools, got {_kind(raw)}")
    out = []
    for i, tool in enumerate(raw):
        if not isinstance(tool, Mapping):
            raise reject(f"tools[{i}]", f"expected an object with \"type\" and \"function\", got {_kind(tool)}")
        if "type" not in tool:
            raise reject(f"tools[{i}].type", "missing; TGI requires a string `type` on every tool")
        out.append({"type": _string(tool["type"], f"tools[{i}].type", reject),
                    "function": function_definition(tool.get("function"), f"tools[{i}].function", reject)})
    return out


def tool_choice(raw: Any, reject: Reject) -> tuple[str, str | None]:
    """``("auto" | "none" | "required" | "function", name)``."""
    if raw is None:
        return "auto", None
    if isinstance(raw, str):
        return (raw, None) if raw in ("none", "auto", "required") else ("function", raw)
    function = raw.get("function") if isinstance(raw, Mapping) else None
    if isinstance(raw, Mapping) and raw.get("type") == "function" and isinstance(function, Mapping) \
            and isinstance(function.get("name"), str):
        return "function", function["name"]
    raise reject("tool_choice", "expected \"none\", \"auto\", \"required\", a function name or "
                                "{\"type\": \"function\", \"function\": {\"name\": ...}}")
