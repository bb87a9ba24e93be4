"""Caps probes: one capability at a time, in several input shapes, with marker strings nothing else writes.

A capability counts when any reasonable shape shows it: an assistant call's ``content`` null, empty
or missing; its arguments an object or JSON text; a tool result as text or as an object; with and
without the tool's ``name`` on the result; with and without tool definitions. Each marker occurs in
exactly one place of the conversation (call ids are 10 characters: Mistral's
templates require at least 9) and never in the user's text, so a template that drops the
call cannot pass by echoing the question.
"""

from __future__ import annotations

from itertools import product
from typing import Any

FUNCTION = "mk_lookup_fn"
DESCRIPTION = "mk tool description 4417"
SYSTEM = "mk system marker 3301"
CALL_VALUE, SECOND_VALUE = "mk_value_7719", "mk_value_8823"
RESULT = "mk result 5521"
_USER = {"role": "user", "content": "Please help."}
_TOOL = {"type": "function", "function": {
    "name": FUNCTION, "description": DESCRIPTION,
    "parameters": {"type": "object", "properties": {"key": {"type": "string"}}, "required": ["key"]}}}
_CONTENTS: dict[str, Any] = {"content-missing": ..., "content-null": None, "content-empty": ""}


def _assistant(content: Any, calls: list[dict[str, Any]]) -> dict[str, Any]:
    turn: dict[str, Any] = {"role": "assistant", "tool_calls": calls}
    if content is not ...:
        turn["content"] = content
    return turn


def _answer(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "name": FUNCTION, "content": "done"}


def _call(value: str, as_text: bool, call_id: str) -> dict[str, Any]:
    arguments: Any = {"key": value}
    if as_text:
        arguments = '{"key": "' + value + '"}'
    return {"id": call_id, "type": "function", "function": {"name": FUNCTION, "arguments": arguments}}


def _shapes() -> dict[str, dict[str, Any]]:
    shapes: dict[str, dict[str, Any]] = {
        "caps-system": {"messages": [{"role": "system", "content": SYSTEM}, _USER]},
        # transformers passes tools=None when none are given; some templates only work with tools
        "caps-system-with-tools": {"tools": [_TOOL], "messages": [{"role": "system", "content": SYSTEM}, _USER]},
        "caps-tools": {"tools": [_TOOL], "messages": [_USER]},
        "caps-tools-with-system": {"tools": [_TOOL], "messages": [{"role": "system", "content": "Be brief."}, _USER]},
    }
    for (content_name, content), as_text, with_tools in product(_CONTENTS.items(), (False, True), (True, False)):
        key = f"{content_name}-{'text' if as_text else 'object'}-args{'' if with_tools else '-no-tools'}"
        tools = {"tools": [_TOOL]} if with_tools else {}
        # each call is answered, so the call is not the last turn (an engine may take that as a prefill)
        shapes[f"caps-call-{key}"] = {**tools, "messages": [
            _USER, _assistant(content, [_call(CALL_VALUE, as_text, "callmk0001")]), _answer("callmk0001")]}
        shapes[f"caps-parallel-{key}"] = {**tools, "messages": [
            _USER, _assistant(content, [_call(CALL_VALUE, as_text, "callmk0001"), _call(SECOND_VALUE, as_text, "callmk0002")]),
            _answer("callmk0001"), _answer("callmk0002")]}
    for (result_name, result), named, with_tools, call_content in product(
            {"text": RESULT, "object": {"answer": RESULT}}.items(), (True, False), (True, False), (None, "")):
        tool_turn: dict[str, Any] = {"role": "tool", "tool_call_id": "callmk0001", "content": result}
        if named:
            tool_turn["name"] = FUNCTION
        tools = {"tools": [_TOOL]} if with_tools else {}
        key = f"{result_name}{'-named' if named else ''}{'' if with_tools else '-no-tools'}"
        key += "-call-content-empty" if call_content == "" else ""
        shapes[f"caps-result-{key}"] = {
            **tools, "messages": [_USER, _assistant(call_content, [_call(CALL_VALUE, False, "callmk0001")]), tool_turn]}
        if named and with_tools and call_content == "":  # templates that concatenate arguments need JSON text
            shapes[f"caps-result-{key}-text-args"] = {
                **tools, "messages": [_USER, _assistant("", [_call(CALL_VALUE, True, "callmk0001")]), tool_turn]}
    return shapes


CAPS_PROBES: dict[str, dict[str, Any]] = _shapes()


def shapes_of(prefix: str) -> list[str]:
    """The caps probes of one capability (``caps-call-``, ``caps-parallel-``, ...), in order."""
    return [name for name in CAPS_PROBES if name.startswith(prefix)]
