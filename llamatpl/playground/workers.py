"""Worker processes that run the playground's API calls under a hard time bound.

Every render already runs in the sandbox under :class:`~llamatpl.rendering.limits.Limits`, which
stops a runaway template at its deadline. A request is bounded once more from outside: it runs in
a separate process, and a worker that has not answered in time is killed and replaced, so nothing
a template does can stall the server or grow its memory. A worker is a fresh interpreter
(``python -m llamatpl.playground.workers``: nothing of the server's state or threads is copied)
that reads one JSON request a line on stdin and writes one JSON answer a line on stdout; it
ignores Ctrl-C, and the server stops it.
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from .api import Answer


READY = b"ready\n"
# The server writes no files: no .pyc (-B too), and no .hypothesis/ cache in the working folder
# (verify's search caches constants and Unicode tables there; under a path that cannot be created,
# hypothesis skips its caches, as it does on any write error).
NO_FILES = {"PYTHONDONTWRITEBYTECODE": "1", "HYPOTHESIS_STORAGE_DIRECTORY": os.path.join(os.devnull, "hypothesis")}
STARTUP_SECONDS = 60.0  # a fresh interpreter importing llamatpl: not part of a request's time


def main() -> None:
    """A worker's loop: ``[kind, body]`` in, ``[status, answer]`` out, a line each, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .api import answer

    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # anything printed by accident must not corrupt the answers
    # warm up (imports, the tokenizer's ranks) so that a request's time bound measures its own work
    answer("render", {"template": "3.1", "conversation": {"messages": [{"role": "user", "content": "Hello!"}]}})
    out.write(READY)
    out.flush()
    for line in sys.stdin.buffer:
        kind, body = json.loads(line)
        status, result = answer(kind, body)
        out.write(json.dumps([status, result], ensure_ascii=True).encode("ascii") + b"\n")
        out.flush()


class Worker:
    """One worker process and the pipes to it."""

    def __init__(self, started: Callable[[Worker], None] | None = None) -> None:
        """Start a worker and wait until it is ready; ``started`` is called as soon as its process
        exists, so that a shutdown during the wait can stop it (which ends the wait)."""
        self.process = subprocess.Popen([sys.executable, "-B", "-m", __name__], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, env={**os.environ, **NO_FILES})
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in: IO[bytes] = self.process.stdin
        self._out: IO[bytes] = self.process.stdout
        if started is not None:
            started(self)
        if not self._wait(STARTUP_SECONDS) or self._out.readline() != READY:
            self.stop()
            raise OSError("a playground worker did not start")

    def _wait(self, seconds: float) -> bool:
        """Whether the worker wrote something within ``seconds``."""
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            selector.register(self._out, selectors.EVENT_READ)
            # in short waits: a shutdown stops the worker and closes this pipe from another thread,
            # and epoll forgets a closed pipe, so its end would never show; the process's does
            while not selector.select(min(max(deadline - time.monotonic(), 0), 0.2)):
                if self.process.poll() is not None:
                    return True  # it ended: reading now finds the end (or the closed pipe)
                if time.monotonic() >= deadline:
                    return False
        return True

    def call(self, kind: str, body: Any, seconds: float) -> Answer | None:
        """The answer, or ``None`` when ``seconds`` passed first (the worker is then unusable)."""
        self._in.write(json.dumps([kind, body], ensure_ascii=True).encode("ascii") + b"\n")
        self._in.flush()
        if not self._wait(seconds):
            return None
        line = self._out.readline()
        if not line:
            raise EOFError("the worker exited")
        status, answer = json.loads(line)
        return status, answer

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(5)
        for pipe in (self._in, self._out):
            pipe.close()


class WorkerPool:
    """At most ``size`` workers, started on first use; a call waits for a free one."""

    def __init__(self, size: int = 2) -> None:
        self._slots = threading.Semaphore(size)
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        self._lock = threading.Lock()
        self._live: set[Worker] = set()
        self._closed = False

    def call(self, kind: str, body: Any, seconds: float) -> Answer:
        """Run ``kind`` on ``body`` in a worker; past ``seconds`` the worker is killed (HTTP 504)."""
        with self._slots:
            try:
                worker = self._take()
            except OSError as exc:
                return 503, {"error": f"cannot start a worker: {exc}"}
            try:
                result = worker.call(kind, body, seconds)
            except (EOFError, OSError, ValueError):
                self._drop(worker)
                if self._closed:
                    return 503, {"error": "the playground is stopping"}
                return 500, {"error": "the worker stopped while answering (out of memory?); it was restarted"}
            if result is None:
                self._drop(worker)
                return 504, {"error": f"stopped after {seconds:g} s: the request took too long (a runaway "
                                      "template?); the server goes on"}
            self._idle.put(worker)
            return result

    def _take(self) -> Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        if self._closed:
            raise OSError("the playground is stopping")
        return Worker(self._started)

    def _started(self, worker: Worker) -> None:
        with self._lock:
            self._live.add(worker)
            closed = self._closed
        if closed:  # close() ran before this worker was known to it
            worker.stop()

    def _drop(self, worker: Worker) -> None:
        with self._lock:
            self._live.discard(worker)
        worker.stop()

    def close(self) -> None:
        """Stop every worker (on shutdown)."""
        with self._lock:
            self._closed = True
            workers, self._live = list(self._live), set()
        for worker in workers:
            worker.stop()


if __name__ == "__main__":
    main()
