"""Meta's Llama 3.x prompt format as labelled pieces, for one conversation and version.

The rules (``docs/reference.md`` gives the sources):

* BOS; then each message as header (``tool`` becomes ``ipython``), content (3.0: stripped, as
  meta-llama/llama3's ``ChatFormat.encode_message`` does; 3.1 and later: verbatim, as llama-models'
  does; special-token text stays text), and ``<|eot_id|>`` (``<|eom_id|>`` after a built-in
  tool call); then the assistant header when a generation prompt is asked for, or the last message
  left open for ``continue_final_message``.
* 3.1 and later: a system message always comes first, holding ``Environment: ipython`` when tools
  are present, (3.1) a ``Tools:`` line for built-ins other than code_interpreter, the knowledge-date
  lines, tool definitions when they go in the system message, and the user's system message.
  Tool definitions otherwise go, with instructions, into the first user message.
* 3.2-vision: that system message is left out when images are present and the user gave none;
  image parts are ``<|image|>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

from ...rendering.conversation import Conversation
from ...versions import normalize_version
from .dialects import Dialect, get_dialect
from .pieces import Expected
from .toolcalls import arguments_of, builtin_call, is_builtin_call, json_call, pythonic_calls

DEFAULT_31_DATE = "26 Jul 2024"


def encode(conversation: Conversation, *, version: str, dialect: str | Dialect = "official",
           today: date | None = None) -> Expected:
    """The reference prompt for ``conversation`` under Llama ``version`` as labelled pieces."""
    v = normalize_version(version)
    d = get_dialect(dialect)
    out = Expected()
    out.special("<|begin_of_text|>", "bos")
    messages = [dict(m) for m in conversation.messages]
    variables = conversation.variables
    tools = variables.get("custom_tools", conversation.tools)
    tools = tools or None  # an empty list means no tools
    builtins = variables.get("builtin_tools") if v == "3.1" else None
    first = 0
    tools_at = None  # the message that carries the tool definitions, when they go into a user message
    if v != "3.0":
        first = _system_block(out, conversation, messages, v, d, tools, builtins, today)
        if tools is not None and variables.get("tools_in_user_message", d.tools_default == "user"):
            tools_at = next((i for i in range(first, len(messages)) if messages[i].get("role") == "user"), None)
    last = len(messages) - 1
    for index in range(first, len(messages)):
        open_end = bool(conversation.continue_final_message) and index == last
        if index == tools_at:
            _tools_in_user_message(out, messages[index], index, d, tools or [], open_end=open_end)
        else:
            _message(out, messages[index], index, v, d, builtins, open_end=open_end)
    if conversation.add_generation_prompt and not conversation.continue_final_message:
        out.header("assistant", "generation-prompt")
    return out


def _text_of(content: Any) -> str:
    """Plain content: a string, or the text parts of a list, joined; missing or null is empty."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return str(content)


def _is_parts(content: Any) -> bool:
    """A non-empty list of content parts (objects with a "type"), as OpenAI clients send them."""
    return isinstance(content, list) and bool(content) and all(isinstance(p, Mapping) and "type" in p for p in content)


def _has_images(messages: list[dict[str, Any]]) -> bool:
    return any(isinstance(m.get("content"), list) and any(isinstance(p, Mapping) and p.get("type") == "image"
                                                          for p in m["content"]) for m in messages)


def _system_block(out: Expected, conversation: Conversation, messages: list[dict[str, Any]], v: str,
                  d: Dialect, tools: list[Any] | None, builtins: list[str] | None, today: date | None) -> int:
    """Write the system message the 3.1+ formats always start with; return the first unused message."""
    has_system = bool(messages) and messages[0].get("role") == "system"
    if has_system:
        system_text = _text_of(messages[0].get("content"))
    elif tools is not None or builtins is not None:
        system_text = d.default_system_with_tools or d.default_system
    else:
        system_text = d.default_system
    if v == "3.2-vision" and not has_system and _has_images(messages):
        return 0
    system_text = trimmed(system_text, "system", v, d)
    variables = conversation.variables
    block = ""
    if tools is not None or builtins is not None:
        block += "Environment: ipython\n"
    shown = [t for t in builtins or [] if t != "code_interpreter"]
    if shown:  # code_interpreter needs no Tools: line (Environment: ipython turns it on)
        block += "Tools: " + ", ".join(shown) + "\n\n"
    date_string = variables.get("date_string")
    if date_string is None:
        date_string = DEFAULT_31_DATE if v == "3.1" else (today or date.today()).strftime("%d %b %Y")
    if d.date_lines:
        block += f"Cutting Knowledge Date: December 2023\nToday Date: {date_string}\n\n"
    if tools is not None and not variables.get("tools_in_user_message", d.tools_default == "user"):
        block += d.system_tool_preamble + _definitions(tools, d)
    if not block and not has_system and not system_text:
        return 0  # Meta's docs without date lines: no system message of their own
    out.header("system", message=0 if has_system else None)
    out.text(block, "system-block")
    out.text(system_text, "content", message=0 if has_system else None, content=system_text, same_unit=True)
    out.special("<|eot_id|>", "end-token", 0 if has_system else None)
    return 1 if has_system else 0


def trimmed(text: str, kind: str, version: str, d: Dialect) -> str:
    """Content as the dialect's reference writes it: stripped or verbatim (see ``Dialect.content_trim``).

    ``kind`` is the message's role, or ``tools-user`` for the user message that carries the tools."""
    rule = d.content_trim if d.content_trim != "version" else ("all" if version == "3.0" else "verbatim")
    return text.strip() if rule == "all" or (rule == "system" and kind in ("system", "tools-user")) else text


def _definitions(tools: list[Any], d: Dialect) -> str:
    if d.tool_definitions == "array":
        functions = [t["function"] if isinstance(t, Mapping) and "function" in t else t for t in tools]
        return json.dumps(functions, indent=4, ensure_ascii=False) + "\n\n"
    return "".join(json.dumps(t, indent=4, ensure_ascii=False) + "\n\n" for t in tools)


def _tools_in_user_message(out: Expected, message: dict[str, Any], index: int, d: Dialect, tools: list[Any], *,
                           open_end: bool) -> None:
    """The first user message, with the tool definitions and instructions before its content."""
    content = _text_of(message.get("content"))
    text = trimmed(content, "tools-user", "3.1", d)
    out.header("user", message=index)
    out.text(d.user_tool_preamble + _definitions(tools, d), "system-block")
    out.text(text, "content", message=index, content=content, same_unit=True)
    if not open_end:
        out.special("<|eot_id|>", "end-token", index)


def _message(out: Expected, message: dict[str, Any], index: int, v: str, d: Dialect,
             builtins: list[str] | None, *, open_end: bool) -> None:
    role = message.get("role", "user")
    calls = message.get("tool_calls") or []
    if role in ("tool", "ipython"):
        out.header("ipython", message=index)
        content = message.get("content")
        if isinstance(content, str) and d.string_tool_output == "verbatim":
            text = content
        elif _is_parts(content):
            text = _text_of(content)
        else:
            text = json.dumps(content, ensure_ascii=False)
        out.text(text, "tool-output", message=index, content=text)
    elif calls:
        out.header("assistant", message=index)
        eom = _tool_calls(out, calls, index, d, builtins)
        if not open_end:
            out.special("<|eom_id|>" if eom else "<|eot_id|>", "end-token", index)
        return
    else:
        out.header(role, message=index)
        content = message.get("content")
        if v == "3.2-vision" and isinstance(content, list):
            for part in content:
                if isinstance(part, Mapping) and part.get("type") == "image":
                    out.special("<|image|>", "content", index)
                elif isinstance(part, Mapping) and part.get("type") == "text":
                    out.text(part.get("text", ""), "content", message=index, content=part.get("text", ""))
        else:
            text = _text_of(content)
            out.text(trimmed(text, role, v, d), "content", message=index, content=text)
    if not open_end:
        out.special("<|eot_id|>", "end-token", index)


def _tool_calls(out: Expected, calls: list[Any], index: int, d: Dialect, builtins: list[str] | None) -> bool:
    """Write an assistant turn's tool calls; return whether it ends in ``<|eom_id|>``."""
    names = [c["function"]["name"] for c in calls]
    if is_builtin_call(names[0], builtins):  # a turn that starts with a built-in is that built-in call
        if d.python_tag == "builtins" or names[0] == "code_interpreter":
            out.special("<|python_tag|>", "tool-call", index)
        out.text(builtin_call(names[0], arguments_of(calls[0]), d), "tool-call", message=index)
        return True
    as_text = any(isinstance(c["function"].get("arguments"), str) for c in calls)
    if d.tool_call_format == "pythonic" and not as_text:  # JSON text cannot become Python without parsing
        out.text(pythonic_calls([(n, c["function"]["arguments"]) for n, c in zip(names, calls)]), "tool-call",
                 message=index)
    else:
        out.text(d.call_separator.join(json_call(n, c, d) for n, c in zip(names, calls)), "tool-call", message=index)
    return d.custom_call_end == "eom"
