"""Read what a Llama model emits back into OpenAI-style tool calls.

Understands the formats the templates teach: Llama 3.1 JSON objects (``{"name": ..., "parameters":
...}``, with ``"arguments"`` or Meta's ``"type": "function"`` too), with or without
``<|python_tag|>``, several joined by ``;``; 3.1 built-in calls (``brave_search.call(query="...")``,
and code after ``<|python_tag|>`` for the code interpreter); and 3.2 pythonic lists
(``[f(a=1), g(b="x")]``). Python is parsed with :mod:`ast`, never evaluated.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from ..errors import LlamatplError
from ..versions import normalize_version

_TAG = "<|python_tag|>"
_ENDS = ("<|eom_id|>", "<|eot_id|>")
_BUILTIN = re.compile(r"^(brave_search|wolfram_alpha|photogen|code_interpreter)\.call\((.*)\)$", re.S)
_KEYWORD = re.compile(r'(\w+)="(.*?)"(?:,\s*|$)', re.S)


class ToolCallParseError(LlamatplError):
    """The text is not a tool call in any format the version's templates teach."""


def parse_tool_calls(text: str, *, version: str = "3.1") -> list[dict[str, Any]]:
    """Parse model output into ``[{"id", "type": "function", "function": {"name", "arguments"}}]``.

    ``arguments`` is JSON text, as OpenAI's API sends it. Raises :class:`ToolCallParseError` (one
    line, naming why) for text that is not a call.
    """
    v = normalize_version(version)
    body = text.strip()
    for end in _ENDS:
        body = body.removesuffix(end)
    tagged = body.startswith(_TAG)
    body = body.removeprefix(_TAG).strip()
    if not body:
        raise ToolCallParseError("not a tool call: the text is empty")
    if body.startswith("["):
        calls = _pythonic(body)
    elif body.startswith("{"):
        calls = _json_objects(body)
    elif (match := _BUILTIN.match(body)) is not None:
        calls = [(match.group(1), _builtin_arguments(match.group(2)))]
    elif tagged and v == "3.1":
        calls = [("code_interpreter", {"code": body})]
    else:
        raise ToolCallParseError(f"not a tool call: {body[:40]!r} is neither JSON, a built-in call nor a pythonic list")
    return [{"id": f"call_{i}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}
            for i, (name, arguments) in enumerate(calls)]


def _json_objects(body: str) -> list[tuple[str, Any]]:
    decoder = json.JSONDecoder()
    calls, at = [], 0
    while at < len(body):
        try:
            obj, at = decoder.raw_decode(body, at)
        except json.JSONDecodeError as exc:
            raise ToolCallParseError(f"not a tool call: invalid JSON at character {exc.pos}: {exc.msg}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            raise ToolCallParseError("not a tool call: a JSON call needs a \"name\"")
        arguments = obj.get("parameters", obj.get("arguments", {}))
        if isinstance(arguments, str):  # the "array in quotes" answer: JSON text inside the JSON
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                raise ToolCallParseError(f"not a tool call: the parameters of {obj['name']} are not JSON") from None
        calls.append((obj["name"], arguments))
        while at < len(body) and (body[at].isspace() or body[at] == ";"):
            at += 1
    return calls


def _builtin_arguments(inner: str) -> dict[str, Any]:
    try:
        call = ast.parse(f"f({inner})", mode="eval").body
        assert isinstance(call, ast.Call) and not call.args
        return {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
    except (SyntaxError, ValueError, AssertionError):
        # the official templates do not escape quotes: fall back to key="value" pairs
        pairs = _KEYWORD.findall(inner)
        if not pairs:
            raise ToolCallParseError(f"not a tool call: cannot read the arguments {inner[:40]!r}") from None
        return dict(pairs)


def _pythonic(body: str) -> list[tuple[str, Any]]:
    try:
        tree = ast.parse(body, mode="eval").body
    except SyntaxError as exc:
        raise ToolCallParseError(f"not a tool call: invalid pythonic list ({exc.msg})") from None
    if not isinstance(tree, ast.List) or not tree.elts:
        raise ToolCallParseError("not a tool call: expected a non-empty list of calls [f(a=1), ...]")
    calls = []
    for element in tree.elts:
        if not isinstance(element, ast.Call) or not isinstance(element.func, ast.Name) or element.args:
            raise ToolCallParseError("not a tool call: each list item must be name(key=value, ...)")
        try:
            arguments = {k.arg: ast.literal_eval(k.value) for k in element.keywords if k.arg}
        except ValueError:
            raise ToolCallParseError(f"not a tool call: an argument of {element.func.id} is not a literal") from None
        calls.append((element.func.id, arguments))
    return calls
