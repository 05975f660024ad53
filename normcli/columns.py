"""Column selection, and the split of each chunk into a float64 block and passthrough columns.

Which columns hold numbers:

* Parquet: the schema says so (integer, floating point and decimal types).
* CSV: the first chunk says so. A column is numeric when every cell of the first chunk that is not
  missing reads as a number and at least one does, and it does not look like an identifier: no
  value with a leading zero (``00501``) and no integer of more than 15 digits (which float64 cannot
  hold exactly). ``--columns`` may still name such a column; it is then read as numbers.

Once a column is in use, every later cell must be a number or missing; anything else is an error
naming the physical line, the column and the text.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError, UsageError
from .io.arrays import float_values, strings, to_arrow
from .io.reader import Chunk, TableReader

#: Cell texts that mean "missing" in a used column (case as written).
MISSING_TEXT = ("", "NA", "N/A", "NaN", "nan", "null", "NULL")


_MISSING = strings(MISSING_TEXT)
_IDENTIFIER = r"^[+-]?0[0-9]|^[+-]?[0-9]{16,}$"


def _is_numeric_type(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


@dataclass(frozen=True)
class ColumnKinds:
    """What the first chunk says of each column."""

    parses: list[bool]  # every present value reads as a number (vacuously true if none)
    numeric: list[bool]  # ... and the column does not look like an identifier


def column_kinds(reader: TableReader, first: Chunk | None) -> ColumnKinds:
    if reader.kind == "parquet":
        flags = [_is_numeric_type(f.type) for f in reader.schema]
        return ColumnKinds(flags, flags)
    parses: list[bool] = []
    numeric: list[bool] = []
    for i in range(len(reader.names)):
        if first is None or first.num_rows == 0:
            # No rows: nothing contradicts numbers, so --columns may name the column; the default
            # selection has nothing to infer from.
            parses.append(True)
            numeric.append(False)
            continue
        arr = first.batch.column(i)
        present = pc.filter(arr, pc.invert(pc.is_in(arr, value_set=_MISSING)))
        # A column whose cells so far are all missing may still be named in --columns.
        ok = len(present) == 0 or _parse_or_none(present) is not None
        parses.append(ok)
        numeric.append(len(present) > 0 and ok
                       and not pc.any(pc.match_substring_regex(present, _IDENTIFIER)).as_py())
    return ColumnKinds(parses, numeric)


def parse_list(value: str | None) -> list[str] | None:
    """``"A,B,C"`` -> ``["A", "B", "C"]``."""
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip() != ""]


@dataclass(frozen=True)
class Selection:
    names: list[str]
    used: list[int]

    @property
    def used_names(self) -> list[str]:
        return [self.names[i] for i in self.used]


def index_of(names: Sequence[str], name: str, what: str = "column") -> int:
    try:
        return list(names).index(name)
    except ValueError:
        raise UsageError(f"no {what} named {name!r} in the input") from None


def select(
    names: Sequence[str],
    kinds: ColumnKinds,
    *,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    reserved: Iterable[str] = (),
) -> Selection:
    """The columns a command works on, in input order of ``columns`` (or of the file)."""
    names = list(names)
    excluded = set()
    for name in exclude or ():
        excluded.add(index_of(names, name))
    reserved_idx = {index_of(names, n) for n in reserved}
    if columns is not None:
        used = []
        for name in columns:
            i = index_of(names, name)
            if not kinds.parses[i]:
                raise UsageError(f"column {name!r} does not hold numbers")
            if i in used:
                raise UsageError(f"column {name!r} is named twice in --columns")
            used.append(i)
        used = [i for i in used if i not in excluded]
    else:
        used = [
            i for i, ok in enumerate(kinds.numeric)
            if ok and i not in excluded and i not in reserved_idx
        ]
    return Selection(names, used)


def _parse_or_none(arr: pa.Array) -> pa.Array | None:
    try:
        return pc.cast(arr, pa.float64())
    except pa.ArrowInvalid:
        try:
            return pc.cast(pc.utf8_trim_whitespace(arr), pa.float64())
        except pa.ArrowInvalid:
            return None


def _first_bad(arr: pa.Array) -> int:
    """Index of the first value of ``arr`` that does not parse (binary search)."""
    lo, hi = 0, len(arr)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _parse_or_none(arr.slice(lo, mid - lo)) is None:
            hi = mid
        else:
            lo = mid
    return lo


def text_to_float(arr: pa.Array) -> pa.Array | int:
    """Parse a text column to float64 (missing text -> null), or the index of the first bad cell."""
    if arr.null_count == 0 and arr.type == pa.string():
        try:  # the common case: every cell a plain number
            return pc.cast(arr, pa.float64())
        except pa.ArrowInvalid:
            pass  # missing cells, spaces or a bad cell: the careful route
    missing = pc.is_in(arr, value_set=_MISSING)
    cleaned = pc.if_else(missing, pa.nulls(1, arr.type)[0], arr)
    out = _parse_or_none(cleaned)
    if out is None:
        return _first_bad(cleaned)
    return out


class Converter:
    """Turns the used columns of each chunk into one float64 block (missing -> NaN).

    ``reader`` only supplies column names and error locations (:meth:`TableReader.error_at`
    rescans the source), which are the same for every pass, so one converter serves the chunks
    of a second pass too.
    """

    def __init__(self, reader: TableReader, indices: Sequence[int]) -> None:
        self.reader = reader
        self.indices = list(indices)
        self.names = [reader.names[i] for i in self.indices]

    def column(self, chunk: Chunk, index: int) -> np.ndarray:
        arr = chunk.batch.column(index)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            parsed = text_to_float(arr)
            if isinstance(parsed, int):
                raise self.reader.error_at(chunk.row_start + parsed, self.reader.names[index],
                                           f"not a number: {arr[parsed].as_py()!r}")
            arr = parsed
        elif not pa.types.is_floating(arr.type) or arr.type != pa.float64():
            try:
                arr = pc.cast(arr, pa.float64())
            except pa.ArrowInvalid as exc:
                raise DataError(f"cannot read as numbers: {exc}", source=self.reader.source.display,
                                column=self.reader.names[index]) from exc
        return float_values(arr)

    def block(self, chunk: Chunk) -> np.ndarray:
        out = np.empty((chunk.num_rows, len(self.indices)), dtype=np.float64, order="F")
        for j, i in enumerate(self.indices):
            out[:, j] = self.column(chunk, i)
        return out


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def reassemble(
    batch: pa.RecordBatch, indices: Sequence[int], block: np.ndarray, *, only_text: bool = False
) -> pa.RecordBatch:
    """``batch`` with its columns at ``indices`` replaced by the columns of ``block`` (float64).

    With ``only_text``, only columns held as text are replaced (a CSV's numbers written to a
    typed format), and typed columns (a Parquet file's integers) are kept as they are.
    """
    arrays = list(batch.columns)
    fields = list(batch.schema)
    for j, i in enumerate(indices):
        if only_text and not _is_text(fields[i].type):
            continue
        arrays[i] = to_arrow(block[:, j])
        fields[i] = pa.field(fields[i].name, pa.float64())
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def float_schema(
    schema: pa.Schema, indices: Sequence[int], *, only_text: bool = False
) -> pa.Schema:
    """The schema :func:`reassemble` gives."""
    fields = list(schema)
    for i in indices:
        if not only_text or _is_text(fields[i].type):
            fields[i] = pa.field(fields[i].name, pa.float64())
    return pa.schema(fields)
