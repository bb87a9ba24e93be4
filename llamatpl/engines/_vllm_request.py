"""The request checks vLLM 0.33.0 makes before it renders: what ``ChatCompletionRequest.model_validate``
(pydantic, ``vllm/entrypoints/openai/chat_completion/protocol.py``) and the OpenAI message types
(``vllm/renderers/chat_utils/types.py``) refuse. Each check names the JSON path and why.

``fail(path, reason)`` builds the exception to raise (``Engine.reject`` bound to the conversation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Fail = Callable[[str, str], Exception]

# pydantic's lax bool: what a JSON request may give for add_generation_prompt and the like
_TRUE = {"true", "1", "yes", "y", "on", "t"}
_FALSE = {"false", "0", "no", "n", "off", "f"}
# content part types parsed as text (chat_message.py TEXT_PART_TYPES) and the field holding the text
TEXT_PARTS = {"text": "text", "input_text": "text", "output_text": "text", "refusal": "refusal",
              "thinking": "thinking"}
MEDIA_PARTS = {"image_url", "input_image", "audio_url", "input_audio", "video_url", "image_embeds",
               "audio_embeds", "video_embeds", "image_pil", "prompt_embeds"}


def kind(value: Any) -> str:
    """``an object``, ``a list``, ``null``: what a JSON value is, for a reason."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an object" if isinstance(value, Mapping) else "a list"


def lax_bool(body: Mapping[str, Any], key: str, default: bool, fail: Fail) -> bool:
    value = body.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise fail(key, f"{kind(value)}; vLLM takes true or false")


def check_body(body: Mapping[str, Any], fail: Fail) -> None:
    """Top-level fields: messages, tools, documents, chat_template_kwargs, chat_template."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise fail("messages", f"{kind(messages)}; vLLM takes a list of messages")
    if not messages:
        raise fail("messages", "empty; vLLM cannot apply a chat template to an empty conversation")
    for i, message in enumerate(messages):
        check_message(message, f"messages[{i}]", fail)
    check_tools(body.get("tools"), fail)
    documents = body.get("documents")
    if documents is not None:
        if not isinstance(documents, list):
            raise fail("documents", f"{kind(documents)}; vLLM takes a list of objects with string values")
        for i, doc in enumerate(documents):
            if not isinstance(doc, Mapping):
                raise fail(f"documents[{i}]", f"{kind(doc)}; vLLM takes an object with string values")
            for key, value in doc.items():
                if not isinstance(value, str):
                    raise fail(f"documents[{i}].{key}", f"{kind(value)}; vLLM takes string values only")
    kwargs = body.get("chat_template_kwargs")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise fail("chat_template_kwargs", f"{kind(kwargs)}; vLLM takes an object")


def check_tools(tools: Any, fail: Fail) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise fail("tools", f"{kind(tools)}; vLLM takes a list of tool definitions")
    if not tools:
        raise fail("tools", "an empty list; vLLM takes at least one tool, or no tools field")
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise fail(where, f"{kind(tool)}; vLLM takes an object with \"function\"")
        if tool.get("type", "function") != "function":
            raise fail(f"{where}.type", f"{tool.get('type')!r}; vLLM takes only \"function\"")
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise fail(f"{where}.function", f"{kind(function)}; vLLM takes an object with \"name\"")
        if not isinstance(function.get("name"), str):
            raise fail(f"{where}.function.name", f"{kind(function.get('name'))}; vLLM takes a string")
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise fail(f"{where}.function.description", f"{kind(description)}; vLLM takes a string or null")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            raise fail(f"{where}.function.parameters", f"{kind(parameters)}; vLLM takes an object or null")


def check_message(message: Any, where: str, fail: Fail) -> None:
    if not isinstance(message, Mapping):
        raise fail(where, f"{kind(message)}; vLLM takes an object with \"role\"")
    role = message.get("role")
    if not isinstance(role, str):
        raise fail(f"{where}.role", f"{kind(role)}; vLLM takes a string")
    name = message.get("name")
    if "name" in message and not isinstance(name, str):
        raise fail(f"{where}.name", f"{kind(name)}; vLLM takes a string")
    if "content" in message:
        check_content(message["content"], role, f"{where}.content", fail)
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            raise fail(f"{where}.tool_calls", f"{kind(calls)}; vLLM takes a list of tool calls")
        for j, call in enumerate(calls):
            check_tool_call(call, f"{where}.tool_calls[{j}]", fail)


def check_content(content: Any, role: str, where: str, fail: Fail) -> None:
    if isinstance(content, str):
        return
    if content is None:
        if role == "assistant":
            return
        raise fail(where, f"null; vLLM takes null content only from the assistant (a {role} message "
                          "needs a string or a list of content parts)")
    if not isinstance(content, list):
        raise fail(where, f"{kind(content)}; vLLM takes a string or a list of content parts")
    responses_only = {"input_text", "output_text"}
    if content and all(isinstance(p, Mapping) and p.get("type") in responses_only for p in content):
        # pydantic's union then settles on OpenAI's own message type, whose lazily checked parts
        # must be "text" (measured on vLLM 0.33.0; one "text", "refusal" or "thinking" part avoids it)
        raise fail(f"{where}[0].type", f"{content[0].get('type')!r} alone; vLLM takes it only beside a "
                                       "\"text\" part")
    for k, part in enumerate(content):
        at = f"{where}[{k}]"
        if not isinstance(part, Mapping):
            raise fail(at, f"{kind(part)}; vLLM takes a content part object with \"type\"")
        part_type = part.get("type")
        field = TEXT_PARTS.get(part_type) if isinstance(part_type, str) else None
        if field is not None and not isinstance(part.get(field), str):
            raise fail(f"{at}.{field}", f"{kind(part.get(field))}; vLLM takes a string")


def check_tool_call(call: Any, where: str, fail: Fail) -> None:
    if not isinstance(call, Mapping):
        raise fail(where, f"{kind(call)}; vLLM takes a tool call object")
    if not isinstance(call.get("id"), str):
        raise fail(f"{where}.id", f"{kind(call.get('id'))}; vLLM requires a string id")
    if call.get("type") != "function":
        got = "missing" if "type" not in call else repr(call.get("type"))
        raise fail(f"{where}.type", f"{got}; vLLM takes only \"function\" tool calls")
    function = call.get("function")
    if not isinstance(function, Mapping):
        raise fail(f"{where}.function", f"{kind(function)}; vLLM takes an object with \"name\" and \"arguments\"")
    if not isinstance(function.get("name"), str):
        raise fail(f"{where}.function.name", f"{kind(function.get('name'))}; vLLM takes a string")
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        got = "missing" if "arguments" not in function else kind(arguments)
        raise fail(f"{where}.function.arguments", f"{got}; vLLM takes JSON text")


def check_part_types(content: Any, where: str, fail: Fail) -> None:
    """After validation, the parser's own refusals (``parse_chat_message_content_part``)."""
    if not isinstance(content, list):
        return
    for k, part in enumerate(content):
        part_type = part.get("type")
        if part_type in TEXT_PARTS or part_type == "tool_reference":
            continue
        if part_type in MEDIA_PARTS:
            raise fail(f"{where}[{k}].type", f"{part_type!r} needs a multimodal model; a Llama 3 text "
                                             "model is not one")
        raise fail(f"{where}[{k}].type", f"unsupported chat content part type {part_type!r}")
