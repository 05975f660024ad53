"""JSON Lines (``.jsonl``, ``.ndjson``): one JSON object a line, read and written.

Reading: the input is cut into blocks of whole lines (about 4 MB, or ``--chunk-rows`` lines),
each parsed by Arrow's JSON reader. Column types are inferred from the first block, as CSV's
numbers are: a JSON number is a float64 (JSON has one number type; integers beyond 2**53 should
be written as strings), a string stays text exactly (timestamps included), an object or list
passes through; a field that is null all through the first block is text. Later blocks are read
with those types, so a value of another type (``"x"`` in a number column), a field the first
block did not have, or a line that is not JSON is an error naming the line (and column).
Blank lines are skipped. Missing fields and ``null`` are missing values.

Writing: one object per row, keys in column order, missing values (and non-finite numbers) as
``null``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa

from ..errors import DataError
from ..io.reader import DEFAULT_CHUNK_BYTES, Chunk, TableReader
from ..io.writer import TableWriter, binary_as_text
from . import Format

if TYPE_CHECKING:
    from ..io.formats import CsvDialect
    from ..io.source import Source


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _widen(t: pa.DataType) -> pa.DataType:
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_null(t) or pa.types.is_timestamp(t) or pa.types.is_date(t):
        return pa.string()
    return t


def _fits(value: Any, t: pa.DataType) -> bool:
    if value is None:
        return True
    if pa.types.is_floating(t):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if pa.types.is_string(t):
        return isinstance(value, str)
    if pa.types.is_boolean(t):
        return isinstance(value, bool)
    if pa.types.is_struct(t):
        return isinstance(value, dict)
    if pa.types.is_list(t):
        return isinstance(value, list)
    return True


def _type_of(value: Any) -> pa.DataType:
    """The kind of a JSON value, as the Arrow type :func:`_fits` and :func:`_kind` know."""
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, (int, float)):
        return pa.float64()
    if isinstance(value, str):
        return pa.string()
    if isinstance(value, dict):
        return pa.struct([])
    return pa.list_(pa.null())


def _kind(t: pa.DataType) -> str:
    if pa.types.is_floating(t):
        return "a number"
    if pa.types.is_string(t):
        return "text"
    if pa.types.is_boolean(t):
        return "true or false"
    if pa.types.is_struct(t):
        return "an object"
    if pa.types.is_list(t):
        return "a list"
    return str(t)


class JsonLinesReader(TableReader):
    kind = "jsonl"
    typed = False

    def __init__(self, source: Source, *, chunk_rows: int | None = None) -> None:
        self.source = source
        self.chunk_rows = chunk_rows
        self._stream = source.open_bytes()
        self._pending: list[tuple[bytes, int]] = []
        self._done_bytes = 0
        try:
            self._blocks = self._cut()
            first = next(self._blocks, None)
            if first is None:
                raise DataError("the input is empty (no JSON objects)", source=source.display)
            inferred = self._parse(*first, schema=None)
            self.schema = pa.schema([pa.field(f.name, _widen(f.type)) for f in inferred.schema])
            #: Fields with no value in the first block: taken as text, a guess.
            self._unseen = {f.name for f in inferred.schema if pa.types.is_null(f.type)}
            if not len(self.schema):
                raise DataError("the objects have no fields", source=source.display)
            self.names = list(self.schema.names)
            self._pending.append(first)
        except BaseException:
            self._stream.close()
            raise

    # -- blocks of whole lines ---------------------------------------------------------------
    def _cut(self) -> Iterator[tuple[bytes, int]]:
        """(block, physical line of its first line) for blocks of whole lines."""
        rest = b""
        line = 1
        size = DEFAULT_CHUNK_BYTES
        while True:
            data = self._stream.read(size)
            if not data:
                break
            self._done_bytes += len(data)
            buf = rest + data
            end = self._split_point(buf)
            if end <= 0:
                rest = buf
                continue
            block, rest = buf[:end], buf[end:]
            while block:
                part, block = self._take_rows(block)
                yield part, line
                line += part.count(b"\n")
        if rest.strip():
            while rest:
                part, rest = self._take_rows(rest)
                yield part, line
                line += part.count(b"\n")

    @staticmethod
    def _split_point(buf: bytes) -> int:
        return buf.rfind(b"\n") + 1

    def _take_rows(self, block: bytes) -> tuple[bytes, bytes]:
        """The first ``chunk_rows`` non-blank lines of ``block`` (all of it without)."""
        if self.chunk_rows is None:
            return block, b""
        pos = count = 0
        while pos < len(block):
            nl = block.find(b"\n", pos)
            end = len(block) if nl < 0 else nl + 1
            if block[pos:end].strip():
                count += 1
            pos = end
            if count == self.chunk_rows:
                break
        return block[:pos], block[pos:]

    def _parse(self, block: bytes, line: int, schema: pa.Schema | None) -> pa.Table:
        import pyarrow.json as pj

        if schema is None:
            options = pj.ParseOptions()
        else:
            options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        try:
            return pj.read_json(io.BytesIO(block), parse_options=options,
                                read_options=pj.ReadOptions(use_threads=True,
                                                            block_size=max(len(block), 1 << 16)))
        except pa.ArrowInvalid as exc:
            raise self._locate(block, line, schema, exc) from exc

    def _locate(self, block: bytes, line: int, schema: pa.Schema | None,
                exc: BaseException) -> DataError:
        """The first line of ``block`` that does not fit: not JSON, not an object, a field the
        first lines did not have, or a value of another type."""
        display = self.source.display
        first: dict[str, pa.DataType] = {}  # first block: the kind of each field's first value
        for offset, raw in enumerate(block.split(b"\n")):
            if not raw.strip():
                continue
            n = line + offset
            try:
                value = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                what = err.msg if isinstance(err, json.JSONDecodeError) else "invalid UTF-8"
                return DataError(f"not valid JSON: {what}", source=display, line=n)
            if not isinstance(value, dict):
                return DataError("not a JSON object", source=display, line=n)
            if schema is None:
                for key, cell in value.items():
                    t = first.setdefault(key, _type_of(cell)) if cell is not None else None
                    if t is not None and not _fits(cell, t):
                        return DataError(f"expected {_kind(t)}, found {json.dumps(cell)[:40]}",
                                         source=display, line=n, column=key)
                continue
            for key, cell in value.items():
                if key not in schema.names:
                    return DataError("a field the first lines do not have", source=display,
                                     line=n, column=key)
                t = schema.field(key).type
                if not _fits(cell, t):
                    hint = ""
                    if key in getattr(self, "_unseen", ()):
                        hint = (" (the first block of lines has no value in this field, so it "
                                "was taken as text: give --chunk-rows N, N lines reaching its "
                                "first value, to infer its type from them)")
                    return DataError(f"expected {_kind(t)}, found {json.dumps(cell)[:40]}"
                                     + hint, source=display, line=n, column=key)
        return DataError(f"cannot parse: {_message(exc)}", source=display, line=line)

    # -- TableReader -------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Chunk]:
        row = 0
        blocks = self._blocks
        try:
            while True:
                if self._pending:
                    block, line = self._pending.pop()
                else:
                    nxt = next(blocks, None)
                    if nxt is None:
                        return
                    block, line = nxt
                for batch in self._parse(block, line, self.schema).to_batches():
                    if batch.num_rows:
                        yield Chunk(batch, row)
                        row += batch.num_rows
        except OSError as exc:
            raise DataError(f"cannot read: {_message(exc)}", source=self.source.display) from exc

    def line_of(self, row: int) -> int | None:
        seen = -1
        with self.source.open_bytes_so_far() as raw:
            for n, text in enumerate(raw, start=1):
                if text.strip():
                    seen += 1
                    if seen == row:
                        return n
        return None

    def position(self) -> int | None:
        if self.source.path == "-" or self.source.compression is not None:
            return None
        return self._done_bytes

    def close(self) -> None:
        self._stream.close()

    def rewind(self) -> JsonLinesReader:
        self.close()
        return JsonLinesReader(self.source, chunk_rows=self.chunk_rows)




class JsonLinesWriter(TableWriter):
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def encode(self, batch: pa.RecordBatch) -> Any:
        batch = binary_as_text(batch, "JSON Lines")
        names = batch.schema.names
        columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
        lines = [
            json.dumps(dict(zip(names, values, strict=True)),
                       ensure_ascii=False, default=str) + "\n"
            for values in zip(*columns, strict=True)
        ]
        return "".join(lines).encode("utf-8")

    def put(self, encoded: Any) -> None:
        self.stream.write(encoded)

    def close(self) -> None:
        pass


def _reader(source: Source, dialect: CsvDialect, chunk_rows: int | None) -> TableReader:
    return JsonLinesReader(source, chunk_rows=chunk_rows)


def _writer(stream: BinaryIO, schema: pa.Schema, delimiter: str, header: bool) -> TableWriter:
    return JsonLinesWriter(stream)


FORMATS = (
    Format("jsonl", (".jsonl", ".ndjson"), typed=False, reader=_reader, writer=_writer,
           text_cells=True, title="JSON Lines"),
)
