"""Each call checked against its tool's JSON schema (which neither Meta's decoder nor vLLM does).

Validation is ``jsonschema``'s (the validator class the schema's ``$schema`` names, Draft 2020-12 by
default). Five kinds of problem are reported, each at a JSON path inside the call's arguments:
``unknown-tool``, ``required``, ``type``, ``enum`` and ``stringified``: a string holding JSON of the
type the schema wants there (the seed's "array in quotes"), reported with the decoded value, which
:func:`check_calls` also writes into the repaired arguments it returns.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, LlamatplError
from .reading import Call

KINDS = ("stringified", "type", "required", "enum", "unknown-tool")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ABSENT = object()


@dataclass(frozen=True)
class Problem:
    """One finding about one call: ``decoded`` is set for ``stringified`` only."""

    call: int
    path: str
    kind: str
    message: str
    decoded: Any = field(default=_ABSENT)

    def as_dict(self) -> dict[str, Any]:
        out = {"call": self.call, "path": self.path, "kind": self.kind, "message": self.message}
        if self.decoded is not _ABSENT:
            out["decoded"] = self.decoded
        return out


def json_path(parts: Any) -> str:
    """``$.filters.tags[0]``; keys that are not identifiers as ``$['a b']``."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.match(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def tool_schemas(tools: Any, where: str = "tools") -> dict[str, dict[str, Any]]:
    """``{name: parameters schema}`` from an OpenAI ``tools`` list (``{"type": "function",
    "function": {...}}`` or the bare function objects). Bad entries raise :class:`InputError`."""
    try:
        from jsonschema import SchemaError  # type: ignore[import-untyped]
        from jsonschema.validators import validator_for  # type: ignore[import-untyped]
    except ImportError:
        raise LlamatplError("checking calls against schemas needs jsonschema: pip install 'llamatpl[schema]'") from None

    if not isinstance(tools, list):
        raise InputError(f"{where}: expected a list of tools")
    schemas: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(tools):
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InputError(f"{where}[{i}]: expected {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}")
        schema = function.get("parameters", {"type": "object"})
        place = f"{where}[{i}]{'.function' if function is not tool else ''}.parameters"
        if not isinstance(schema, (dict, bool)):
            raise InputError(f"{place}: a JSON schema must be an object")
        try:
            validator_for(schema).check_schema(schema)
        except SchemaError as exc:
            raise InputError(f"{place}: not a valid JSON schema: {exc.message}") from None
        schemas[function["name"]] = schema  # type: ignore[assignment]
    return schemas


def check_calls(calls: Any, tools: Any) -> tuple[list[Problem], list[Any]]:
    """Check each call against its tool's schema. Returns the problems and the calls with every
    stringified value replaced by its decoded value (the same calls when nothing was stringified).

    ``calls`` are OpenAI tool calls (``{"function": {"name", "arguments"}}``, arguments as JSON text
    or an object; repaired calls come back in that form) or :class:`Call` objects. ``tools`` is an
    OpenAI tools list or the mapping :func:`tool_schemas` returns."""
    if calls and not isinstance(calls[0], Call):
        problems, fixed = check_calls([_from_openai(c, i) for i, c in enumerate(calls)], tools)
        return problems, [_to_openai(c, fixed_call) for c, fixed_call in zip(calls, fixed)]
    schemas = tools if isinstance(tools, dict) else tool_schemas(tools)
    problems = []
    repaired: list[Call] = []
    for index, call in enumerate(calls):
        schema = schemas.get(call.name)
        if schema is None:
            known = ", ".join(sorted(schemas)) or "none"
            problems.append(Problem(index, "$", "unknown-tool", f"no tool named {call.name!r} (tools: {known})"))
            repaired.append(call)
            continue
        found, arguments = _check_one(index, call.arguments, schema)
        problems.extend(found)
        repaired.append(Call(call.name, arguments))
    return problems, repaired


def _from_openai(call: Any, index: int) -> Call:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise InputError(f"calls[{index}]: expected {{\"function\": {{\"name\": ..., \"arguments\": ...}}}}")
    arguments = function.get("arguments", {})
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise InputError(f"calls[{index}].function.arguments: not valid JSON") from None
    return Call(function["name"], arguments)


def _to_openai(original: dict[str, Any], call: Call) -> dict[str, Any]:
    arguments = original["function"].get("arguments")
    written = json.dumps(call.arguments, ensure_ascii=False) if isinstance(arguments, str) else call.arguments
    return {**original, "function": {**original["function"], "arguments": written}}


def _check_one(index: int, arguments: Any, schema: Any) -> tuple[list[Problem], Any]:
    from jsonschema.validators import validator_for  # type: ignore[import-untyped]

    validator = validator_for(schema)(schema)
    arguments = copy.deepcopy(arguments)
    problems: list[Problem] = []
    for _ in range(1000):  # each round decodes at least one value; the bound only guards a cycle
        errors = sorted(validator.iter_errors(arguments), key=lambda e: list(map(str, e.absolute_path)))
        stringified = next((e for e in errors if _decodes(e, validator) is not _ABSENT), None)
        if stringified is None:
            break
        decoded = _decodes(stringified, validator)
        path = list(stringified.absolute_path)
        problems.append(Problem(index, json_path(path), "stringified",
                                f"{_kind_of(decoded)} given as a string; the schema wants {_wanted(stringified)}", decoded))
        arguments = _replace(arguments, path, decoded)
    seen: set[tuple[str, str, str]] = set()
    for error in errors:
        for problem in _problems(index, error):
            if (problem.path, problem.kind, problem.message) not in seen:
                seen.add((problem.path, problem.kind, problem.message))
                problems.append(problem)
    return problems, arguments


def _decodes(error: Any, validator: Any) -> Any:
    """The value a string decodes to, when it is JSON of a type the failing subschema accepts."""
    if not isinstance(error.instance, str) or error.validator not in ("type", "anyOf", "oneOf"):
        return _ABSENT
    try:
        decoded = json.loads(error.instance)
    except (ValueError, RecursionError):
        return _ABSENT
    if isinstance(decoded, str):
        return _ABSENT
    wanted = {"type": error.validator_value} if error.validator == "type" else error.schema
    return decoded if validator.evolve(schema=wanted).is_valid(decoded) else _ABSENT


def _problems(index: int, error: Any) -> list[Problem]:
    path = list(error.absolute_path)
    if error.validator == "required":
        return [Problem(index, json_path([*path, name]), "required", f"missing required argument {name!r}")
                for name in error.validator_value
                if isinstance(error.instance, dict) and name not in error.instance]
    if error.validator == "type":
        return [Problem(index, json_path(path), "type",
                        f"expected {_wanted(error)}, got {_kind_of(error.instance)} {_short(error.instance)}")]
    if error.validator in ("enum", "const"):
        allowed = error.validator_value if error.validator == "enum" else [error.validator_value]
        return [Problem(index, json_path(path), "enum",
                        f"{_short(error.instance)} is not one of {', '.join(_short(v) for v in allowed)}")]
    if error.validator in ("anyOf", "oneOf") and isinstance(error.instance, str):
        return [Problem(index, json_path(path), "type", f"{_short(error.instance)} matches none of the {error.validator} choices")]
    return []


def _wanted(error: Any) -> str:
    if error.validator != "type":
        return f"one of its {error.validator} choices"
    return error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)


def _kind_of(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _replace(document: Any, path: list[Any], value: Any) -> Any:
    if not path:
        return value
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return document


def load_tools(path: str) -> Any:
    """The ``tools`` list of a file holding one, or holding a conversation that has one."""
    from ..rendering.conversation import read_text

    try:
        data = json.loads(read_text(path)[1])
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    if isinstance(data, dict) and "tools" in data:
        tools_list, where = data["tools"], f"{path}: tools"
    elif isinstance(data, list):
        tools_list, where = data, path
    else:
        raise InputError(f"{path}: expected an OpenAI tools list, or a conversation with \"tools\"")
    tool_schemas(tools_list, where)
    return tools_list
