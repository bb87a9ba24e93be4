"""Value text the way TGI's Rust side writes it: ``serde_json`` (compact or pretty, floats as
``ryu`` writes them) and minijinja 2.8's own printing of values (Rust ``Debug`` inside sequences
and maps), plus minijinja literal syntax for JSON data.

Imports nothing from llamatpl: :mod:`llamatpl.rendering.minijinja_worker` uses it in its child
process, and :mod:`llamatpl.engines.tgi_request` for the router's ``serde_json::to_string``.
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

# minijinja 2.8 filters.rs tojson: after serde_json, these four are written as \\u escapes
_TOJSON_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})
_RUST_ESCAPES = {"\t": "\\t", "\r": "\\r", "\n": "\\n", '"': '\\"', "\\": "\\\\", "\0": "\\0"}


def serde_json(value: Any, indent: int | None = None, _depth: int = 0) -> str:
    """``serde_json::to_string`` of a JSON value: compact, keys in their order, non-ASCII as is,
    floats as ``ryu`` writes them. With ``indent``: serde_json's ``PrettyFormatter`` (``"k": v``,
    one item a line, ``[]``/``{}`` when empty)."""
    if isinstance(value, dict):
        items = [f"{serde_json(str(k))}:{' ' if indent is not None else ''}{serde_json(v, indent, _depth + 1)}"
                 for k, v in value.items()]
        return _joined("{", items, "}", indent, _depth)
    if isinstance(value, (list, tuple)):
        return _joined("[", [serde_json(v, indent, _depth + 1) for v in value], "]", indent, _depth)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if -(1 << 63) <= value < (1 << 64) else ryu(float(value))
    if isinstance(value, float):
        return ryu(value) if math.isfinite(value) else "null"
    return json.dumps(str(value), ensure_ascii=False)


def _joined(open_: str, items: list[str], close: str, indent: int | None, depth: int) -> str:
    if indent is None:
        return open_ + ",".join(items) + close
    if not items:
        return open_ + close
    inner, outer = "\n" + " " * (indent * (depth + 1)), "\n" + " " * (indent * depth)
    return open_ + inner + ("," + inner).join(items) + outer + close


def minijinja_tojson(value: Any, indent: Any = None) -> str:
    """minijinja 2.8's ``tojson`` filter (``filters.rs``: ``tojson``): serde_json text of the value
    with its maps in key order (:func:`btree_order`), pretty when ``indent`` is given (``true``
    means 2), then ``<``, ``>``, ``&``, ``'`` as ``\\u`` escapes."""
    width = 2 if indent is True else None if indent is None or indent is False else int(indent)
    return serde_json(btree_order(value), width).translate(_TOJSON_ESCAPES)


def btree_order(value: Any) -> Any:
    """Maps with their keys sorted, as minijinja without ``preserve_order`` keeps every map (a
    ``BTreeMap``, numbers before strings), dict literals made inside the template included."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (1, k) if isinstance(k, str) else (0, k))
        return {k: btree_order(value[k]) for k in keys}
    if isinstance(value, (list, tuple)):
        return [btree_order(v) for v in value]
    return value


def ryu(x: float) -> str:
    """A float as ``ryu::Buffer::format_finite`` writes it (``1.0``, ``1e16``, ``1.5e-7``, ``0.0001``)."""
    sign = "-" if str(x).startswith("-") else ""
    mantissa, _, exponent = repr(abs(x)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0") or "0"
    k = int(exponent or 0) - len(fraction)
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped or "0"
    if digits == "0":
        return sign + "0.0"
    n, kk = len(digits), len(digits) + k
    if 0 <= k and kk <= 16:
        return f"{sign}{digits}{'0' * k}.0"
    if 0 < kk <= 16:
        return f"{sign}{digits[:kk]}.{digits[kk:]}"
    if -5 < kk <= 0:
        return f"{sign}0.{'0' * -kk}{digits}"
    if n == 1:
        return f"{sign}{digits}e{kk - 1}"
    return f"{sign}{digits[0]}.{digits[1:]}e{kk - 1}"


def rust_debug(value: Any) -> str:
    """minijinja 2.8's ``Debug`` of a value (``value/mod.rs``: ``impl fmt::Debug for ValueRepr``;
    ``value/object.rs``: ``Object::render``): how it prints a sequence or map (keys in
    :func:`btree_order`) and what is inside."""
    return _debug(btree_order(value))


def _debug(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _rust_float_debug(value)
    if isinstance(value, str):
        return '"' + "".join(_rust_char(c) for c in value) + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_debug(k)}: {_debug(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_debug(v) for v in value) + "]"
    return str(value)


def _rust_float_debug(x: float) -> str:
    """Rust's ``{:?}`` of an f64: plain between 1e-4 and 1e16 (``1.0``), else ``1e16``/``1.5e-5``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    mantissa, _, exponent = repr(x).partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def _rust_char(c: str) -> str:
    """``char::escape_debug``: the usual backslash escapes, ``\\u{..}`` for what Rust calls unprintable
    (approximated by the Unicode control, format, separator and unassigned categories)."""
    if c in _RUST_ESCAPES:
        return _RUST_ESCAPES[c]
    category = unicodedata.category(c)
    if c != " " and (category[0] == "C" or category in ("Zl", "Zp", "Zs")):
        return f"\\u{{{ord(c):x}}}"
    return c


def minijinja_literal(value: Any) -> str:
    """A JSON value as minijinja expression syntax (so it becomes a native map/sequence, not a Python
    object): one line, keys in the order given."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {minijinja_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(minijinja_literal(v) for v in value) + "]"
    return json.dumps(str(value))
