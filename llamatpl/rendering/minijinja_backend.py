"""minijinja as TGI's router configures it, bounded for hostile templates: the backend of
``--engine tgi`` and of lint rule LT004.

The environment itself is built in :mod:`llamatpl.rendering.minijinja_worker` (a child process with
an address-space limit: an allocation minijinja does not check aborts that process, not the caller). Here the parent side: one long-lived
worker per process, started on first use, with an address-space limit; every render has the
deadline of :class:`~llamatpl.rendering.limits.Limits` and a fuel budget (minijinja's instruction
count). TGI itself sets no fuel; the budget is far above what any real chat template spends (the
official 3.1 template spends about 5,000 on a tool round trip). Errors become one located line:
:class:`~llamatpl.errors.InvalidTemplate`, :class:`~llamatpl.errors.RenderError` or
:class:`~llamatpl.errors.LimitExceeded`.

TGI v3.3.7 links Rust minijinja 2.8.0; the project's Python binding is 3.x (``minijinja>=3.0``, the
one the fast rendering backend uses). The worker sets 3.x back to 2.8's output by configuration and
two source-level adjustments (its docstring lists each difference); ``tests/test_minijinja_28.py``
checks it against minijinja's own 2.9.0 binding.
"""

from __future__ import annotations

import functools
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from datetime import date
from typing import Any

from ..errors import InvalidTemplate, LimitExceeded, RenderError
from .limits import DEFAULT_LIMITS, Limits

FUEL = 50_000_000  # about a second of template work; TGI sets none
MEMORY = 1 << 30  # the worker's address-space limit, in bytes
_WORDS = {"InvalidOperation": "invalid operation", "UndefinedError": "undefined value", "SyntaxError": "syntax error",
          "UnknownFilter": "unknown filter", "UnknownFunction": "unknown function", "UnknownMethod": "unknown method",
          "UnknownTest": "unknown test", "TooManyArguments": "too many arguments",
          "MissingArgument": "missing argument", "CannotUnpack": "cannot unpack",
          "BadSerialization": "bad serialization", "CannotDeserialize": "cannot deserialize",
          "WriteFailure": "write failure", "BadEscape": "bad string escape", "raise_exception": "template error"}


class _Crashed(Exception):
    pass


def _jsonable(value: Any) -> Any:
    """What the worker gets for a value JSON has no form for (a tuple is a list already)."""
    return str(value)


class _Worker:
    """One child process running :mod:`minijinja_worker`; restarted after a crash or a timeout."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid = 0
        self.buffer = bytearray()

    def _start(self) -> subprocess.Popen[bytes]:
        if self.proc is None or self.pid != os.getpid() or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "llamatpl.rendering.minijinja_worker", str(MEMORY)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self.pid = os.getpid()
            self.buffer = bytearray()
        return self.proc

    def stop(self) -> None:
        if self.proc is not None and self.pid == os.getpid():
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def ask(self, request: Mapping[str, Any], seconds: float) -> dict[str, Any]:
        """Send one request; raise TimeoutError past ``seconds``, :class:`_Crashed` if the worker died."""
        with self.lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(request, default=_jsonable).encode() + b"\n")
                proc.stdin.flush()
                return json.loads(self._read_line(proc.stdout.fileno(), time.monotonic() + seconds))
            except (TimeoutError, _Crashed, BrokenPipeError):
                self.stop()
                raise
            except OSError as exc:
                self.stop()
                raise _Crashed(str(exc)) from None

    def _read_line(self, fd: int, deadline: float) -> bytes:
        while (end := self.buffer.find(b"\n")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise _Crashed("the minijinja process ended")
            self.buffer += chunk
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        return line


_WORKER = _Worker()


def _ask(request: dict[str, Any], name: str, limits: Limits) -> Any:
    try:
        answer = _WORKER.ask(request, limits.seconds)
    except TimeoutError:
        raise LimitExceeded(f"{name}: time limit: ran longer than {limits.seconds:g} s under minijinja "
                            "(a runaway loop?)", reason="time limit") from None
    except BrokenPipeError:
        raise LimitExceeded(f"{name}: memory limit: the minijinja process ended (a value too large to build?)",
                            reason="memory limit") from None
    except _Crashed:
        raise LimitExceeded(f"{name}: memory limit: minijinja aborted (a string or list too large to build?)",
                            reason="memory limit") from None
    if "error" in answer:
        raise _located(answer["error"], request["source"], name, request.get("fuel", FUEL))
    return answer["ok"]


def render_minijinja(source: str, variables: Mapping[str, Any], *, name: str = "template",
                     today: date | None = None, limits: Limits = DEFAULT_LIMITS, fuel: int = FUEL) -> str:
    """Render template ``source`` with exactly ``variables`` (JSON values) under TGI's minijinja set-up."""
    request = {"op": "render", "source": source, "today": today.isoformat() if today else None,
               "fuel": fuel, "max_chars": limits.max_chars, "variables": dict(variables)}
    out: str = _ask(request, name, limits)
    return out


def undeclared_variables(source: str, *, name: str = "template") -> frozenset[str]:
    """The variables ``source`` reads without setting them, with nested attribute paths (``tools.x``),
    as minijinja's ``Template::undeclared_variables(true)`` reports them."""
    return _undeclared(source, name)


@functools.lru_cache(maxsize=64)
def _undeclared(source: str, name: str) -> frozenset[str]:
    return frozenset(_ask({"op": "undeclared", "source": source}, name, DEFAULT_LIMITS))


def _located(error: Mapping[str, Any], source: str, name: str, fuel: int) -> RenderError | InvalidTemplate:
    """``official:3.1 line 71: minijinja invalid operation: <what went wrong>``."""
    kind, line = error["kind"], error["line"]
    detail = re.sub(r" \(in [0-9a-f]{64}:\d+\)", "", error["detail"])  # the worker's cache key
    if kind == "raise_exception" and line is None:
        line = _line_mentioning(source, detail)
    where = f"{name} line {line}" if line else name
    if error["phase"] == "compile":
        return InvalidTemplate(f"{where}: does not parse under minijinja: {detail}", line=line)
    if kind in ("OutOfFuel", "size", "memory") or "recursion limit" in detail or "out of fuel" in detail:
        what = {"OutOfFuel": f"fuel limit: ran more than {fuel:,} minijinja instructions (a runaway loop?)",
                "size": f"size limit: {detail}", "memory": "memory limit: ran out of memory"}
        reason = what.get(kind) or (what["OutOfFuel"] if "fuel" in detail else f"recursion limit: {detail}")
        return LimitExceeded(f"{where}: {reason}", line=line, reason=reason.split(":")[0])
    label = _WORDS.get(kind, re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower())
    return RenderError(f"{where}: minijinja {label}: {detail}", line=line, reason=detail)


def _line_mentioning(source: str, text: str) -> int | None:
    """The one template line that holds ``text`` (a raise_exception message), if exactly one does."""
    if not text:
        return None
    hits = [i for i, line in enumerate(source.splitlines(), 1) if text in line]
    return hits[0] if len(hits) == 1 else None
