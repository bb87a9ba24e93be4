"""vLLM's reading: its ``llama3_json``, ``pythonic`` and ``llama4_pythonic`` tool parsers (vLLM 0.33.0).

Reimplemented from ``vllm/tool_parsers/llama_tool_parser.py:Llama3JsonToolParser.extract_tool_calls``,
``vllm/tool_parsers/pythonic_tool_parser.py:PythonicToolParser.extract_tool_calls``,
``vllm/tool_parsers/llama4_pythonic_tool_parser.py:Llama4PythonicToolParser.extract_tool_calls`` and
``vllm/tool_parsers/utils.py:handle_single_tool`` / ``get_parameter_value`` (the non-streaming path a
server takes for a finished response). Their quirks are kept on purpose:

* ``llama3_json`` tries every ``{`` outside an object already read; one that does not start a JSON
  object with ``"name"`` and ``"arguments"``/``"parameters"`` turns the whole output into content;
  text around the calls is dropped; arguments may be any JSON value.
* the pythonic parsers need the text to start with ``[`` and a call; they read only the first
  statement; JSON's ``true``/``false``/``null`` are accepted as names; one argument that is not a
  literal turns the whole output into content.

vLLM detokenizes with ``skip_special_tokens=True`` unless the request says otherwise
(``vllm/entrypoints/openai/chat_completion/protocol.py:ChatCompletionRequest.to_sampling_params``),
so its parser usually never sees ``<|python_tag|>``: :func:`drop_special_tokens` models that.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from .reading import Call, Reading

PARSERS = ("llama3_json", "pythonic", "llama4_pythonic")
DEFAULT_PARSER = {"3.1": "llama3_json", "3.2": "pythonic", "3.2-vision": "pythonic"}

_NAME = r"[a-zA-Z]\w*"
# The language vLLM's TOOL_CALL_REGEX accepts at the start of the text (its `.*` parts may swallow
# later calls, so it reduces to this): `[`, argument-less calls, then one call whose arguments, if
# any, start with `name=`, then `)`, blanks and `]`.
_PYTHONIC_START = re.compile(
    rf"\[(?:{_NAME}\(\),\s*)*(?:{_NAME}\(\)\s*)*{_NAME}\((?:{_NAME}=.*)?\)\s*\]", re.DOTALL)
_JSON_NAMES = {"null": None, "true": True, "false": False}


class _NotACall(Exception):
    """The text, or one of its calls, is not what the parser reads: the whole output is content."""


def read_vllm(text: str, parser: str) -> Reading:
    """Read ``text`` as vLLM 0.33.0's parser ``parser`` does when handed exactly this text."""
    if parser == "llama3_json":
        return _llama3_json(text)
    if parser == "llama4_pythonic" and text.startswith("<|python_start|>"):
        text = text.removeprefix("<|python_start|>").replace("<|python_end|>", "")
    return _pythonic(text)


def drop_special_tokens(text: str, special: dict[str, int]) -> str:
    """The text a server decodes with ``skip_special_tokens=True``: special-token text removed."""
    names = sorted((t for t in special if t in text), key=len, reverse=True)
    return re.sub("|".join(map(re.escape, names)), "", text) if names else text


def _llama3_json(text: str) -> Reading:
    decoder = json.JSONDecoder()
    calls: list[Call] = []
    read_up_to = -1  # index just past the last object read; a brace at or before it is skipped
    at = text.find("{")
    while at != -1:
        if at > read_up_to:
            try:
                obj, read_up_to = decoder.raw_decode(text, at)  # vLLM slices; an index reads the same
            except (ValueError, RecursionError):
                return Reading(content=text)
            if "name" not in obj or ("arguments" not in obj and "parameters" not in obj):
                return Reading(content=text)
            if not isinstance(obj["name"], str):
                return Reading(content=text)
            calls.append(Call(obj["name"], obj["arguments"] if "arguments" in obj else obj["parameters"]))
        at = text.find("{", at + 1)
    return Reading(calls=tuple(calls)) if calls else Reading(content=text)


def _pythonic(text: str) -> Reading:
    if _PYTHONIC_START.match(text) is None:
        return Reading(content=text)
    try:
        module = ast.parse(text)
        listed = getattr(module.body[0], "value", None)
        if not isinstance(listed, ast.List) or not all(isinstance(e, ast.Call) for e in listed.elts):
            raise _NotACall
        calls = tuple(_one_call(e) for e in listed.elts if isinstance(e, ast.Call))
        for call in calls:
            json.dumps(call.arguments)  # vLLM serializes here: what json cannot write sinks the output
    except (_NotACall, SyntaxError, ValueError, TypeError, IndexError, RecursionError, MemoryError):
        return Reading(content=text)
    return Reading(calls=calls)


def _one_call(node: ast.Call) -> Call:
    parts = []
    func: ast.expr = node.func
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        raise _NotACall
    parts.append(func.id)
    return Call(".".join(reversed(parts)), {k.arg: _value(k.value) for k in node.keywords})  # type: ignore[misc]


def _value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        if node.value is None or isinstance(node.value, (str, int, float)):
            return node.value
        raise _NotACall
    if isinstance(node, ast.Dict):
        if not all(isinstance(k, ast.Constant) for k in node.keys):
            raise _NotACall
        return {k.value: _value(v) for k, v in zip(node.keys, node.values)}  # type: ignore[union-attr]
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [_value(v) for v in node.elts]
    if isinstance(node, ast.JoinedStr) and all(isinstance(p, ast.Constant) for p in node.values):
        return "".join(str(p.value) for p in node.values if isinstance(p, ast.Constant))
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand)
        if isinstance(operand, (int, float)) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    raise _NotACall
