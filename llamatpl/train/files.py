"""``llamatpl prepare``: a JSONL file of conversations to training rows, in input order, in one or
several processes, into a file that is complete or absent.

A bad line never takes good rows with it: each line's failure is caught where it happens (in the
worker) and comes back in its place in the order, so with any number of jobs every good row before
it has been written. ``on_error="stop"`` stops there and writes nothing (the error names the line);
``"skip"`` writes every good row and records each bad line.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ..errors import InputError, LlamatplError, UsageError
from ..rendering.conversation import line_blocks, number_lines, parse_line, read_block
from .masks import MaskJob
from .sinks import AtomicFile, Rows, RowSink, check_target
from .workers import ordered

BLOCK = 1 << 17  # bytes of whole lines encoded per task (about 70 chat rows)
AHEAD = 8  # blocks a worker has queued (100-200 ms of work): enough to cover a row group being written, few enough that this process is not left waiting long at the end
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


Block = tuple[str, int, int, bytes]  # (file, first line's number, byte offset, the bytes): line_blocks
Task = tuple[str, int, int, int | bytes]  # a Block, or with its length in place of its bytes (read where it is encoded)
Encoded = tuple[Rows, list[Failure]]  # a block's good rows, and its bad lines in order


def encode_block(task: Task, job: MaskJob) -> Encoded:
    """A block of JSONL lines to training rows, and the reason each bad one is bad."""
    path, first, offset, data = task
    rows, failures = Rows(), []
    for number, text in number_lines(first, read_block(path, offset, data) if isinstance(data, int) else data):
        where = f"{path}:{number}"
        try:
            ids, mask = job.encode_row(parse_line(where, text, checks=job.checks))
        except LlamatplError as exc:
            failures.append(Failure(number, where, exc.at(where).message))
            continue
        rows.add(number, ids, mask)
    return rows, failures


def encode_blocks(blocks: Iterable[Block], job: MaskJob, *, jobs: int = 1, reread: bool = True) -> Iterator[Encoded]:
    """Each block's rows and failures, in input order, in ``jobs`` processes: this one and
    ``jobs - 1`` workers (:func:`llamatpl.train.workers.ordered`), which read their blocks from the
    file (``reread``) or are sent their bytes (stdin)."""
    job.load()  # once here; forked workers share it
    if jobs <= 1:
        for block in blocks:
            yield encode_block(block, job)
        return
    yield from ordered(iter(blocks), functools.partial(encode_block, job=job), processes=jobs - 1, ahead=AHEAD,
                       remote=_by_place if reread else _as_it_is, start=job.load)


def _by_place(block: Block) -> Task:
    path, first, offset, data = block
    return path, first, offset, len(data)


def _as_it_is(block: Block) -> Task:
    return block


def prepare_file(path: str, output: str | Path, job: MaskJob, *, jobs: int = 1, on_error: str = "stop",
                 errors: str | Path | None = None, report: Callable[[Failure], None] | None = None,
                 progress: Callable[[int], None] | None = None) -> Summary:
    """Write one training row per conversation of the JSONL file ``path`` (``-``: stdin) to ``output``.

    With ``on_error="stop"`` the first bad line raises :class:`~llamatpl.errors.InputError` naming
    it and nothing is written; with ``"skip"`` every good row is written and each bad line is passed
    to ``report`` and recorded in ``errors`` (a JSONL file), if given.
    """
    if on_error not in ON_ERROR:
        raise UsageError(f"--on-error: {on_error!r} is not one of {', '.join(ON_ERROR)}")
    if errors is not None and on_error != "skip":
        raise UsageError("--errors: only with --on-error skip (a stop names the bad line on stderr)")
    stdin = path == "-"
    inputs = () if stdin else (Path(path),)
    sink = RowSink(output, inputs=inputs, background=jobs > 1)
    log_file = None
    if errors is not None:
        check_target("--errors", Path(errors), inputs=inputs, output=Path(output))
        log_file = AtomicFile(Path(errors))
    summary = Summary()
    with contextlib.ExitStack() as stack:
        log: IO[str] | None = None
        if log_file is not None:
            log = stack.enter_context(open(stack.enter_context(log_file), "w", encoding="utf-8"))
        with sink:
            name = "<stdin>" if stdin else path
            blocks = ((name, first, offset, data) for first, offset, data in line_blocks(path, BLOCK))
            for rows, failures in encode_blocks(blocks, job, jobs=jobs, reread=not stdin):
                for failure in failures:
                    if on_error == "stop":
                        raise InputError(failure.message)
                    summary.failures.append(failure)
                    if report:
                        report(failure)
                    if log is not None:
                        log.write(failure.record() + "\n")
                sink.write(rows)
                if progress:
                    progress(len(rows) + len(failures))
            summary.rows = sink.rows
    return summary
