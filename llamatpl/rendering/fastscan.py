"""What in a template's input minijinja would write otherwise than jinja2: one walk over the data.

* Numbers. minijinja turns a Python float into a Rust ``f64`` and prints it with Rust's formatting,
  which agrees with Python's ``repr`` only in the positional range: ``1e-05`` comes out as
  ``0.00001``, ``1e+16`` as ``10000000000000000.0``, and from about 1e14 some 16- and 17-digit
  values are rounded the other way (``2125999773484071.2`` as ``…071.3``; measured on minijinja
  3.1 with 4,000 random floats and the edges). Integers past 64 bits become floats. The official
  3.1 template prints a non-mapping tool result as it is, so a tool returning ``1e-05`` would
  render differently: an input holding such a number renders on jinja2 (:data:`ODD_NUMBER`).
* Trim characters. minijinja's own ``trim`` strips what Python's ``str.strip`` strips except
  U+001C..U+001F (checked over every code point); the fast backend uses it, rather than a Python
  call per ``trim``, for inputs without those four characters (:data:`TRIM_CHARS`).
* Missing values. A message without ``content`` (or with a ``None`` value, which transformers 5.23
  drops) reads as undefined, and minijinja hands undefined to a Python filter as ``None`` and counts
  it iterable where jinja2 does neither: official 3.1 writes ``null`` for a tool result without
  content on minijinja and raises on jinja2. Such input renders on jinja2 (:data:`MISSING_VALUE`),
  except an assistant message that holds tool calls instead of content (the check conversations
  cover that shape).
* Lone surrogates (``"\\ud800"`` in JSON): minijinja's strings are UTF-8 and replace them; jinja2
  keeps them as transformers does (:data:`SURROGATE`).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

ODD_NUMBER, TRIM_CHARS, MISSING_VALUE, SURROGATE = 1, 2, 4, 8
JINJA2_ONLY = ODD_NUMBER | MISSING_VALUE | SURROGATE  # inputs minijinja would write otherwise
_TRIM = re.compile("[\x1c-\x1f]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_I64 = 1 << 63
_FLOAT_LOW, _FLOAT_HIGH = 1e-4, 1e13  # positional, same digits in Python and Rust
_CONTAINERS = (dict, list, tuple)


def scan(*values: Any) -> int:
    """The flags for everything inside ``values`` (dict keys included); too deep to walk counts as
    odd. The first value is the messages, or the variables that hold them as ``messages``."""
    strings: list[str] = []
    try:
        flags = _walk(values, strings)
    except RecursionError:
        return ODD_NUMBER | TRIM_CHARS
    first = values[0] if values else None  # the messages, or the variables that hold them
    messages = first.get("messages") if isinstance(first, dict) else first
    if isinstance(messages, list) and missing_values(messages):
        flags |= MISSING_VALUE
    joined = "\0".join(strings)
    return flags | (TRIM_CHARS if _TRIM.search(joined) else 0) | (SURROGATE if _SURROGATES.search(joined) else 0)


class _Reading(threading.local):
    odd = False  # a number read by loads_scanned in this thread is one minijinja prints otherwise


_READING = _Reading()


def _float(text: str) -> float:
    value = float(text)
    if _scalar(value, float, []):
        _READING.odd = True
    return value


def _int(text: str) -> int:
    value = int(text)
    if not -_I64 <= value < _I64:
        _READING.odd = True
    return value


def _constant(text: str) -> float:  # NaN, Infinity, -Infinity
    _READING.odd = True
    return float(text)


_DECODER = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_constant)
# in strict JSON text a control character or a lone surrogate can only be spelt as an escape
_ESCAPED = re.compile(r"\\u00[01]|\\u[dD][89a-fA-F]")
_TOKEN_FLAGS: dict[int, tuple[Any, int]] = {}


def loads_scanned(text: str) -> tuple[Any, int | None]:
    """``json.loads(text)``, and :func:`scan`'s flags for all it holds (MISSING_VALUE aside), found
    while parsing: numbers as they are read, characters off the text, which must have been decoded
    from UTF-8 (so it holds no lone surrogate itself, as :func:`~.conversation.parse_line` makes sure). The flags are ``None`` (walk
    the values) when the text holds an escaped control character or surrogate (an escaped
    surrogate pair is one character, which the walk tells apart from a lone one)."""
    _READING.odd = False
    value = _DECODER.decode(text)
    if "\\u" in text and _ESCAPED.search(text):
        return value, None
    return value, ODD_NUMBER if _READING.odd else 0


def scan_conversation(text_flags: int, messages: Any, special_tokens: Any) -> int:
    """:func:`scan`'s flags for a conversation parsed by :func:`loads_scanned` (whose flags are
    ``text_flags``), rendered with ``special_tokens`` (walked once per mapping object)."""
    known = _TOKEN_FLAGS.get(id(special_tokens))
    if known is None or known[0] is not special_tokens:
        if len(_TOKEN_FLAGS) >= 64:
            _TOKEN_FLAGS.clear()
        known = _TOKEN_FLAGS[id(special_tokens)] = (special_tokens, scan(None, special_tokens))
    flags = text_flags | known[1]
    return flags | MISSING_VALUE if isinstance(messages, list) and missing_values(messages) else flags


def missing_values(messages: list[Any]) -> bool:
    """Whether a message lacks ``content`` (or holds a ``None``), beyond an assistant's tool calls."""
    for message in messages:
        if type(message) is not dict:
            continue
        if None in message.values() and not (message.get("content") is None and message.get("tool_calls")
                                               and message.get("role") == "assistant"
                                               and sum(v is None for v in message.values()) == 1):
            return True
        if "content" not in message and not (message.get("role") == "assistant" and message.get("tool_calls")):
            return True
    return False


def _walk(value: Any, strings: list[str]) -> int:
    kind = type(value)
    flags = 0
    if kind is dict:
        for key in value:
            if type(key) is str:
                strings.append(key)
            else:
                flags |= _walk(key, strings)
        value = value.values()
    elif kind is not list and kind is not tuple:
        return _scalar(value, kind, strings)
    for item in value:
        kind = type(item)
        if kind is str:
            strings.append(item)
        elif kind is dict or kind is list or kind is tuple:
            flags |= _walk(item, strings)
        elif item is not None:
            flags |= _scalar(item, kind, strings)
    return flags


def _scalar(value: Any, kind: type, strings: list[str]) -> int:
    if kind is str:
        strings.append(value)
        return 0
    if kind is bool or value is None:
        return 0
    if kind is int:
        return 0 if -_I64 <= value < _I64 else ODD_NUMBER
    if kind is float:
        return 0 if _FLOAT_LOW <= abs(value) < _FLOAT_HIGH or (value == 0.0 and str(value) == "0.0") else ODD_NUMBER
    # subclasses of str, numbers or containers, and other objects: not read here, jinja2 renders them
    return ODD_NUMBER | TRIM_CHARS if isinstance(value, (str, int, float, *_CONTAINERS)) else TRIM_CHARS
