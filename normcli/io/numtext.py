"""Text of float64 columns for CSV and JSON output, built in bulk with orjson's formatter.

orjson formats a float64 numpy array as shortest round-trip text at about 35 ns a value, four to
seven times faster than Arrow's cast to string (which CSV output has always used). The two agree on
the digits; they differ in a few spellings, so for CSV every value whose spelling could differ is
written by Arrow itself and the output stays byte for byte what Arrow writes:

* integral values below 1e16 (``1.0`` / ``1``, ``-0.0`` / ``-0``),
* 1e-6 <= |x| < 1e-5 (``1.5e-6`` / ``0.0000015``) and 1e10 <= |x| < 1e16 (``12345678901.5`` /
  ``1.23456789015e+10``): the two switch between plain and exponent notation at other powers of
  ten,
* infinities and NaN that are not missing (orjson writes ``null`` for both),

and a missing value (null) is an empty cell. Values of the first three kinds are rare in computed
output (the 1M-row L2 benchmark has about 700, in most chunks): their rows are written again cell
by cell, with Arrow's own text of those values only (:class:`CsvRows`), and the writer puts those
lines in place in the text it writes. When more than a fifth of a chunk's rows hold one, the chunk
is left to Arrow altogether.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa

from .. import compute as pc
from .arrays import float_values

_OPT = orjson.OPT_SERIALIZE_NUMPY
#: Share of rows above which a chunk is cheaper to format with Arrow alone.
_ARROW_SHARE = 0.2


def binaries(values: list[bytes]) -> pa.Array:
    """A binary array built from buffers (``pa.array`` would import pandas)."""
    offsets = np.zeros(len(values) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(v) for v in values])
    return pa.Array.from_buffers(
        pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))]
    )


def binary_scalar(value: bytes) -> pa.Scalar:
    return binaries([value])[0]


_EMPTY = binary_scalar(b"")
_NULL_TEXT = "null"


def csv_fast_delimiter(delimiter: str) -> bool:
    """Whether rows of numbers can be built with this delimiter (it cannot be confused with the
    characters of orjson's number text or its brackets)."""
    return delimiter.isascii() and not delimiter.isalnum() and delimiter not in "[]-+."


#: Bytes of text scanned at a time by :func:`_find_byte` (bounds its temporary flags).
_SCAN_BYTES = 1 << 18


def _find_byte(text: bytes, byte: int) -> np.ndarray:
    """The positions of ``byte`` in ``text`` (int64), scanned a slice at a time so that no
    temporary as large as ``text`` is made."""
    data = np.frombuffer(text, dtype=np.uint8)
    if len(data) <= _SCAN_BYTES:
        return np.flatnonzero(data == byte)
    found = [np.flatnonzero(data[i: i + _SCAN_BYTES] == byte) + i
             for i in range(0, len(data), _SCAN_BYTES)]
    return np.concatenate(found)


def bool_array(flags: np.ndarray) -> pa.Array:
    """A numpy bool array as an Arrow one (``pa.array`` would import numpy.ma)."""
    return pa.Array.from_buffers(
        pa.bool_(), len(flags), [None, pa.py_buffer(np.packbits(flags, bitorder="little"))]
    )


def _block(cols: list[pa.Array]) -> np.ndarray:
    n = len(cols[0])
    block = np.empty((n, len(cols)), dtype=np.float64)
    for j, col in enumerate(cols):
        block[:, j] = float_values(col)
    return block


def _nulls(col: pa.Array) -> np.ndarray:
    validity = col.buffers()[0]
    n = len(col)
    if col.null_count == 0 or validity is None:
        return np.zeros(n, dtype=bool)
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    return ~bits[col.offset: col.offset + n].astype(bool)


def _odd_cells(block: np.ndarray, cols: list[pa.Array]) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """The cells whose orjson spelling is not Arrow's: ``(rows, columns, missing)``, in row
    order (``missing``: the cell is a missing value, written empty)."""
    a = np.abs(block)
    # Coarse first, in few passes: every value outside [1e-5, 1e10) (NaN included) or integral.
    plain = a >= 1e-5
    plain &= a < 1e10
    whole = np.trunc(block)
    cand = whole == block
    cand |= ~plain
    rows = np.flatnonzero(cand.any(axis=1))
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0, dtype=bool)
    sub = block[rows]
    sa = np.abs(sub)
    with np.errstate(invalid="ignore"):
        odd = ((sa >= 1e-6) & (sa < 1e-5)) | ((sa >= 1e10) & (sa < 1e16))
        odd |= (sub == np.trunc(sub)) & (sa < 1e16)
    bad = ~np.isfinite(sub)
    odd |= bad  # infinities and NaN (orjson writes null for both), missing or not
    r, c = np.nonzero(odd)
    missing = np.zeros(len(r), dtype=bool)
    if bad.any():
        for j in np.flatnonzero(bad.any(axis=0)).tolist():  # (np.unique imports numpy.ma)
            at = c == j
            missing[at] = _nulls(cols[j])[rows[r[at]]]
    return rows[r], c, missing


def arrow_text(col: pa.Array) -> pa.Array:
    """Arrow's own text of ``col`` (the reference spelling), missing as empty, as binary."""
    return pc.fill_null(pc.cast(pc.cast(col, pa.string()), pa.binary()), _EMPTY)


def _arrow_spellings(values: np.ndarray) -> list[bytes]:
    """Arrow's text of each value (none missing), as bytes."""
    col = pa.Array.from_buffers(pa.float64(), len(values),
                                [None, pa.py_buffer(np.ascontiguousarray(values))])
    return [v.encode() for v in pc.cast(col, pa.string()).to_pylist()]


@dataclass
class CsvRows:
    """:func:`csv_rows`' result: ``rows`` (binary) is the text of every row but those in
    ``patch_rows`` (ascending), whose text is in ``patches`` (the rows holding a value that
    orjson spells otherwise than Arrow: rare, and put in place by the caller, in the text it
    writes, rather than by a copy of ``rows``)."""

    rows: pa.Array
    patch_rows: list[int]
    patches: list[bytes]

    def patched(self) -> pa.Array:
        """``rows`` with the patches in place (a copy)."""
        if not self.patch_rows:
            return self.rows
        mask = np.zeros(len(self.rows), dtype=bool)
        mask[self.patch_rows] = True
        return pc.replace_with_mask(self.rows, bool_array(mask),
                                    pc.cast(binaries(self.patches), self.rows.type))


def csv_rows(cols: list[pa.Array], delimiter: str) -> CsvRows | None:
    """Each row of these float64 columns as CSV text (cells joined by ``delimiter``, no line end),
    byte for byte what Arrow's cast to string gives. ``None`` when the chunk is better left to
    Arrow (too many values that Arrow must spell)."""
    n = len(cols[0])
    block = _block(cols)
    cell_rows, cell_cols, missing = _odd_cells(block, cols)
    # Rows whose odd cells are all missing: "null" -> "" in bulk (Arrow); the others are
    # written again cell by cell in Python, with Arrow's spelling of each odd value.
    # (flags rather than np.unique / np.isin, which import numpy.ma: 10 ms of a short run)
    fixing = np.zeros(n, dtype=bool)
    fixing[cell_rows[~missing]] = True
    fix_rows = np.flatnonzero(fixing)
    if len(fix_rows) > _ARROW_SHARE * n:
        return None
    text = orjson.dumps(block, option=_OPT)
    sep = delimiter.encode()
    if delimiter != ",":
        text = text.replace(b",", sep)
    # "[[a,b],[c,d]]": row r is text[starts[r]:starts[r + 1]] == "[a,b]," (the last one "[c,d]]"),
    # whose cells are that without its first and last two bytes.
    ends = _find_byte(text, ord("]"))
    width = np.int32 if len(text) < 2**31 else np.int64
    starts = np.empty(n + 1, dtype=width)
    starts[0] = 1
    starts[1:n] = ends[: n - 1] + 2
    starts[n] = len(text)
    rows = pa.Array.from_buffers(
        pa.binary() if width is np.int32 else pa.large_binary(), n,
        [None, pa.py_buffer(starts), pa.py_buffer(text)],
    )
    rows = pc.binary_slice(rows, 1, -2)
    if len(cell_rows) > 0:
        nulls = np.zeros(n, dtype=bool)
        nulls[cell_rows[missing]] = True
        nulls &= ~fixing
        if nulls.any():
            picked = pc.filter(rows, bool_array(nulls))
            rows = pc.replace_with_mask(rows, bool_array(nulls),
                                        pc.replace_substring(picked, _NULL_TEXT, ""))
    if len(fix_rows) == 0:
        return CsvRows(rows, [], [])
    fix = fixing[cell_rows]
    at_rows, at_cols, at_missing = cell_rows[fix], cell_cols[fix], missing[fix]
    spelled = [b""] * len(at_rows)  # missing: empty
    present = np.flatnonzero(~at_missing)
    for k, word in zip(present.tolist(),
                       _arrow_spellings(block[at_rows[present], at_cols[present]]),
                       strict=True):
        spelled[k] = word
    patches = []
    k = 0
    at_rows_l, at_cols_l = at_rows.tolist(), at_cols.tolist()
    fix_list = fix_rows.tolist()
    for r in fix_list:
        cells = text[int(starts[r]) + 1: int(starts[r + 1]) - 2].split(sep)
        while k < len(at_rows_l) and at_rows_l[k] == r:
            cells[at_cols_l[k]] = spelled[k]
            k += 1
        patches.append(sep.join(cells))
    return CsvRows(rows, fix_list, patches)


#: JSON has no spelling for these; Python's ``json`` (and normcli's readers) use JavaScript's.
_NON_FINITE = {math.inf: b"Infinity", -math.inf: b"-Infinity"}


def json_values(col: pa.Array) -> pa.Array:
    """The JSON text of each value of a float64 column, as binary: missing as ``null``, an
    infinity as ``Infinity`` / ``-Infinity`` and a NaN that is not missing as ``NaN``, as
    Python's ``json`` writes them (orjson would write ``null``: another value)."""
    values = float_values(col)
    n = len(values)
    text = orjson.dumps(np.ascontiguousarray(values), option=_OPT)
    # "[a,b,c]": value i is text[starts[i]:starts[i + 1]] less its last byte ("," or "]").
    commas = _find_byte(text, ord(","))
    width = np.int32 if len(text) < 2**31 else np.int64
    starts = np.empty(n + 1, dtype=width)
    starts[0] = 1
    starts[1:n] = commas + 1
    starts[n] = len(text)
    cells = pa.Array.from_buffers(
        pa.binary() if width is np.int32 else pa.large_binary(), n,
        [None, pa.py_buffer(starts), pa.py_buffer(text)],
    )
    cells = pc.binary_slice(cells, 0, -1)
    odd = ~np.isfinite(values)
    if odd.any():
        odd &= ~_nulls(col)
        if odd.any():
            words = [_NON_FINITE.get(v, b"NaN") for v in values[odd].tolist()]
            cells = pc.replace_with_mask(cells, bool_array(odd),
                                         pc.cast(binaries(words), cells.type))
    return cells
