"""Chunked readers for CSV/TSV and Parquet that know where each row came from.

A reader yields :class:`Chunk` objects: an Arrow record batch plus the global index of its first
row. CSV columns are read as text (``string``): the caller decides which columns are numbers (see
:mod:`normcli.columns`) from the first chunk, so passthrough text is kept exactly, and a column
never changes type half-way through a file. Once a command knows which columns it needs only as
numbers, :meth:`CsvReader.with_numbers` reads the input again with Arrow parsing those columns to
float64 itself (missing spellings as null); a cell Arrow refuses there sends the rest of the input
back to text, where :class:`~normcli.columns.Converter` accepts, refuses and words it as before.
Physical line numbers are only needed when something is wrong, so they are found then, by scanning
the input again with Python's :mod:`csv` module (which counts quoted newlines, CRLF line ends and
skipped blank lines exactly as the file has them).
"""

from __future__ import annotations

import csv
import io
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import DataError, UsageError
from .arrays import strings, value_offsets
from .formats import SUFFIXES, CsvDialect, sniff_compression
from .source import Source

_BOM = b"\xef\xbb\xbf"
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
#: Bytes of CSV text in the first chunk handed to the commands (unless --chunk-rows): column
#: types are decided from it.
DEFAULT_CHUNK_BYTES = 4 << 20
#: Bytes per block read by Arrow. Arrow's streaming reader reads up to 32 blocks ahead of the
#: consumer, so this bounds the read-ahead (32 MB).
READ_BLOCK_BYTES = 1 << 20
#: After the first chunk, CSV chunks hold at least this much text (as estimated: see
#: :meth:`CsvReader._size`, which may count half the real text): in practice each block Arrow
#: parses is a chunk, handed on without a copy. Small chunks keep little in flight (peak RSS)
#: at a small cost per chunk; see docs/benchmarks.md.
STREAM_CHUNK_BYTES = 1 << 19
#: Blocks a native file stream reads ahead of the batches taken (Arrow would read 32).
NATIVE_READ_AHEAD = 8
#: Batches Arrow parses ahead of the consumer, on a thread of their own (regular files only).
PARSE_AHEAD = 4
DEFAULT_PARQUET_ROWS = 1 << 14
#: The longest CSV record (one row, with its quoted newlines) read; longer ones are an error.
MAX_RECORD_BYTES = 64 << 20
#: A cell of the row appended after the input, which Arrow must reach: a quote left open at the
#: end of the input swallows it (normcli then reports where that quote opened).
_END = "\x01normcli:end-of-input\x01"


@dataclass
class Chunk:
    batch: pa.RecordBatch
    row_start: int
    flush: bool = field(default=False, kw_only=True)  # the input stalled: write it out now
    #: Into how many slices of equal rows the commands may cut it (the large first chunk of a
    #: CSV input, from which column types are decided; see ``normcli.pipeline``).
    pieces: int = field(default=1, kw_only=True)

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
    if len(used) == len(text) and not text.endswith("\n"):  # a CR may be half a CRLF
        return None  # the record may go on past the prefix
    while not record and len(used) < len(text):  # leading blank lines
        try:
            record = next(reader)
        except (StopIteration, csv.Error):
            return None
        used = "".join(consumed)
    return record, len(used.encode("utf-8", errors="surrogateescape"))


class _LimitExceeded(Exception):
    pass


def _count_lines(text: str) -> int:
    """Line ends in ``text`` (LF, CRLF or a lone CR each count once)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


@dataclass
class _Record:
    line: int  # 1-based physical line where it starts
    start: int  # byte offset (of the decompressed input) where it starts
    end: int  # ... and where the next one starts
    fields: list[str]
    next_line: int  # the line after its last
    open_quote: bool = False  # the input ended inside its last (quoted) field


def _records(raw: Any, delimiter: str, *, offset: int = 0, line: int = 1,
             limit: int | None = None) -> Iterator[_Record]:
    """The CSV records of ``raw`` (positioned at ``offset``, a record start on ``line``), with
    their lines and byte spans, parsed as Arrow parses them (quotes open only at a field start,
    ``""`` inside quotes is a quote). Blank lines are skipped. The last record has
    ``open_quote`` when the input ends inside a quoted field. A record longer than ``limit``
    bytes raises :class:`_LimitExceeded` with the record's first line."""
    text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
    pos = [offset]
    lines = [line - 1]
    start = [offset]

    def feed() -> Iterator[str]:
        for piece in text:
            pos[0] += len(piece.encode("utf-8", "surrogateescape"))
            lines[0] += 1
            if limit is not None and pos[0] - start[0] > limit:
                raise _LimitExceeded()
            yield piece
        yield "\n"
        yield _END + "\n"

    reader = csv.reader(feed(), delimiter=delimiter, strict=False)
    first_line = line
    while True:
        start[0] = pos[0]
        first_line = lines[0] + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except _LimitExceeded:
            raise _LimitExceeded(first_line) from None
        if not fields:
            continue
        if fields == [_END]:
            return
        if _END in fields[-1]:
            fields[-1] = fields[-1].split("\n" + _END)[0]
            yield _Record(first_line, start[0], pos[0], fields, lines[0] + 1, open_quote=True)
            return
        yield _Record(first_line, start[0], pos[0], fields, lines[0] + 1)


def _skip(stream: Any, nbytes: int) -> None:
    while nbytes > 0:
        got = len(stream.read(min(nbytes, 1 << 20)))
        if got == 0:
            return
        nbytes -= got


class _Body(io.RawIOBase):
    """What Arrow reads: ``prefix``, the rest of ``rest``, then one ``tail`` (the end-of-input
    sentinel row). It can be stopped: Arrow's read-ahead thread calls ``readinto``, and no read
    may be in flight when the interpreter ends."""

    def __init__(self, prefix: bytes, rest: Any, tail: bytes,
                 idle: Callable[[], bool] | None = None,
                 on_stop: Callable[[], None] | None = None) -> None:
        self._on_stop = on_stop
        self._parts: list[Any] = [memoryview(prefix), rest, memoryview(tail)]
        self._rest = rest
        self._cond = threading.Condition()
        self._busy = 0
        self._stopped = False
        # Arrow parses a block only once it holds the next one. When the input is idle, a
        # blank line (which Arrow skips) lets it parse what came before: only at a line end,
        # and only while no quote was seen (a line end could then be inside a quoted field).
        self._idle = idle
        self._quoted = b'"' in prefix
        self._at_line_end = prefix[-1:] in (b"\n", b"\r")
        self._held = b""  # a CR held back from the last block (see readinto)

    def readable(self) -> bool:
        return True

    def arrow_file(self) -> pa.NativeFile:
        return pa.PythonFile(self, mode="r")

    def stop(self, timeout: float = 10.0) -> None:
        """Make every later read return end-of-file, and wait for reads in flight."""
        with self._cond:
            self._stopped = True
            if self._on_stop is not None:
                self._on_stop()  # a live read waiting for input gives up
            self._cond.wait_for(lambda: self._busy == 0, timeout=timeout)

    def readinto(self, b: Any) -> int:
        with self._cond:
            if self._stopped:
                return 0
            self._busy += 1
        try:
            # No block handed to Arrow ends with a CR (unless the input ends there): Arrow's
            # streaming reader takes a next block that is only the LF of that CRLF for the end
            # of the input, and stops there (rows lost; the sentinel then reports an error).
            # A trailing CR is held back and handed on with what follows it.
            data = self._held + self._read(len(b) - len(self._held))
            self._held = b""
            while data.endswith(b"\r"):
                if len(data) > 1:
                    data, self._held = data[:-1], b"\r"
                    break
                more = self._read(len(b) - len(data)) if len(b) > len(data) else b""
                if not more:
                    break
                data += more
            b[: len(data)] = data
            return len(data)
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def _read(self, size: int) -> bytes:
        """The next at most ``size`` bytes of the prefix, the rest and the tail (b"" at the
        end)."""
        while self._parts and size > 0:
            part = self._parts[0]
            if isinstance(part, memoryview):
                n = min(size, len(part))
                if n:
                    self._parts[0] = part[n:]
                    return bytes(part[:n])
            else:
                if (self._idle is not None and self._at_line_end and not self._quoted
                        and self._idle()):
                    self._at_line_end = False
                    return b"\n"
                data = part.read(size)
                if data:
                    if self._idle is not None:
                        self._track(data)
                    return bytes(data)
            self._parts.pop(0)
        return b""

    def _track(self, data: Any) -> None:
        if not self._quoted and b'"' in data:
            self._quoted = True
        self._at_line_end = data[-1:] in (b"\n", b"\r")

    def close(self) -> None:
        try:
            self._rest.close()
        finally:
            super().close()


class _Stopped(OSError):
    pass


class _NativeBody:
    """What Arrow reads from a regular file: the file as a native stream (Arrow reads it on its
    own threads, into its own buffers), then one ``tail`` (the end-of-input sentinel row), added
    by a transform that Arrow calls with each block it reads and that passes blocks through.

    Like :class:`_Body` it can be stopped: the transform runs Python on Arrow's threads; once
    stopped it fails at once (an empty block would make Arrow read on to the end of the file)."""

    def __init__(self, stream: pa.NativeFile, tail: bytes) -> None:
        self._tail: pa.Buffer | None = pa.py_buffer(tail)
        self._cond = threading.Condition()
        self._busy = 0
        self._stopped = False
        # Blocks read and batches taken (Arrow makes one batch of each block): reading pauses
        # while NATIVE_READ_AHEAD blocks are ahead, unless the consumer has been waiting for a
        # batch all the while (should a block not give one batch, Arrow may need the next).
        self._read = 0
        self._taken = 0
        self._waiting = False
        self.file: pa.NativeFile | None = pa.lib.TransformInputStream(stream, self._transform)

    def taking(self, waiting: bool) -> None:
        """The consumer starts (True) or ends (False) waiting for a batch."""
        with self._cond:
            self._waiting = waiting
            if not waiting:
                self._taken += 1
            self._cond.notify_all()

    def arrow_file(self) -> pa.NativeFile:
        assert self.file is not None
        return self.file

    def _transform(self, buf: pa.Buffer) -> pa.Buffer:
        with self._cond:
            if self._stopped:
                raise _Stopped("the CSV reader was stopped")
            self._busy += 1
            if buf.size:
                self._read += 1
                while not (self._stopped or self._read - self._taken <= NATIVE_READ_AHEAD):
                    if not self._cond.wait(timeout=0.05) and self._waiting:
                        break  # the consumer waits on: Arrow may need this block after all
                if self._stopped:
                    self._busy -= 1
                    self._cond.notify_all()
                    raise _Stopped("the CSV reader was stopped")
        try:
            if buf.size == 0 and self._tail is not None:  # the first end-of-file: the tail
                tail, self._tail = self._tail, None
                return tail
            return buf  # later end-of-file reads: end-of-file
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        """Make every later read fail, and wait for a transform in flight."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._busy == 0, timeout=timeout)

    def close(self) -> None:
        # Not closed here: an Arrow thread may be inside a read of the file, and its descriptor
        # could be reused at once. The file closes when Arrow's reader, its last owner, goes.
        self.file = None


class _Ahead:
    """The batches of ``batches`` (a :meth:`CsvReader._batches`), taken on a thread of their own
    up to :data:`PARSE_AHEAD` ahead of the consumer.

    Arrow's streaming reader parses a block when its batch is asked for: alone, a command's
    thread would wait for every parse. Each item carries whether the reader had reached the end
    of the input then, so that the consumer sees :attr:`CsvReader.finished` as it would have
    without this thread. Only for regular files, whose reads end on their own: :meth:`stop`
    waits for a parse in flight."""

    def __init__(self, reader: CsvReader, batches: Iterator[pa.RecordBatch]) -> None:
        self._reader = reader
        self._batches = batches
        self._queue: queue.Queue[tuple[str, Any, bool]] = queue.Queue(PARSE_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="normcli-csv-parse", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[str, Any, bool]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        batches = self._batches
        try:
            for batch in batches:
                if not self._put(("batch", batch, self._reader._end_seen)):
                    return
            self._put(("end", None, True))
        except BaseException as exc:  # noqa: BLE001 (raised in the consumer's thread)
            self._put(("error", exc, False))
        finally:
            batches.close()  # type: ignore[attr-defined]

    def __iter__(self) -> Iterator[tuple[pa.RecordBatch, bool]]:
        while True:
            try:
                kind, value, end = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._stop.is_set():
                    raise ValueError("read from a closed CSV reader") from None
                continue
            if kind == "batch":
                yield value, end
            elif kind == "end":
                return
            else:
                raise value

    def stop(self) -> None:
        """Stop taking batches and wait for the thread (at most one parse)."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


class CsvReader(TableReader):
    kind = "csv"

    def __init__(
        self,
        source: Source,
        dialect: CsvDialect,
        *,
        chunk_rows: int | None = None,
        numeric: Sequence[int] = (),
        missing: Sequence[str] = (),
        row_bytes: float | None = None,
    ) -> None:
        self.source = source
        self.dialect = dialect
        self.chunk_rows = chunk_rows
        #: Columns to parse to float64 (:meth:`with_numbers`), the missing spellings (null), and
        #: the text bytes of a row (for chunk sizes and progress: typed columns have no text).
        self.numeric = tuple(sorted(set(numeric)))
        self.missing = tuple(missing)
        self.row_bytes = row_bytes
        #: Arrow reached the end of the input (all rows have been read into batches).
        self.finished = False
        self._end_seen = False  # what _batches has reached (finished: what was handed out)
        self._rows_seen = 0
        self._ahead: _Ahead | None = None
        self._body: _Body | _NativeBody | None = None
        self._arrow: pacsv.CSVStreamingReader | None = None  # Arrow's reader over the body
        self._stream: Any = source.open_bytes()
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
        _check_text(prefix, source.display)
        names, header_bytes = self._parse_header(prefix)
        self.names = names
        self.schema = pa.schema([pa.field(n, pa.string()) for n in names])
        self._typed, self._end_col = self._typed_columns()
        self._header_bytes = header_bytes
        body = prefix[header_bytes:]
        if self._typed and self.row_bytes is None:
            self.row_bytes = max(1.0, len(body) / max(1, body.count(b"\n")))
        self._block_size = self._choose_block_size(body, header_bytes)
        self.text_bytes = header_bytes  # decompressed bytes handed out so far (estimate)
        header_text = prefix[:header_bytes].decode("utf-8", "surrogateescape")
        # Where Arrow starts: (byte offset, data row, physical line) of a record start.
        self._resume = (header_bytes, 0, 1 + _count_lines(header_text))
        self._body = self._open_body(header_bytes, body, self._stream)

    def _open_body(self, offset: int, prefix: bytes = b"",
                   stream: Any = None) -> _Body | _NativeBody:
        """What Arrow reads, from the record start at decompressed byte ``offset``: a regular
        file natively (``prefix`` and ``stream``, what is already read from there and the rest
        of the input, are then dropped), anything else through Python."""
        native = self.source.native_file(offset)
        if native is not None:
            if stream is not None:
                stream.close()
            return _NativeBody(native, self._end_row())
        if stream is None:
            stream = self.source.open_bytes()
            _skip(stream, offset)
        return _Body(prefix, stream, self._end_row(), self._idle(), self.source.cancel)

    def _idle(self) -> Callable[[], bool] | None:
        """Whether the input has nothing to read now (uncompressed streams only)."""
        source = self.source
        if not source.is_stream or source.codec is not None:
            return None
        return source.idle

    def _typed_columns(self) -> tuple[frozenset[int], int]:
        """The columns Arrow parses to float64, and a text column where the end row is seen."""
        counts = Counter(self.names)
        typed = {i for i in self.numeric if 0 <= i < len(self.names) and counts[self.names[i]] == 1}
        if typed and len(typed) == len(self.names):
            typed.discard(0)  # one text column tells the end row from a row of nulls
        end = next((i for i in range(len(self.names)) if i not in typed), 0)
        return frozenset(typed), end

    def _end_row(self) -> bytes:
        # Its number cells are empty (missing), so that they parse.
        cells = ["" if i in self._typed else _END for i in range(max(1, len(self.names)))]
        row = self.dialect.delimiter.join(cells)
        return ("\n" + row + "\n").encode("utf-8")

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
            if len(data) > MAX_RECORD_BYTES:
                raise DataError(f"the header is longer than the limit of "
                                f"{MAX_RECORD_BYTES >> 20} MB per record",
                                source=self.source.display, line=1)
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
        try:
            prefix[bom: bom + nbytes].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError("not UTF-8 text (the header has bytes that are not UTF-8; convert "
                            "the file, e.g. with iconv)", source=self.source.display,
                            line=1) from exc
        if self.dialect.header:
            # A repeated name is allowed: such columns pass through (see normcli.columns).
            return list(record), bom + nbytes
        return [f"column_{i + 1}" for i in range(len(record))], bom

    def _choose_block_size(self, body: bytes, header_bytes: int) -> int:
        if self.chunk_rows is None:
            # Arrow's cost per block grows with the number of columns: a wide header (and so
            # wide rows) gets larger blocks, up to 16 MB.
            return int(min(max(READ_BLOCK_BYTES, 32 * header_bytes), 16 << 20))
        nlines = max(1, body.count(b"\n"))
        per_row = max(1.0, len(body) / nlines)
        return int(min(max(per_row * self.chunk_rows * 1.05 + 64, 1 << 10), READ_BLOCK_BYTES))

    # -- reading -----------------------------------------------------------------------------
    def _open_arrow(self, body: _Body | _NativeBody) -> pacsv.CSVStreamingReader:
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
        typed = self._typed
        convert_opts = pacsv.ConvertOptions(
            column_types={n: pa.float64() if i in typed else pa.string()
                          for i, n in enumerate(self.names)},
            strings_can_be_null=False,  # text columns keep every cell as it is
            # Number columns: a missing spelling, quoted or not, is null (as its text would be).
            quoted_strings_can_be_null=bool(typed),
            null_values=list(self.missing) if typed else [],
            check_utf8=True,
        )
        return pacsv.open_csv(
            body.arrow_file(), read_options=read_opts, parse_options=parse_opts,
            convert_options=convert_opts,
        )

    def with_numbers(self, numeric: Sequence[int], missing: Sequence[str]) -> CsvReader | None:
        """A reader of the same input from the first row that parses the columns at
        ``numeric`` to float64 (the cells in ``missing`` as null), this one closed; None when
        that would not pay (the first chunk was all of the input, or rows trickle in on a
        stream)."""
        if self.finished or not numeric or self.numeric:
            return None
        row_bytes = None
        if self._rows_seen:
            row_bytes = max(1.0, (self.text_bytes - self._header_bytes) / self._rows_seen)
        self.close()
        return CsvReader(self.source, self.dialect, chunk_rows=self.chunk_rows,
                         numeric=numeric, missing=missing, row_bytes=row_bytes)

    def _size(self, batch: pa.RecordBatch) -> int:
        """About how many bytes of CSV text ``batch`` came from: as a text read estimates it
        while the first column is text (so chunks end where they would, and statistics merged
        chunk by chunk keep their last bits), else from the bytes per row of the first chunk."""
        if 0 in self._typed and self.row_bytes is not None:
            return int(batch.num_rows * self.row_bytes)
        return _text_size(batch)

    def _pieces(self, chunk: pa.RecordBatch, row: int) -> int:
        """For the first chunk (about DEFAULT_CHUNK_BYTES), in how many slices the commands
        take it: as many as later chunks would make of it, by the same size estimate (so the
        text and the typed reads cut it alike)."""
        if row or self.chunk_rows is not None:
            return 1
        return max(1, min(chunk.num_rows, self._size(chunk) // STREAM_CHUNK_BYTES))

    def _drop_body(self) -> None:
        """Stop what Arrow reads (no read stays in flight), close it with the stream under it,
        and drop Arrow's reader, whose read-ahead ends with it (see :meth:`_batches`)."""
        if self._body is not None:
            self._body.stop()
            self._body.close()
            self._body = None
        self._arrow = None

    def _as_text(self) -> None:
        """Read as text from now on, from the first row (the caller skips the rows it has)."""
        self._stop_ahead()
        self._drop_body()
        self.numeric = ()
        self.finished = self._end_seen = False
        self._stream = self.source.open_bytes()
        self._set_up()

    def __iter__(self) -> Iterator[Chunk]:
        row = 0
        stalled = (lambda: self.source.stalled) if self.source.is_stream else None
        try:
            try:
                for piece, flush in _rechunk(self._taken(), self.chunk_rows,
                                             DEFAULT_CHUNK_BYTES, stalled, self._size):
                    yield Chunk(piece, row, flush=flush, pieces=self._pieces(piece, row))
                    row += piece.num_rows
            except pa.ArrowInvalid:
                if not self._typed:
                    raise
                # Arrow refused a cell of a number column (a spelling it does not take, text,
                # bytes that are not UTF-8) or the input itself (a field count, a record too
                # long for a block): the rest is read as text, where the usual checks accept,
                # locate and word it as they always have.
                self._as_text()
                for piece, flush in _rechunk(_drop_rows(self._taken(), row), self.chunk_rows,
                                             DEFAULT_CHUNK_BYTES, stalled, self._size):
                    yield Chunk(piece, row, flush=flush)
                    row += piece.num_rows
        except pa.ArrowInvalid as exc:
            raise self._parse_error(exc) from exc
        except (OSError, pa.ArrowException) as exc:
            raise DataError(
                f"cannot read: {_arrow_message(exc)}", source=self.source.display
            ) from exc

    def _taken(self) -> Iterator[pa.RecordBatch]:
        """The batches of :meth:`_batches` as the commands take them, counted (read ahead on a
        thread of their own for a regular file: :class:`_Ahead`)."""
        if isinstance(self._body, _NativeBody):
            self._ahead = _Ahead(self, self._batches())
            items: Iterator[tuple[pa.RecordBatch, bool]] = iter(self._ahead)
        else:
            items = ((batch, self._end_seen) for batch in self._batches())
        for batch, end in items:
            self._rows_seen += batch.num_rows
            self.text_bytes += self._size(batch)
            self.finished = self.finished or end
            yield batch
        self.finished = True

    def _stop_ahead(self) -> None:
        if self._ahead is not None:
            self._ahead.stop()
            self._ahead = None

    def _batches(self) -> Iterator[pa.RecordBatch]:
        """Arrow's batches, past records too long for its blocks, up to the end sentinel."""
        row = self._resume[1]  # data row of the next record
        while True:
            assert self._body is not None
            offset, row0, line = self._resume
            try:
                # Held by the reader only, not by this generator: close() drops it, so that no
                # read-ahead outlives the job (an interpreter ending with one running can hang).
                self._arrow = self._open_arrow(self._body)
                while True:
                    if self._arrow is None:
                        raise ValueError("read from a closed CSV reader")
                    native = self._body if isinstance(self._body, _NativeBody) else None
                    if native is not None:
                        native.taking(True)
                    try:
                        batch = self._arrow.read_next_batch()
                    except StopIteration:
                        raise self._unterminated() from None
                    finally:
                        if native is not None:
                            native.taking(False)
                    n = batch.num_rows
                    if n and batch.column(self._end_col)[n - 1].as_py() == _END:
                        self._end_seen = True
                        if n > 1:
                            yield batch.slice(0, n - 1)
                        return
                    row += n
                    yield batch
            except pa.ArrowInvalid as exc:
                if self._typed or "straddl" not in str(exc):
                    raise
            # A record longer than Arrow's block: parse it here, then restart Arrow after it.
            self._drop_body()
            record = self._long_record(offset, line, row - row0)
            yield pa.RecordBatch.from_arrays([strings([v]) for v in record.fields],
                                             schema=self.schema)
            row += 1
            self._resume = (record.end, row, record.next_line)
            self._body = self._open_body(record.end)
            if isinstance(self._body, _Body):
                self._body._quoted = True  # not tracked from the start: no blank lines added

    def _long_record(self, offset: int, line: int, skip: int) -> _Record:
        """Data record ``skip`` after the record start at ``offset`` (on ``line``)."""
        with self.source.open_bytes() as raw:
            _skip(raw, offset)
            try:
                for i, record in enumerate(_records(raw, self.dialect.delimiter, offset=offset,
                                                    line=line, limit=MAX_RECORD_BYTES)):
                    if record.open_quote:
                        raise self._open_quote_error(record)
                    if len(record.fields) != len(self.names):
                        raise DataError(f"expected {len(self.names)} fields, found "
                                        f"{len(record.fields)}", source=self.source.display,
                                        line=record.line)
                    if i == skip:
                        return record
            except _LimitExceeded as exc:
                raise DataError(
                    f"a record longer than the limit of {MAX_RECORD_BYTES >> 20} MB (an "
                    "unterminated quoted field?)", source=self.source.display,
                    line=int(exc.args[0])) from None
        raise DataError("cannot parse: the input ended unexpectedly", source=self.source.display)

    def _open_quote_error(self, record: _Record) -> DataError:
        opened = record.line + sum(_count_lines(f) for f in record.fields[:-1])
        return DataError("unterminated quoted field: the quote opened here is not closed "
                         "before the end of the input", source=self.source.display, line=opened)

    def _unterminated(self) -> DataError:
        """The input ended without Arrow reaching the sentinel row: find where a quote opened."""
        offset, _, line = self._resume
        with self.source.open_bytes_so_far() as raw:
            _skip(raw, offset)
            last = None
            for record in _records(raw, self.dialect.delimiter, offset=offset, line=line):
                last = record
        if last is not None and last.open_quote:
            return self._open_quote_error(last)
        return DataError("cannot parse: the input ended inside a record",
                         source=self.source.display)

    def _parse_error(self, exc: Exception) -> DataError:
        message = _arrow_message(exc)
        ncols = len(self.names)
        if "Expected" in message and "columns" in message:
            found = self._scan(lambda rec: len(rec.fields) != ncols)
            if found is not None:
                if found.open_quote:
                    return self._open_quote_error(found)
                return DataError(
                    f"expected {ncols} fields, found {len(found.fields)}",
                    source=self.source.display, line=found.line,
                )
        if "UTF8" in message or "utf8" in message.lower():
            found = self._scan(lambda rec: any(_bad_text(f) for f in rec.fields))
            if found is not None:
                j = next(j for j, f in enumerate(found.fields) if _bad_text(f))
                return DataError("not UTF-8 text", source=self.source.display,
                                 line=found.line + sum(_count_lines(f) for f in found.fields[:j]),
                                 column=self.names[j] if j < ncols else None)
            return DataError("not UTF-8 text", source=self.source.display)
        return DataError(f"cannot parse: {message}", source=self.source.display)

    def _scan(self, predicate: Callable[[_Record], bool]) -> _Record | None:
        """The first data record for which ``predicate`` holds."""
        with self.source.open_bytes_so_far() as raw:
            first = True
            for record in _records(raw, self.dialect.delimiter):
                if first and self.dialect.header:
                    first = False
                    continue
                first = False
                if predicate(record):
                    return record
        return None

    def line_of(self, row: int) -> int | None:
        count = [-1]

        def nth(_: _Record) -> bool:
            count[0] += 1
            return count[0] == row

        found = self._scan(nth)
        return None if found is None else found.line

    def close(self) -> None:
        # pyarrow's streaming reader reads ahead on its own I/O thread, calling back into Python.
        # A read still in flight when the interpreter exits (Ctrl-C, SIGTERM) aborts the process
        # ("Fatal Python error: PyGILState_Release"): stop further reads and wait for it.
        self._stop_ahead()
        if self._body is None:
            self._stream.close()
        self._drop_body()

    def position(self) -> int | None:
        if self.source.is_stream:
            return None  # progress counts rows on standard input
        if self.source.compression is not None:
            return None
        return self.text_bytes

    def rewind(self) -> CsvReader:
        self.close()
        return CsvReader(self.source, self.dialect, chunk_rows=self.chunk_rows,
                         numeric=self.numeric, missing=self.missing, row_bytes=self.row_bytes)


def _bad_text(value: str) -> bool:
    """Whether ``value`` (decoded with surrogateescape) had bytes that are not UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_text(prefix: bytes, display: str) -> None:
    """Refuse, in one line, input that is not CSV text at all."""
    if prefix.startswith(b"PAR1"):
        raise DataError("not CSV: this is a Parquet file (use --input-format parquet or a "
                        ".parquet name)", source=display)
    codec = sniff_compression(prefix)
    if codec is not None:  # a compressed file without its suffix: the name gives the format
        raise DataError(f"not CSV text but {codec}-compressed data: name the file with "
                        f"{SUFFIXES[codec]} at the end, or give it on standard input ('-'), "
                        "where compression is recognized from the first bytes", source=display)
    if prefix.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in prefix[:4096]:
        raise DataError("not UTF-8 text (it looks like UTF-16 or binary data; convert it to "
                        "UTF-8, e.g. with iconv -f UTF-16 -t UTF-8)", source=display)


def _text_size(batch: pa.RecordBatch) -> int:
    """About how many bytes of CSV text ``batch`` came from (cells, separators, line ends):
    the character data of its first text column, times the number of columns."""
    size = batch.num_rows * max(1, batch.num_columns)
    if batch.num_columns:
        col = batch.column(0)
        buffers = col.buffers()
        if len(buffers) > 2 and buffers[2] is not None and len(col):
            offsets = value_offsets(col)
            size += int(offsets[-1] - offsets[0]) * batch.num_columns
    return size


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    out = table.to_batches()
    return out[0] if out else batches[0].slice(0, 0)


def _drop_rows(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """``batches`` without their first ``rows`` rows."""
    for batch in batches:
        if rows >= batch.num_rows:
            rows -= batch.num_rows
            continue
        yield batch.slice(rows) if rows else batch
        rows = 0


def _rechunk(
    batches: Iterator[pa.RecordBatch], rows: int | None, nbytes: int,
    stalled: Callable[[], bool] | None = None,
    size: Callable[[pa.RecordBatch], int] | None = None, *, later_bytes: int | None = None,
) -> Iterator[tuple[pa.RecordBatch, bool]]:
    """Join Arrow's small blocks into chunks of ``rows`` rows, or else: a first chunk of about
    ``nbytes`` of text (column types are decided from it), then chunks of at least
    ``later_bytes`` (default :data:`STREAM_CHUNK_BYTES`), both as ``size`` estimates the text
    of a batch (default :func:`_text_size`). A block that is large enough alone is a chunk as
    it is (no copy).

    When ``stalled()`` says the input has nothing more to read for now, what is pending goes
    out at once (flagged), so rows that trickle in on a pipe are not held back."""
    later = STREAM_CHUNK_BYTES if later_bytes is None else later_bytes
    pending: list[pa.RecordBatch] = []
    n_rows = n_bytes = 0
    first = True
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        n_rows += batch.num_rows
        n_bytes += (size or _text_size)(batch)
        ready: list[pa.RecordBatch] = []
        if rows is not None:
            if n_rows >= rows:
                combined = _concat(pending)
                start = 0
                while combined.num_rows - start >= rows:
                    ready.append(combined.slice(start, rows))
                    start += rows
                rest = combined.slice(start)
                pending = [rest] if rest.num_rows else []
                n_rows = rest.num_rows
                n_bytes = 0
        elif n_bytes >= (nbytes if first else later):
            ready.append(_concat(pending))
            pending, n_rows, n_bytes, first = [], 0, 0, False
        flush = stalled is not None and stalled()
        if flush and pending:
            ready.append(_concat(pending))
            pending, n_rows, n_bytes, first = [], 0, 0, False
        for k, piece in enumerate(ready):
            yield piece, flush and k == len(ready) - 1
    if pending:
        yield _concat(pending), False


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
            # Each column being read holds a buffer of ``buffer_size``: 64 KB for a local file
            # (fit from the bench's 51-column Parquet file: peak RSS 227 MB instead of 266-278
            # MB, same time), 1 MB for remote objects (fewer, larger range requests).
            where = source.open_random()
            self._file = pq.ParquetFile(where, pre_buffer=False,
                                        buffer_size=(64 << 10) if isinstance(where, str)
                                        else (1 << 20))
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
