"""transformers' ``tojson`` for the fast backend, with a quicker writer for ``indent=``.

``json.dumps(x, ensure_ascii=False, indent=N)`` falls back to the pure-Python encoder whenever an
indent is given, and the official 3.1 and 3.2 templates indent every tool definition by 4: in a
tool conversation that one filter costs more than the rest of the render. :func:`pretty` writes the
same text for plain JSON data (str keys; str, int, float, bool, None, list, tuple and dict values)
with fewer calls; anything else goes to ``json.dumps`` itself. ``tests/test_backend.py`` checks the
two agree on generated data.

Indented text is also remembered by the compact text (written by json's C encoder, many times
faster): the indented form is a function of the JSON tokens alone, which the compact text holds,
and the same tool definitions come back in conversation after conversation.
"""

from __future__ import annotations

import json
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from . import limits
from .environment import _tojson, remembered_json


_encode = json.JSONEncoder(ensure_ascii=False).encode


def _unknown(value: Any) -> Any:
    raise TypeError(type(value).__name__)


# json.dumps(x, ensure_ascii=False) builds this C encoder anew on every call; built once here. No
# circular-reference bookkeeping: a cycle ends in RecursionError, and json.dumps then says which.
_C_COMPACT = c_make_encoder(None, _unknown, encode_basestring, None, ": ", ", ", False, False, True) \
    if c_make_encoder is not None else None


def _compact(x: Any) -> str:
    if _C_COMPACT is None or type(x) is str:
        return _encode(x)
    try:
        return "".join(_C_COMPACT(x, 0))
    except (TypeError, ValueError, RecursionError):
        return _encode(x)  # raises as json.dumps does, or writes what the C encoder gave up on
_INDENTED: dict[tuple[str, int], str] = {}
_CACHED = 1024  # entries
_CACHED_CHARS = 1 << 16  # larger texts are not kept


class _NotPlain(Exception):
    """A value :func:`pretty` does not write itself (``json.dumps`` does)."""


def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
           sort_keys: bool = False) -> str:
    """transformers' ``tojson`` filter (see :mod:`llamatpl.rendering.environment`), same bytes;
    remembered by identity, as jinja2's, while :func:`~llamatpl.rendering.environment.remembering_json` is on
    (the prefix renders of one conversation for a training mask)."""
    return remembered_json(_write, x, ensure_ascii, indent, separators, sort_keys)


def _write(x: Any, ensure_ascii: bool, indent: Any, separators: Any, sort_keys: bool) -> str:
    # no size walk here (jinja2's tojson has one): minijinja hands a Python filter a tree it has already
    # expanded, so a list nested in itself by reference never arrives as one; the gate keeps templates
    # that build such lists off minijinja, and the output limit bounds the rest
    if indent is None and not ensure_ascii and separators is None and not sort_keys:
        if _C_COMPACT is not None and type(x) is not str:  # _compact, written out: the common call
            try:
                return "".join(_C_COMPACT(x, 0))
            except (TypeError, ValueError, RecursionError):
                pass
        return _encode(x)
    if isinstance(indent, int) and not isinstance(indent, bool) and not ensure_ascii and separators is None \
            and not sort_keys:
        if indent > limits._limits().max_json_indent:
            limits.check_size(float("inf"), f"JSON indented by {indent}")
        try:
            compact = _compact(x)
        except (TypeError, ValueError):
            compact = None
        if compact is not None:
            key = (compact, indent)
            found = _INDENTED.get(key)
            if found is not None:
                return found
        try:
            parts: list[str] = []
            _pretty(x, " " * indent, "\n", parts)
            text = "".join(parts)
        except _NotPlain:
            text = None
        if text is not None:
            if compact is not None and len(compact) <= _CACHED_CHARS:
                if len(_INDENTED) >= _CACHED:
                    _INDENTED.clear()
                _INDENTED[(compact, indent)] = text
            return text
    return _tojson(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def pretty(x: Any, indent: int) -> str:
    """``json.dumps(x, ensure_ascii=False, indent=indent)`` for plain JSON data."""
    return tojson(x, indent=indent)


def _pretty(value: Any, step: str, newline: str, parts: list[str]) -> None:
    kind = type(value)
    if kind is str:
        parts.append(encode_basestring(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif kind is int:
        parts.append(int.__repr__(value))
    elif kind is float:
        parts.append(_float(value))
    elif kind is dict:
        if not value:
            parts.append("{}")
            return
        inner = newline + step
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            parts.append(separator + encode_basestring(key) + ": ")
            _pretty(item, step, inner, parts)
            separator = "," + inner
        parts.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            parts.append("[]")
            return
        inner = newline + step
        separator = "[" + inner
        for item in value:
            parts.append(separator)
            _pretty(item, step, inner, parts)
            separator = "," + inner
        parts.append(newline + "]")
    else:
        raise _NotPlain


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == -float("inf"):
        return "-Infinity"
    return float.__repr__(value)

