"""Chunked readers for CSV/TSV and Parquet that know where each row came from.

A reader yields :class:`Chunk` objects: an Arrow record batch plus the global index of its first
row. CSV columns are always read as text (``string``): the caller decides which columns are numbers
(see :mod:`normcli.columns`), so passthrough text is kept exactly, and a column never changes type
half-way through a file. Physical line numbers are only needed when something is wrong, so they are
found then, by scanning the input again with Python's :mod:`csv` module (which counts quoted
newlines, CRLF line ends and skipped blank lines exactly as the file has them).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError, UsageError
from .formats import CsvDialect
from .source import Prefixed, Source

_BOM = b"\xef\xbb\xbf"
#: Bytes of CSV text per chunk handed to the commands (unless --chunk-rows).
DEFAULT_CHUNK_BYTES = 4 << 20
#: Bytes per block read by Arrow. Arrow's streaming reader reads up to 32 blocks ahead of the
#: consumer, so this bounds the read-ahead (32 MB); blocks are joined into chunks.
READ_BLOCK_BYTES = 1 << 20
DEFAULT_PARQUET_ROWS = 1 << 14


@dataclass
class Chunk:
    batch: pa.RecordBatch
    row_start: int

    @property
    def num_rows(self) -> int:
        return int(self.batch.num_rows)


class TableReader:
    """Common interface of the CSV and Parquet readers."""

    kind: str
    names: list[str]
    schema: pa.Schema
    source: Source

    @property
    def typed(self) -> bool:
        """Column types are declared by the format (Parquet, Arrow), not inferred from the
        data (CSV)."""
        from .. import formats

        found = formats.get(self.kind)
        return found is not None and found.typed

    def __iter__(self) -> Iterator[Chunk]:
        raise NotImplementedError

    def line_of(self, row: int) -> int | None:
        """The 1-based physical line where data row ``row`` (0-based) starts, if lines apply."""
        return None

    def error_at(self, row: int, column: str | None, message: str) -> DataError:
        """A data error located at data row ``row`` (0-based): by its physical line where the
        format has lines, else by its 1-based row number."""
        line = self.line_of(row)
        prefix = "" if line else f"row {row + 1}: "
        return DataError(prefix + message, source=self.source.display, line=line, column=column)

    def rewind(self) -> TableReader:
        """A fresh reader over the same input, from the first row."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop background reads (safe to call more than once)."""

    def position(self) -> int | None:
        """Bytes of the stored input consumed so far, for progress (None if unknown)."""
        return None


def _first_record(prefix: bytes, delimiter: str) -> tuple[list[str], int] | None:
    """The first CSV record in ``prefix`` and the bytes it spans (None if it may go on)."""
    text = prefix.decode("utf-8", errors="surrogateescape")
    consumed: list[str] = []
    it = iter(io.StringIO(text, newline=""))

    def feed() -> Iterator[str]:
        for line in it:
            consumed.append(line)
            yield line

    reader = csv.reader(feed(), delimiter=delimiter, strict=False)
    try:
        record = next(reader)
    except StopIteration:
        return None
    except csv.Error:
        return None
    used = "".join(consumed)
    if len(used) == len(text) and not text.endswith(("\n", "\r")):
        return None  # the record may go on past the prefix
    while not record and len(used) < len(text):  # leading blank lines
        try:
            record = next(reader)
        except (StopIteration, csv.Error):
            return None
        used = "".join(consumed)
    return record, len(used.encode("utf-8", errors="surrogateescape"))


class CsvReader(TableReader):
    kind = "csv"

    def __init__(
        self,
        source: Source,
        dialect: CsvDialect,
        *,
        chunk_rows: int | None = None,
    ) -> None:
        self.source = source
        self.dialect = dialect
        self.chunk_rows = chunk_rows
        self._stream = source.open_bytes()
        try:
            self._set_up()
        except BaseException:
            self._stream.close()
            raise

    def _set_up(self) -> None:
        source = self.source
        try:
            prefix = self._read_prefix()
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"cannot read: {_arrow_message(exc)}", source=source.display) from exc
        names, header_bytes = self._parse_header(prefix)
        self.names = names
        self.schema = pa.schema([pa.field(n, pa.string()) for n in names])
        body = prefix[header_bytes:]
        self._block_size = self._choose_block_size(body)
        self.text_bytes = header_bytes  # decompressed bytes handed out so far (estimate)
        self._raw_body: _PrefixedRaw | None = None
        native = source.open_native(header_bytes)
        self._body: Any
        if native is not None:
            self._stream.close()
            self._body = native
        else:
            self._raw_body = _PrefixedRaw(body, self._stream)
            self._body = io.BufferedReader(self._raw_body, buffer_size=1 << 20)

    # -- set-up ------------------------------------------------------------------------------
    def _read_prefix(self) -> bytes:
        size = 1 << 16
        data = b""
        while True:
            more = self._stream.read(size - len(data))
            data += more
            found = _first_record(data[3:] if data.startswith(_BOM) else data,
                                  self.dialect.delimiter)
            if found is not None or not more:
                return data
            size *= 4

    def _parse_header(self, prefix: bytes) -> tuple[list[str], int]:
        """The column names, and how many bytes of ``prefix`` the header (and BOM) take."""
        bom = 3 if prefix.startswith(_BOM) else 0
        found = _first_record(prefix[bom:], self.dialect.delimiter)
        if found is None:
            if not prefix[bom:].strip():
                raise DataError("the input is empty (no header row)", source=self.source.display)
            # A single record with no line end: parse it whole.
            record = next(csv.reader(io.StringIO(prefix[bom:].decode("utf-8", "replace")),
                                     delimiter=self.dialect.delimiter))
            found = (record, len(prefix) - bom)
        record, nbytes = found
        if not record:  # blank lines only: as empty as an empty file
            raise DataError("the input is empty (no header row)", source=self.source.display)
        if self.dialect.header:
            # A repeated name is allowed: such columns pass through (see normcli.columns).
            return list(record), bom + nbytes
        return [f"column_{i + 1}" for i in range(len(record))], bom

    def _choose_block_size(self, body: bytes) -> int:
        if self.chunk_rows is None:
            return READ_BLOCK_BYTES
        nlines = max(1, body.count(b"\n"))
        per_row = max(1.0, len(body) / nlines)
        return int(min(max(per_row * self.chunk_rows * 1.05 + 64, 1 << 10), READ_BLOCK_BYTES))

    # -- reading -----------------------------------------------------------------------------
    def _open_arrow(self) -> pacsv.CSVStreamingReader:
        read_opts = pacsv.ReadOptions(
            column_names=self.names,
            block_size=self._block_size,
            use_threads=True,
        )
        parse_opts = pacsv.ParseOptions(
            delimiter=self.dialect.delimiter,
            newlines_in_values=True,
            ignore_empty_lines=True,
        )
        convert_opts = pacsv.ConvertOptions(
            column_types={n: pa.string() for n in self.names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
            null_values=[],
            check_utf8=True,
        )
        return pacsv.open_csv(
            self._body, read_options=read_opts, parse_options=parse_opts,
            convert_options=convert_opts,
        )

    def __iter__(self) -> Iterator[Chunk]:
        row = 0
        try:
            try:
                reader = self._open_arrow()
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):
                    return  # a header and no rows: zero rows, not an error
                raise
            for piece in _rechunk(self._batches(reader), self.chunk_rows, DEFAULT_CHUNK_BYTES):
                yield Chunk(piece, row)
                row += piece.num_rows
        except pa.ArrowInvalid as exc:
            raise self._parse_error(exc, row) from exc
        except (OSError, pa.ArrowException) as exc:
            raise DataError(
                f"cannot read: {_arrow_message(exc)}", source=self.source.display
            ) from exc

    def _batches(self, reader: pacsv.CSVStreamingReader) -> Iterator[pa.RecordBatch]:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            self.text_bytes += _text_size(batch)
            yield batch

    def _parse_error(self, exc: Exception, row: int) -> DataError:
        message = _arrow_message(exc)
        ncols = len(self.names)
        if "Expected" in message and "columns" in message:
            found = self._scan(lambda rec: len(rec) != ncols)
            if found is not None:
                line, record = found
                return DataError(
                    f"expected {ncols} fields, found {len(record)}",
                    source=self.source.display, line=line,
                )
        if "UTF8" in message or "utf8" in message.lower():
            return DataError("invalid UTF-8 text", source=self.source.display)
        return DataError(f"cannot parse: {message}", source=self.source.display,
                         line=self.line_of(row) if row else None)

    def _scan(self, predicate: Callable[[list[str]], bool]) -> tuple[int, list[str]] | None:
        """The first data record for which ``predicate`` holds, with its physical line."""
        with self.source.open_bytes_so_far() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            reader = csv.reader(text, delimiter=self.dialect.delimiter, strict=False)
            line = 1
            first = True
            try:
                for record in reader:
                    start = line
                    line = reader.line_num + 1
                    if not record:
                        continue
                    if first and self.dialect.header:
                        first = False
                        continue
                    first = False
                    if predicate(record):
                        return start, record
            except csv.Error:
                return None
        return None

    def line_of(self, row: int) -> int | None:
        count = [-1]

        def nth(_: list[str]) -> bool:
            count[0] += 1
            return count[0] == row

        found = self._scan(nth)
        return None if found is None else found[0]

    def close(self) -> None:
        # pyarrow's streaming reader reads ahead on its own I/O thread, calling back into Python.
        # A read still in flight when the interpreter exits (Ctrl-C, SIGTERM) aborts the process
        # ("Fatal Python error: PyGILState_Release"): stop further reads and wait for it.
        if self._raw_body is not None:
            self._raw_body.stop()
            self._raw_body.close()  # closes the stream under it (a file, or the stdin spool)
        else:
            self._body.close()

    def position(self) -> int | None:
        if self.source.path == "-":
            return None  # progress counts rows on standard input
        if self.source.compression is not None:
            return None
        return self.text_bytes

    def rewind(self) -> CsvReader:
        self.close()
        return CsvReader(self.source, self.dialect,
                         chunk_rows=self.chunk_rows)


class _PrefixedRaw(Prefixed):
    """:class:`Prefixed` that can be stopped: Arrow's read-ahead thread calls ``readinto``."""

    def __init__(self, prefix: bytes, rest: BinaryIO) -> None:
        super().__init__(prefix, rest)
        self._cond = threading.Condition()
        self._busy = 0
        self._stopped = False

    def stop(self, timeout: float = 10.0) -> None:
        """Make every later read return end-of-file, and wait for reads in flight."""
        with self._cond:
            self._stopped = True
            self._cond.wait_for(lambda: self._busy == 0, timeout=timeout)

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        with self._cond:
            if self._stopped:
                return 0
            self._busy += 1
        try:
            return super().readinto(b)
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def close(self) -> None:
        try:
            self._rest.close()
        finally:
            super().close()


def _text_size(batch: pa.RecordBatch) -> int:
    """About how many bytes of CSV text ``batch`` came from (cells, separators, line ends)."""
    size = batch.num_rows * max(1, batch.num_columns)
    for col in batch.columns:
        buffers = col.buffers()
        if len(buffers) > 2 and buffers[2] is not None:
            offsets = np.frombuffer(buffers[1], dtype=np.int32)
            size += int(offsets[col.offset + len(col)] - offsets[col.offset])
    return size


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    out = table.to_batches()
    return out[0] if out else batches[0].slice(0, 0)


def _rechunk(
    batches: Iterator[pa.RecordBatch], rows: int | None, nbytes: int
) -> Iterator[pa.RecordBatch]:
    """Join Arrow's small blocks into chunks of ``rows`` rows (or about ``nbytes`` of text)."""
    pending: list[pa.RecordBatch] = []
    n_rows = n_bytes = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        n_rows += batch.num_rows
        n_bytes += _text_size(batch)
        if rows is not None:
            if n_rows < rows:
                continue
            combined = _concat(pending)
            start = 0
            while combined.num_rows - start >= rows:
                yield combined.slice(start, rows)
                start += rows
            rest = combined.slice(start)
            pending = [rest] if rest.num_rows else []
            n_rows = rest.num_rows
            n_bytes = 0
        elif n_bytes >= nbytes:
            yield _concat(pending)
            pending, n_rows, n_bytes = [], 0, 0
    if pending:
        yield _concat(pending)


def _arrow_message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class ParquetReader(TableReader):
    kind = "parquet"

    def __init__(self, source: Source, *, chunk_rows: int | None = None) -> None:
        import pyarrow.parquet as pq  # here: 50 ms of start-up that CSV jobs need not pay

        self.source = source
        self.chunk_rows = chunk_rows
        try:
            # No pre-buffering: it would hold a whole row group's bytes (memory grows with it).
            self._file = pq.ParquetFile(source.local_path(), pre_buffer=False,
                                        buffer_size=1 << 20)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"not a Parquet file: {_arrow_message(exc)}",
                            source=source.display) from exc
        self.schema = self._file.schema_arrow
        self.names = list(self.schema.names)
        self.num_rows = self._file.metadata.num_rows
        self._rows_done = 0

    def __iter__(self) -> Iterator[Chunk]:
        row = 0
        try:
            for batch in self._file.iter_batches(batch_size=self.chunk_rows or DEFAULT_PARQUET_ROWS,
                                                 use_threads=True):
                yield Chunk(batch, row)
                row += batch.num_rows
                self._rows_done = row
        except (OSError, pa.ArrowException) as exc:
            raise DataError(
                f"cannot read: {_arrow_message(exc)}", source=self.source.display
            ) from exc

    def position(self) -> int | None:
        size = self.source.size
        if size is None or not self.num_rows:
            return None
        return int(size * self._rows_done / self.num_rows)

    def close(self) -> None:
        self._file.close()

    def rewind(self) -> ParquetReader:
        self.close()
        return ParquetReader(self.source, chunk_rows=self.chunk_rows)


def open_reader(source: Source, fmt: str, dialect: CsvDialect,
                chunk_rows: int | None = None) -> TableReader:
    from .. import formats

    found = formats.get(fmt)
    if found is None or found.reader is None:
        raise UsageError(f"normcli cannot read {fmt!r} (it reads {', '.join(formats.readable())})")
    return found.reader(source, dialect, chunk_rows)
