"""Worker processes for ``llamatpl prepare``: blocks of lines out, encoded rows back, in input order,
with the calling process encoding too.

``--jobs N`` is N encoding processes: N - 1 forked workers and the process that reads the input and
writes the output, which encodes a block itself whenever the oldest block out is not back yet (and
writes Parquet row groups in a thread: :class:`~llamatpl.train.sinks.RowSink`). So on two cores
``--jobs 2`` runs two busy processes, not three. Each worker has one pipe; tasks (a
block's place in the file, which the worker reads itself) and results (flat buffers:
:class:`~llamatpl.train.sinks.Rows`) cross it, and this process reads whatever is ready in its
main thread: ``multiprocessing.Pool`` would add a task thread and a result thread that contend with
the encoding for the GIL, which cost about a tenth of two jobs' throughput here.

A worker that dies (killed, out of memory) ends the run with one line naming its exit code. Ctrl-C
is the calling process's: workers ignore SIGINT and are terminated when the run ends.
"""

from __future__ import annotations

import collections
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

from ..errors import LlamatplError

Task = TypeVar("Task")
Result = TypeVar("Result")

_MISSING: Any = object()
PIPE_BYTES = 1 << 20  # a result pipe's size where the system lets it be set (Linux's default limit)


class WorkerDied(LlamatplError):
    """A worker process ended without answering."""


class _Slot(Generic[Result]):
    __slots__ = ("result",)

    def __init__(self, result: Result = _MISSING) -> None:
        self.result = result


def _serve(tasks: Connection, results: Connection, work: Callable[[Any], Any],
           start: Callable[[], None] | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the calling process's to handle
    if start is not None:
        start()
    parent = os.getppid()
    while True:
        while not tasks.poll(1.0):  # idle: leave if the calling process was killed (nothing else would end this one)
            if os.getppid() != parent:
                return
        try:
            task = tasks.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            result = ("ok", work(task))
        except Exception as exc:  # noqa: BLE001 - handed back, raised in the calling process
            result = ("raised", exc)
        try:
            results.send(result)
        except OSError:
            return  # the calling process stopped reading: it is ending the run
        except Exception as exc:  # noqa: BLE001 - an exception that does not pickle
            results.send(("raised", RuntimeError(f"{type(exc).__name__}: {exc}")))


def ordered(tasks: Iterator[Task], work: Callable[[Task], Result], *, processes: int, ahead: int,
            remote: Callable[[Task], Any] = lambda task: task, start: Callable[[], None] | None = None
            ) -> Iterator[Result]:
    """``work(task)`` for each task, in order, in this process and ``processes`` forked workers.

    Each worker has at most ``ahead`` tasks out; a worker receives ``remote(task)`` (what it needs
    to do the task, smaller to send) and runs ``work`` on it after ``start()``."""
    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() \
        else multiprocessing.get_context()
    task_pipes = [context.Pipe(duplex=False) for _ in range(processes)]  # (worker's end, ours)
    result_pipes = [context.Pipe(duplex=False) for _ in range(processes)]  # (ours, worker's end)
    for _, sending in result_pipes:
        _widen(sending)
    workers = [context.Process(target=_serve, args=(tasks_in, results_out, work, start), daemon=True)
               for (tasks_in, _), (_, results_out) in zip(task_pipes, result_pipes)]
    for worker in workers:
        worker.start()
    for (tasks_in, _), (_, results_out) in zip(task_pipes, result_pipes):
        tasks_in.close()
        results_out.close()
    senders, receivers = [ours for _, ours in task_pipes], [ours for ours, _ in result_pipes]
    try:
        yield from _run(tasks, work, senders, receivers, workers, ahead, remote)
    finally:
        _stop(senders, receivers, workers)


def _widen(conn: Connection) -> None:
    """Let a result pipe hold several results (Linux; 64 KiB elsewhere), so a worker goes on to its
    next block while this process, busy encoding one of its own, has not read the last one yet."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except (ImportError, OSError):
        pass


def _run(tasks: Iterator[Task], work: Callable[[Task], Result], senders: list[Connection],
         receivers: list[Connection], workers: list[Any], ahead: int, remote: Callable[[Task], Any]
         ) -> Iterator[Result]:
    out: list[collections.deque[_Slot[Result]]] = [collections.deque() for _ in workers]
    pending: collections.deque[_Slot[Result]] = collections.deque()
    owner = {conn: index for index, conn in enumerate(receivers)}
    limit = 2 * ahead * len(workers)  # blocks held here at most, done or not
    more = True
    while True:
        while more and len(pending) < limit:  # hand out tasks to the least busy worker
            index = min(range(len(workers)), key=lambda i: len(out[i]))
            if len(out[index]) >= ahead:
                break
            task = next(tasks, _MISSING)
            if task is _MISSING:
                more = False
                break
            slot: _Slot[Result] = _Slot()
            try:
                senders[index].send(remote(task))
            except OSError:  # the worker's end is closed: it died
                raise _died(workers[index]) from None
            out[index].append(slot)
            pending.append(slot)
        for conn in wait([c for i, c in enumerate(receivers) if out[i]], timeout=0):
            index = owner[conn]  # type: ignore[index]
            while out[index] and receivers[index].poll():  # all that is back: a full pipe stalls a worker
                _receive(receivers[index], out[index], workers[index])
        while pending and pending[0].result is not _MISSING:
            yield pending.popleft().result
        if not pending:
            if not more:
                return
            continue
        if more and len(pending) < limit:  # the oldest is not back: encode the next block here
            task = next(tasks, _MISSING)
            if task is _MISSING:
                more = False
            else:
                pending.append(_Slot(work(task)))
            continue
        index = next(i for i, queue in enumerate(out) if queue and queue[0] is pending[0])
        ready = wait([receivers[index], workers[index].sentinel])
        if receivers[index] not in ready:
            raise _died(workers[index])
        _receive(receivers[index], out[index], workers[index])


def _receive(conn: Connection, out: collections.deque[_Slot[Any]], worker: Any) -> None:
    try:
        kind, value = conn.recv()
    except EOFError:
        raise _died(worker) from None
    if kind == "raised":
        raise value
    out.popleft().result = value


def _died(worker: Any) -> WorkerDied:
    worker.join(1)
    how = f"killed by signal {-worker.exitcode}" if worker.exitcode and worker.exitcode < 0 else \
        f"exit code {worker.exitcode}"
    return WorkerDied(f"a worker process ended ({how}) before finishing its rows: out of memory?")


def _stop(senders: list[Connection], receivers: list[Connection], workers: list[Any]) -> None:
    for conn in senders:
        try:
            conn.send(None)
        except (OSError, ValueError):
            pass
        conn.close()
    for worker in workers:
        worker.join(0.2)
        if worker.is_alive():
            worker.terminate()
            worker.join()
    for conn in receivers:
        conn.close()
