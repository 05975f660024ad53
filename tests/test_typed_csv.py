"""CSV columns a command needs only as numbers are parsed to float64 by Arrow as it reads (issue
13, items 1 and 7): the same numbers, the same missing cells, the same refusals (one line naming
the file, line, column and text) as the text path, whichever chunk the cell is in.

References are independent: hand-written values, Python's ``float()`` for the number grammar the
README describes (an optional sign, digits with an optional point, an optional exponent, ``inf``,
``infinity``, ``nan`` in any case, spaces or tabs around), scikit-learn and numpy for results.
Inputs are made several Arrow blocks long (``--chunk-rows`` sets small blocks) so that the first
chunk is not the whole input: only then is the input read a second time with typed columns.
"""

from __future__ import annotations

import csv
import io
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import out_matrix, parse_csv, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import normalize

from normcli.columns import NA_VALUES
from normcli.errors import DataError
from normcli.pipeline import InputSpec, Job

ROWS = 300  # rows of the test inputs: many 1 KB blocks at --chunk-rows 4
AT = 200  # the data row (0-based) where the cell under test sits: far past the first chunk


def _cell(text: str, quote: bool = False) -> str:
    if quote or any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _input(path: Path, cell: str, quote: bool = False) -> Path:
    """``id,x,y``: x is 1.5 on every row but row AT, where it is ``cell``; y = row number."""
    lines = ["id,x,y"]
    for i in range(ROWS):
        x = _cell(cell, quote) if i == AT else "1.5"
        lines.append(f"r{i:04d},{x},{i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
    return path


def _read_x(path: Path, na_values: tuple[str, ...] | None = None,
            chunk_rows: int = 4) -> tuple[np.ndarray, list[pa.DataType]]:
    """Column x as read for a command that needs its numbers only, and the types it came in."""
    with Job(InputSpec(str(path), chunk_rows=chunk_rows, na_values=na_values)) as job:
        sel = job.select(["x"], None)
        job.numbers_only(sel.used)
        conv = job.converter(sel.used)
        parts, types = [], []
        for chunk in job.chunks():
            types.append(chunk.batch.schema.field(1).type)
            parts.append(conv.block(chunk)[:, 0])
    return np.concatenate(parts), types


@pytest.mark.parametrize("style", ["lf", "crlf", "quoted", "missing", "tsv"])
def test_used_columns_come_as_float64_and_the_rest_as_text(tmp_path: Path, style: str) -> None:
    # Ordinary inputs never leave the typed read (no column is read as text there).
    src = _input(tmp_path / "in.csv", "2.5", quote=style == "quoted")
    text = src.read_text()
    if style == "crlf":
        src.write_bytes(text.replace("\n", "\r\n").encode())
    elif style == "quoted":
        src.write_text(text.replace(",1.5,", ',"1.5",'))
    elif style == "missing":
        lines = text.splitlines()
        for k in range(1, len(lines), 7):
            parts = lines[k].split(",")
            parts[1] = NA_VALUES[k % len(NA_VALUES)]
            parts[1] = _cell(parts[1], quote=k % 2 == 0)
            lines[k] = ",".join(parts)
        src.write_text("\n".join(lines) + "\n")
    elif style == "tsv":
        src = tmp_path / "in.tsv"
        src.write_text(text.replace(",", "\t"))
    with Job(InputSpec(str(src), chunk_rows=4)) as job:
        sel = job.select(["x"], None)
        job.numbers_only(sel.used)
        chunks = list(job.chunks())
    assert sum(c.num_rows for c in chunks) == ROWS
    assert [c.row_start for c in chunks] == list(np.cumsum([0] + [c.num_rows
                                                                   for c in chunks[:-1]]))
    assert all(c.batch.schema.types == [pa.string(), pa.float64(), pa.string()] for c in chunks)
    ids = [v for c in chunks for v in c.batch.column(0).to_pylist()]
    assert ids == [f"r{i:04d}" for i in range(ROWS)]
    ys = [v for c in chunks for v in c.batch.column(2).to_pylist()]
    assert ys == [str(i) for i in range(ROWS)]  # passthrough text as it is


NAN = math.nan
#: (cell, expected value; None: refused). Hand-worked from the README's rules: pandas' missing
#: spellings, float64 parsing with spaces around allowed; Unicode spaces around a number are
#: trimmed too (Arrow's reader refuses them: the text path takes over).
SPELLINGS: list[tuple[str, float | None]] = [
    ("2.5", 2.5), (" 2.5", 2.5), ("2.5 ", 2.5), ("\t2.5\t", 2.5), ("+1", 1.0), ("-0", -0.0),
    ("1e5", 1e5), ("1E+5", 1e5), ("1.e5", 1e5), ("5.", 5.0), (".5", 0.5), ("-.5", -0.5),
    ("1e400", math.inf), ("1e-400", 0.0), ("00501", 501.0),
    ("12345678901234567890", 1.2345678901234567e19),
    ("inf", math.inf), ("-Infinity", -math.inf), ("+INF", math.inf), ("iNfInItY", math.inf),
    ("nan", NAN), ("NaN", NAN), ("-nan", NAN), ("+nan", NAN), ("NAN", NAN),
    ("", NAN), ("NA", NAN), ("N/A", NAN), ("n/a", NAN), ("None", NAN), ("NULL", NAN),
    ("null", NAN), ("#N/A", NAN), ("#N/A N/A", NAN), ("#NA", NAN), ("-1.#IND", NAN),
    ("1.#QNAN", NAN), ("<NA>", NAN),
    ("\u00a02.5", 2.5), ("2.5\u2003", 2.5), ("\x0b2.5", 2.5), ("\x0c2.5", 2.5),
    ("1_0", None), ("0x10", None), ("1,5", None), ("1.5e", None), ("e5", None), (".", None),
    ("-", None), ("+-1", None), ("1 5", None), ("1.5.5", None), ("abc", None), (" ", None),
    ("infinite", None), (" NA", None), ("na", None), ("1.5d", None), ("١٢", None),
    ("\u00e92", None),
]


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                 == math.copysign(1, b))


@pytest.mark.parametrize("quote", [False, True], ids=["plain", "quoted"])
@pytest.mark.parametrize(("cell", "expected"), SPELLINGS, ids=[repr(s[0]) for s in SPELLINGS])
def test_every_spelling_reads_as_the_rules_say(tmp_path: Path, cell: str,
                                               expected: float | None, quote: bool) -> None:
    src = _input(tmp_path / "in.csv", cell, quote)
    if expected is None:
        with pytest.raises(DataError) as info:
            _read_x(src)
        err = info.value
        assert (err.source, err.line, err.column) == (str(src), AT + 2, "x")
        assert err.detail == f"not a number: {cell!r}"
        return
    x, _ = _read_x(src)
    assert len(x) == ROWS
    assert _same(float(x[AT]), expected), (x[AT], expected)
    assert (np.delete(x, AT) == 1.5).all()


def test_na_values_replace_the_missing_spellings(tmp_path: Path) -> None:
    # --na-values -999: "-999" is missing, " -999" is the number, "NA" is text.
    for cell, expected in (("-999", NAN), (" -999", -999.0), ("-999.0", -999.0), ("", NAN),
                           ("nan", NAN)):
        x, types = _read_x(_input(tmp_path / "in.csv", cell), na_values=("-999",))
        assert _same(float(x[AT]), expected), (cell, x[AT])
        assert types[0] == pa.float64()
    with pytest.raises(DataError, match="not a number: 'NA'"):
        _read_x(_input(tmp_path / "in.csv", "NA"), na_values=("-999",))


# -- property: any cell reads as Python's float() of the README's number grammar ------------

_NUMBER = re.compile(r"[ \t]*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)"
                     r"[ \t]*", re.IGNORECASE)


def _oracle(cell: str, missing: set[str]) -> float | None:
    if cell in missing:
        return NAN
    if _NUMBER.fullmatch(cell):
        return float(cell.strip(" \t"))
    return None


_ws = st.sampled_from(["", " ", "\t", "  "])
_digits = st.text("0123456789", min_size=1, max_size=25)
_numbers = st.builds(
    lambda a, sign, mant, exp, b: a + sign + mant + exp + b,
    _ws, st.sampled_from(["", "+", "-"]),
    st.one_of(_digits, st.builds(lambda d, e: d + "." + e, _digits, st.text("0123456789",
                                                                           max_size=20)),
              st.builds(lambda d: "." + d, _digits),
              st.sampled_from(["inf", "Inf", "INFINITY", "infinity", "nan", "NaN"])),
    st.one_of(st.just(""), st.builds(lambda e, s, d: e + s + d, st.sampled_from("eE"),
                                     st.sampled_from(["", "+", "-"]), _digits)),
    _ws,
)
_junk = st.text(" \t0123456789.eE+-_,xabfinNA/#\"'", max_size=8)
_floats = st.floats(allow_nan=True, allow_infinity=True).map(repr)
_cells = st.one_of(_numbers, _junk, _floats, st.sampled_from(NA_VALUES))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cell=_cells, quote=st.booleans())
def test_property_a_cell_reads_as_the_number_grammar_says(tmp_path: Path, cell: str,
                                                           quote: bool) -> None:
    src = _input(tmp_path / "in.csv", cell, quote)
    expected = _oracle(cell, set(NA_VALUES))
    if expected is None:
        with pytest.raises(DataError) as info:
            _read_x(src)
        assert (info.value.line, info.value.column) == (AT + 2, "x")
        assert info.value.detail == f"not a number: {cell!r}"
    else:
        x, _ = _read_x(src)
        assert _same(float(x[AT]), expected), (cell, x[AT], expected)
        assert (np.delete(x, AT) == 1.5).all()


# -- the command line -----------------------------------------------------------------------

def _fails(args: list[str], input: bytes | None = None) -> str:
    code, out, err = run_main(args, input=input)
    assert code == 1, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("normcli: error: "), err
    return lines[0]


@pytest.mark.parametrize("command", [
    ["normalize", "--columns", "x"],
    ["fit", "-y", "y", "--columns", "x"],
    ["norm", "--only", "--columns", "x"],
    ["norm", "--axis", "columns", "--columns", "x"],
])
def test_text_in_a_later_chunk_names_file_line_column_and_text(tmp_path: Path,
                                                              command: list[str]) -> None:
    src = _input(tmp_path / "in.csv", "12abc")
    line = _fails([*command, "--chunk-rows", "4", str(src), str(tmp_path / "out.csv")])
    assert line == f"normcli: error: {src}, line {AT + 2}, column 'x': not a number: '12abc'"
    assert not (tmp_path / "out.csv").exists()


def test_a_short_row_in_a_later_chunk_is_located(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    rows = ["id,x,y"] + [f"r{i},{i}.5,{i}" if i != AT else f"r{i},{i}.5" for i in range(ROWS)]
    src.write_text("\n".join(rows) + "\n")
    line = _fails(["normalize", "--chunk-rows", "4", str(src), str(tmp_path / "o.csv")])
    assert line == f"normcli: error: {src}, line {AT + 2}: expected 3 fields, found 2"


def _messy(n: int = ROWS) -> tuple[bytes, np.ndarray, list[str]]:
    """A CSV with a text id (quoted, with commas and newlines), numbers spelled every way,
    missing cells, a Unicode-spaced number past the first chunk and a record longer than a
    block; its numbers and ids worked out independently."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 3)) * 10.0 ** rng.integers(-5, 6, size=(n, 3))
    spell = [lambda v: repr(v), lambda v: f" {v!r} ", lambda v: f'"{v!r}"', lambda v: f"{v:.6e}",
             lambda v: f"+{v!r}" if v >= 0 else repr(v)]
    ids, lines = [], ["id,a,b,c"]
    for i in range(n):
        ident = f"row {i}, \"q\"\nnext" if i % 17 == 0 else f"r{i}"
        if i == 150:
            ident = "long " * 2000  # longer than an Arrow block at --chunk-rows 4
        ids.append(ident)
        cells = []
        for j in range(3):
            if (i + j) % 23 == 5:
                cells.append(["", "NA", "nan", '"NA"'][(i + j) % 4])
                X[i, j] = np.nan
            elif i == 220 and j == 1:
                cells.append(f"\u00a0{float(X[i, j])!r}")
            else:
                text = spell[(i * 3 + j) % len(spell)](float(X[i, j]))
                X[i, j] = float(text.strip(' "'))
                cells.append(text)
        lines.append(_cell(ident) + "," + ",".join(cells))
    return ("\n".join(lines) + "\n").encode(), X, ids


def _l2(X: np.ndarray) -> np.ndarray:
    out = normalize(np.nan_to_num(X, nan=0.0), norm="l2")
    out[np.isnan(X)] = np.nan
    return out


@pytest.mark.parametrize("via", ["file", "stdin"])
def test_normalize_messy_input_matches_scikit_learn_and_keeps_the_ids(tmp_path: Path,
                                                                     via: str) -> None:
    data, X, ids = _messy()
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    args = ["normalize", "--chunk-rows", "4"]
    if via == "file":
        code, out, err = run_main([*args, str(src)])
    else:
        code, out, err = run_main([*args, "-"], input=data)
    assert (code, err) == (0, "")
    rows = parse_csv(out)
    assert rows[0] == ["id", "a", "b", "c"]
    assert [r[0] for r in rows[1:]] == ids
    got = out_matrix(out, ["a", "b", "c"])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(X))
    np.testing.assert_allclose(got, _l2(X), rtol=1e-14, atol=0)


def test_normalize_zscore_two_passes_match_numpy(tmp_path: Path) -> None:
    data, X, _ = _messy()
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    code, out, err = run_main(["normalize", "--scale", "zscore", "--chunk-rows", "4", str(src)])
    assert (code, err) == (0, "")
    want = (X - np.nanmean(X, axis=0)) / np.nanstd(X, axis=0)
    np.testing.assert_allclose(out_matrix(out, ["a", "b", "c"]), want, rtol=1e-10, atol=1e-12)


def test_norm_only_and_by_column_match_numpy(tmp_path: Path) -> None:
    data, X, _ = _messy()
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    code, out, err = run_main(["norm", "--only", "--ord", "1", "--chunk-rows", "4", str(src)])
    assert (code, err) == (0, "")
    got = out_matrix(out)[:, 0]
    np.testing.assert_allclose(got, np.nansum(np.abs(X), axis=1), rtol=1e-14)
    code, out, err = run_main(["norm", "--axis", "columns", "--chunk-rows", "4", str(src)])
    assert (code, err) == (0, "")
    norms = [float(r[1]) for r in parse_csv(out)[1:]]
    np.testing.assert_allclose(norms, np.sqrt(np.nansum(X * X, axis=0)), rtol=1e-13)


def test_norm_rows_keep_the_input_text_of_used_columns(tmp_path: Path) -> None:
    data, _, _ = _messy()
    src = tmp_path / "in.csv"
    src.write_bytes(data)
    code, out, err = run_main(["norm", "--chunk-rows", "4", str(src)])
    assert (code, err) == (0, "")
    want = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert [r[:4] for r in parse_csv(out)] == want


def test_fit_all_numeric_multi_chunk_matches_scikit_learn(tmp_path: Path) -> None:
    # Every column is used: one of them stays text (it marks the end of the input).
    rng = np.random.default_rng(3)
    n = 2000
    X = rng.normal(size=(n, 4))
    y = X @ [1.5, -2.0, 0.0, 0.25] + 3.0 + rng.normal(scale=0.1, size=n)
    src = tmp_path / "in.csv"
    lines = ["a,b,c,d,y"] + [",".join(repr(float(v)) for v in (*X[i], y[i])) for i in range(n)]
    src.write_text("\n".join(lines) + "\n")
    code, out, err = run_main(["fit", "-y", "y", "--penalty", "none", "--chunk-rows", "16",
                               "--output-format", "json", str(src)])
    assert (code, err) == (0, "")
    import json

    model = json.loads(out)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose([model["coefficients"][k] for k in "abcd"], ref.coef_,
                               rtol=1e-10)
    assert model["n_rows"] == n
    assert math.isclose(model["intercept"], ref.intercept_, rel_tol=1e-10)


def test_stdin_typed_read_through_a_real_pipe(tmp_path: Path) -> None:
    data, X, ids = _messy()
    proc = subprocess.run([sys.executable, "-m", "normcli", "normalize", "--chunk-rows", "4",
                           "-", "-"], input=data, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert [r[0] for r in parse_csv(proc.stdout)[1:]] == ids
    np.testing.assert_allclose(out_matrix(proc.stdout, ["a", "b", "c"]), _l2(X), rtol=1e-14)
