"""The process that runs minijinja for :mod:`llamatpl.rendering.minijinja_backend`.

minijinja 2.x has no size checks: ``'x' * 4000000000`` or a string doubled forty times makes its
allocator abort the whole process. So templates are rendered here, in a child process with an
address-space limit; the parent keeps the deadline and survives a crash. One JSON request a line on
stdin, one JSON answer a line on stdout. Imports nothing from llamatpl, so it starts fast.

The environment is the one TGI's router builds (``router/src/infer/chat_template.rs``,
``ChatTemplate::new`` at v3.3.7): ``Environment::new()`` (no ``trim_blocks``, no ``lstrip_blocks``,
lenient undefined), pycompat's unknown-method callback, and the functions ``raise_exception`` and
``strftime_now``. The Python binding adds filters and globals of ``minijinja-contrib`` and a ``d``
alias that TGI's build does not have; they are removed so a template that uses them fails as it does
behind TGI.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date, datetime
from typing import Any

# what the Python binding (2.9.0) registers beyond minijinja's builtins with TGI's cargo features
_EXTRA_FILTERS = ("pluralize", "filesizeformat", "truncate", "striptags", "d", "urlencode")
_EXTRA_GLOBALS = ("cycler", "joiner")
_MAX_CACHED = 64


class Raised(Exception):
    """``raise_exception(message)`` called by the template."""


class _Clock:
    today: date | None = None

    def strftime_now(self, fmt: str) -> str:
        now = datetime.now() if self.today is None else datetime(self.today.year, self.today.month, self.today.day)
        return now.strftime(fmt)


def tgi_environment(clock: _Clock) -> Any:
    """minijinja set up as TGI v3.3.7's router sets it up (see the module docstring)."""
    import minijinja  # type: ignore[import-untyped]  # 2.9.0 ships no py.typed (2.15 does)

    env = minijinja.Environment()
    env.pycompat = True  # env.set_unknown_method_callback(pycompat::unknown_method_callback)
    for name in _EXTRA_FILTERS:
        env.remove_filter(name)
    for name in _EXTRA_GLOBALS:
        env.remove_global(name)

    def raise_exception(message: Any) -> None:
        raise Raised(str(message))

    env.add_function("raise_exception", raise_exception)
    env.add_function("strftime_now", clock.strftime_now)
    return env


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

    def template(self, source: str) -> str:
        key = hashlib.sha256(source.encode()).hexdigest()
        if key not in self.loaded:
            if len(self.loaded) >= _MAX_CACHED:
                self.env.clear_templates()
                self.loaded.clear()
            self.env.add_template(key, source)
            self.loaded.add(key)
        return key

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
        try:
            out = self.env.render_template(key, **request["variables"])
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
