"""The strict reading: Meta's reference decoder, reimplemented.

The reference is ``llama_models/llama3/chat_format.py:ChatFormat.decode_assistant_message_from_content``
with ``llama_models/llama3/tool_utils.py:ToolUtils`` (llama-models 0.3.0), shared by Llama 3.1, 3.2
and 3.3. It tries, in this order: a ``<function=NAME>{...}`` tag anywhere in the text; the whole
text as a JSON object with ``"name"`` (or ``"type": "function"``) and ``"parameters"``; the whole
text as a pythonic list ``[f(k=v), ...]``; a built-in ``name.call(query="...")`` anywhere; and, after
``<|python_tag|>``, the rest as ``code_interpreter`` code. A custom call named like a built-in tool
keeps only its first argument value, as ``query``. Where the decoder raises (a JSON call without
``"parameters"``, an argument value pydantic's ``RecursiveType`` refuses) the output is refused.

llamatpl departs from it on the points ``docs/parse.md`` lists, each marked ``departure`` below.
"""

from __future__ import annotations

import ast
import bisect
import json
import re
from typing import Any

from .reading import Call, Reading, ToolCallParseError, is_json_value

_HEADER = "<|start_header_id|>assistant<|end_header_id|>\n\n"
_TAG = "<|python_tag|>"
_ENDS = ("<|eot_id|>", "<|eom_id|>")
_BUILTINS = ("brave_search", "wolfram_alpha", "photogen", "code_interpreter")
_BUILTIN_CALL = re.compile(r'\b(?P<name>\w+)\.call\(query="(?P<query>[^"]*)"\)')


def read_strict(text: str) -> Reading:
    """Read ``text`` as Meta's decoder does, with llamatpl's listed departures."""
    content = text.strip(" ").removeprefix(_HEADER)
    tagged = content.startswith(_TAG)
    content = content.removeprefix(_TAG)
    for end in _ENDS:
        if content.endswith(end):
            content = content[: -len(end)]
            break
    calls = _custom_calls(content)
    if calls is None:
        calls = _builtin_call(content, tagged)
    if calls is None and tagged:
        calls = [Call("code_interpreter", {"code": content})]
    if not calls:
        return Reading(content=content)
    return Reading(calls=tuple(calls), content=None)


def _custom_calls(content: str) -> list[Call] | None:
    if "<function=" in content and _FunctionTags(content).next_from(0) is not None:
        return _function_tags(content)
    try:
        whole = json.loads(content)
    except json.JSONDecodeError:
        whole = None
    except RecursionError:
        raise ToolCallParseError("refused: the JSON is nested too deeply to read") from None
    if isinstance(whole, dict):
        if whole.get("type") != "function" and "name" not in whole:
            return None
        if "name" not in whole or "parameters" not in whole:
            missing = "name" if "name" not in whole else "parameters"
            raise ToolCallParseError(f"refused: the JSON call has no \"{missing}\" (Meta's decoder raises)")
        call = _custom(whole["name"], whole["parameters"])
        return [call] if call is not None else []  # a call with null parameters: none, and no fallback
    listed = _pythonic_list(content)
    if listed is None:
        return None
    calls = [_custom(name, arguments) for name, arguments in listed]  # departure: every call, not the first
    return [call for call in calls if call is not None]


def _function_tags(content: str) -> list[Call] | None:
    """Every ``<function=NAME>{...}`` tag in order (departure: Meta reads the first, up to its first
    ``}`` on one line, with every ``'`` turned into ``"``; llamatpl reads whole JSON values, over
    lines, and turns quotes only when the JSON does not read as written)."""
    calls: list[Call] = []
    decoder = json.JSONDecoder()
    tags = _FunctionTags(content)
    at = 0
    while (tag := tags.next_from(at)) is not None:
        name, start = tag
        try:
            arguments, at = decoder.raw_decode(content, start)
        except json.JSONDecodeError:
            try:
                arguments, at = decoder.raw_decode(content.replace("'", '"'), start)
            except json.JSONDecodeError:
                break
        except RecursionError:
            raise ToolCallParseError("refused: the JSON is nested too deeply to read") from None
        call = _custom(name, arguments)
        if call is None:
            break
        calls.append(call)
    return calls or None


class _FunctionTags:
    """Where Meta's ``<function=(?P<name>[^}]+)>{`` matches, found without a regex: the name runs
    to the last ``>{`` before the first ``}``. Linear in the text, where the regex is quadratic on
    text with many unclosed tags."""

    def __init__(self, content: str) -> None:
        self.content = content
        self.opens = [m.start() for m in re.finditer(r">\{", content)]
        self.close = -1

    def next_from(self, at: int) -> tuple[str, int] | None:
        content = self.content
        while (start := content.find("<function=", at)) != -1:
            name_start = start + len("<function=")
            if self.close < name_start:
                self.close = content.find("}", name_start)
                if self.close == -1:
                    self.close = len(content)
            i = bisect.bisect_left(self.opens, self.close) - 1  # the last ">{" before the "}"
            if i >= 0 and self.opens[i] > name_start:
                return content[name_start: self.opens[i]], self.opens[i] + 1
            at = start + 1
        return None


def _custom(name: Any, arguments: Any) -> Call | None:
    if not isinstance(name, str):
        raise ToolCallParseError(f"refused: the tool name {json.dumps(name)} is not a string")
    if arguments is None and name not in _BUILTINS:
        return None  # Meta's decoder makes no call of it: the text stays content
    if isinstance(arguments, str) and name not in _BUILTINS:
        return Call(name, arguments)  # Meta keeps it; parser.py refuses it (a departure)
    if not isinstance(arguments, dict):
        raise ToolCallParseError(f"refused: the parameters of {name} are not an object (Meta's decoder raises)")
    arguments = {key: _literal(value, f"{name}: {key}") for key, value in arguments.items()}
    if name in _BUILTINS:  # a built-in called the custom way keeps its first value, as the query
        if not arguments:
            raise ToolCallParseError(f"refused: the built-in call {name} has no argument (Meta's decoder raises)")
        arguments = {"query": next(iter(arguments.values()))}
    return Call(name, arguments)


def _literal(value: Any, where: str) -> Any:
    """A decoded argument value as pydantic's lax mode leaves it for Meta's ``ToolCall``: tuples and
    sets become lists, bytes become text (departure: any depth of nesting is kept)."""
    if isinstance(value, (tuple, set, frozenset, list)):
        return [_literal(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _literal(v, where) for k, v in value.items()} if all(
            isinstance(k, str) for k in value) else _refuse(where, "has a key that is not a string")
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(where, "is bytes that are not UTF-8")
    if not is_json_value(value):
        return _refuse(where, f"is {type(value).__name__} {value!r}, which JSON cannot hold")
    return value


def _refuse(where: str, why: str) -> Any:
    raise ToolCallParseError(f"refused: the argument {where} {why}")


def _pythonic_list(content: str) -> list[tuple[str, dict[str, Any]]] | None:
    """``[f(k=v), ...]`` when the whole text is one (Meta's ``is_valid_python_list``), else None."""
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError):
        return None
    except (RecursionError, MemoryError):
        raise ToolCallParseError("refused: the text is nested too deeply to read as Python") from None
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return None
    listed = tree.body[0].value
    if not isinstance(listed, ast.List) or not listed.elts:
        return None
    if not all(isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and not e.args for e in listed.elts):
        return None
    calls = []
    for element in listed.elts:
        assert isinstance(element, ast.Call) and isinstance(element.func, ast.Name)
        arguments = {}
        for keyword in element.keywords:
            if keyword.arg is None:
                raise ToolCallParseError(f"refused: {element.func.id}(**...) has no argument name")
            try:
                arguments[keyword.arg] = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise ToolCallParseError(
                    f"refused: the argument {element.func.id}: {keyword.arg} is not a literal") from None
        calls.append((element.func.id, arguments))
    return calls


def _builtin_call(content: str, tagged: bool) -> list[Call] | None:
    match = _BUILTIN_CALL.search(content)
    if match is None:
        return None
    if not tagged and content[: match.start()].strip():  # departure: no call inside prose
        return None
    return [Call(match.group("name"), {"query": match.group("query")})]
