"""Numbers minijinja prints otherwise than jinja2: found by one walk over a template's input.

minijinja turns a Python float into a Rust ``f64`` and prints it with Rust's formatting, which
agrees with Python's ``repr`` only in the positional range: ``1e-05`` comes out as ``0.00001``,
``1e+16`` as ``10000000000000000.0``, and from about 1e14 some 16- and 17-digit values are rounded
the other way (``2125999773484071.2`` as ``…071.3``; measured on minijinja 3.1 with 4,000 random
floats and the edges). Integers past 64 bits become floats. The official 3.1 template prints a
non-mapping tool result as it is, so a tool returning ``1e-05`` would render differently: an input
holding such a number renders on jinja2 (:func:`odd_numbers`).
"""

from __future__ import annotations

from typing import Any

_I64 = 1 << 63
_FLOAT_LOW, _FLOAT_HIGH = 1e-4, 1e13  # positional, same digits in Python and Rust
_CONTAINERS = (dict, list, tuple)


def odd_numbers(*values: Any) -> bool:
    """Whether any number inside ``values`` (dict keys included) would print otherwise on minijinja;
    too deep to walk counts as yes."""
    try:
        return _odd(values)
    except RecursionError:
        return True


def _odd(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        for key in value:
            if type(key) is not str and _odd(key):
                return True
        value = value.values()
    elif kind is not list and kind is not tuple:
        return _odd_scalar(value, kind)
    for item in value:
        kind = type(item)
        if kind is str or item is None:
            continue
        if kind is dict or kind is list or kind is tuple:
            if _odd(item):
                return True
        elif _odd_scalar(item, kind):
            return True
    return False


def _odd_scalar(value: Any, kind: type) -> bool:
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        return not -_I64 <= value < _I64
    if kind is float:
        return not (_FLOAT_LOW <= abs(value) < _FLOAT_HIGH or (value == 0.0 and str(value) == "0.0"))
    return isinstance(value, (int, float, *_CONTAINERS))  # subclasses: not read here, jinja2 renders them
