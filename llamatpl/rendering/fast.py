"""The fast backend: minijinja configured to write what transformers' jinja2 environment writes.

The same options and helpers as :mod:`llamatpl.rendering.environment`: ``trim_blocks``,
``lstrip_blocks``, no trailing newline kept, loop controls (built into minijinja), Python-style
printing of ``None``/``True``/lists (minijinja's ``pycompat``), transformers' ``tojson``, and the
globals ``raise_exception`` and ``strftime_now`` (reading the same pinned date). minijinja's own
``namespace`` and ``dict`` stand in for jinja2's.

Limits: fuel bounds time (minijinja charges fuel per instruction and per character of the strings
it builds), its own recursion limit bounds recursion, and the output is measured against
``Limits.max_chars``. Which templates may run here at all is decided by :mod:`.gate`. A render that
fails here for any reason returns ``None``: the caller renders on jinja2, whose error is the one
users read (so messages, exception classes and template lines stay those of the jinja2 path).
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

import jinja2.filters
import markupsafe
import minijinja

from . import gate
from .environment import _strftime_now
from .fastjson import tojson as _tojson
from .limits import Limits

# Fuel per second of Limits.seconds. minijinja burns about 20 million fuel a second on this
# project's machines; a quarter of that leaves the jinja2 fallback most of the deadline.
FUEL_PER_SECOND = 5_000_000
# minijinja 2.x charges no fuel for the strings it builds (a doubled string exhausts memory and
# aborts the process), so the fast path needs 3.0 or later; older releases leave jinja2 alone.
MINIJINJA = version("minijinja")
SUPPORTED = int(MINIJINJA.split(".")[0]) >= 3


class _Raised(Exception):
    """``raise_exception`` on the fast path: the render falls back to jinja2, which raises it properly."""


def _raise_exception(message: Any) -> None:
    raise _Raised(str(message))


# Filters minijinja implements in Rust with other edges than Python's: Rust's ``trim`` keeps
# U+001C..U+001F, which Python strips (so Python's runs unless the input holds none of them); case mapping and ``string`` (Python's repr of lists and
# dicts) can differ too, and so do ``title`` (where a word starts) and ``escape`` (which entities).
# jinja2's versions are these Python calls, so the fast path uses them.
# A Python filter is handed ``None`` for an undefined value too, where jinja2 writes ``""`` for one
# and ``"None"`` for the other: given ``None`` they give up, and the render is done on jinja2.
def _text(value: Any) -> str:
    if value is None:
        raise _Raised("None or undefined: jinja2 decides")
    return str(value)


def _trim(value: Any, chars: str | None = None) -> str:
    if value is None:  # _text's rule, written out: trim runs for nearly every message
        raise _Raised("None or undefined: jinja2 decides")
    return str(value).strip(chars)


def _escape(value: Any) -> markupsafe.Markup:
    if value is None:
        raise _Raised("None or undefined: jinja2 decides")
    return markupsafe.escape(value)  # jinja2's own (a Markup value is left as it is); minijinja writes &#x27; and &#x2f;


def _float(value: Any, default: float = 0.0) -> float:
    out = jinja2.filters.do_float(value, default)  # Python's float(): "1_0.5", " 3 "; minijinja refuses those
    if not math.isfinite(out):
        raise _Raised("nan / inf: minijinja writes NaN / inf, jinja2 nan / inf")
    return out


_PYTHON_FILTERS: dict[str, Callable[..., Any]] = {"trim": _trim, "float": _float, "string": _text, "lower": lambda v: _text(v).lower(),
                   "upper": lambda v: _text(v).upper(),
                   # jinja2's title starts a word only after blanks and -([{< (Python's after any non-letter)
                   "title": lambda v: jinja2.filters.do_title(_text(v)),
                   "capitalize": lambda v: _text(v).capitalize(), "escape": _escape, "e": _escape}


@functools.lru_cache(maxsize=16)
def _environment(fuel: int, python_trim: bool = True) -> minijinja.Environment:
    env = minijinja.Environment(trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
                                fuel=fuel, pycompat=True, undefined_behavior="lenient",
                                debug=False)  # debug keeps state for error reports: errors go to jinja2 anyway
    env.add_filter("tojson", _tojson)
    for name, python_filter in _PYTHON_FILTERS.items():
        if python_trim or name != "trim":
            env.add_filter(name, python_filter)
    env.add_global("raise_exception", _raise_exception)
    env.add_global("strftime_now", _strftime_now)
    return env


@functools.lru_cache(maxsize=1024)
def _loaded(text: str, fuel: int, python_trim: bool = True) -> str | None:
    """The name ``text`` is registered under in the environment for ``fuel`` (and ``python_trim``);
    ``None`` if it does not compile."""
    name = hashlib.sha256(text.encode()).hexdigest()
    try:
        _environment(fuel, python_trim).add_template(name, text)
    except minijinja.TemplateError:
        return None
    return name


def compiles(text: str) -> bool:
    """Whether minijinja accepts the template's syntax (jinja2 extensions such as ``{% generation %}`` it does not)."""
    return _loaded(text, FUEL_PER_SECOND) is not None


# (text, seconds) -> (fuel, minijinja's own trim allowed, python_trim -> (environment, name))
_READY: dict[tuple[str, float], tuple[int, bool, dict[bool, tuple[minijinja.Environment, str | None]]]] = {}


Ready = tuple[minijinja.Environment, str]  # a template registered in its environment: what :func:`run` takes


def render(text: str, variables: Mapping[str, Any], limits: Limits, trim_chars: int | bool = True) -> str | None:
    """The output, or ``None`` when minijinja failed or went past a limit (render on jinja2 then).

    ``trim_chars``: whether the input may hold U+001C..U+001F (:mod:`.fastscan`); where it holds
    none, and every ``trim`` of the template takes no argument, minijinja's own ``trim`` runs."""
    found = ready(text, limits, trim_chars)
    return None if found is None else run(found, variables, limits.max_chars)


def ready(text: str, limits: Limits, trim_chars: int | bool = True) -> Ready | None:
    """:func:`render`'s template, looked up once for several renders; ``None`` if it does not compile."""
    known = _READY.get((text, limits.seconds))
    if known is None:
        if len(_READY) >= 512:
            _READY.clear()
        known = _READY[(text, limits.seconds)] = (max(1, int(limits.seconds * FUEL_PER_SECOND)),
                                                  gate.plain_trim(text), {})
    fuel, plain_trim, environments = known
    python_trim = bool(trim_chars) or not plain_trim
    found = environments.get(python_trim)
    if found is None:
        found = environments[python_trim] = (_environment(fuel, python_trim), _loaded(text, fuel, python_trim))
    env, name = found
    return None if name is None else (env, name)


def run(found: Ready, variables: Mapping[str, Any], max_chars: int) -> str | None:
    """Render a template :func:`ready` found: the output, or ``None`` as :func:`render`."""
    env, name = found
    try:
        out = env.render_template(name, **variables)
    except Exception:  # noqa: BLE001 - raise_exception, fuel, undefined, type errors: jinja2 says which
        return None
    return out if len(out) <= max_chars else None
