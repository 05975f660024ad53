"""JSON: one array of objects, one per row (output only; JSON Lines reads and writes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

from . import Format

if TYPE_CHECKING:
    import pyarrow as pa

    from ..io.writer import TableWriter


def _writer(stream: BinaryIO, schema: pa.Schema, delimiter: str, header: bool) -> TableWriter:
    from ..io.writer import JsonWriter

    return JsonWriter(stream)


FORMATS = (Format("json", (".json",), typed=False, writer=_writer, title="JSON"),)
