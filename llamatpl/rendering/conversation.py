"""Conversations: the typed model, and loading JSON, JSONL or stdin with validation that names the place.

A conversation file is a JSON object ``{"messages": [...], "tools": [...], "documents": [...],
"add_generation_prompt": true, "continue_final_message": false, ...}``; every other top-level key is
a template variable (``date_string``, ``builtin_tools``, ...), as transformers passes ``**kwargs``.
A bare JSON list is the messages. A ``.jsonl`` file (or stdin holding several JSON values, one a
line) holds one conversation a line.

The loader validates but never changes what the template will see: a string ``arguments`` stays a
string, a missing ``content`` stays missing, unknown keys pass through. Those checks are
transformers' (llamatpl's default engine); read as another engine's request body
(``checks="request"``), only the shape every engine needs is checked here, the raw body is kept
in :attr:`Conversation.request`, and the engine applies its own rules (``llamatpl.engines``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import InputError
from .fastscan import loads_scanned

ROLES = ("system", "user", "assistant", "tool", "ipython")
RESERVED_KEYS = ("messages", "tools", "documents", "add_generation_prompt", "continue_final_message")
_VARIABLE_TYPES: dict[str, tuple[type, str]] = {
    "date_string": (str, "a string"),
    "tools_in_user_message": (bool, "true or false"),
    "builtin_tools": (list, "a list of tool names"),
    "custom_tools": (list, "a list of tool definitions"),
}


@dataclass(frozen=True)
class Conversation:
    """What a chat template is rendered with: messages, tools, documents, flags and extra variables.

    ``variables`` holds every other top-level key of the file; they are passed to the template as
    keyword variables and override the tokenizer's special tokens (``bos_token``...) when named so.
    """

    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    documents: list[dict[str, Any]] | None = None
    add_generation_prompt: bool = True
    continue_final_message: bool | str = False
    variables: dict[str, Any] = field(default_factory=dict)
    name: str = "conversation"
    request: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_request(cls, data: Any, *, name: str = "conversation") -> Conversation:
        """A request body as a serving engine receives it: only its shape is checked (an object, or a
        bare list, whose ``messages`` is a list of objects); the body is kept as it is in ``request``
        for the engine's own validation and preprocessing."""
        if isinstance(data, Conversation):
            return data if data.request is not None else replace(data, request=data.to_data())
        body = {"messages": data} if isinstance(data, list) else data
        if not isinstance(body, Mapping):
            raise InputError(f"{name}: expected a JSON object with \"messages\", or a list of messages")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise InputError(f"{name}: messages: expected a non-empty list of messages")
        for i, message in enumerate(messages):
            if not isinstance(message, Mapping):
                raise InputError(f"{name}: {_where('messages', i)}: expected an object with \"role\"")
        cfm = body.get("continue_final_message", False)
        agp = body.get("add_generation_prompt", not cfm)
        return cls(messages=messages, tools=body.get("tools"), documents=body.get("documents"),
                   add_generation_prompt=agp if isinstance(agp, bool) else True,
                   continue_final_message=cfm if isinstance(cfm, (bool, str)) else False,
                   variables={k: v for k, v in body.items() if k not in RESERVED_KEYS}, name=name, request=body)

    @classmethod
    def from_data(cls, data: Any, *, name: str = "conversation") -> Conversation:
        """Validate parsed JSON (an object or a bare message list) and build a conversation.

        Raises :class:`~llamatpl.errors.InputError` naming ``name`` and the JSON path of the problem.
        """
        if isinstance(data, Conversation):
            return data if data.request is None else cls.from_data(data.request, name=data.name)
        if isinstance(data, list):
            _check_messages(data, name, "")
            return cls(messages=data, name=name)
        if not isinstance(data, Mapping):
            raise InputError(f"{name}: expected a JSON object with \"messages\", or a list of messages")
        if "messages" not in data:
            raise InputError(f"{name}: messages: missing (a list of chat messages)")
        _check_messages(data["messages"], name, "messages")
        tools = data.get("tools")
        documents = data.get("documents")
        _check_object_list(tools, name, "tools", "tool definition")
        _check_object_list(documents, name, "documents", "document")
        cfm = data.get("continue_final_message", False)
        if not isinstance(cfm, (bool, str)):
            raise InputError(f"{name}: continue_final_message: expected true, false or a field name")
        agp = data.get("add_generation_prompt", not cfm)
        if not isinstance(agp, bool):
            raise InputError(f"{name}: add_generation_prompt: expected true or false")
        variables = {k: v for k, v in data.items() if k not in RESERVED_KEYS}
        for key, (kind, words) in _VARIABLE_TYPES.items():
            if key in variables and not isinstance(variables[key], kind):
                raise InputError(f"{name}: {key}: expected {words}")
        return cls(
            messages=data["messages"],
            tools=tools,
            documents=documents,
            add_generation_prompt=agp,
            continue_final_message=cfm,
            variables=variables,
            name=name,
        )

    def to_data(self) -> dict[str, Any]:
        """The conversation as a JSON-able object that :meth:`from_data` reads back unchanged."""
        data: dict[str, Any] = {"messages": self.messages}
        if self.tools is not None:
            data["tools"] = self.tools
        if self.documents is not None:
            data["documents"] = self.documents
        data["add_generation_prompt"] = self.add_generation_prompt
        if self.continue_final_message:
            data["continue_final_message"] = self.continue_final_message
        data.update(self.variables)
        return data


def _where(prefix: str, index: int) -> str:
    return f"{prefix}[{index}]"


def _check_object_list(value: Any, name: str, path: str, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise InputError(f"{name}: {path}: expected a list of {what}s")
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise InputError(f"{name}: {_where(path, i)}: expected an object ({what})")


def _check_messages(messages: Any, name: str, path: str) -> None:
    if not isinstance(messages, list):
        raise InputError(f"{name}: {path or 'messages'}: expected a list of messages")
    if not messages:
        raise InputError(f"{name}: {path or 'messages'}: is empty (a conversation needs a message)")
    for i, message in enumerate(messages):
        if type(message) is dict and type(message.get("content")) is str and message.get("role") in ROLES \
                and "tool_calls" not in message and "tool_call_id" not in message:
            continue  # the usual message, which nothing in _check_message refuses (one less call a message)
        _check_message(message, name, _where(path, i))


def _check_message(message: Any, name: str, path: str) -> None:
    if not isinstance(message, Mapping):
        raise InputError(f"{name}: {path}: expected an object with \"role\" and \"content\"")
    role = message.get("role")
    if role is None:
        raise InputError(f"{name}: {path}.role: missing")
    if role not in ROLES:
        raise InputError(f"{name}: {path}.role: {role!r} is not one of {', '.join(ROLES)}")
    if "content" in message:
        _check_content(message["content"], role, name, f"{path}.content")
    calls = message.get("tool_calls")
    if calls is not None:
        if role != "assistant":
            raise InputError(f"{name}: {path}.tool_calls: only assistant messages make tool calls")
        if not isinstance(calls, list):
            raise InputError(f"{name}: {path}.tool_calls: expected a list of tool calls")
        for j, call in enumerate(calls):
            _check_tool_call(call, name, _where(f"{path}.tool_calls", j))
    call_id = message.get("tool_call_id")
    if call_id is not None and not isinstance(call_id, str):
        raise InputError(f"{name}: {path}.tool_call_id: expected a string")


def _check_content(content: Any, role: str, name: str, path: str) -> None:
    if content is None or isinstance(content, str):
        return
    if role in ("tool", "ipython"):
        return  # a tool result may be any JSON value; the templates JSON-encode it
    if not isinstance(content, list):
        raise InputError(f"{name}: {path}: expected a string, null or a list of content parts")
    for k, part in enumerate(content):
        where = _where(path, k)
        if not isinstance(part, Mapping):
            raise InputError(f"{name}: {where}: expected a content part object with \"type\"")
        kind = part.get("type")
        if not isinstance(kind, str):
            raise InputError(f"{name}: {where}.type: missing (\"text\", \"image\", ...)")
        if kind == "text" and not isinstance(part.get("text"), str):
            raise InputError(f"{name}: {where}.text: expected a string")


def _check_tool_call(call: Any, name: str, path: str) -> None:
    if not isinstance(call, Mapping):
        raise InputError(f"{name}: {path}: expected an object with \"function\"")
    function = call.get("function")
    if not isinstance(function, Mapping):
        raise InputError(f"{name}: {path}.function: expected an object with \"name\" and \"arguments\"")
    if not isinstance(function.get("name"), str):
        raise InputError(f"{name}: {path}.function.name: expected a string")
    if "arguments" not in function:
        raise InputError(f"{name}: {path}.function.arguments: missing")
    arguments = function["arguments"]
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            raise InputError(f"{name}: {path}.function.arguments: not valid JSON") from None
        if not isinstance(parsed, dict):
            raise InputError(f"{name}: {path}.function.arguments: not a JSON object")
    elif not isinstance(arguments, Mapping):
        raise InputError(f"{name}: {path}.function.arguments: expected an object or a JSON string")


# ----------------------------------------------------------------------------------------- loading


def read_text(path: str) -> tuple[str, str]:
    """Return (display name, text) for a path or ``-`` (stdin)."""
    if path == "-":
        return "<stdin>", sys.stdin.read()
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a conversation file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return path, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _parse_json(text: str, where: str, loads: Callable[[str], Any] = json.loads) -> Any:
    try:
        return loads(text)
    except json.JSONDecodeError as exc:
        place = f" (line {exc.lineno}, column {exc.colno})" if "\n" in text else f" (column {exc.colno})"
        raise InputError(f"{where}: not valid JSON: {exc.msg}{place}") from None
    except RecursionError:
        raise InputError(f"{where}: not valid JSON: nested too deeply") from None


def _is_jsonl(path: str, text: str) -> bool:
    if path.endswith((".jsonl", ".ndjson")):
        return True
    if path.endswith(".json"):
        return False
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg == "Extra data"
    return False


def iter_conversations(path: str, *, checks: str = "llamatpl") -> Iterator[Conversation]:
    """Yield the conversations in a JSON file (one), a JSONL file (one a line) or ``-`` (stdin).

    JSONL lines are parsed lazily, so a large file streams in constant memory; blank lines are
    skipped; errors name the line (``data.jsonl:12: messages[0].role: missing``). ``checks`` is
    ``"llamatpl"`` (full validation) or ``"request"`` (a serving engine's request body, see
    :meth:`Conversation.from_request`).
    """
    if path != "-" and path.endswith((".jsonl", ".ndjson")):
        for where, raw in numbered_lines(path):
            yield parse_line(where, raw, checks=checks)
        return
    shown, text = read_text(path)
    if _is_jsonl(path, text):
        for number, line in enumerate(text.split("\n"), start=1):
            if line.strip():
                yield parse_line(f"{shown}:{number}", line, checks=checks)
        return
    yield _build(_parse_json(text, shown), shown, checks)


def _build(data: Any, name: str, checks: str) -> Conversation:
    if checks == "request":
        return Conversation.from_request(data, name=name)
    return Conversation.from_data(data, name=name)


def numbered_lines(path: str) -> Iterator[tuple[str, bytes]]:
    """The non-blank lines of a JSONL file, lazily, each with its place (``data.jsonl:12``).

    Lines end at ``\n`` only, as JSONL says (a ``\r`` inside a line is JSON whitespace), and stay
    bytes: :func:`parse_line` decodes each one, so a line that is not UTF-8 is that line's error.
    """
    for first, _, data in line_blocks(path):
        for number, line in number_lines(first, data):
            yield f"{path}:{number}", line


def line_blocks(path: str, size: int = 1 << 17) -> Iterator[tuple[int, int, bytes]]:
    """A JSONL file (``-``: stdin) in blocks of whole lines (about ``size`` bytes, more for a longer
    line), lazily: ``(the first line's number, the block's byte offset, its bytes)``. A process that
    hands a file's blocks to workers can send the offset and length instead of the bytes (:func:`read_block`)."""
    if path == "-":
        yield from _blocks(sys.stdin.buffer, path, size)
        return
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a conversation file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        yield from _blocks(handle, path, size)


def _blocks(handle: Any, path: str, size: int) -> Iterator[tuple[int, int, bytes]]:
    if handle.peek(2)[:2] == b"\x1f\x8b":
        raise InputError(f"{'<stdin>' if path == '-' else path}: is gzip-compressed: decompress it first")
    first, offset = 1, 0
    started: list[bytes] = []  # the start of a line not ended yet
    while read := handle.read(size):
        cut = read.rfind(b"\n") + 1
        if cut == 0:
            started.append(read)
            continue
        block = b"".join((*started, read[:cut]))
        started = [read[cut:]]
        yield first, offset, block
        first += block.count(b"\n")
        offset += len(block)
    if last := b"".join(started):  # a last line without a newline
        yield first, offset, last


def read_block(path: str, offset: int, length: int) -> bytes:
    """The bytes of a :func:`line_blocks` block, read again (in a worker process)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def number_lines(first: int, data: bytes) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a :func:`line_blocks` block with their numbers (a UTF-8 byte-order
    mark at the start of the file dropped)."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()  # the block ends with its last line's newline
    for number, line in enumerate(lines, start=first):
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if line.strip():
            yield number, line


def parse_line(where: str, line: str | bytes, *, checks: str = "llamatpl") -> Conversation:
    """One JSONL line (text, or UTF-8 bytes) as a conversation; errors name ``where``."""
    strict = isinstance(line, bytes)  # decoded here, strictly: no lone surrogate can hide in the text
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}: not UTF-8 text (byte {exc.start + 1} of the line)") from None
    try:
        if not strict:
            return _build(_parse_json(line.rstrip("\r\n"), where), where, checks)
        data, flags = _parse_json(line.rstrip("\r\n"), where, loads_scanned)
        conversation = _build(data, where, checks)
    except RecursionError:
        raise InputError(f"{where}: nested too deeply to read") from None
    if flags is not None:  # what the fast backend's scan would find in it (llamatpl.rendering.messages)
        object.__setattr__(conversation, "_text_flags", flags)
    object.__setattr__(conversation, "_from_json", True)  # its values are JSON's (llamatpl.train.shapes)
    return conversation


def load_conversation(path: str, *, checks: str = "llamatpl") -> Conversation:
    """Load exactly one conversation from a JSON file or stdin."""
    conversations = iter_conversations(path, checks=checks)
    first = next(conversations, None)
    if first is None:
        raise InputError(f"{path}: holds no conversation")
    if next(conversations, None) is not None:
        raise InputError(f"{path}: holds several conversations; expected one")
    return first
