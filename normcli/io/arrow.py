"""Arrow data already in memory, or arriving as a stream, as a :class:`TableReader`.

A :class:`pyarrow.Table` is read again for a second pass. A :class:`pyarrow.RecordBatchReader`
can be read once: with ``spool=True`` its batches are copied into an Arrow IPC file in the
temporary folder as they are read (removed when the source closes), and the second pass reads
that file; with ``spool=False`` a second pass is refused with a message saying so. Types are
declared (``typed``): a column holds numbers when its Arrow type is a number type.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pyarrow as pa

from ..errors import DataError, UsageError
from .reader import Chunk, TableReader

#: Rows per chunk of an in-memory table (unless chunk_rows).
DEFAULT_ARROW_ROWS = 1 << 16


class ArrowSource:
    """An Arrow table or stream; owns the spool of a stream."""

    path: str | None = None
    size: int | None = None
    compression: str | None = None

    def __init__(self, data: pa.Table | pa.RecordBatchReader, *, display: str = "<arrow>",
                 spool: bool = True) -> None:
        if not isinstance(data, (pa.Table, pa.RecordBatchReader)):
            raise TypeError(f"expected a pyarrow Table or RecordBatchReader, not "
                            f"{type(data).__name__}")
        self.data = data
        self.display = display
        self.spool = spool
        self.schema: pa.Schema = data.schema
        self._spool_path: str | None = None
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._read_once = False

    def batches(self, chunk_rows: int | None) -> Iterator[pa.RecordBatch]:
        """Every batch from the first row; again on a later call."""
        if isinstance(self.data, pa.Table):
            yield from self.data.to_batches(max_chunksize=chunk_rows or DEFAULT_ARROW_ROWS)
            return
        if not self._read_once:
            self._read_once = True
            yield from self._first_pass(chunk_rows)
            return
        if not self.spool:
            raise UsageError(
                "this operation reads its input twice, and a RecordBatchReader can be read "
                "once: pass a pyarrow.Table, or let the stream be spooled (spool=True)")
        self._finish_spool()
        assert self._spool_path is not None
        with pa.memory_map(self._spool_path) as mm:
            spooled = pa.ipc.open_file(mm)
            for i in range(spooled.num_record_batches):
                yield spooled.get_batch(i)

    def _first_pass(self, chunk_rows: int | None) -> Iterator[pa.RecordBatch]:
        assert isinstance(self.data, pa.RecordBatchReader)
        if self.spool:
            fd, self._spool_path = tempfile.mkstemp(prefix="normcli-arrow-", suffix=".arrow")
            os.close(fd)
            self._writer = pa.ipc.new_file(self._spool_path, self.schema)
        for batch in self.data:
            if self._writer is not None:
                self._writer.write_batch(batch)
            step = chunk_rows or DEFAULT_ARROW_ROWS
            for start in range(0, max(batch.num_rows, 1), step):
                yield batch.slice(start, step)

    def _finish_spool(self) -> None:
        if self._writer is not None:
            assert isinstance(self.data, pa.RecordBatchReader)
            for batch in self.data:  # whatever the first pass left unread
                self._writer.write_batch(batch)
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except (OSError, pa.ArrowException):
                pass
            self._writer = None
        if self._spool_path is not None:
            try:
                os.unlink(self._spool_path)
            except OSError:
                pass
            self._spool_path = None


class ArrowReader(TableReader):
    """Chunks of an :class:`ArrowSource`; a bad cell is located by its 1-based row."""

    kind = "arrow"
    typed = True
    source: ArrowSource  # type: ignore[assignment]

    def __init__(self, source: ArrowSource, *, chunk_rows: int | None = None) -> None:
        if chunk_rows is not None and chunk_rows < 1:
            raise UsageError("chunk_rows must be at least 1")
        self.source = source
        self.chunk_rows = chunk_rows
        self.schema = source.schema
        self.names = list(self.schema.names)
        self._batches = source.batches(chunk_rows)

    def __iter__(self) -> Iterator[Chunk]:
        row = 0
        try:
            for batch in self._batches:
                if batch.num_rows == 0 and row:
                    continue
                yield Chunk(batch, row)
                row += batch.num_rows
        except pa.ArrowException as exc:
            raise DataError(f"cannot read: {exc}", source=self.source.display) from exc

    def error_at(self, row: int, column: str | None, message: str) -> DataError:
        return DataError(message, source=self.source.display, row=row + 1, column=column)

    def rewind(self) -> ArrowReader:
        return ArrowReader(self.source, chunk_rows=self.chunk_rows)
