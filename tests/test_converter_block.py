"""The float64 block of a chunk's used columns (``Converter.block``): typed float64 columns, text
columns and the two mixed (a CSV's typed read keeps one column as text) give the numbers a plain
Python reading of each cell gives: ``float(text)`` for text, NaN for a null or a missing spelling;
column-major, writeable, the input untouched; a bad cell names its row and column."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from normcli.columns import NA_VALUES, Converter
from normcli.errors import DataError
from normcli.io.arrow import ArrowReader, ArrowSource
from normcli.io.reader import Chunk

N = 23
rng = np.random.default_rng(17)
A = [None if i % 5 == 2 else float(v) for i, v in enumerate(rng.standard_normal(N))]
C = [float(v) for v in rng.standard_normal(N) * 1e6]
B = [("NA" if i % 7 == 3 else "" if i % 7 == 5 else f" {v!r}" if i % 3 == 0 else repr(v))
     for i, v in enumerate(rng.standard_normal(N).tolist())]
D = list(range(N))


def _table(b: list[str] = B) -> pa.Table:
    return pa.table({"a": pa.array(A, pa.float64()), "b": pa.array(b, pa.string()),
                     "c": pa.array(C, pa.float64()), "d": pa.array(D, pa.int64())})


def _expected(column: str, rows: range) -> list[float]:
    def value(cell: object) -> float:
        if cell is None:
            return math.nan
        if isinstance(cell, str):
            return math.nan if cell.strip() in NA_VALUES else float(cell)
        return float(cell)  # type: ignore[arg-type]

    data = {"a": A, "b": B, "c": C, "d": D}[column]
    return [value(data[i]) for i in rows]


def _converter(table: pa.Table, columns: list[str]) -> Converter:
    reader = ArrowReader(ArrowSource(table))
    return Converter(reader, [reader.names.index(c) for c in columns])


@pytest.mark.parametrize("columns", [["c", "a"], ["c", "b", "a", "c"], ["b", "a", "b"],
                                     ["a", "d", "b"], ["b"]])
@pytest.mark.parametrize("window", [(0, N), (4, 11)])
def test_block_matches_each_cell(columns: list[str], window: tuple[int, int]) -> None:
    table = _table()
    conv = _converter(table, columns)
    start, stop = window
    batch = table.to_batches()[0].slice(start, stop - start)
    for _ in range(2):  # a second chunk of the same schema (the plan is kept per schema)
        block = conv.block(Chunk(batch, start))
        assert block.shape == (stop - start, len(columns)) and block.dtype == np.float64
        assert block.flags.f_contiguous and block.flags.writeable
        for j, name in enumerate(columns):
            np.testing.assert_array_equal(block[:, j], _expected(name, range(start, stop)))
    block[:] = 0.0  # the caller may overwrite it: the input keeps its values
    assert table.column("c").to_pylist() == C


def test_block_bad_text_names_row_and_column() -> None:
    b = list(B)
    b[9] = "1.5x"
    table = _table(b)
    conv = _converter(table, ["a", "b", "c"])
    with pytest.raises(DataError) as err:
        conv.block(Chunk(table.to_batches()[0].slice(4), 4))
    text = str(err.value)
    assert "row 10," in text and "column 'b'" in text and "'1.5x'" in text


def test_block_of_no_rows() -> None:
    table = _table()
    conv = _converter(table, ["a", "b"])
    block = conv.block(Chunk(table.to_batches()[0].slice(0, 0), 0))
    assert block.shape == (0, 2)
