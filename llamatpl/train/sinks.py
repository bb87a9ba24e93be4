"""Training rows to a file that is either complete or absent: written to a temporary file beside the
target and renamed over it only when every row is in (an error or Ctrl-C removes the temporary file).

Parquet goes through pyarrow (the ``llamatpl[train]`` extra) in row groups, so memory stays flat in
the number of rows; the columns are ``input_ids``, ``assistant_mask``, ``labels`` and ``line``, as
``datasets.load_dataset("parquet", data_files=...)`` reads them. A row group is built from flat
buffers (each row's ids appended as machine integers, ``labels`` computed by Arrow from the mask),
not from Python lists, so the writing process stays a small share of the work beside the encoders.
"""

from __future__ import annotations

import json
import os
import tempfile
from array import array
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple

from ..errors import UsageError
from .masks import IGNORE_INDEX, labels_of

COLUMNS = ("input_ids", "assistant_mask", "labels", "line")
ROW_GROUP = 4096  # rows buffered before a Parquet row group is written


class Row(NamedTuple):
    """One training row as the encoders hand it over (compact arrays pickle as bytes between processes)."""

    line: int
    input_ids: array  # of "i" (int32)
    assistant_mask: array  # of "b" (int8)

    @classmethod
    def of(cls, line: int, input_ids: list[int], assistant_mask: list[int]) -> Row:
        return cls(line, array("i", input_ids), array("b", assistant_mask))

    def as_dict(self) -> dict[str, Any]:
        ids, mask = self.input_ids.tolist(), self.assistant_mask.tolist()
        return {"input_ids": ids, "assistant_mask": mask, "labels": labels_of(ids, mask), "line": self.line}


def require_pyarrow() -> Any:
    """pyarrow, or a usage error that says how to get it."""
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise UsageError("writing Parquet needs pyarrow: pip install 'llamatpl[train]' (in a source checkout: '.[train]') "
                         "(or write JSONL: -o OUT.jsonl)") from None
    return pyarrow


def check_target(option: str, path: Path, *, inputs: tuple[Path, ...] = ()) -> None:
    """A usage error unless ``path`` can be written as a new file that replaces none of ``inputs``."""
    if path.is_dir():
        raise UsageError(f"{option}: {path}: is a directory; name a file")
    if not path.parent.is_dir():
        raise UsageError(f"{option}: {path.parent}: no such directory")
    for other in inputs:
        if path.resolve() == other.resolve() or (path.exists() and other.exists() and path.samefile(other)):
            raise UsageError(f"{option}: {path} is also {other}: writing it would destroy that file")


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
    """Rows to ``path``, atomically; ``.parquet`` or ``.jsonl`` by suffix."""

    def __init__(self, path: str | Path, *, inputs: tuple[Path, ...] = ()) -> None:
        self.path = Path(path)
        self.parquet = self.path.suffix.lower() in (".parquet", ".pq")
        if not self.parquet and self.path.suffix.lower() not in (".jsonl", ".ndjson"):
            raise UsageError(f"-o: {self.path}: name a .parquet or .jsonl file")
        self.pa: Any = require_pyarrow() if self.parquet else None
        check_target("-o", self.path, inputs=inputs)
        self.rows = 0
        self._ids, self._mask, self._offsets, self._lines = array("i"), array("b"), array("i", [0]), array("q")
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
            self._writer = pa.parquet.ParquetWriter(temp, schema, use_dictionary=False)
        else:
            self._handle = open(temp, "w", encoding="utf-8")
        return self

    def write(self, row: Row) -> None:
        self.rows += 1
        if self._handle is not None:
            self._handle.write(json.dumps(row.as_dict(), separators=(",", ":")) + "\n")
            return
        self._ids.extend(row.input_ids)
        self._mask.extend(row.assistant_mask)
        self._offsets.append(len(self._ids))
        self._lines.append(row.line)
        if len(self._lines) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if not self._lines:
            return
        pa = self.pa
        import pyarrow.compute as pc  # type: ignore[import-untyped]

        def flat(kind: Any, values: array) -> Any:
            return pa.Array.from_buffers(kind, len(values), [None, pa.py_buffer(values)])

        offsets = flat(pa.int32(), self._offsets)
        ids, mask = flat(pa.int32(), self._ids), flat(pa.int8(), self._mask)
        ignored = flat(pa.int32(), array("i", [IGNORE_INDEX]) * len(self._ids))  # (pa.scalar would import pandas)
        labels = pc.if_else(pc.cast(mask, pa.bool_()), ids, ignored)
        columns = [pa.ListArray.from_arrays(offsets, ids), pa.ListArray.from_arrays(offsets, mask),
                   pa.ListArray.from_arrays(offsets, labels), flat(pa.int64(), self._lines)]
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self._writer.schema))
        self._ids, self._mask, self._offsets, self._lines = array("i"), array("b"), array("i", [0]), array("q")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._flush()
            if self._writer is not None:
                self._writer.close()
            if self._handle is not None:
                self._handle.close()
        except BaseException as error:
            self._file.__exit__(type(error), error, error.__traceback__)
            raise
        self._file.__exit__(kind, exc, tb)
