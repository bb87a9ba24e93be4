"""Training rows to a file that is either complete or absent: written to a temporary file beside the
target and renamed over it only when every row is in (an error or Ctrl-C removes the temporary file).

Parquet goes through pyarrow (the ``llamatpl[train]`` extra) in row groups, so memory stays flat in
the number of rows; the columns are ``input_ids``, ``assistant_mask``, ``labels`` and ``line``, as
``datasets.load_dataset("parquet", data_files=...)`` reads them.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..errors import UsageError

COLUMNS = ("input_ids", "assistant_mask", "labels", "line")
ROW_GROUP = 4096  # rows buffered before a Parquet row group is written


def require_pyarrow() -> Any:
    """pyarrow, or a usage error that says how to get it."""
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise UsageError("writing Parquet needs pyarrow: pip install 'llamatpl[train]' (in a source checkout: '.[train]') "
                         "(or write JSONL: -o OUT.jsonl)") from None
    return pyarrow


class RowSink:
    """Rows (dicts with :data:`COLUMNS`) to ``path``, atomically; ``.parquet`` or ``.jsonl`` by suffix."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.parquet = self.path.suffix.lower() in (".parquet", ".pq")
        if not self.parquet and self.path.suffix.lower() not in (".jsonl", ".ndjson"):
            raise UsageError(f"-o: {self.path}: name a .parquet or .jsonl file")
        self.pa: Any = require_pyarrow() if self.parquet else None
        if not self.path.parent.is_dir():
            raise UsageError(f"-o: {self.path.parent}: no such directory")
        self.rows = 0
        self._buffer: list[dict[str, Any]] = []
        self._writer: Any = None
        self._handle: IO[str] | None = None
        self._temp = ""

    def __enter__(self) -> RowSink:
        fd, self._temp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part")
        os.close(fd)
        if self.parquet:
            pa = self.pa
            schema = pa.schema([("input_ids", pa.list_(pa.int32())), ("assistant_mask", pa.list_(pa.int8())),
                                ("labels", pa.list_(pa.int32())), ("line", pa.int64())])
            self._writer = pa.parquet.ParquetWriter(self._temp, schema)
        else:
            self._handle = open(self._temp, "w", encoding="utf-8")
        return self

    def write(self, row: dict[str, Any]) -> None:
        self.rows += 1
        if self._handle is not None:
            self._handle.write(json.dumps({k: row[k] for k in COLUMNS}, separators=(",", ":")) + "\n")
            return
        self._buffer.append(row)
        if len(self._buffer) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            columns = {k: [row[k] for row in self._buffer] for k in COLUMNS}
            self._writer.write_table(self.pa.table(columns, schema=self._writer.schema))
            self._buffer = []

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._flush()
            if self._writer is not None:
                self._writer.close()
            if self._handle is not None:
                self._handle.close()
            if kind is None:
                os.replace(self._temp, self.path)
        finally:
            if os.path.exists(self._temp):
                os.unlink(self._temp)
