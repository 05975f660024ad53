"""Bulk number text (normcli.io.numtext) for CSV and JSON output, and what start-up imports.

The CSV text of float64 columns is built with orjson and must be byte for byte what Arrow's own
CSV writer (the reference, and normcli's output before) writes, each number the shortest text that
reads back to the same float64 (compared with Python's ``repr``, an independent shortest
round-trip formatter).
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from normcli.io import numtext
from normcli.io.arrays import strings
from normcli.io.writer import CsvWriter, JsonWriter

SPECIAL = [0.0, -0.0, 1.0, -1.0, 100.0, 1e-7, 1e-6, 1.5e-6, 9.999999999999999e-6, 1e-5, 1e10,
           1.5e10, 9999999999.999998, 1e15, 1e16, 1e21, 5e-324, 2.2250738585072014e-308,
           2.225073858507201e-308, 1.7976931348623157e308, -1.7976931348623157e308, 1e308,
           1e-308, 0.1, 123456.0, 1234567890123456.8, 9007199254740993.0]


def _column(values: list[float], missing: list[bool] | None = None) -> pa.Array:
    data = np.array(values, dtype=np.float64)
    bitmap = None
    nulls = 0
    if missing is not None and any(missing):
        present = ~np.array(missing, dtype=bool)
        bitmap = pa.py_buffer(np.packbits(present, bitorder="little"))
        nulls = int(np.count_nonzero(~present))
    return pa.Array.from_buffers(pa.float64(), len(values), [bitmap, pa.py_buffer(data)],
                                 null_count=nulls)


def _fast(batch: pa.RecordBatch, delimiter: str = ",") -> bytes:
    return bytes(CsvWriter(io.BytesIO(), batch.schema.names, delimiter=delimiter).format(batch))


def _arrow(batch: pa.RecordBatch, delimiter: str = ",") -> bytes:
    """Arrow's CSV writer on its own: the reference spelling."""
    sink = pa.BufferOutputStream()
    pacsv.write_csv(batch, sink, pacsv.WriteOptions(include_header=False, delimiter=delimiter,
                                                    quoting_style="none"))
    return sink.getvalue().to_pybytes()


def _digits(text: str) -> str:
    """The significant digits of a number's text (no sign, point, exponent or padding zeros)."""
    mantissa = text.lower().split("e")[0].lstrip("-").replace(".", "")
    return mantissa.strip("0") or "0"


def test_spellings_are_arrows() -> None:
    # Hand-written: what normcli has always written (Arrow's spelling), value by value.
    want = [(1.0, "1"), (-0.0, "-0"), (0.0, "0"), (100.0, "100"), (1e-7, "1e-7"),
            (1e-6, "0.000001"), (1.5e-6, "0.0000015"), (1e-5, "0.00001"), (1e10, "1e+10"),
            (1.5e10, "1.5e+10"), (1e15, "1e+15"), (1e21, "1e+21"), (5e-324, "5e-324"),
            (0.1, "0.1"), (float("inf"), "inf"), (float("-inf"), "-inf"),
            (float("nan"), "nan"), (9999999999.999998, "9999999999.999998"),
            (123456.0, "123456")]
    out = _fast(pa.RecordBatch.from_arrays([_column([v for v, _ in want])], names=["x"]))
    assert out.decode().split("\n")[:-1] == [text for _, text in want]


def test_missing_is_empty_and_nan_is_nan() -> None:
    col = _column([1.5, 2.5, float("nan"), 4.0], missing=[False, True, False, False])
    batch = pa.RecordBatch.from_arrays([col, strings(["a", "b", "c", "d"])], names=["x", "t"])
    assert _fast(batch) == b"1.5,a\n,b\nnan,c\n4,d\n"
    assert _fast(batch) == _arrow(batch)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.floats(allow_subnormal=True) | st.sampled_from(SPECIAL),
                         min_size=3, max_size=3), min_size=1, max_size=40),
       st.lists(st.booleans(), min_size=40, max_size=40),
       st.sampled_from([",", ";", "\t", "|"]))
@example([[5e-324, -0.0, 1e308], [-1e-308, 1e-308, 2.2250738585072014e-308]], [False] * 40, ",")
def test_rows_match_arrow_and_repr(rows: list[list[float]], missing: list[bool],
                                   delimiter: str) -> None:
    n = len(rows)
    cols = [_column([r[j] for r in rows], missing[:n] if j == 1 else None) for j in range(3)]
    ids = strings([f"r{i}" for i in range(n)])
    batch = pa.RecordBatch.from_arrays([cols[0], ids, cols[1], cols[2]],
                                       names=["a", "id", "b", "c"])
    out = _fast(batch, delimiter)
    assert out == _arrow(batch, delimiter)
    lines = out.decode().split("\n")
    assert lines[-1] == "" and len(lines) == n + 1
    for i, line in enumerate(lines[:-1]):
        cells = line.split(delimiter)
        assert cells[1] == f"r{i}"
        for cell, value, is_missing in ((cells[0], rows[i][0], False),
                                        (cells[2], rows[i][1], missing[i]),
                                        (cells[3], rows[i][2], False)):
            if is_missing:
                assert cell == ""
            elif math.isnan(value):
                assert cell == "nan"
            else:
                assert float(cell) == value and math.copysign(1, float(cell)) == math.copysign(
                    1, value)
                if math.isfinite(value):
                    assert _digits(cell) == _digits(repr(value))  # shortest round trip


def test_many_odd_values_left_to_arrow() -> None:
    # Mostly integers: orjson writes 3.0, Arrow 3; past a fifth of the rows Arrow does it all.
    values = [float(i) for i in range(100)] + [0.5]
    col = _column(values)
    assert numtext.csv_rows([col], ",") is None
    batch = pa.RecordBatch.from_arrays([col], names=["x"])
    assert _fast(batch) == "".join(f"{i}\n" for i in range(100)).encode() + b"0.5\n"


def test_quoted_text_next_to_numbers() -> None:
    batch = pa.RecordBatch.from_arrays(
        [strings(['a "q"', "b,c", "d"]), _column([0.25, 1e-6, 3.0]),
         pa.Array.from_buffers(pa.int64(), 3, [None, pa.py_buffer(np.array([1, -2, 3]))])],
        names=["t", "x", "i"])
    assert _fast(batch) == b'"a ""q""",0.25,1\n"b,c",0.000001,-2\nd,3,3\n'


def test_unusual_delimiter_uses_arrow() -> None:
    batch = pa.RecordBatch.from_arrays([_column([1.5, 2.0]), _column([0.1, 3.0])],
                                       names=["x", "y"])
    assert _fast(batch, "-") == b"1.5-0.1\n2-3\n"


# -- JSON ------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_subnormal=True) | st.sampled_from(SPECIAL), min_size=1,
                max_size=30))
def test_json_values_round_trip(values: list[float]) -> None:
    cells = numtext.json_values(_column(values)).to_pylist()
    for cell, value in zip(cells, values, strict=True):
        if math.isfinite(value):
            assert json.loads(cell) == value
            assert _digits(cell.decode()) == _digits(repr(value))
        else:  # JSON has no number for them: Python's json words, never null (missing)
            assert cell in (b"Infinity", b"-Infinity", b"NaN")
            got = json.loads(cell)
            assert math.isnan(got) if math.isnan(value) else got == value


def test_json_writer_rows() -> None:
    batch = pa.RecordBatch.from_arrays(
        [strings(["plain", 'q"\\\n\x01é']), _column([1.0, float("inf")], [False, False]),
         _column([0.5, 2.0], [True, False]),
         pa.Array.from_buffers(pa.int64(), 2, [None, pa.py_buffer(np.array([7, -8]))]),
         pa.array([True, None]), pa.array([1.5, None], pa.float32())],
        names=["t", "x", "y", "i", "b", "f"])
    sink = io.BytesIO()
    w = JsonWriter(sink)
    w.put(w.encode(batch.slice(0, 1)))
    w.put(w.encode(batch.slice(1)))
    w.close()
    text = sink.getvalue().decode()
    assert json.loads(text) == [
        {"t": "plain", "x": 1.0, "y": None, "i": 7, "b": True, "f": 1.5},
        {"t": 'q"\\\n\x01é', "x": math.inf, "y": 2.0, "i": -8, "b": None, "f": None},
    ]
    assert text.startswith('[\n{"t": "plain", "x": 1.0, "y": null, "i": 7, "b": true')
    assert text.endswith("}\n]\n")


# -- start-up --------------------------------------------------------------------------------
def test_penalty_choices_are_fits() -> None:
    from normcli.ops.fit import PENALTY_ALIASES
    from normcli.options import PENALTY_CHOICES

    assert list(PENALTY_CHOICES) == sorted(PENALTY_ALIASES)


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["norm"],
                                  ["normalize", "--penalty", "x"]])
def test_light_commands_import_no_numpy_or_pyarrow(args: list[str]) -> None:
    code = ("import sys\nfrom normcli.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "heavy = sorted(m for m in ('numpy', 'pyarrow', 'pandas') if m in sys.modules)\n"
            "print('HEAVY', heavy, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=os.environ)
    assert b"HEAVY []" in p.stderr, p.stderr


@pytest.mark.parametrize("command", [["normalize"], ["norm"], ["normalize", "--scale", "zscore"]])
def test_csv_commands_do_not_import_pandas(tmp_path: Path, command: list[str]) -> None:
    # pandas costs 0.3 s and 40 MB of every run; numpy and pyarrow suffice
    src = tmp_path / "in.csv"
    src.write_text("id,a,b\nx,1.5,NA\ny,3,4\n")
    args = [*command, str(src), str(tmp_path / "out.csv")]
    code = ("import sys\nfrom normcli.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('PANDAS', 'pandas' in sys.modules, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=os.environ)
    assert b"PANDAS False" in p.stderr, p.stderr


@pytest.mark.parametrize("command", [
    ["norm", "--axis", "columns"],
    ["predict", "--selected", "--model", "{model}"],
    ["fit", "-y", "y", "--penalty", "l1", "--alpha", "0.1", "--path", "{path}"],
])
def test_one_table_outputs_do_not_import_pandas(tmp_path: Path, command: list[str]) -> None:
    # pa.array() on Python lists or numpy imports pandas; these outputs are built from buffers
    src = tmp_path / "in.csv"
    src.write_text("x1,x2,y\n1,0,1.5\n0,1,2\n1,1,3.5\n2,1,4\n")
    model = tmp_path / "m.json"
    model.write_text('{"intercept": 0.5, "coefficients": {"x1": 1.0, "x2": 0.0}}')
    args = [a.format(model=model, path=tmp_path / "path.csv") for a in command]
    args += [str(src), str(tmp_path / "out.csv")]
    code = ("import sys\nfrom normcli.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('PANDAS', 'pandas' in sys.modules, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=os.environ)
    assert b"PANDAS False" in p.stderr, p.stderr


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_hive_partition_columns_do_not_import_pandas(tmp_path: Path, fmt: str) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    for year, rows in (("2025", "1,2\n"), ("2026", "3,4\n")):
        part = tmp_path / "in" / f"year={year}"
        part.mkdir(parents=True)
        (part / "p.csv").write_text("a,b\n" + rows)
        if fmt == "parquet":
            pq.write_table(pacsv.read_csv(part / "p.csv"), part / "p.parquet")
            (part / "p.csv").unlink()
    out = tmp_path / "out.csv"
    args = ["normalize", "--columns", "a,b", str(tmp_path / "in"), str(out)]
    code = ("import sys\nfrom normcli.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print('PANDAS', 'pandas' in sys.modules, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=os.environ)
    assert b"PANDAS False" in p.stderr, p.stderr
    assert out.read_text().splitlines()[1:] == ["0.4472135954999579,0.8944271909999159,2025",
                                                "0.6,0.8,2026"]


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_few_odd_rows_are_patched_in_place(delimiter: str) -> None:
    # Ordinary values with a few that orjson spells otherwise (integral, 1e-6 <= |x| < 1e-5,
    # 1e10 <= |x| < 1e16, inf, NaN) in the first, a middle and the last row, in two runs of
    # float columns, some next to missing cells: the lines of those rows are built on their own
    # and written between slices of the rest, byte for byte what Arrow's writer writes.
    rng = np.random.default_rng(7)
    n = 200
    a = rng.uniform(0.01, 0.99, n)
    b = rng.uniform(-0.99, -0.01, n)
    c = rng.uniform(0.01, 0.99, n)
    a[0], b[57], c[57], a[199], c[120] = 3.0, 1.5e-6, 12345678901.5, -0.0, float("inf")
    b[120] = float("nan")
    b_missing = [False] * n
    b_missing[0] = b_missing[57 + 1] = b_missing[199] = True
    cols = [_column(list(a)), _column(list(b), b_missing), _column(list(c))]
    ids = strings([f"r{i}" for i in range(n)])
    batch = pa.RecordBatch.from_arrays([cols[0], ids, cols[1], cols[2]],
                                       names=["a", "id", "b", "c"])
    first = numtext.csv_rows([cols[0]], delimiter)
    rest = numtext.csv_rows(cols[1:], delimiter)
    assert first is not None and first.patch_rows == [0, 199]
    assert rest is not None and rest.patch_rows == [57, 120]
    sep = delimiter.encode()
    assert rest.patched()[57].as_py() == sep.join([b"0.0000015", b"1.23456789015e+10"])
    assert rest.patched()[120].as_py() == sep.join([b"nan", b"inf"])
    assert rest.patched()[58].as_py().startswith(sep)  # the missing cell: empty
    writer = CsvWriter(io.BytesIO(), batch.schema.names, delimiter=delimiter)
    pieces = writer.encode(batch)
    assert len(pieces) == 7  # lines 0, 57, 120, 199 apart; three slices between them
    assert _fast(batch, delimiter) == _arrow(batch, delimiter)
    sink = io.BytesIO()
    writer = CsvWriter(sink, batch.schema.names, delimiter=delimiter, header=False)
    writer.put(writer.encode(batch))
    writer.put(writer.encode(batch.slice(57, 100)))
    assert sink.getvalue() == _arrow(batch, delimiter) + _arrow(batch.slice(57, 100), delimiter)
