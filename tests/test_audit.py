"""Defects found by an adversarial audit of the contract (CLI.md, README), one test each.

References are independent of normcli: scikit-learn, Python's ``json`` and ``csv`` modules, or
values worked out by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import error_line, parse_csv, run_main
from sklearn.preprocessing import MinMaxScaler

import normcli
from normcli.errors import DataError, UsageError

DATA = "a,b,c,t\n1,2,3,x\n4,5,6,y\n7,8,10,z\n"


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "PYTHONPATH": root}


# -- a side file and the data on one standard output -----------------------------------------------
def test_save_params_dash_with_data_on_stdout_is_refused() -> None:
    # Before: the CSV and then the JSON parameters went to standard output, one after the other.
    for output in ([], ["-"]):
        code, out, err = run_main(["normalize", "--scale", "minmax", "--save-params", "-",
                                   "-", *output], input=DATA)
        assert code == 2, err
        assert out == b""
        line = error_line(err)
        assert "--save-params" in line and "standard output" in line


def test_save_params_dash_with_data_in_a_file_still_prints_the_parameters(
        tmp_path: Path) -> None:
    out_csv = tmp_path / "out.csv"
    code, out, err = run_main(["normalize", "--scale", "minmax", "--save-params", "-", "-",
                               str(out_csv)], input=DATA)
    assert code == 0, err
    params = json.loads(out)
    assert params["kind"] == "minmax" and params["columns"]["a"]["min"] == 1.0
    rows = parse_csv(out_csv.read_bytes())
    X = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 10]], dtype=float)
    np.testing.assert_array_equal(np.array([r[:3] for r in rows[1:]], dtype=float),
                                  MinMaxScaler().fit_transform(X))


def test_save_params_that_is_the_file_standard_output_goes_to_is_refused(
        tmp_path: Path) -> None:
    # `normcli normalize --save-params so.json in.csv > so.json`: the data went into so.json
    # through standard output, then the parameters were renamed over it: data lost, exit 0.
    src = tmp_path / "in.csv"
    src.write_text(DATA)
    target = tmp_path / "so.json"
    with open(target, "wb") as out:
        proc = subprocess.run([sys.executable, "-m", "normcli", "normalize", "--scale", "minmax",
                               "--save-params", str(target), str(src)], stdout=out,
                              stderr=subprocess.PIPE, env=_env(), timeout=120)
    assert proc.returncode == 2, proc.stderr
    line = error_line(proc.stderr.decode())
    assert "--save-params" in line and "standard output" in line
    assert target.read_bytes() == b""  # nothing written (the shell's redirection emptied it)


# -- a column in both --columns and --exclude ------------------------------------------------------
@pytest.mark.parametrize("command", [
    ["normalize"], ["norm"], ["fit", "-y", "c", "--penalty", "none"],
])
def test_a_column_in_columns_and_exclude_is_refused(command: list[str]) -> None:
    # Before: normalize/norm said "no numeric columns to work on", and fit silently fitted an
    # intercept-only model (exit 0).
    code, out, err = run_main([*command, "--columns", "a", "--exclude", "a", "-"], input=DATA)
    assert code == 2, err
    assert out == b""
    line = error_line(err)
    assert "'a'" in line and "--columns" in line and "--exclude" in line


def test_columns_and_exclude_on_different_columns_still_work() -> None:
    code, out, err = run_main(["norm", "--ord", "1", "--columns", "a,b", "--exclude", "c", "-"],
                              input=DATA)
    assert code == 0, err
    assert [r[-1] for r in parse_csv(out)] == ["norm", "3", "9", "15"]


def test_api_column_in_columns_and_exclude_is_a_usage_error() -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    with pytest.raises(UsageError, match="--exclude"):
        normcli.normalize(df, columns=["a"], exclude=["a"])


# -- --to-columns errors name --to-columns ---------------------------------------------------------
@pytest.mark.parametrize(("to_columns", "code"), [("c,c", 2), ("c,t", 2), (",", 2)])
def test_to_columns_errors_name_the_option(to_columns: str, code: int) -> None:
    # Before: "column 'c' is named twice in --columns", "--columns names a column that does not
    # hold numbers", "no numeric columns to work on (see --columns)".
    got, _, err = run_main(["norm", "--columns", "a,b", "--to-columns", to_columns, "-"],
                           input=DATA)
    assert got == code, err
    line = error_line(err)
    assert "--to-columns" in line, line


# -- one line per error, whatever the names hold ---------------------------------------------------
def test_error_naming_a_column_with_a_newline_is_one_line() -> None:
    data = '"a\nb",c\n1,2\n'
    code, _, err = run_main(["normalize", "--columns", "zz", "-"], input=data)
    assert code == 2
    line = error_line(err)
    assert "'a\\nb'" in line, line


def test_error_naming_a_file_with_a_newline_is_one_line(tmp_path: Path) -> None:
    code, _, err = run_main(["normalize", str(tmp_path / "no\nsuch.csv")])
    assert code == 2
    error_line(err)


# -- a parameters file whose range is not MIN < MAX ------------------------------------------------
@pytest.mark.parametrize("bad_range", [[1.0, 0.0], [0.5, 0.5]])
def test_params_file_with_a_reversed_range_is_refused(tmp_path: Path,
                                                     bad_range: list[float]) -> None:
    src = tmp_path / "in.csv"
    src.write_text(DATA)
    params = tmp_path / "p.json"
    code, _, err = run_main(["normalize", "--scale", "minmax", "--save-params", str(params),
                             str(src), str(tmp_path / "o.csv")])
    assert code == 0, err
    saved = json.loads(params.read_text())
    saved["range"] = bad_range
    params.write_text(json.dumps(saved))
    # scikit-learn refuses such a range: MinMaxScaler(feature_range=(1, 0)).fit raises
    with pytest.raises(ValueError):
        MinMaxScaler(feature_range=tuple(bad_range)).fit([[0.0], [1.0]])  # type: ignore[arg-type]
    code, out, err = run_main(["normalize", "--params", str(params), str(src)])
    assert code == 1, err
    assert out == b""
    line = error_line(err)
    assert "p.json" in line and "range" in line


def test_params_file_whose_min_exceeds_its_max_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(DATA)
    params = tmp_path / "p.json"
    run_main(["normalize", "--scale", "minmax", "--save-params", str(params), str(src),
              str(tmp_path / "o.csv")])
    saved = json.loads(params.read_text())
    saved["columns"]["a"]["max"] = -5.0
    params.write_text(json.dumps(saved))
    code, out, err = run_main(["normalize", "--params", str(params), str(src)])
    assert code == 1, err
    assert out == b""
    line = error_line(err)
    assert "p.json" in line and "'a'" in line


# -- the Python API: DataError / UsageError, never another exception type --------------------------
@pytest.mark.parametrize("text", ["{", b"\xff", "[1,"])
def test_api_from_json_of_bad_text_is_a_data_error(text: str | bytes) -> None:
    with pytest.raises(DataError):
        normcli.Model.from_json(text)
    with pytest.raises(DataError):
        normcli.Scaler.from_json(text)


@pytest.mark.parametrize("kwargs", [
    {"cv": 2.5}, {"cv": "two"}, {"alpha": "x"}, {"l1_ratio": "x", "penalty": "elasticnet"},
    {"max_iter": "many", "penalty": "l1"}, {"alphas": ["x"], "cv": 2},
])
def test_api_fit_arguments_of_the_wrong_kind_are_usage_errors(kwargs: dict[str, object]) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [2.0, 4.0, 7.0, 8.0]})
    with pytest.raises(UsageError):
        normcli.fit(df, target="y", **kwargs)  # type: ignore[arg-type]


def test_api_fit_cv_given_as_an_integral_float_works() -> None:
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import PredefinedSplit

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                       "y": [2.0, 4.0, 7.0, 8.0, 9.0, 13.0],
                       "f": [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]})
    model = normcli.fit(df, target="y", penalty="l1", cv=2.0,  # type: ignore[arg-type]
                        fold_column="f", alphas=[0.01, 0.1, 1.0])
    ref = LassoCV(alphas=[0.01, 0.1, 1.0], cv=PredefinedSplit(df["f"].to_numpy()),
                  tol=1e-12).fit(df[["x"]], df["y"])
    assert model.alpha_ == ref.alpha_


@pytest.mark.parametrize("kwargs", [
    {"feature_range": "0,1", "scale": "minmax"}, {"feature_range": (0, "x"), "scale": "minmax"},
])
def test_api_normalize_arguments_of_the_wrong_kind_are_usage_errors(
        kwargs: dict[str, object]) -> None:
    df = pd.DataFrame({"a": [1.0, 2.0]})
    with pytest.raises(UsageError):
        normcli.normalize(df, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("to", [["x"], "1,2"])
def test_api_norm_to_of_the_wrong_kind_is_a_usage_error(to: object) -> None:
    df = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]})
    with pytest.raises(UsageError):
        normcli.norm(df, to=to)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [
    {"columns": "ab"}, {"exclude": "ab"}, {"to_columns": "ab", "columns": ["a", "b"]},
])
def test_api_a_string_where_a_list_of_names_is_expected_is_a_usage_error(
        kwargs: dict[str, object]) -> None:
    # Before: columns="ab" was read as its characters, ["a", "b"]: it silently worked on the
    # columns a and b instead of the column 'ab'.
    df = pd.DataFrame({"ab": [1.0, 2.0], "a": [3.0, 4.0], "b": [5.0, 6.0]})
    with pytest.raises(UsageError, match="string 'ab'"):
        normcli.norm(df, **kwargs)  # type: ignore[arg-type]


def test_api_na_values_as_a_string_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\nNA,1\nN,2\n")
    with pytest.raises(UsageError, match="string 'NA'"):
        normcli.normalize(str(src), na_values="NA")  # type: ignore[arg-type]


# -- fit: weights whose sum overflows --------------------------------------------------------------
def test_weights_whose_sum_overflows_are_named() -> None:
    # Before: "column 'x': values too large: their squares overflow float64; rescale the
    # column" -- x is 1..4; it is the weights (3 x 1e308 > float64's maximum) that overflow.
    data = "x,w,y\n1,1e308,2\n2,1e308,3\n3,1e308,5\n4,1,4\n"
    with np.errstate(over="ignore"):
        assert np.isinf(np.sum([1e308, 1e308, 1e308, 1.0]))
    code, out, err = run_main(["fit", "-y", "y", "--weights", "w", "--penalty", "none", "-"],
                              input=data)
    assert code == 1, err
    assert out == b""
    line = error_line(err)
    assert "column 'w'" in line and "weights" in line, line


# -- a CRLF line end split between two reads of a pipe ------------------------------------------
class _Pieces:
    """A stream whose reads return the given pieces, one per read."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = list(pieces)

    def read(self, size: int = -1) -> bytes:
        if not self.pieces:
            return b""
        piece = self.pieces.pop(0)
        assert len(piece) <= size
        return piece

    def close(self) -> None:
        pass


@pytest.mark.parametrize("pieces", [
    [b"1,2\r", b"\n", b"3,4\r\n5,6\r\n"],          # the LF of a CRLF alone in a read
    [b"1,2\r", b"\n", b"\n3,4\r\n5,6\r\n"],
    [b"1,2", b"\r", b"\n", b"3,4\r\n5,6\r\n"],
    [b"1,2\r\n3,4\r", b"\n", b"5,6\r\n"],
    [b"1,2\r", b"3,4\r", b"5,6\r"],                # CR line ends (ends with a CR)
])
def test_a_crlf_split_between_reads_loses_no_row(pieces: list[bytes]) -> None:
    # Before: Arrow's streaming reader took the block holding only the LF for the end of the
    # input; the rows after it were lost and a valid input failed ("the input ended inside a
    # record"). `printf 'a,b\r\n1,2\r' ; sleep 1; printf '\n3,4\r\n' | normcli norm -`
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from normcli.io import reader as reader_mod

    tail = b"\nEND,END\n"
    body = reader_mod._Body(b"", _Pieces(pieces), tail)
    table = pacsv.read_csv(body.arrow_file(), read_options=pacsv.ReadOptions(
        column_names=["a", "b"]), parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                                   ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(column_types={"a": pa.string(),
                                                           "b": pa.string()}))
    # Python's csv module on the same bytes (blank lines skipped, as Arrow and normcli do)
    import csv
    import io
    expected = [r for r in csv.reader(io.StringIO(b"".join(pieces + [tail]).decode(),
                                                  newline="")) if r]
    assert [list(r.values()) for r in table.to_pylist()] == expected
    assert expected[-1] == ["END", "END"] and len(expected) == 4


def test_a_crlf_split_between_reads_of_a_fifo_loses_no_row(tmp_path: Path) -> None:
    import fcntl
    import termios
    import threading

    from normcli.io import reader as reader_mod
    from normcli.io.formats import CsvDialect
    from normcli.io.source import Source

    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    pieces = [b"a,b\r\n1,2\r", b"\n", b"3,4\r\n5,6\r\n"]

    def feed() -> None:
        # Each piece is written once the reader has taken the one before (the pipe is empty),
        # so that each read returns one piece: no sleep, no timing.
        with open(fifo, "wb", buffering=0) as fh:
            for piece in pieces:
                fh.write(piece)
                buf = bytearray(4)
                while True:
                    fcntl.ioctl(fh.fileno(), termios.FIONREAD, buf)
                    if int.from_bytes(buf, sys.byteorder) == 0:
                        break
                    threading.Event().wait(0.001)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    source = Source(str(fifo))
    rows: list[list[str]] = []
    try:
        reader = reader_mod.CsvReader(source, CsvDialect())
        try:
            for chunk in reader:
                rows.extend(list(r.values()) for r in chunk.batch.to_pylist())
        finally:
            reader.close()
    finally:
        source.close()
        writer.join(10)
    assert rows == [["1", "2"], ["3", "4"], ["5", "6"]]


# -- fit: a feature named like the intercept's term -----------------------------------------------
def test_a_feature_named_like_the_intercept_term_is_refused() -> None:
    # Before: exit 0 with two "(intercept)" rows in the table, and a JSON report whose
    # std_errors, t_values, ... held 2 keys for 3 terms (the intercept's overwritten).
    data = "(intercept),x,y\n1,2,3\n2,1,4\n3,5,8\n4,3,9\n5,4,9\n"
    for extra in ([], ["--output-format", "json"]):
        code, out, err = run_main(["fit", "-y", "y", "--penalty", "none", *extra, "-"],
                                  input=data)
        assert code == 2, err
        assert out == b""
        assert "'(intercept)'" in error_line(err)


def test_a_feature_named_like_the_intercept_term_can_be_left_out() -> None:
    from sklearn.linear_model import LinearRegression

    data = "(intercept),x,y\n1,2,3\n2,1,4\n3,5,8\n4,3,9\n5,4,9\n"
    code, out, err = run_main(["fit", "-y", "y", "--penalty", "none", "--exclude",
                               "(intercept)", "-"], input=data)
    assert code == 0, err
    rows = parse_csv(out)
    ref = LinearRegression().fit([[2], [1], [5], [3], [4]], [3, 4, 8, 9, 9])
    assert [r[0] for r in rows] == ["term", "(intercept)", "x"]
    np.testing.assert_allclose([float(rows[1][1]), float(rows[2][1])],
                               [ref.intercept_, ref.coef_[0]], rtol=1e-13)


# -- standard output appended to the input file --------------------------------------------------
@pytest.mark.parametrize("how", ["file", "stdin", "folder"])
def test_standard_output_appended_to_the_input_is_refused(tmp_path: Path, how: str) -> None:
    # Before: `normcli normalize f.csv >> f.csv` read its own output: 1.5M rows appended 85 MB
    # to the input and then failed on the header it had written (with --no-header it would
    # have gone on until the disk was full). GNU cat refuses the same ("input file is output
    # file").
    folder = tmp_path / "data"
    folder.mkdir()
    src = folder / "in.csv"
    src.write_text(DATA)
    before = src.read_bytes()
    args = {"file": [str(src)], "stdin": ["-"], "folder": [str(folder)]}[how]
    with open(src, "ab") as out, open(src, "rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "normcli", "normalize", *args],
                              stdin=stdin, stdout=out, stderr=subprocess.PIPE, env=_env(),
                              timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "standard output is" in error_line(proc.stderr.decode())
    assert src.read_bytes() == before


def test_standard_output_to_another_file_still_works(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(DATA)
    target = tmp_path / "out.csv"
    with open(target, "ab") as out:
        proc = subprocess.run([sys.executable, "-m", "normcli", "norm", "--ord", "1",
                               "--columns", "a,b", str(src)], stdout=out,
                              stderr=subprocess.PIPE, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [r[-1] for r in parse_csv(target.read_bytes())] == ["norm", "3", "9", "15"]


# -- JSON Lines: a field with no value in the first block --------------------------------------
def test_jsonl_field_unseen_in_the_first_block_says_how_to_settle_it() -> None:
    # Before: "expected text, found 5" and nothing about why, or what to do.
    data = '{"a":1,"b":null}\n{"a":2,"b":null}\n' + '{"a":3,"b":5}\n' * 3
    code, out, err = run_main(["normalize", "--input-format", "jsonl", "--chunk-rows", "2",
                               "-"], input=data)
    assert code == 1, err
    line = error_line(err)
    assert "line 3" in line and "'b'" in line and "--chunk-rows" in line, line
    code, out, err = run_main(["normalize", "--input-format", "jsonl", "--chunk-rows", "3",
                               "-"], input=data)
    assert code == 0, err
    rows = parse_csv(out)
    assert rows[1] == ["1", ""] and rows[2] == ["1", ""]
    np.testing.assert_allclose([float(v) for v in rows[3]], np.array([3, 5]) / np.hypot(3, 5),
                               rtol=1e-15)


# -- a compressed file without its suffix -------------------------------------------------------
@pytest.mark.parametrize(("codec", "ext"), [("gzip", ".gz"), ("bz2", ".bz2"), ("zstd", ".zst")])
def test_a_compressed_csv_without_its_suffix_is_named_as_such(tmp_path: Path, codec: str,
                                                              ext: str) -> None:
    # Before: "not UTF-8 text (it looks like UTF-16 or binary data; convert it to UTF-8, e.g.
    # with iconv -f UTF-16 -t UTF-8)": advice that cannot work.
    import bz2
    import gzip

    import pyarrow as pa

    compress = {"gzip": gzip.compress, "bz2": bz2.compress,
                "zstd": lambda b: pa.compress(b, "zstd", asbytes=True)}[codec]
    src = tmp_path / "data.csv"
    src.write_bytes(compress(DATA.encode()))
    code, out, err = run_main(["normalize", str(src)])
    assert code == 1 and out == b""
    line = error_line(err)
    assert f"{codec}-compressed" in line and ext in line, line
    # ... and as it says: with the suffix it reads
    named = tmp_path / f"data.csv{ext}"
    named.write_bytes(src.read_bytes())
    code, out, err = run_main(["norm", "--ord", "1", "--columns", "a,b", str(named)])
    assert code == 0, err
    assert [r[-1] for r in parse_csv(out)] == ["norm", "3", "9", "15"]


@pytest.mark.parametrize("name", ["BZh", "BZh9"])
def test_a_csv_whose_text_starts_like_bzip2_is_text(name: str) -> None:
    # Before, on standard input: "cannot read: bz2 decompress failed: data is not
    # bz2-compressed (no magic header)" -- "BZh" alone was taken for bzip2's signature.
    code, out, err = run_main(["norm", "--ord", "1", "-"], input=f"{name},x\n1,2\n")
    assert code == 0, err
    assert parse_csv(out) == [[name, "x", "norm"], ["1", "2", "3"]]


# -- JSON output of values JSON has no number for -------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_output_keeps_infinities_and_nan_apart_from_missing(tmp_path: Path,
                                                                 fmt: str) -> None:
    # Before: inf, -inf and a NaN that is not missing were all written as null (a missing
    # value), exit 0. Now as Python's json writes them, and it reads them back as they were.
    import math

    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    a = [math.inf, -math.inf, math.nan, None, 1.5]
    pq.write_table(pa.table({"a": pa.array(a, pa.float64()),
                             "f32": pa.array(a, pa.float32()),
                             "b": [1.0, 2.0, 3.0, 4.0, 2.0]}), src)
    out = tmp_path / f"out.{fmt}"
    code, _, err = run_main(["norm", "--columns", "b", str(src), str(out)])
    assert code == 0, err
    text = out.read_text()
    rows = json.loads(text) if fmt == "json" else [json.loads(ln) for ln in text.splitlines()]

    def same(got: object, want: float | None) -> bool:
        if want is None or got is None:
            return got is want
        assert isinstance(got, float)
        return math.isnan(got) if math.isnan(want) else got == want

    for col in ("a", "f32"):
        assert all(same(r[col], w) for r, w in zip(rows, a, strict=True)), (col, rows)
    assert [r["norm"] for r in rows] == [1.0, 2.0, 3.0, 4.0, 2.0]
    assert "null" in text and "Infinity" in text and "NaN" in text


# -- a binary column of bytes that are not UTF-8, written as text ----------------------------------
@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl"])
@pytest.mark.parametrize("large", [False, True])
def test_binary_column_not_utf8_to_text_output_is_refused(tmp_path: Path, fmt: str,
                                                          large: bool) -> None:
    # Before: CSV/TSV ended in "internal error: ArrowInvalid: Invalid UTF8 payload"; JSON and
    # JSON Lines wrote Python's repr "b'\\x00\\xff'" (exit 0: the bytes silently became text).
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    kind = pa.large_binary() if large else pa.binary()
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0, 4.0],
                             "b": pa.array([b"ok", b"x", b"\x00\xff", b"y"], kind)}), src)
    out = tmp_path / f"out.{fmt}"
    out.write_bytes(b"before")
    # chunks of one row: the row named counts the rows written before its chunk
    code, _, err = run_main(["norm", "--columns", "a", "--chunk-rows", "1", str(src), str(out)])
    assert code == 1, err
    line = error_line(err)
    assert "column 'b'" in line and "not UTF-8" in line and "(row 3)" in line, line
    assert "internal error" not in line
    assert out.read_bytes() == b"before"


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_binary_column_of_utf8_text_is_written_as_its_text(tmp_path: Path, fmt: str) -> None:
    # Before: JSON and JSON Lines wrote "b'ok'" (Python's repr of the bytes), not "ok".
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    texts = ["ok", "h\u00e9, \"q\"", None]
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0],
                             "b": pa.array([None if t is None else t.encode() for t in texts],
                                           pa.binary())}), src)
    out = tmp_path / f"out.{fmt}"
    code, _, err = run_main(["norm", "--columns", "a", str(src), str(out)])
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    if fmt == "csv":
        rows = list(csv.DictReader(text.splitlines()))
        assert [r["b"] for r in rows] == ["ok", texts[1], ""]
    else:
        objs = json.loads(text) if fmt == "json" else [json.loads(x) for x in text.splitlines()]
        assert [o["b"] for o in objs] == texts


# -- an output path that is a symbolic link --------------------------------------------------------
def test_output_symlink_is_written_through(tmp_path: Path) -> None:
    # Before: the rename replaced the link with a regular file; the file it led to kept its
    # old contents. Now as `>` and `cp` do: the link stays, its target holds the output.
    src = tmp_path / "in.csv"
    src.write_text("a,b\n3,4\n")
    real = tmp_path / "real" / "out.csv"
    real.parent.mkdir()
    real.write_text("old\n")
    params_real = tmp_path / "real" / "params.json"
    params_real.write_text("old\n")
    link = tmp_path / "out.csv"
    link.symlink_to(real)
    params_link = tmp_path / "params.json"
    params_link.symlink_to(os.path.join("real", "params.json"))  # (a relative link)
    code, _, err = run_main(["normalize", "--scale", "minmax", "--save-params",
                             str(params_link), str(src), str(link)])
    assert code == 0, err
    assert link.is_symlink() and params_link.is_symlink()
    assert parse_csv(real.read_bytes()) == [["a", "b"], ["0", "0"]]  # min = max: 0 (README)
    assert json.loads(params_real.read_text())["kind"] == "minmax"
    assert sorted(p.name for p in real.parent.iterdir()) == ["out.csv", "params.json"]


def test_output_dangling_symlink(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("a,b\n3,4\n")
    (tmp_path / "sub").mkdir()
    link = tmp_path / "out.csv"
    link.symlink_to(tmp_path / "sub" / "new.csv")
    code, _, err = run_main(["norm", str(src), str(link)])
    assert code == 0, err
    assert link.is_symlink()
    assert parse_csv((tmp_path / "sub" / "new.csv").read_bytes()) == [["a", "b", "norm"],
                                                                       ["3", "4", "5"]]
    # its target's folder missing: the usual error, and nothing made
    bad = tmp_path / "bad.csv"
    bad.symlink_to(tmp_path / "nosuch" / "x.csv")
    code, _, err = run_main(["norm", str(src), str(bad)])
    assert code == 2
    assert "no such folder" in error_line(err)
    assert bad.is_symlink() and not (tmp_path / "nosuch").exists()
    # a link to the input is still the input
    same = tmp_path / "same.csv"
    same.symlink_to(src)
    code, _, err = run_main(["norm", str(src), str(same)])
    assert code == 2 and "is the input" in error_line(err)
    assert src.read_text() == "a,b\n3,4\n"


# -- a column whose only values are infinite, under zscore and minmax ------------------------------
@pytest.mark.parametrize("scale", ["zscore", "minmax"])
def test_scale_column_with_only_infinite_values(tmp_path: Path, scale: str) -> None:
    # Before: zscore wrote 0 for an infinite cell of a column with no finite cell (README: an
    # infinite cell stays ±inf). Hand-worked: b = 1,2,3 has mean 2, population std sqrt(2/3).
    data = "a,b\ninf,1\n-inf,2\n,3\n"
    params = tmp_path / "p.json"
    code, out, err = run_main(["normalize", "--scale", scale, "--save-params", str(params),
                               "-"], input=data)
    assert code == 0, err
    rows = parse_csv(out)
    assert [r[0] for r in rows] == ["a", "inf", "-inf", ""]
    want_b = ([-1 / (2 / 3) ** 0.5, 0.0, 1 / (2 / 3) ** 0.5] if scale == "zscore"
              else [0.0, 0.5, 1.0])
    assert np.allclose([float(r[1]) for r in rows[1:]], want_b, rtol=1e-15, atol=0)
    # its statistics: none (no finite cell), two infinite cells counted
    col = json.loads(params.read_text())["columns"]["a"]
    assert (col["count"], col["min"], col["max"], col["infinite"]) == (0, None, None, 2)
    assert (col["mean"], col["std"]) == (0.0, 0.0)
    # --params on the same data: the same bytes; on other data, a finite value gives what a
    # constant column's own value gives (zscore 0, minmax the range's low end)
    code, again, err = run_main(["normalize", "--params", str(params), "-"], input=data)
    assert code == 0, err
    assert again == out
    code, other, err = run_main(["normalize", "--params", str(params), "-"],
                                input="a,b\n5,2\ninf,2\n")
    assert code == 0, err
    assert [r[0] for r in parse_csv(other)] == ["a", "0", "inf"]
    # --clip: the ends of the range
    if scale == "minmax":
        code, out, err = run_main(["normalize", "--scale", "minmax", "--clip", "--range=-1,1",
                                   "-"], input=data)
        assert code == 0, err
        assert [r[0] for r in parse_csv(out)] == ["a", "1", "-1", ""]


# -- the names of formats in the repeated-name error; an empty path -------------------------------
@pytest.mark.parametrize(("fmt", "title"), [("json", "JSON"), ("jsonl", "JSON Lines"),
                                            ("parquet", "Parquet")])
def test_repeated_name_error_spells_the_format(tmp_path: Path, fmt: str, title: str) -> None:
    # Before: "Json output needs distinct names", "Jsonl output ..." (str.capitalize()).
    out = tmp_path / f"out.{fmt}"
    code, _, err = run_main(["norm", "--columns", "b", "-", str(out)], input="a,a,b\nx,y,2\n")
    assert code == 2
    assert f": {title} output needs distinct names" in error_line(err)
    assert not out.exists()


@pytest.mark.parametrize("args", [["norm", ""], ["norm", "IN", ""],
                                  ["normalize", "--scale", "zscore", "--save-params", "", "IN"],
                                  ["predict", "--model", "", "IN"]])
def test_empty_path_is_named(tmp_path: Path, args: list[str]) -> None:
    # Before: "normcli: error: : cannot tell the input format ..." (and --save-params '' was
    # ignored: exit 0 with no parameters file written).
    src = tmp_path / "in.csv"
    src.write_text("a,b\n3,4\n")
    args = [str(src) if a == "IN" else a for a in args]
    code, out, err = run_main(args)
    assert code == 2, err
    assert "an empty path" in error_line(err)
    assert out == b""


# -- a column name holding a comma ---------------------------------------------------------------
def test_a_name_holding_a_comma_can_be_given_quoted_as_in_csv() -> None:
    # Before: --columns was split at every comma, so such a column could not be named at all.
    import math

    data = '"a,b",c,"say ""hi""",t\n3,4,1,x\n6,8,2,y\n'
    code, out, err = run_main(["normalize", "--columns", '"a,b",c', "-"], input=data)
    assert code == 0, err
    rows = parse_csv(out)
    assert rows[0] == ["a,b", "c", 'say "hi"', "t"]
    for row, (a, c, s, t) in zip(rows[1:], [(3, 4, 1, "x"), (6, 8, 2, "y")], strict=True):
        n = math.hypot(a, c)
        assert [float(row[0]), float(row[1]), float(row[2]), row[3]] == [a / n, c / n, s, t]
    code, out, err = run_main(["norm", "--only", "--columns", '"say ""hi""",c', "-"],
                              input=data)
    assert code == 0, err
    assert [float(v[0]) for v in parse_csv(out)[1:]] == [math.hypot(1, 4), math.hypot(2, 8)]
    # a mid-name quote is still a plain character; an unterminated quote is a usage error
    code, _, err = run_main(["norm", "--columns", '"a,b', "-"], input=data)
    assert code == 2
    line = error_line(err)
    assert "cannot read the list" in line and "quote a name as in a CSV line" in line
