"""Column selection, and the split of each chunk into a float64 block and passthrough columns.

Which columns hold numbers:

* Parquet: the schema says so (integer, floating point and decimal types).
* CSV: the first chunk says so. Each cell of the first chunk is *missing* (one of the missing-value
  spellings: an empty cell, and pandas' defaults ``NA``, ``n/a``, ``None``, ``#N/A``, ... or the
  list of ``--na-values``), a *number* (what float64 parsing accepts: ``1.5``, ``-2``, ``.5``,
  ``1e-300``, ``inf``, ``nan``, surrounding spaces allowed) or *text* (anything else: ``1,234``,
  ``abc``, ``1_000``). A column is

  - *numeric* when it has numbers and no text, and does not look like an identifier: no number
    with a leading zero (``00501``) and no integer of more than 15 digits (which float64 cannot
    hold exactly). The default selection uses it.
  - an *identifier* when one of its numbers looks like one (whatever else it holds); *text* when
    it has no number. Both pass through.
  - *ambiguous* when it holds numbers and text. It is never guessed: the default selection stops
    with an error naming the column, the line and the text, unless ``--exclude`` leaves it out
    (or ``--columns``, which names the columns to use, does not name it).

``--columns`` (and ``-y``, ``--weights``, a model's features) may name an identifier column; it is
then read as numbers. Naming a column with text in the first chunk is an error at that line.

Once a column is in use, every later cell must be a number or missing; anything else is an error
naming the physical line, the column and the text.

A header may repeat a name (RFC 4180's ``field_name,field_name``): such columns pass through.
Naming one (``--columns``, ``-y``, ...), or a default selection that would use one, is an error;
``--exclude NAME`` leaves out every column of that name.
"""

from __future__ import annotations

import shlex
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from . import compute as pc
from .errors import DataError, UsageError
from .io.arrays import empty_floats, float_values, strings, to_arrow
from .io.reader import Chunk, TableReader

#: pandas' default missing-value spellings (``pandas._libs.parsers.STR_NA_VALUES``; a test checks
#: that the two agree). ``--na-values`` replaces them; an empty cell is always missing.
NA_VALUES: tuple[str, ...] = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)

_MISSING = strings(NA_VALUES)
_FALSE = pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(b"\x00")])[0]
#: What Arrow's float64 parsing accepts (after trimming spaces), as a pattern: used to tell numbers
#: from text in the first chunk without parsing each cell in Python.
_NUMBER = (r"^\s*[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
           r"|(?i:inf|infinity|nan))\s*$")
_IDENTIFIER = r"^\s*[+-]?0[0-9]|^\s*[+-]?[0-9]{16,}\s*$"
#: Column names listed in a message at most.
_LIST_AT_MOST = 20


def missing_values(na_values: Sequence[str] | None) -> pa.Array:
    """The texts read as missing: ``na_values`` (default: pandas' list) and the empty cell."""
    if na_values is None:
        return _MISSING
    return strings(sorted({"", *na_values}))


def _is_numeric_type(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


@dataclass(frozen=True)
class ColumnKinds:
    """What the first chunk says of each column."""

    parses: list[bool]  # every present value reads as a number (vacuously true if none)
    numeric: list[bool]  # ... at least one does, and the column does not look like an identifier
    #: Per column: the first-chunk row of its first text cell (-1: none).
    first_text: list[int] = field(default_factory=list)
    #: Per column: it holds numbers and text, and is no identifier (the default selection
    #: cannot decide it).
    ambiguous: list[bool] = field(default_factory=list)
    #: Per column: at least one first-chunk cell is a number.
    has_number: list[bool] = field(default_factory=list)
    #: The first chunk, for the text of a cell named in an error.
    batch: pa.RecordBatch | None = None
    #: Per column: a dataset's hive partition column (left out of the default selection).
    partition: list[bool] = field(default_factory=list)

    def text_at(self, column: int) -> tuple[int, str] | None:
        """Row and text of the first text cell of ``column`` in the first chunk."""
        if not self.first_text or self.first_text[column] < 0 or self.batch is None:
            return None
        row = self.first_text[column]
        return row, str(self.batch.column(column)[row].as_py())

    def why_passed(self, column: int) -> str:
        """Why the default selection leaves a column out (for --verbose)."""
        if self.partition and self.partition[column]:
            return "partition column"
        if self.numeric[column]:
            return ""
        if self.ambiguous and self.ambiguous[column]:
            return "numbers and text"
        if self.has_number and self.has_number[column]:
            return "identifier"
        return "text"


def classify_text(columns: Sequence[pa.Array], missing: pa.Array) -> ColumnKinds:
    """:class:`ColumnKinds` of text columns of equal length, computed on all cells at once."""
    k = len(columns)
    n = len(columns[0]) if k else 0
    if k == 0 or n == 0:
        # No rows: nothing contradicts numbers, so --columns may name the column; the default
        # selection has nothing to infer from.
        return ColumnKinds([True] * k, [False] * k, [-1] * k, [False] * k, [False] * k)
    # One array of all cells, column after column: each kernel then runs once (a regex per
    # column would be compiled once per column).
    cells = pa.concat_arrays([pc.cast(c, pa.string()) if c.type != pa.string() else c
                              for c in columns])

    def mask(arr: pa.Array) -> np.ndarray:
        # From the bits: Python's False and to_numpy() on booleans go through pandas (0.3 s).
        filled = pc.fill_null(arr, _FALSE)
        bits = np.unpackbits(np.frombuffer(filled.buffers()[1], dtype=np.uint8),
                             bitorder="little")
        return bits[filled.offset: filled.offset + len(filled)].astype(bool).reshape(k, n)

    present = ~mask(pc.is_in(cells, value_set=missing))
    number = mask(pc.match_substring_regex(cells, _NUMBER))
    ident = mask(pc.match_substring_regex(cells, _IDENTIFIER)) & number
    text = present & ~number
    has_text = text.any(axis=1)
    has_number = (present & number).any(axis=1)
    identifier = (present & ident).any(axis=1)
    first_text = np.where(has_text, text.argmax(axis=1), -1)
    numeric = has_number & ~has_text & ~identifier
    ambiguous = has_number & has_text & ~identifier
    return ColumnKinds(
        parses=(~has_text).tolist(), numeric=numeric.tolist(), first_text=first_text.tolist(),
        ambiguous=ambiguous.tolist(), has_number=has_number.tolist(),
    )


#: An integer of more than 15 digits (float64 cannot hold all of them): an identifier.
_BIG_INTEGER = 10.0**15


def column_kinds(reader: TableReader, first: Chunk | None,
                 missing: pa.Array | None = None) -> ColumnKinds:
    if reader.typed:
        flags = [_is_numeric_type(f.type) for f in reader.schema]
        k = len(flags)
        usable = list(flags)
        if first is not None and first.num_rows:
            for i, f in enumerate(reader.schema):
                if flags[i] and pa.types.is_integer(f.type):
                    # Same rule as for CSV text: an integer of more than 15 digits is an id
                    # (passed through unless --columns names it).
                    lo, hi = pc.min_max(first.batch.column(i)).values()
                    big = [v for v in (lo.as_py(), hi.as_py()) if v is not None]
                    usable[i] = not any(abs(v) >= _BIG_INTEGER for v in big)
        return ColumnKinds(flags, usable, [-1] * k, [False] * k, flags)
    missing = _MISSING if missing is None else missing
    if first is None or first.num_rows == 0:
        return classify_text([pa.array([], pa.string())] * len(reader.names), missing)
    columns = first.batch.columns
    text = [i for i, c in enumerate(columns) if _is_text(c.type)]
    kinds = classify_text([columns[i] for i in text], missing)
    if len(text) == len(columns):
        return ColumnKinds(kinds.parses, kinds.numeric, kinds.first_text, kinds.ambiguous,
                           kinds.has_number, first.batch)
    # A reader that infers types itself (JSON Lines): its number columns hold numbers, its text
    # columns are classified as CSV cells are, anything else (booleans, objects) passes through.
    k = len(columns)
    flags = [_is_numeric_type(c.type) for c in columns]
    parses = [f or pa.types.is_null(c.type) for f, c in zip(flags, columns, strict=True)]
    numeric, first_text, ambiguous, has_number = list(flags), [-1] * k, [False] * k, list(flags)
    for j, i in enumerate(text):
        parses[i], numeric[i] = kinds.parses[j], kinds.numeric[j]
        first_text[i], ambiguous[i] = kinds.first_text[j], kinds.ambiguous[j]
        has_number[i] = kinds.has_number[j]
    return ColumnKinds(parses, numeric, first_text, ambiguous, has_number, first.batch)


def parse_list(value: str | None) -> list[str] | None:
    """``"A,B,C"`` -> ``["A", "B", "C"]`` (spaces kept: a header may have `` b``; a name with
    spaces that the header lacks is looked up without them, see :func:`index_of`). A list
    holding a double quote is read as a CSV line, so that a name holding a comma or a quote can
    be given: ``'"a,b",c'`` -> ``["a,b", "c"]`` (a quote inside a quoted name is doubled)."""
    if value is None:
        return None
    if '"' not in value:
        fields = value.split(",")
    else:
        import csv

        try:
            fields = next(csv.reader([value], strict=True), [])
        except csv.Error as exc:
            raise UsageError(f"cannot read the list {value!r} ({exc}): quote a name as in a "
                             "CSV line, '\"a,b\",c', and double a quote inside it") from None
    return [v for v in fields if v.strip() != ""]


@dataclass(frozen=True)
class Selection:
    names: list[str]
    used: list[int]

    @property
    def used_names(self) -> list[str]:
        return [self.names[i] for i in self.used]


def _listing(names: Sequence[str]) -> str:
    shown = [repr(n) if n != n.strip() or n == "" or "," in n or not n.isprintable() else n
             for n in names[:_LIST_AT_MOST]]
    more = f", ... ({len(names)} columns)" if len(names) > _LIST_AT_MOST else ""
    return ", ".join(shown) + more


def _positions(names: Sequence[str], name: str) -> list[int]:
    return [i for i, n in enumerate(names) if n == name]


def repeated_message(names: Sequence[str], name: str) -> str:
    where = [str(i + 1) for i in _positions(names, name)]
    return (f"column name {name!r} is repeated in the header (columns "
            f"{', '.join(where[:-1])} and {where[-1]})")


def unknown_message(names: Sequence[str], name: str, what: str = "column") -> str:
    msg = f"no {what} named {name!r} in the input"
    spaced = [n for n in names if n.strip() == name.strip() and n != name]
    if spaced:
        msg += (f"; the header has {spaced[0]!r}, with spaces: name it with them, "
                f"e.g. {shlex.quote(spaced[0])}")
    else:
        import difflib  # only for this message (start-up time)

        close = difflib.get_close_matches(name, list(dict.fromkeys(names)), n=3, cutoff=0.6)
        if close:
            msg += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    return f"{msg} (columns: {_listing(names)})"


def index_of(names: Sequence[str], name: str, what: str = "column") -> int:
    """The position of column ``name``: exact, else without surrounding spaces (``--columns
    'a, b'``); an unknown or repeated name is a usage error that says what the header has."""
    for candidate in (name, name.strip()):
        found = _positions(names, candidate)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise UsageError(repeated_message(names, candidate) + f"; the {what} cannot be named "
                             "by it: rename the columns")
    raise UsageError(unknown_message(names, name, what))


def indices_of(names: Sequence[str], name: str, what: str = "column") -> list[int]:
    """Every position of ``name`` (for ``--exclude``, which may leave out a repeated name)."""
    for candidate in (name, name.strip()):
        found = _positions(names, candidate)
        if found:
            return found
    raise UsageError(unknown_message(names, name, what))


def check_numbers(
    reader: TableReader, kinds: ColumnKinds, index: int, what: str, *, usage: bool = True
) -> None:
    """A column named to be used (``--columns``, ``-y``, ...) must hold numbers.

    A first-chunk text cell in a column that also holds numbers is bad data: the "not a number"
    error at its line (exit 1), as a later chunk would give. A column with no number at all was
    named by mistake: exit 2 (``usage``), naming the line and the text too.
    """
    name = reader.names[index]
    if kinds.parses[index]:
        return
    found = kinds.text_at(index)
    if found is None:
        raise (UsageError if usage else DataError)(f"{what} names column {name!r}, which "
                                                   "does not hold numbers")
    row, text = found
    if kinds.has_number and kinds.has_number[index]:
        raise reader.error_at(row, name, f"not a number: {text!r}")
    err = reader.error_at(row, name, f"{what} names a column that does not hold numbers "
                          f"({text!r} is not a number)")
    if usage:
        raise UsageError(str(err))
    raise err


def select(
    names: Sequence[str],
    kinds: ColumnKinds,
    *,
    columns: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    reserved: Iterable[str] = (),
    reader: TableReader | None = None,
    option: str = "--columns",
) -> Selection:
    """The columns a command works on, in input order of ``columns`` (or of the file).

    ``option`` is what messages call ``columns`` (``--to-columns`` names a second list)."""
    names = list(names)
    excluded: set[int] = set()
    for name in exclude or ():
        excluded.update(indices_of(names, name))
    reserved_idx = {index_of(names, n) for n in reserved}
    if columns is not None:
        used: list[int] = []
        for name in columns:
            i = index_of(names, name)
            if i in used:
                raise UsageError(f"column {names[i]!r} is named twice in {option}")
            if i in excluded:  # "work on exactly these" and "leave these out" at once
                raise UsageError(f"column {names[i]!r} is both in {option} and in --exclude; "
                                 "name it in one of them")
            used.append(i)
        for i in used:
            if reader is not None:
                check_numbers(reader, kinds, i, option)
            elif not kinds.parses[i]:
                raise UsageError(f"column {names[i]!r} does not hold numbers")
    else:
        candidates = [i for i in range(len(names)) if i not in excluded and i not in reserved_idx]
        if kinds.ambiguous:
            for i in candidates:
                if kinds.ambiguous[i]:
                    _ambiguous(names, kinds, i, reader)
        used = [i for i in candidates if kinds.numeric[i]]
        counts = Counter(names)
        for i in used:
            if counts[names[i]] > 1:
                raise DataError(repeated_message(names, names[i]) + " and holds numbers: rename "
                                "the columns, or pass them through with --exclude "
                                f"{shlex.quote(names[i])}",
                                source=reader.source.display if reader is not None else None)
    return Selection(names, used)


def _ambiguous(names: list[str], kinds: ColumnKinds, i: int, reader: TableReader | None) -> None:
    name = names[i]
    fix = (f"pass it through with --exclude {shlex.quote(name)}, or choose the columns to use "
           "with --columns")
    found = kinds.text_at(i)
    if found is None or reader is None:
        raise DataError(f"the column holds numbers and text: {fix}", column=name)
    row, text = found
    raise reader.error_at(row, name, f"{text!r} is not a number, but the column holds numbers "
                          f"too: {fix}")


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


def fast_cast_ok(missing: pa.Array) -> bool:
    """Whether a plain float64 cast may skip the missing-value check: every missing spelling
    that reads as a number reads as NaN (true of pandas' list; not of ``--na-values -999``)."""
    for text in missing.to_pylist():
        try:
            value = float(text)
        except ValueError:
            continue
        if value == value:
            return False
    return True


def text_to_float(arr: pa.Array, missing: pa.Array = _MISSING, fast: bool = True
                  ) -> pa.Array | int:
    """Parse a text column to float64 (missing text -> null), or the index of the first bad cell.

    ``fast``: :func:`fast_cast_ok` holds for ``missing``.
    """
    if fast and arr.null_count == 0 and arr.type == pa.string():
        try:  # the common case: every cell a plain number
            return pc.cast(arr, pa.float64())
        except pa.ArrowInvalid:
            pass  # missing cells, spaces or a bad cell: the careful route
    is_missing = pc.is_in(arr, value_set=missing)
    cleaned = pc.if_else(is_missing, pa.nulls(1, arr.type)[0], arr)
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

    def __init__(self, reader: TableReader, indices: Sequence[int],
                 missing: pa.Array | None = None) -> None:
        self.reader = reader
        self.indices = list(indices)
        self.names = [reader.names[i] for i in self.indices]
        self.missing = _MISSING if missing is None else missing
        self.fast = fast_cast_ok(self.missing)
        self._plan: tuple[pa.Schema, str] | None = None  # see _kinds
        self._labels = [str(j) for j in range(len(self.indices))]  # of _tensor_block's batch

    def _kinds(self, schema: pa.Schema) -> str:
        """Per used column, ``f`` float64, ``s`` string (text), ``o`` another type (worked out
        once per schema: the chunks of an input share it)."""
        plan = self._plan
        if plan is not None and (schema is plan[0] or schema.equals(plan[0])):
            return plan[1]
        types = [schema.field(i).type for i in self.indices]
        kinds = "".join("f" if t == pa.float64() else "s" if t == pa.string() else "o"
                        for t in types)
        self._plan = (schema, kinds)
        return kinds

    def _tensor_block(self, chunk: Chunk, kinds: str) -> np.ndarray | None:
        """:meth:`block` of float64 and text columns, built by Arrow in one conversion of all
        the columns (nulls as NaN) after the text ones are parsed together; None if Arrow's
        result is not a writeable column-major block."""
        n = chunk.num_rows
        batch = chunk.batch
        both = batch.select(self.indices)  # no Python object per column
        text = [j for j, kind in enumerate(kinds) if kind == "s"]
        if text:
            cells = both.column(text[0]) if len(text) == 1 else pa.concat_arrays(
                [both.column(j) for j in text])
            parsed = text_to_float(cells, self.missing, self.fast)
            if isinstance(parsed, int):
                self.column(chunk, self.indices[text[parsed // n]])  # raises, at the first bad row
                raise AssertionError("unreachable")  # pragma: no cover
            for k, j in enumerate(text):
                both = both.set_column(j, self._labels[j], parsed.slice(k * n, n))
        block = np.asarray(both.to_tensor(null_to_nan=True, row_major=False).to_numpy(),
                           dtype=np.float64)
        if block.flags.f_contiguous and block.flags.writeable:
            return block
        return None

    def column(self, chunk: Chunk, index: int) -> np.ndarray:
        arr = chunk.batch.column(index)
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            parsed = text_to_float(arr, self.missing, self.fast)
            if isinstance(parsed, int):
                raise self.reader.error_at(chunk.row_start + parsed, self.reader.names[index],
                                           f"not a number: {arr[parsed].as_py()!r}")
            arr = parsed
        elif not pa.types.is_floating(arr.type) or arr.type != pa.float64():
            try:
                # Integers beyond 2**53 (only when --columns names such a column: by default
                # they are identifiers) round to the nearest float64, as their text would.
                arr = pc.cast(arr, pa.float64(), safe=False)
            except pa.ArrowInvalid as exc:
                raise DataError(f"cannot read as numbers: {exc}", source=self.reader.source.display,
                                column=self.reader.names[index]) from exc
        return float_values(arr)

    def block(self, chunk: Chunk) -> np.ndarray:
        """The used columns of ``chunk`` as one (rows, columns) float64 block, column-major.

        Text columns are parsed together, in one cast of all their cells (no work per column
        and chunk in Python: inputs may have 100,000 columns)."""
        n = chunk.num_rows
        batch = chunk.batch
        if n and self.indices:
            kinds = self._kinds(batch.schema)
            if "f" in kinds and "o" not in kinds:
                # Numbers Arrow parsed as it read (a CSV's typed read, Parquet): one conversion
                # of all the columns instead of a copy of each (and its Python overhead, most
                # of the time for a chunk of 1,000 rows).
                block = self._tensor_block(chunk, kinds)
                if block is not None:
                    return block
        out = empty_floats(n, len(self.indices))
        if not self.indices:
            return out
        text = [j for j, i in enumerate(self.indices) if _is_text(batch.schema.field(i).type)
                and batch.schema.field(i).type == pa.string()]
        if len(text) > 1 and n:
            cells = pa.concat_arrays([batch.column(self.indices[j]) for j in text])
            parsed = text_to_float(cells, self.missing, self.fast)
            if isinstance(parsed, int):
                j = text[parsed // n]
                self.column(chunk, self.indices[j])  # raises, naming the first bad row
                raise AssertionError("unreachable")  # pragma: no cover
            values = float_values(parsed).reshape(len(text), n).T
            if len(text) == len(self.indices):
                out[:, :] = values
                return out
            out[:, text] = values
            done = set(text)
        else:
            done = set()
        for j, i in enumerate(self.indices):
            if j not in done:
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
    keep = [j for j, i in enumerate(indices) if not (only_text and not _is_text(fields[i].type))]
    if keep:
        n = block.shape[0]
        # One float64 array of every replaced column (column-major), sliced per column.
        values = block[:, keep] if len(keep) < block.shape[1] else block
        flat = to_arrow(np.asarray(values).ravel(order="F"))
        for k, j in enumerate(keep):
            i = indices[j]
            arrays[i] = flat.slice(k * n, n)
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
