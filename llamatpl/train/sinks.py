"""Training rows to a file that is either complete or absent: written to a temporary file beside the
target and renamed over it only when every row is in (an error or Ctrl-C removes the temporary file).

Parquet goes through pyarrow (the ``llamatpl[train]`` extra) in row groups, so memory stays flat in
the number of rows; the columns are ``input_ids``, ``assistant_mask``, ``labels`` and ``line``, as
``datasets.load_dataset("parquet", data_files=...)`` reads them. A row group is built from flat
buffers (each row's ids appended as machine integers, ``labels`` computed by Arrow from the mask),
not from Python lists, so the writing process stays a small share of the work beside the encoders.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import json
import os
import tempfile
from array import array
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..errors import UsageError
from .masks import IGNORE_INDEX, labels_of

COLUMNS = ("input_ids", "assistant_mask", "labels", "line")
ROW_GROUP = 4096  # rows buffered before a Parquet row group is written
ROW_GROUP_TOKENS = 1 << 24  # or tokens (long rows): memory stays flat, and list offsets within int32


class Rows:
    """Training rows in flat buffers (line numbers, lengths, all the ids, all the mask bytes), as
    encoders hand them over: a block of rows pickles as four buffers between processes and joins
    the sink's buffers by copying bytes, whatever the number of rows in it."""

    __slots__ = ("lines", "lengths", "ids", "mask")

    def __init__(self, lines: array | None = None, lengths: array | None = None, ids: array | None = None,
                 mask: bytearray | None = None) -> None:
        self.lines = array("q") if lines is None else lines
        self.lengths = array("i") if lengths is None else lengths
        self.ids = array("i") if ids is None else ids  # int32
        self.mask = bytearray() if mask is None else mask  # one byte (0 or 1) a token

    def __reduce__(self) -> tuple[type[Rows], tuple[array, array, array, bytearray]]:
        return Rows, (self.lines, self.lengths, self.ids, self.mask)

    def __len__(self) -> int:
        return len(self.lines)

    def add(self, line: int, input_ids: bytes, assistant_mask: bytes | bytearray) -> None:
        """One row: ``input_ids`` packed as native int32 bytes (:meth:`.masks.MaskJob.encode_row`)."""
        self.lines.append(line)
        self.lengths.append(len(assistant_mask))
        self.ids.frombytes(input_ids)
        self.mask += assistant_mask

    def extend(self, other: Rows) -> None:
        self.lines += other.lines
        self.lengths += other.lengths
        self.ids += other.ids
        self.mask += other.mask

    def dicts(self) -> Iterator[dict[str, Any]]:
        """Each row as the JSON sink writes it."""
        at = 0
        for line, length in zip(self.lines, self.lengths):
            ids, mask = self.ids[at:at + length].tolist(), list(self.mask[at:at + length])
            at += length
            yield {"input_ids": ids, "assistant_mask": mask, "labels": labels_of(ids, mask), "line": line}


def require_pyarrow() -> Any:
    """pyarrow, or a usage error that says how to get it."""
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise UsageError("writing Parquet needs pyarrow: pip install 'llamatpl[train]' (in a source checkout: '.[train]') "
                         "(or write JSONL: -o OUT.jsonl)") from None
    return pyarrow


def check_target(option: str, path: Path, *, inputs: tuple[Path, ...] = (), output: Path | None = None) -> None:
    """A usage error unless ``path`` can be written as a new file that replaces none of ``inputs``
    and is not ``output`` (the ``-o`` file, for a second file written beside it)."""
    if path.is_dir():
        raise UsageError(f"{option}: {path}: is a directory; name a file")
    if not path.parent.is_dir():
        raise UsageError(f"{option}: {path.parent}: no such directory")
    others = [(other, "the input file") for other in inputs] + ([(output, "the output file (-o)")] if output else [])
    for other, what in others:
        if path.resolve() == other.resolve() or (path.exists() and other.exists() and path.samefile(other)):
            shown = "" if str(other) == str(path) else f" {other}"
            raise UsageError(f"{option}: {path} is {what}{shown}: writing it would destroy that file")


def new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file (0666 less the umask)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """A temporary file beside ``path``, renamed over it when the ``with`` block ends without an error
    and removed otherwise (an error, Ctrl-C, or a termination signal turned into SystemExit)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temp = ""

    def __enter__(self) -> str:
        fd, self.temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part")
        os.close(fd)
        os.chmod(self.temp, new_file_mode())  # mkstemp makes it 0600; the finished file gets the usual mode
        return self.temp

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                os.replace(self.temp, self.path)
        finally:
            if os.path.exists(self.temp):
                os.unlink(self.temp)


class RowSink:
    """Rows to ``path``, atomically; ``.parquet`` or ``.jsonl`` by suffix.

    ``background=True`` writes each Parquet row group in a thread while the caller goes on (pyarrow
    releases the GIL while it encodes and compresses): with worker processes, the process that hands
    them their blocks then never leaves them idle for the 40 ms or so a row group takes. One job writes in
    the thread that encodes, so that it uses one core. The thread starts at the first row group, after
    worker processes have been forked."""

    def __init__(self, path: str | Path, *, inputs: tuple[Path, ...] = (), background: bool = False) -> None:
        self.path = Path(path)
        self._background = background
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None  # made in __enter__ when background
        self._writing: concurrent.futures.Future[None] | None = None
        self.parquet = self.path.suffix.lower() in (".parquet", ".pq")
        if not self.parquet and self.path.suffix.lower() not in (".jsonl", ".ndjson"):
            raise UsageError(f"-o: {self.path}: name a .parquet or .jsonl file")
        self.pa: Any = require_pyarrow() if self.parquet else None
        check_target("-o", self.path, inputs=inputs)
        self.rows = 0
        self._buffered = Rows()
        self._writer: Any = None
        self._handle: IO[str] | None = None
        self._file = AtomicFile(self.path)

    def __enter__(self) -> RowSink:
        temp = self._file.__enter__()
        if self.parquet:
            pa = self.pa
            schema = pa.schema([("input_ids", pa.list_(pa.int32())), ("assistant_mask", pa.list_(pa.int8())),
                                ("labels", pa.list_(pa.int32())), ("line", pa.int64())])
            # no dictionary pages: token ids rarely repeat enough for one, and building it costs the
            # writing process more than the encoders' share allows (about a third of its time)
            self._writer = pa.parquet.ParquetWriter(temp, schema, use_dictionary=False, write_statistics=["line"])
            if self._background:
                self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="llamatpl-parquet")
        else:
            self._handle = open(temp, "w", encoding="utf-8")
        return self

    def write(self, rows: Rows) -> None:
        self.rows += len(rows)
        if self._handle is not None:
            for row in rows.dicts():
                self._handle.write(json.dumps(row, separators=(",", ":")) + "\n")
            return
        self._buffered.extend(rows)
        if len(self._buffered) >= ROW_GROUP or len(self._buffered.ids) >= ROW_GROUP_TOKENS:
            self._flush()

    def _flush(self) -> None:
        rows, self._buffered = self._buffered, Rows()
        if not len(rows):
            return
        if self._pool is None:
            self._write_group(rows)
            return
        self._wait()  # one row group in writing at a time: memory stays flat
        self._writing = self._pool.submit(self._write_group, rows)

    def _wait(self) -> None:
        """The row group being written in the background is written (its error raised here)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            writing.result()

    def _write_group(self, rows: Rows) -> None:
        pa = self.pa
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        def flat(kind: Any, values: Any, count: int) -> Any:
            return pa.Array.from_buffers(kind, count, [None, pa.py_buffer(values)])

        offsets = flat(pa.int32(), array("i", itertools.accumulate(rows.lengths, initial=0)), len(rows) + 1)
        count = len(rows.ids)
        ids, mask = flat(pa.int32(), rows.ids, count), flat(pa.int8(), rows.mask, count)
        ignored = flat(pa.int32(), array("i", [IGNORE_INDEX]) * count, count)  # (pa.scalar would import pandas)
        labels = pc.if_else(pc.cast(mask, pa.bool_()), ids, ignored)
        columns = [pa.ListArray.from_arrays(offsets, ids), pa.ListArray.from_arrays(offsets, mask),
                   pa.ListArray.from_arrays(offsets, labels), flat(pa.int64(), rows.lines, len(rows))]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._writer.schema))

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._flush()
                self._wait()
            if self._pool is not None:  # after an error, the group in writing finishes (or fails) first
                self._pool.shutdown(wait=True, cancel_futures=True)
            if self._writer is not None:
                self._writer.close()
            if self._handle is not None:
                self._handle.close()
        except BaseException as error:
            self._file.__exit__(type(error), error, error.__traceback__)
            raise
        self._file.__exit__(kind, exc, tb)
