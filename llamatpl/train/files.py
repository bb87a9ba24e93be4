"""``llamatpl prepare``: a JSONL file of conversations to training rows, in input order, in one or
several processes, into a file that is complete or absent.

A bad line never takes good rows with it: each line's failure is caught where it happens (in the
worker) and comes back in its place in the order, so with any number of jobs every good row before
it has been written. ``on_error="stop"`` stops there and writes nothing (the error names the line);
``"skip"`` writes every good row and records each bad line.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import IO

from ..errors import InputError, LlamatplError, UsageError
from ..rendering.conversation import numbered_lines, parse_line
from .masks import MaskJob
from .sinks import AtomicFile, Row, RowSink, check_target

CHUNK = 64  # lines a worker encodes per task
IN_FLIGHT = 32  # tasks per worker queued ahead: more than a row group, so workers keep busy while one is written
ON_ERROR = ("stop", "skip")


@dataclass(frozen=True)
class Failure:
    """A bad input line: its number, its place (``data.jsonl:5``) and one line saying why."""

    line: int
    where: str
    message: str

    def record(self) -> str:
        return json.dumps({"line": self.line, "where": self.where, "error": self.message}, ensure_ascii=False)


@dataclass
class Summary:
    rows: int = 0
    failures: list[Failure] = field(default_factory=list)


Item = tuple[str, str | bytes]  # (place, raw JSONL line)


def encode_line(item: Item, job: MaskJob) -> Row | Failure:
    """One JSONL line to a training row, or the reason it is bad."""
    where, text = item
    number = int(where.rpartition(":")[2])
    try:
        encoded = job.encode(parse_line(where, text, checks=job.checks))
    except LlamatplError as exc:
        return Failure(number, where, exc.at(where).message)
    return Row.of(number, encoded.input_ids, encoded.assistant_mask)


_WORKER: MaskJob | None = None


def _start_worker(job: MaskJob) -> None:
    global _WORKER
    _WORKER = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the pool
    job.load()


def _work(items: list[Item]) -> list[Row | Failure]:
    assert _WORKER is not None
    return [encode_line(item, _WORKER) for item in items]


def encode_lines(items: Iterable[Item], job: MaskJob, *, jobs: int = 1) -> Iterator[Row | Failure]:
    """Rows (or failures) for many lines, in input order; ``jobs`` > 1 encodes in worker processes."""
    job.load()  # once here; forked workers share it
    if jobs <= 1:
        for item in items:
            yield encode_line(item, job)
        return
    import multiprocessing

    context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
    pool = (context or multiprocessing).Pool(jobs, initializer=_start_worker, initargs=(job,))
    try:
        source = iter(items)
        pending: collections.deque[AsyncResult[list[Row | Failure]]] = collections.deque()
        while chunk := list(itertools.islice(source, CHUNK)):
            pending.append(pool.apply_async(_work, (chunk,)))
            if len(pending) >= IN_FLIGHT * jobs:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
    finally:
        pool.terminate()


def prepare_file(path: str, output: str | Path, job: MaskJob, *, jobs: int = 1, on_error: str = "stop",
                 errors: str | Path | None = None, report: Callable[[Failure], None] | None = None,
                 progress: Callable[[int], None] | None = None) -> Summary:
    """Write one training row per conversation of the JSONL file ``path`` to ``output``.

    With ``on_error="stop"`` the first bad line raises :class:`~llamatpl.errors.InputError` naming
    it and nothing is written; with ``"skip"`` every good row is written and each bad line is passed
    to ``report`` and recorded in ``errors`` (a JSONL file), if given.
    """
    if on_error not in ON_ERROR:
        raise UsageError(f"--on-error: {on_error!r} is not one of {', '.join(ON_ERROR)}")
    if errors is not None and on_error != "skip":
        raise UsageError("--errors: only with --on-error skip (a stop names the bad line on stderr)")
    source = Path(path)
    sink = RowSink(output, inputs=(source,))
    log_file = None
    if errors is not None:
        check_target("--errors", Path(errors), inputs=(source, Path(output)))
        log_file = AtomicFile(Path(errors))
    summary = Summary()
    with contextlib.ExitStack() as stack:
        log: IO[str] | None = None
        if log_file is not None:
            log = stack.enter_context(open(stack.enter_context(log_file), "w", encoding="utf-8"))
        with sink:
            for outcome in encode_lines(numbered_lines(path), job, jobs=jobs):
                if isinstance(outcome, Failure):
                    if on_error == "stop":
                        raise InputError(outcome.message)
                    summary.failures.append(outcome)
                    if report:
                        report(outcome)
                    if log is not None:
                        log.write(outcome.record() + "\n")
                else:
                    sink.write(outcome)
                if progress:
                    progress(1)
            summary.rows = sink.rows
    return summary
