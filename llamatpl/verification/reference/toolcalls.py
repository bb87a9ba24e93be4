"""How a tool call is written in the prompt, per dialect: JSON objects, built-in calls, pythonic lists."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .dialects import Dialect

BUILTIN_TOOLS = ("brave_search", "wolfram_alpha", "photogen", "code_interpreter")


def arguments_of(call: Mapping[str, Any]) -> Any:
    """A call's arguments as a value: JSON text (the OpenAI wire format) is parsed."""
    arguments = call["function"].get("arguments", {})
    return json.loads(arguments) if isinstance(arguments, str) else arguments


def arguments_text(call: Mapping[str, Any]) -> str:
    """A call's arguments as JSON text: text given by the client is written as given, never encoded again."""
    arguments = call["function"].get("arguments", {})
    return arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)


def json_call(name: str, call: Mapping[str, Any], dialect: Dialect) -> str:
    if dialect.tool_call_format == "meta":  # ToolUtils.encode_tool_call: json.dumps with its defaults
        return json.dumps({"type": "function", "name": name, "parameters": arguments_of(call)})
    if dialect.tool_call_format == "function_tag":  # ToolUtils.encode_tool_call, function_tag
        return f"<function={name}>{json.dumps(arguments_of(call))}</function>"
    return '{"name": "' + name + '", "parameters": ' + arguments_text(call) + "}"


def python_value(value: Any) -> str:
    """A JSON value as Python source (``True``, ``None``, quoted strings), as a pythonic call holds it."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(python_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)}: {python_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as a pythonic argument")


def pythonic_calls(calls: list[tuple[str, Mapping[str, Any]]]) -> str:
    return "[" + ", ".join(f"{name}(" + ", ".join(f"{k}={python_value(v)}" for k, v in args.items()) + ")"
                           for name, args in calls) + "]"


def builtin_call(name: str, arguments: Mapping[str, Any], dialect: Dialect) -> str:
    """``brave_search.call(query="...")``; code_interpreter is the code itself unless the dialect says not."""
    if name == "code_interpreter" and dialect.code_interpreter == "code":
        return str(arguments.get("code", ""))
    return f"{name}.call(" + ", ".join(f'{k}="{v}"' for k, v in arguments.items()) + ")"


def is_builtin_call(name: str, builtin_tools: list[str] | None) -> bool:
    return builtin_tools is not None and name in builtin_tools
