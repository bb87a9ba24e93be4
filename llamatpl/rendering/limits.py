"""Limits that keep a hostile template from hanging, exhausting memory or recursing without end.

The sandbox already stops attribute escapes and mutation; these limits add what it lacks:

* time: every render has a deadline (``Limits.seconds``), checked at each call, attribute or item
  access, intercepted operator and output chunk, so runaway loops stop within the deadline;
* size: no string, list or number the template builds, and not the output itself, may exceed
  ``Limits.max_chars`` characters (numbers: ``Limits.max_int_bits`` bits); the size of the result of
  ``*``, ``**``, ``+``, ``%``, ``~`` and of the filters and methods that can blow up (``center``,
  ``indent``, ``replace``, ``join``, ``format``, ``tojson(indent=...)``, ``str.format`` widths...) is
  checked *before* it is computed, and a list, tuple or dict is measured before it is written out
  (:func:`check_written_size`: shared by reference, its text can be exponentially larger);
* recursion: Python's own limit, reported as a limit error instead of a crash.

Limits apply through a context variable set for the duration of one render, so one compiled
template can be shared by renders with different limits, in threads or not.
"""

from __future__ import annotations

import contextvars
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import LimitExceeded


@dataclass(frozen=True)
class Limits:
    """How far a template may go in one render. Adjust with ``render(..., limits=Limits(...))`` or
    the ``LLAMATPL_MAX_SECONDS`` / ``LLAMATPL_MAX_CHARS`` environment variables of the CLI."""

    seconds: float = 5.0
    max_chars: int = 8_000_000
    max_int_bits: int = 4096
    max_json_indent: int = 256


DEFAULT_LIMITS = Limits()


class _Budget:
    __slots__ = ("deadline", "limits", "output")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.output = 0


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("llamatpl_budget", default=None)


def start(limits: Limits) -> contextvars.Token[_Budget | None]:
    """Apply ``limits`` to template evaluation in this context until :func:`stop`."""
    return _BUDGET.set(_Budget(limits))


def stop(token: contextvars.Token[_Budget | None]) -> None:
    _BUDGET.reset(token)


def tick() -> None:
    """Raise :class:`LimitExceeded` once the current render's deadline has passed."""
    b = _BUDGET.get()
    if b is not None and time.monotonic() > b.deadline:
        raise LimitExceeded(f"time limit: ran longer than {b.limits.seconds:g} s (a runaway loop?)",
                            reason="time limit")


def _limits() -> Limits:
    b = _BUDGET.get()
    return b.limits if b is not None else DEFAULT_LIMITS


def check_size(n: float, what: str) -> None:
    """Refuse to build something of ``n`` characters (or items) when that passes the limit."""
    cap = _limits().max_chars
    if n > cap:
        raise LimitExceeded(f"size limit: tried to build {what} of {int(min(n, 1e18)):,} characters "
                            f"(limit {cap:,})", reason="size limit")


# Values this small are never checked: no limit is set below it, and skipping the context lookup
# keeps the common case (a few short strings joined per message) as fast as an unguarded render.
SMALL = 1 << 16


def _length(x: Any) -> int:
    """A lower bound of the length of ``str(x)``, found without writing a list, tuple or dict out."""
    if isinstance(x, str):
        return len(x)
    if type(x) is list or type(x) is tuple or type(x) is dict:
        return _written(x, {}, _limits().max_chars, "a joined string")
    return len(x) if isinstance(x, (list, tuple, dict)) else len(str(x))


def check_written_size(value: Any, what: str) -> None:
    """Refuse to write out (``tojson``, printing, ``str()``) a list, tuple or dict whose text would pass
    the size limit, before any of it is written. The count is a lower bound of the text (string
    lengths, brackets, a separator between items) and each container is walked once,
    memoized by identity: a list that holds another list twice, doubled turn after turn, costs its
    unique nodes to measure while its text grows exponentially. Other values cost nothing here."""
    kind = type(value)
    if kind is list or kind is tuple or kind is dict:
        _written(value, {}, _limits().max_chars, what)


def _written(value: Any, sizes: dict[int, int], cap: int, what: str) -> int:
    known = sizes.get(id(value))
    if known is not None:
        return known
    sizes[id(value)] = 0  # a container that holds itself: the encoder raises on it, not this walk
    total = 1 + max(len(value), 1)  # brackets, and a separator (or more) between items
    for item in (value.values() if type(value) is dict else value):
        kind = type(item)
        if kind is str:
            total += len(item)
        elif kind is list or kind is tuple or kind is dict:
            total += _written(item, sizes, cap, what)
            if total > cap:
                check_size(total, what)
    if type(value) is dict:
        total += sum(len(key) for key in value if type(key) is str)
    if total > cap:
        check_size(total, what)
    sizes[id(value)] = total
    return total


def _check_int_bits(bits: float) -> None:
    cap = _limits().max_int_bits
    if bits > cap:
        raise LimitExceeded(f"size limit: tried to build a number of about {int(min(bits, 1e18)):,} bits "
                            f"(limit {cap:,})", reason="size limit")


_WIDTH = re.compile(r"\d{4,}")


def check_format_string(fmt: str) -> None:
    """Refuse printf- or format-style widths and precisions that would build a huge string."""
    for match in _WIDTH.finditer(fmt):
        check_size(int(match.group()), "a formatted string")


def plus(left: Any, right: Any) -> Any:
    """``a + b`` in a template. Checked after the fact: the result is at most twice the size of
    values whose size was already checked, so a doubling loop stops at the first result too large."""
    result = left + right
    if type(result) is str and len(result) < SMALL:
        return result
    tick()
    if isinstance(result, (str, list, tuple)):
        check_size(len(result), "a concatenation")
    return result


def guarded_binop(operator: str, left: Any, right: Any) -> Any:
    """Evaluate an intercepted binary operator after checking the size of its result."""
    tick()
    if operator == "**":
        if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
            _check_int_bits(right * math.log2(abs(left)))
        return left**right
    if operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            _check_int_bits(left.bit_length() + right.bit_length())
        elif isinstance(left, (str, list, tuple)) and isinstance(right, int):
            check_size(len(left) * right, "a repeated sequence")
        elif isinstance(right, (str, list, tuple)) and isinstance(left, int):
            check_size(len(right) * left, "a repeated sequence")
        return left * right
    if operator == "%":
        if isinstance(left, str):
            check_format_string(left)
            args = right if isinstance(right, tuple) else (right,)
            if "*" in left:
                for arg in args:
                    if isinstance(arg, int):
                        check_size(abs(arg), "a formatted string")
        return left % right
    raise LimitExceeded(f"operator {operator} is not supported", reason="unsupported")


def guarded_concat(values: tuple[Any, ...]) -> str:
    """The ``~`` operator: join the string forms of ``values`` after checking the total length."""
    for value in values:
        if type(value) is not str:
            check_written_size(value, "a concatenation")
    parts = [v if type(v) is str else str(v) for v in values]
    total = sum(map(len, parts))
    if total >= SMALL:
        tick()
        check_size(total, "a concatenation")
    return "".join(parts)


def check_call_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse integer arguments larger than any string the template may build (``ljust(10**9)``)."""
    tick()
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _limits().max_chars:
            check_size(abs(value), "a value sized by an argument")


def estimate_join(separator: str, items: Sequence[Any]) -> None:
    check_size(len(separator) * max(len(items) - 1, 0) + sum(_length(i) for i in items), "a joined string")


def estimate_replace(text: str, old: str, new: str, count: int | None) -> None:
    hits = len(text) + 1 if old == "" else text.count(old)
    if count is not None and count >= 0:
        hits = min(hits, count)
    check_size(len(text) + hits * (len(new) - len(old)), "a replaced string")


def guard_str_method(
    method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Pre-check the string methods whose result can be far larger than their inputs.

    Returns the arguments to call with: an iterable given to ``join`` is materialized once here.
    """
    owner = getattr(method, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(method, "__name__", "")
    if name == "join" and args:
        items = args[0] if isinstance(args[0], list) else list(args[0])
        estimate_join(owner, items)
        return (items, *args[1:])
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        count = args[2] if len(args) > 2 else kwargs.get("count")
        estimate_replace(owner, args[0], args[1], count if isinstance(count, int) else None)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            check_size(len(owner) + owner.count("\t") * size, "an expanded string")
    return args


def limits_from_env(environ: dict[str, str] | None = None) -> Limits:
    """Limits with ``LLAMATPL_MAX_SECONDS`` and ``LLAMATPL_MAX_CHARS`` applied, for the CLI."""
    import os

    env = os.environ if environ is None else environ
    fields: dict[str, Any] = {}
    for var, key, kind in (("LLAMATPL_MAX_SECONDS", "seconds", float), ("LLAMATPL_MAX_CHARS", "max_chars", int)):
        if var in env:
            try:
                fields[key] = kind(env[var])
            except ValueError:
                from ..errors import LlamatplError

                raise LlamatplError(f"{var}: {env[var]!r} is not a number") from None
    # the defaults themselves where nothing is set: renders test ``limits is DEFAULT_LIMITS`` to skip a budget
    return Limits(**fields) if fields else DEFAULT_LIMITS
