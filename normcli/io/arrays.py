"""Small conversions between Arrow arrays and numpy that avoid ``pyarrow``'s pandas shim.

``pa.array(...)``, ``pa.scalar(...)``, ``Array.to_numpy(zero_copy_only=False)`` and Python strings
passed to compute functions all import pandas (0.3 s at start-up) and copy; these build the same
arrays straight from buffers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def strings(values: Sequence[str]) -> pa.Array:
    """A string array built from buffers (``pa.array`` would import pandas, 0.3 s at start-up)."""
    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(d) for d in data])
    return pa.Array.from_buffers(
        pa.string(), len(data), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    )


def empty_floats(rows: int, cols: int) -> np.ndarray:
    """An uninitialized (rows, cols) float64 block, column-major, in Arrow's memory pool.

    A chunk's blocks are a few MB each, allocated and freed for every chunk: numpy's own
    (malloc's) memory went back to the system and faulted its pages in again each time, while
    the pool (jemalloc, :func:`normcli.pipeline.choose_memory_pool`) reuses them."""
    buf = pa.allocate_buffer(rows * cols * 8)
    return np.frombuffer(buf, dtype=np.float64).reshape((rows, cols), order="F")


def float_values(arr: pa.Array) -> np.ndarray:
    """A float64 Arrow array as numpy, nulls as NaN (no pandas, one copy at most)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    validity, data = arr.buffers()[:2]
    values = np.frombuffer(data, dtype=np.float64, count=arr.offset + n)[arr.offset:]
    if arr.null_count == 0:
        return values
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    return np.where(bits[arr.offset: arr.offset + n].astype(bool), values, np.nan)


def to_arrow(values: np.ndarray) -> pa.Array:
    """A float64 column for output: NaN becomes missing (null). No copy of the values."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    present = ~np.isnan(values)
    nulls = len(values) - int(np.count_nonzero(present))
    bitmap = pa.py_buffer(np.packbits(present, bitorder="little")) if nulls else None
    return pa.Array.from_buffers(
        pa.float64(), len(values), [bitmap, pa.py_buffer(values)], null_count=nulls
    )


def int64s(values: np.ndarray) -> pa.Array:
    """An int64 column without missing values, built from the buffer (no pandas)."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(data), [None, pa.py_buffer(data)])


def string_scalar(value: str) -> pa.Scalar:
    return strings([value])[0]


def codes(arr: pa.Array) -> np.ndarray:
    """The int32 indices of a dictionary array as int64 numpy, nulls as -1 (no pandas)."""
    n = len(arr)
    validity, data = arr.buffers()[:2]
    values = np.frombuffer(data, dtype=np.int32, count=arr.offset + n)[arr.offset:]
    out = values.astype(np.int64)
    if arr.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        out[~bits[arr.offset: arr.offset + n].astype(bool)] = -1
    return out


def value_offsets(arr: pa.Array) -> np.ndarray:
    """The ``len(arr) + 1`` offsets of a binary or string array's values in its data buffer
    (int64 for the large types, else int32; the array's own offset applied, no copy)."""
    large = pa.types.is_large_binary(arr.type) or pa.types.is_large_string(arr.type)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if large else np.int32,
                            count=arr.offset + len(arr) + 1)
    return offsets[arr.offset:]
