"""The process that runs minijinja for :mod:`llamatpl.rendering.minijinja_backend`.

Templates are rendered here, in a child process with an address-space limit: an allocation minijinja
does not check (a string doubled forty times) ends this process, not the caller; the parent keeps
the deadline and survives a crash. One JSON request a line on stdin, one JSON answer a line on
stdout. Of llamatpl it imports only :mod:`rust_text` and :mod:`minijinja_loop_scope` (which import
nothing more), so it starts fast.

The environment is the one TGI's router builds (``router/src/infer/chat_template.rs``,
``ChatTemplate::new`` at v3.3.7): ``Environment::new()`` (no ``trim_blocks``, no ``lstrip_blocks``,
lenient undefined), pycompat's unknown-method callback, and the functions ``raise_exception`` and
``strftime_now``, on Rust minijinja 2.8.0. The Python binding here is 3.x; what differs from 2.8 is
set back by configuration:

* values: the binding hands Python dicts and lists to templates as Python objects (their methods
  callable: ``.pop()``, ``.get(k, default)``, ``.copy``), where TGI's serde path gives native
  minijinja maps and sequences. So the variables go in as a minijinja literal, one
  ``{% set %}`` per variable in front of the template on its first line (line numbers unchanged);
* printing: a finalizer writes ``true``/``false`` and sequences/maps as 2.8's ``Debug``
  (``["a", none]``, ``{"k": 1}``) where 3.x writes ``True``/``False``/``['a', None]``;
* ``tojson``: 2.8's compact serde_json (``{"a":1}``) with ``<``, ``>``, ``&``, ``'`` escaped,
  where 3.x spaces it as Python's json does;
* loop scoping: in 2.8 a ``{% set %}`` in a loop body is still set in the next iteration (one frame
  per loop; 2.22 clears it per item): :mod:`minijinja_loop_scope` rewrites the template to match;
* ``{% set a, b = … %}`` does not parse in 2.8 (2.14 added it): refused the same way;
* filters and globals TGI's build lacks are removed: 3.x's builtin ``chain``, ``zip`` and
  ``format``, and what the binding adds (``urlencode`` and minijinja-contrib's ``pluralize``,
  ``filesizeformat``, ``truncate``, ``striptags``, ``wordwrap``, ``cycler``, ``joiner``);
* none: 2.8 prints ``none``, 3.x ``None``; the binding gives the finalizer the same ``None`` for none
  and for undefined (which prints nothing), so where one was printed the template is rendered a
  second time without the finalizer's mark and the two outputs tell which was which.

Left as 3.x does it (the binding has no hook for them): ``str.format`` and ``dict.get(key, default)``
work where 2.8 has no such method / takes one argument, ``default(x, true)`` takes the second
argument 2.9 added, ``.items()`` and ``|items`` give tuples (printed as 2.8's lists), ``~``,
``|string`` and ``|join`` write none, booleans and containers the 3.x way, and an integral float
(``2.0``) inside a printed container or ``tojson`` loses its ``.0`` (the binding hands Python an int).
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date, datetime
from typing import Any

from .minijinja_loop_scope import unpacking_set_line, with_persistent_loop_locals
from .rust_text import minijinja_literal, minijinja_tojson, rust_debug

# what the Python binding (3.x) has beyond minijinja 2.8's builtins with TGI's cargo features
_EXTRA_FILTERS = ("chain", "zip", "format", "urlencode", "pluralize", "filesizeformat", "truncate", "striptags",
                  "wordwrap")
_EXTRA_GLOBALS = ("cycler", "joiner")
_MAX_CACHED = 64
MARK = "\ufdd0"  # a Unicode noncharacter: where the finalizer saw None
# names a template cannot read as variables (keywords, literals, loop/self): never set
_NOT_NAMES = frozenset("true false none True False None and or not in is if else loop self".split())


class Raised(Exception):
    """``raise_exception(message)`` called by the template."""


class Unparsable(Exception):
    """What minijinja 2.8's parser refuses and 3.x's accepts."""

    kind = "SyntaxError"

    def __init__(self, detail: str, line: int) -> None:
        super().__init__(detail)
        self.detail, self.line = detail, line


class _Clock:
    today: date | None = None

    def strftime_now(self, fmt: str) -> str:
        now = datetime.now() if self.today is None else datetime(self.today.year, self.today.month, self.today.day)
        return now.strftime(fmt)


def tgi_environment(clock: _Clock) -> Any:
    """minijinja set up as TGI v3.3.7's router sets it up (see the module docstring)."""
    import minijinja

    # pycompat: env.set_unknown_method_callback(pycompat::unknown_method_callback)
    env = minijinja.Environment(pycompat=True, finalizer=finalize_marking_none)
    for name in _EXTRA_FILTERS:
        env.remove_filter(name)
    for name in _EXTRA_GLOBALS:
        env.remove_global(name)
    env.add_filter("tojson", minijinja_tojson)

    def raise_exception(message: Any) -> None:
        raise Raised(str(message))

    env.add_function("raise_exception", raise_exception)  # type: ignore[attr-defined]  # missing from its stubs
    env.add_function("strftime_now", clock.strftime_now)  # type: ignore[attr-defined]
    return env


def finalize(value: Any) -> Any:
    """Print a value as minijinja 2.8 does (``impl fmt::Display for Value``): booleans lower case,
    sequences and maps as ``Debug``; everything else as 3.x prints it (``NotImplemented``): ``None``
    (none or undefined) as ``None`` or nothing."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool) or value is None:
        return NotImplemented
    if isinstance(value, (bool, list, tuple, dict)):
        return rust_debug(value)
    return NotImplemented


def finalize_marking_none(value: Any) -> Any:
    """:func:`finalize`, but ``None`` (none or undefined: the binding passes both as ``None``) as MARK."""
    return MARK if value is None else finalize(value)


def resolve_marks(marked: str, plain: str) -> str | None:
    """2.8's text from two renders: ``marked`` (MARK where none or undefined printed) and ``plain``
    (3.x: ``None`` for none, nothing for undefined). Each MARK becomes ``none`` where ``plain`` has
    ``None`` there, else nothing; ``None`` if the two cannot be aligned."""
    pieces = marked.split(MARK)
    choices: list[str] = []
    seen: set[tuple[int, int]] = set()

    def walk(i: int, at: int) -> bool:
        if not plain.startswith(pieces[i], at):
            return False
        at += len(pieces[i])
        if i == len(pieces) - 1:
            return at == len(plain)
        if (i, at) in seen:
            return False
        seen.add((i, at))
        for printed, written in (("None", "none"), ("", "")):
            if plain.startswith(printed, at) and walk(i + 1, at + len(printed)):
                choices.append(written)
                return True
        return False

    if not walk(0, 0):
        return None
    choices.reverse()
    return pieces[0] + "".join(c + p for c, p in zip(choices, pieces[1:]))


def with_variables(source: str, variables: dict[str, Any]) -> str:
    """``source`` with its variables set in front as native minijinja values, on its first line."""
    return "".join(f"{{% set {name} = {minijinja_literal(value)} %}}" for name, value in variables.items()
                   if name.isidentifier() and name not in _NOT_NAMES) + source


def _error(exc: BaseException, phase: str) -> dict[str, Any]:
    if isinstance(exc, Raised):
        return {"phase": phase, "kind": "raise_exception", "detail": str(exc), "line": None}
    kind = getattr(exc, "kind", None)
    if kind is None:  # a Python error inside a callback (strftime_now(42) ...)
        return {"phase": phase, "kind": type(exc).__name__, "detail": str(exc), "line": None}
    detail = getattr(exc, "detail", None) or str(getattr(exc, "message", exc)).splitlines()[0]
    return {"phase": phase, "kind": str(kind), "detail": detail, "line": getattr(exc, "line", None)}


class Worker:
    def __init__(self) -> None:
        self.clock = _Clock()
        self.env = tgi_environment(self.clock)
        self.loaded: set[str] = set()
        self.scoped: dict[str, str] = {}

    def template(self, source: str) -> str:
        key = hashlib.sha256(source.encode()).hexdigest()
        if key not in self.loaded:
            if len(self.loaded) >= _MAX_CACHED:
                self.env.clear_templates()
                self.loaded.clear()
            self.env.add_template(key, source)
            line = unpacking_set_line(source)
            if line is not None:
                raise Unparsable("unexpected `,`, expected assignment operator", line)
            self.loaded.add(key)
        return key

    def rewritten(self, source: str) -> str:
        """``source`` with 2.8's loop scoping (:mod:`minijinja_loop_scope`), cached."""
        if source not in self.scoped:
            if len(self.scoped) >= _MAX_CACHED:
                self.scoped.clear()
            self.scoped[source] = with_persistent_loop_locals(source)
        return self.scoped[source]

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        source = request["source"]
        try:
            key = self.template(source)
            if request["op"] == "undeclared":
                return {"ok": sorted(self.env.undeclared_variables_in_template(key, nested=True))}
        except Exception as exc:  # noqa: BLE001 - a template that does not compile is an answer
            return {"error": _error(exc, "compile")}
        if self.env.fuel != request["fuel"]:  # setting it costs as much as a small render
            self.env.fuel = request["fuel"]
        self.clock.today = date.fromisoformat(request["today"]) if request.get("today") else None
        text = with_variables(self.rewritten(source), request["variables"])
        try:
            out = self.env.render_str(text, key)
            if MARK in out:  # none or undefined printed: render again to tell them apart
                self.env.finalizer = finalize
                try:
                    plain = self.env.render_str(text, key)
                finally:
                    self.env.finalizer = finalize_marking_none
                natural = MARK in source or MARK in json.dumps(request["variables"], ensure_ascii=False)
                out = (None if natural else resolve_marks(out, plain)) or plain
        except Exception as exc:  # noqa: BLE001 - any error the template causes is the answer
            return {"error": _error(exc, "render")}
        if len(out) > request["max_chars"]:
            return {"error": {"phase": "render", "kind": "size", "detail": f"output of {len(out):,} characters",
                              "line": None}}
        return {"ok": out}


def main() -> None:
    import resource

    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    worker = Worker()
    out = sys.stdout
    for line in sys.stdin:
        try:
            answer = worker.handle(json.loads(line))
        except MemoryError:
            answer = {"error": {"phase": "render", "kind": "memory", "detail": "ran out of memory", "line": None}}
        out.write(json.dumps(answer) + "\n")  # ASCII: safe for any string
        out.flush()


if __name__ == "__main__":
    main()
