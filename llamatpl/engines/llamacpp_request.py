"""llama.cpp's reading of a ``/v1/chat/completions`` body (release b10573), before any template runs.

Mirrors, in order: ``tools/server/server-common.cpp:oaicompat_chat_params_parse`` (message and
content-part checks, prefill of a trailing assistant turn, ``chat_template_kwargs``), and
``common/chat.cpp``: ``common_chat_msgs_parse_oaicompat`` (messages into ``common_chat_msg``:
tool-call arguments kept as text, objects dumped as compact JSON), ``common_chat_tools_parse_oaicompat``
(tools rebuilt), ``common_chat_continuation_parse`` and ``common_chat_msg::to_json_oaicompat`` (the
message JSON the template sees). Every refusal raises through ``fail(path, reason)`` with
llama.cpp's own wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import EngineRejected

Fail = Callable[[str, str], EngineRejected]

NONE, AUTO, CONTENT, REASONING = "none", "auto", "content", "reasoning_content"
# body fields llama.cpp's server reads itself; any other top-level key of a llamatpl conversation
# file is a template variable, passed on as a chat_template_kwargs entry
REQUEST_FIELDS = frozenset({
    "messages", "tools", "tool_choice", "documents", "add_generation_prompt", "continue_final_message",
    "chat_template_kwargs", "model", "stream", "stream_options", "stop", "json_schema", "grammar",
    "response_format", "parallel_tool_calls", "reasoning_format", "reasoning_effort", "max_tokens",
    "max_completion_tokens", "n_predict", "temperature", "top_p", "top_k", "min_p", "seed", "n",
    "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty", "logit_bias", "user",
    "reasoning_budget_tokens", "thinking_budget_tokens", "reasoning_budget_message", "reasoning_control",
    "cache_prompt", "id_slot", "samplers", "mirostat", "mirostat_tau", "mirostat_eta", "chat_template",
})


def dump(value: Any) -> str:
    """nlohmann ``json::dump()``: compact, key order kept, non-ASCII unescaped."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Message:
    """``common_chat_msg``: what llama.cpp keeps of a request message."""

    role: str
    content: str = ""
    parts: list[tuple[str, str]] = field(default_factory=list)
    tool_calls: list[dict[str, str]] = field(default_factory=list)
    reasoning_content: str = ""
    tool_name: str = ""
    tool_call_id: str = ""

    def empty(self) -> bool:
        return not (self.content or self.parts or self.tool_calls or self.reasoning_content
                    or self.tool_name or self.tool_call_id)

    def render_content(self, delimiter: str = "\n\n") -> str:
        """``common_chat_msg::render_content`` (text parts joined by ``"\\n\\n"`` by default)."""
        return self.content or delimiter.join(text for kind, text in self.parts if kind == "text")

    def to_json(self) -> dict[str, Any]:
        """``common_chat_msg::to_json_oaicompat(false)``: the keys survive only when non-empty."""
        out: dict[str, Any] = {"role": self.role}
        if self.content:
            out["content"] = self.content
        elif self.parts:
            out["content"] = [{"type": kind, "text": text} for kind, text in self.parts]
        else:
            out["content"] = ""
        if self.reasoning_content:
            out["reasoning_content"] = self.reasoning_content
        if self.tool_name:
            out["name"] = self.tool_name
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        if self.tool_calls:
            out["tool_calls"] = [
                {"type": "function", "function": {"name": c["name"], "arguments": c["arguments"]},
                 **({"id": c["id"]} if c["id"] else {})} for c in self.tool_calls]
        return out


@dataclass
class Request:
    """What ``oaicompat_chat_params_parse`` hands to ``common_chat_templates_apply``."""

    messages: list[Message]
    tools: list[dict[str, Any]]
    add_generation_prompt: bool
    continuation: str
    kwargs: dict[str, Any]
    enable_thinking: bool


def _string(value: Any, fail: Fail, path: str) -> str:
    if not isinstance(value, str):
        raise fail(path, f"Failed to parse messages: [json.exception.type_error.302] type must be string, "
                         f"but is {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    kinds = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}
    return "null" if value is None else next((v for k, v in kinds.items() if isinstance(value, k)), "object")


def check_contents(messages: list[Any], fail: Fail) -> None:
    """The content checks of ``oaicompat_chat_params_parse`` (run before messages are parsed)."""
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        role = msg.get("role") if isinstance(msg.get("role"), str) else ""
        if role != "assistant" and "content" not in msg:
            raise fail(where, "All non-assistant messages must contain 'content'")
        if role == "assistant":
            if "content" not in msg and "tool_calls" not in msg:
                raise fail(where, "Assistant message must contain either 'content' or 'tool_calls'!")
            if "content" not in msg:
                continue
        content = msg["content"]
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise fail(f"{where}.content", "Expected 'content' to be a string or an array")
        for k, part in enumerate(content):
            kind = part.get("type") if isinstance(part, Mapping) and isinstance(part.get("type"), str) else ""
            if kind in ("image_url", "input_audio", "input_video"):
                media = {"image_url": "image", "input_audio": "audio", "input_video": "video"}[kind]
                raise fail(f"{where}.content[{k}]", f"{media} input is not supported - hint: if this is "
                           "unexpected, you may need to provide the mmproj")
            if kind != "text":
                raise fail(f"{where}.content[{k}].type", "unsupported content[].type")


def parse_messages(messages: list[Any], fail: Fail) -> list[Message]:
    """``common_chat_msgs_parse_oaicompat``."""
    out = []
    for i, raw in enumerate(messages):
        where = f"messages[{i}]"
        if "role" not in raw:
            raise fail(where, f"Failed to parse messages: Missing 'role' in message: {dump(raw)}")
        msg = Message(role=_string(raw["role"], fail, f"{where}.role"))
        content = raw.get("content")
        if isinstance(content, str):
            msg.content = content
        elif isinstance(content, list):
            for k, part in enumerate(content):
                if "text" not in part:
                    raise fail(f"{where}.content[{k}]", "Failed to parse messages: [json.exception.out_of_range.403] "
                               "key 'text' not found")
                msg.parts.append(("text", _string(part["text"], fail, f"{where}.content[{k}].text")))
        calls = raw.get("tool_calls")
        for j, call in enumerate(calls.values() if isinstance(calls, Mapping) else calls or []):
            msg.tool_calls.append(_parse_call(call, fail, f"{where}.tool_calls[{j}]"))
        if "content" not in raw and "tool_calls" not in raw:
            raise fail(where, "Failed to parse messages: Expected 'content' or 'tool_calls' (ref: "
                       "https://github.com/ggml-org/llama.cpp/issues/8367 & "
                       "https://github.com/ggml-org/llama.cpp/issues/12279)")
        for key, attr in (("reasoning_content", "reasoning_content"), ("name", "tool_name"),
                          ("tool_call_id", "tool_call_id")):
            if key in raw:
                setattr(msg, attr, _string(raw[key], fail, f"{where}.{key}"))
        out.append(msg)
    return out


def _parse_call(call: Any, fail: Fail, where: str) -> dict[str, str]:
    if not isinstance(call, Mapping) or "type" not in call:
        raise fail(where, f"Failed to parse messages: Missing tool call type: {dump(call)}")
    if call["type"] != "function":
        raise fail(f"{where}.type", f"Failed to parse messages: Unsupported tool call type: {dump(call)}")
    function = call.get("function")
    if "function" not in call:
        raise fail(where, f"Failed to parse messages: Missing tool call function: {dump(call)}")
    if not isinstance(function, Mapping) or "name" not in function:
        raise fail(f"{where}.function", f"Failed to parse messages: Missing tool call name: {dump(call)}")
    if "arguments" not in function:
        raise fail(f"{where}.function", "Failed to parse messages: [json.exception.out_of_range.403] "
                   "key 'arguments' not found")
    args = function["arguments"]
    call_id = _string(call["id"], fail, f"{where}.id") if "id" in call else ""
    return {"name": _string(function["name"], fail, f"{where}.function.name"),
            "arguments": args if isinstance(args, str) else dump(args), "id": call_id}


def parse_tools(tools: Any, fail: Fail) -> list[dict[str, Any]]:
    """``common_chat_tools_parse_oaicompat`` + ``common_chat_tools_to_json_oaicompat``: each tool
    rebuilt as ``{type, function: {name, description, parameters}}``; other keys dropped."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise fail("tools", f"Failed to parse tools: Expected 'tools' to be an array, got {dump(tools)}")
    out = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping) or "type" not in tool:
            raise fail(where, f"Failed to parse tools: Missing tool type: {dump(tool)}")
        if tool["type"] != "function":
            raise fail(f"{where}.type", f"Failed to parse tools: Unsupported tool type: {dump(tool)}")
        function = tool.get("function")
        if "function" not in tool:
            raise fail(where, f"Failed to parse tools: Missing tool function: {dump(tool)}")
        if not isinstance(function, Mapping) or "name" not in function:
            raise fail(f"{where}.function", "Failed to parse tools: [json.exception.out_of_range.403] "
                       "key 'name' not found")
        description = function.get("description", "")
        out.append({"type": "function", "function": {
            "name": _string(function["name"], fail, f"{where}.function.name"),
            "description": _string(description, fail, f"{where}.function.description"),
            "parameters": json.loads(dump(function.get("parameters", {})))}})
    return out


def parse_continuation(value: Any) -> str:
    """``common_chat_continuation_parse``."""
    if value is True:
        return AUTO
    if value in ("reasoning_content", "content"):
        return REASONING if value == "reasoning_content" else CONTENT
    return NONE


def _check_options(body: Mapping[str, Any], fail: Fail) -> None:
    """The option checks ``oaicompat_chat_params_parse`` makes before it reads the messages, and
    the logprobs ones after (none of them changes the prompt)."""
    grammar = body.get("grammar")
    if body.get("json_schema") is not None and isinstance(grammar, str) and grammar:
        raise fail("grammar", "Cannot use both json_schema and grammar")
    response_format = body.get("response_format")
    kind = response_format.get("type", "") if isinstance(response_format, Mapping) else ""
    if isinstance(kind, str) and kind not in ("", "text", "json_object", "json_schema"):
        raise fail("response_format.type", 'response_format type must be one of "text" or "json_object", '
                   f"but got: {kind}")


def _check_logprobs(body: Mapping[str, Any], has_tools: bool, fail: Fail) -> None:
    if body.get("logprobs") is True:
        if has_tools and body.get("stream") is True:
            raise fail("logprobs", "logprobs is not supported with tools + stream")
    elif body.get("top_logprobs") is not None:
        raise fail("top_logprobs", "top_logprobs requires logprobs to be set to true")


def parse_request(body: Mapping[str, Any], *, server_kwargs: Mapping[str, Any], prefill: bool,
                  enable_thinking: bool, fail: Fail) -> Request:
    """``oaicompat_chat_params_parse`` up to ``common_chat_templates_apply``."""
    _check_options(body, fail)
    raw_messages = body["messages"]
    check_contents(raw_messages, fail)
    messages = parse_messages(raw_messages, fail)
    tools = parse_tools(body.get("tools"), fail)
    tool_choice = body.get("tool_choice", "auto")
    if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required"):
        raise fail("tool_choice", f"Invalid tool_choice: {tool_choice}")
    if tools and tool_choice != "none" and "grammar" in body:
        raise fail("grammar", "Cannot use custom grammar constraints with tools.")
    agp = body.get("add_generation_prompt", True)
    agp = agp if isinstance(agp, bool) else True
    continuation = parse_continuation(body["continue_final_message"]) if "continue_final_message" in body else NONE
    if continuation == NONE and prefill and messages and messages[-1].role == "assistant":
        if len(messages) >= 2 and messages[-2].role == "assistant":
            raise fail("messages", "Cannot have 2 or more assistant messages at the end of the list.")
        continuation, agp = AUTO, False
    if continuation != NONE and agp:
        raise fail("continue_final_message", "Cannot set both add_generation_prompt and continue_final_message to true.")
    kwargs = dict(server_kwargs)
    kwargs.update({k: v for k, v in body.items() if k not in REQUEST_FIELDS})  # a llamatpl file's variables
    request_kwargs = body.get("chat_template_kwargs")
    if isinstance(request_kwargs, Mapping):
        kwargs.update(request_kwargs)
    thinking = kwargs.get("enable_thinking")
    if isinstance(thinking, bool):
        enable_thinking = thinking
    elif isinstance(thinking, str):
        raise fail("chat_template_kwargs.enable_thinking",
                   'invalid type for "enable_thinking" (expected boolean, got string)')
    effort = body.get("reasoning_effort")
    if effort == "none":
        enable_thinking = False
        kwargs.pop("reasoning_effort", None)
    elif isinstance(effort, str) and effort:
        kwargs["reasoning_effort"] = effort
    _check_logprobs(body, bool(body.get("tools")), fail)
    return Request(messages, tools, agp, continuation, kwargs, enable_thinking)
