"""Input and output: CSV quirks, exact passthrough, formats, compression, errors, atomic output."""

from __future__ import annotations

import bz2
import csv
import datetime
import gzip
import io
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import (
    assert_close,
    error_line,
    invoke,
    leftover_temp_files,
    out_matrix,
    parse_csv,
    run_main,
    write_csv,
)
from sklearn.preprocessing import normalize

TEXTS = ["00501", "2024-01-05", "123456789012345678901234567890", 'say "hi"', "a,b", "naïve ☃",
         "", "line1\nline2", " spaced ", "-0", "1e5x"]


def _l2(rows: list[list[float]]) -> np.ndarray:
    return normalize(np.array(rows, dtype=float))


# -- CSV as real files have it -----------------------------------------------------------------
def test_quotes_crlf_bom(tmp_path: Path) -> None:
    data = ('\ufeffid,"na,me",x,y\r\n'
            '00501,"a ""q"" b",3,4\r\n'
            '123456789012345678901234567890,"multi\r\nline, with comma",6,8\r\n'
            ',,5,\r\n')
    path = tmp_path / "q.csv"
    path.write_bytes(data.encode("utf-8"))
    out = invoke(["normalize", str(path)])
    rows = parse_csv(out)
    assert rows[0] == ["id", "na,me", "x", "y"]  # no BOM in the column name
    assert [r[:2] for r in rows[1:]] == [["00501", 'a "q" b'],
                                         ["123456789012345678901234567890",
                                          "multi\r\nline, with comma"],
                                         ["", ""]]
    assert [r[2:] for r in rows[1:]] == [["0.6", "0.8"], ["0.6", "0.8"], ["1", ""]]


def test_passthrough_text_byte_exact(tmp_path: Path) -> None:
    rows = [[t, str(i + 1), str(2 * i + 1)] for i, t in enumerate(TEXTS)]
    path = write_csv(tmp_path / "t.csv", ["text", "a", "b"], rows)
    out = invoke(["normalize", "--columns", "a,b", str(path)])
    got = parse_csv(out)
    assert [r[0] for r in got[1:]] == TEXTS
    # byte level: the writer quotes exactly what CSV needs, like Python's csv QUOTE_MINIMAL
    # each record starts with the text as Python's csv module quotes it, then the numbers
    text = out.decode("utf-8")
    pos = text.index("\n") + 1  # after the header
    for t in TEXTS:
        expected_text = io.StringIO()
        csv.writer(expected_text, lineterminator="\n").writerow([t, ""])
        field = expected_text.getvalue()[:-1]  # 'text,' as csv writes it
        assert text[pos:pos + len(field)] == field, (t, text[pos:pos + 40])
        pos = text.index("\n", pos + len(field)) + 1
    assert pos == len(text)
    assert [line.split(b",")[0] for line in out.split(b"\n")[1:3]] == [b"00501", b"2024-01-05"]
    assert b"123456789012345678901234567890," in out
    assert b'"say ""hi"""' in out and b'"a,b"' in out and '"naïve ☃"'.encode() not in out
    assert "naïve ☃,".encode() in out
    assert b'"line1\nline2"' in out
    np.testing.assert_allclose(out_matrix(out, ["a", "b"]),
                               _l2([[i + 1, 2 * i + 1] for i in range(len(TEXTS))]), rtol=1e-15)


def test_default_selection_keeps_identifier_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "s.csv", ["zip", "date", "big", "x", "y"], [
        ["00501", "2024-01-05", "123456789012345678", "3", "4"],
        ["00502", "2024-01-06", "123456789012345679", "0", "0"],
    ])
    rows = parse_csv(invoke(["normalize", str(path)]))
    assert rows == [["zip", "date", "big", "x", "y"],
                    ["00501", "2024-01-05", "123456789012345678", "0.6", "0.8"],
                    ["00502", "2024-01-06", "123456789012345679", "0", "0"]]


def test_sample_sales(tmp_path: Path) -> None:
    src = Path(__file__).parent.parent / "sample_data" / "sales.csv"
    raw = src.read_bytes()
    out = invoke(["normalize", "--columns", "price,units,discount", str(src)])
    rows, orig = parse_csv(out), parse_csv(raw)
    assert len(rows) == len(orig)
    for r, o in zip(rows, orig, strict=True):
        assert (r[0], r[1], r[5]) == (o[0], o[1], o[5])


# -- delimiters, headers, formats ------------------------------------------------------------
def test_delimiter_semicolon_used_for_output(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("a;b;t\n3;4;x,y\n")
    assert invoke(["normalize", "--delimiter", ";", str(path)]) == b"a;b;t\n0.6;0.8;x,y\n"
    out = invoke(["normalize", "--delimiter", ";", "--output-delimiter", ",", str(path)])
    assert out == b'a,b,t\n0.6,0.8,"x,y"\n'
    out = invoke(["normalize", "--delimiter", ";", "--output-delimiter", "tab", str(path)])
    assert out == b"a\tb\tt\n0.6\t0.8\tx,y\n"


def test_tsv_in_and_out(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("a\tb\tname\n3\t4\tx,y\n")
    assert invoke(["normalize", str(path)]) == b"a,b,name\n0.6,0.8,\"x,y\"\n"
    dest = tmp_path / "o.tsv"
    invoke(["normalize", str(path), str(dest)])
    assert dest.read_bytes() == b"a\tb\tname\n0.6\t0.8\tx,y\n"
    csv_in = tmp_path / "c.csv"
    csv_in.write_text("a,b\n3,4\n")
    assert invoke(["normalize", "--output-format", "tsv", str(csv_in)]) == b"a\tb\n0.6\t0.8\n"
    assert invoke(["normalize", "--input-format", "tsv", "-"],
                  input=b"a\tb\n3\t4\n") == b"a,b\n0.6,0.8\n"


def test_no_header(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("3,4,x\n6,8,y\n")
    assert invoke(["normalize", "--no-header", str(path)]) == b"0.6,0.8,x\n0.6,0.8,y\n"
    out = invoke(["normalize", "--no-header", "--columns", "column_1,column_2", str(path),
                  "--output-format", "json"])
    assert json.loads(out) == [{"column_1": 0.6, "column_2": 0.8, "column_3": "x"},
                               {"column_1": 0.6, "column_2": 0.8, "column_3": "y"}]


def test_json_output(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "j.csv", ["id", "x", "y"], [["00501", "3", "4"], ["b", "", "2"]])
    dest = tmp_path / "o.json"
    invoke(["normalize", str(path), str(dest)])
    assert json.loads(dest.read_text()) == [{"id": "00501", "x": 0.6, "y": 0.8},
                                             {"id": "b", "x": None, "y": 1.0}]


@pytest.mark.parametrize("ext", [".gz", ".bz2", ".zst"])
def test_compressed_input(tmp_path: Path, ext: str) -> None:
    text = "id,a,b\n" + "".join(f"0{i},{i},{i + 1}\n" for i in range(500))
    path = tmp_path / f"c.csv{ext}"
    if ext == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    elif ext == ".bz2":
        path.write_bytes(bz2.compress(text.encode()))
    else:
        with pa.CompressedOutputStream(str(path), "zstd") as fh:
            fh.write(text.encode())
    out = invoke(["normalize", "--chunk-rows", "64", str(path)])
    rows = parse_csv(out)
    assert [r[0] for r in rows[1:]] == [f"0{i}" for i in range(500)]
    assert_close(out_matrix(out, ["a", "b"]), _l2([[i, i + 1] for i in range(500)]))
    # compressed standard input is recognised by its magic number
    out2 = invoke(["normalize", "--chunk-rows", "64", "-"], input=path.read_bytes())
    assert out2 == out


def test_parquet_in_and_out_keeps_types(tmp_path: Path) -> None:
    table = pa.table({
        "day": pa.array([datetime.date(2024, 1, 5), None, datetime.date(2024, 2, 29)],
                        pa.date32()),
        "count": pa.array([7, 8, None], pa.int64()),
        "name": pa.array(["00501", "naïve", None], pa.string()),
        "x": pa.array([3.0, 0.0, 1e200], pa.float64()),
        "y": pa.array([4.0, 0.0, 1e200], pa.float64()),
    })
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    dest = tmp_path / "out.pq"
    invoke(["normalize", "--columns", "x,y", "--chunk-rows", "2", str(src), str(dest)])
    out = pq.read_table(dest)
    assert out.schema.names == ["day", "count", "name", "x", "y"]
    assert out.schema.field("day").type == pa.date32()
    assert out.schema.field("count").type == pa.int64()
    assert out.schema.field("name").type == pa.string()
    assert out.column("day").to_pylist() == table.column("day").to_pylist()
    assert out.column("count").to_pylist() == [7, 8, None]
    assert out.column("name").to_pylist() == ["00501", "naïve", None]
    assert out.column("x").to_pylist() == [0.6, 0.0, 0.7071067811865475]
    assert out.column("y").to_pylist() == [0.8, 0.0, 0.7071067811865475]
    # Parquet to CSV on standard output
    csv_out = parse_csv(invoke(["normalize", "--columns", "x,y", str(src)]))
    assert csv_out[1][:3] == ["2024-01-05", "7", "00501"]


def test_parquet_default_selection_from_schema(tmp_path: Path) -> None:
    table = pa.table({"n": pa.array([3, 6], pa.int32()), "s": pa.array(["4", "8"]),
                      "m": pa.array([4.0, 8.0], pa.float32())})
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    rows = parse_csv(invoke(["normalize", str(src)]))
    assert rows == [["n", "s", "m"], ["0.6", "4", "0.8"], ["0.6", "8", "0.8"]]


def test_csv_to_parquet(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "c.csv", ["id", "x", "y"], [["00501", "3", "4"], ["b", "", "2"]])
    dest = tmp_path / "o.parquet"
    invoke(["normalize", str(path), str(dest)])
    out = pq.read_table(dest)
    assert out.column("id").to_pylist() == ["00501", "b"]
    assert out.column("x").to_pylist() == [0.6, None]
    assert out.column("y").to_pylist() == [0.8, 1.0]


# -- rows, order and chunks ----------------------------------------------------------------------
@pytest.mark.parametrize("args", [["--norm", "l1"], ["--scale", "zscore"],
                                  ["--axis", "columns"]])
def test_small_chunks_same_as_one_chunk(tmp_path: Path, rng, args: list[str]) -> None:
    n = 101
    X = rng.standard_normal((n, 3))
    X[rng.random((n, 3)) < 0.1] = np.nan
    rows = [[f"id{i:04d}", *X[i]] for i in range(n)]
    rows[10][0] = "quoted, \"text\"\nwith newline"
    path = write_csv(tmp_path / "x.csv", ["id", "a", "b", "c"], rows)
    whole = invoke(["normalize", *args, str(path)])
    for chunk in ("1", "3", "50"):
        part = invoke(["normalize", *args, "--chunk-rows", chunk, str(path)])
        if args[0] == "--norm":
            assert part == whole  # row by row: byte-identical
        else:
            # column statistics are summed chunk by chunk: equal up to rounding (see report)
            assert [r[0] for r in parse_csv(part)] == [r[0] for r in parse_csv(whole)]
            assert_close(out_matrix(part, ["a", "b", "c"]), out_matrix(whole, ["a", "b", "c"]),
                         rtol=1e-14, atol=1e-15)
    got = parse_csv(whole)
    assert len(got) == n + 1
    assert [r[0] for r in got[1:]] == [r[0] for r in rows]


def test_blank_lines_are_not_rows(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("a,b\n3,4\n\n6,8\n\n")
    assert invoke(["normalize", str(path)]) == b"a,b\n0.6,0.8\n0.6,0.8\n"


def test_no_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_text("a,b\n3,4")
    assert invoke(["normalize", str(path)]) == b"a,b\n0.6,0.8\n"


# -- errors ------------------------------------------------------------------------------------
def _bad_far_file(path: Path, n: int = 50_000) -> int:
    """A file with quoted newlines and blank lines early, and 'oops' in column b late.

    Returns the physical line of the bad cell.
    """
    with open(path, "w", newline="") as fh:
        fh.write("a,b,t\n")                # line 1
        fh.write('1,2,"x\ny"\n')           # lines 2-3
        fh.write("\n")                     # line 4 (blank)
        fh.write('3,4,"p\r\nq\nr"\r\n')    # lines 5-7
        line = 8
        for i in range(n):
            fh.write(f"{i},{i + 1},z\n")
            line += 1
        fh.write("\n\n")
        line += 2
        fh.write("5,oops,z\n")
        bad = line
        fh.write("1,2,z\n")
    return bad


@pytest.mark.parametrize("args", [["--chunk-rows", "1000"], ["--chunk-rows", "1000", "--scale",
                                                                "minmax"]])
def test_bad_cell_far_past_first_chunk(tmp_path: Path, args: list[str]) -> None:
    path = tmp_path / "bad.csv"
    bad = _bad_far_file(path)
    code, out, err = run_main(["normalize", *args, str(path), str(tmp_path / "o.csv")])
    assert code == 1
    line = error_line(err)
    assert f"line {bad}," in line or line.endswith(f"line {bad}") or f"line {bad}:" in line
    assert "'b'" in line and "oops" in line
    assert not (tmp_path / "o.csv").exists()
    assert leftover_temp_files(tmp_path) == []


def test_bad_cell_from_stdin(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    bad = _bad_far_file(path, n=5000)
    code, out, err = run_main(["normalize", "--chunk-rows", "100", "-"], input=path.read_bytes())
    assert code == 1
    line = error_line(err)
    assert f"line {bad}" in line and "oops" in line and "'b'" in line


def test_bad_cell_in_norm(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    bad = _bad_far_file(path, n=3000)
    code, _, err = run_main(["norm", "--chunk-rows", "50", str(path)])
    assert code == 1
    assert f"line {bad}" in error_line(err)


def test_ragged_row_names_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text('a,b\n1,2\n"x\ny",3\n\n4,5,6\n7,8\n')
    code, out, err = run_main(["normalize", str(path)])
    assert code == 1
    assert "line 6" in error_line(err)
    path.write_text("a,b\n1,2\n3\n")
    code, out, err = run_main(["normalize", str(path)])
    assert code == 1
    assert "line 3" in error_line(err)


def test_unknown_column_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a", "b"], [["1", "2"]])
    for opt in ("--columns", "--exclude"):
        code, out, err = run_main(["normalize", opt, "a,zz", str(path)])
        assert code == 2
        assert "'zz'" in error_line(err)


def test_text_column_in_columns_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a", "name"], [["1", "bob"], ["2", "amy"]])
    code, out, err = run_main(["normalize", "--columns", "a,name", str(path)])
    assert code == 2
    assert "'name'" in error_line(err)


def test_failed_run_keeps_existing_output(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    _bad_far_file(path, n=20_000)
    dest = tmp_path / "out.csv"
    before = b"precious,contents\n1,2\n"
    dest.write_bytes(before)
    os.chmod(dest, 0o640)
    code, out, err = run_main(["normalize", "--chunk-rows", "500", str(path), str(dest)])
    assert code == 1
    error_line(err)
    assert dest.read_bytes() == before
    assert leftover_temp_files(tmp_path) == []
    # a successful run replaces it and keeps its permissions
    good = write_csv(tmp_path / "g.csv", ["a", "b"], [["3", "4"]])
    invoke(["normalize", str(good), str(dest)])
    assert dest.read_bytes() == b"a,b\n0.6,0.8\n"
    assert (os.stat(dest).st_mode & 0o777) == 0o640
    assert leftover_temp_files(tmp_path) == []


def test_failed_save_params_keeps_existing_files(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    _bad_far_file(path, n=2000)
    params = tmp_path / "p.json"
    params.write_text("old")
    code, _, err = run_main(["normalize", "--chunk-rows", "100", "--scale", "zscore",
                             "--save-params", str(params), str(path), str(tmp_path / "o.csv")])
    assert code == 1
    assert params.read_text() == "old"
    assert leftover_temp_files(tmp_path) == []


def test_output_is_input_refused(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", ["a", "b"], [["3", "4"]])
    before = path.read_bytes()
    for target in (str(path), str(tmp_path / "." / "a.csv")):
        code, out, err = run_main(["normalize", str(path), target])
        assert code == 2
        error_line(err)
        assert path.read_bytes() == before
    assert leftover_temp_files(tmp_path) == []


def test_empty_input_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"")
    code, out, err = run_main(["normalize", str(path)])
    assert code == 1
    assert "empty" in error_line(err)
    code, out, err = run_main(["normalize", "-"], input=b"")
    assert code == 1
    error_line(err)


@pytest.mark.parametrize("content", [b"a,b,name\n", b"a,b,name", b"a,b,name\r\n",
                                     b"\xef\xbb\xbfa,b,name\n"])
@pytest.mark.parametrize("args", [[], ["--scale", "zscore"], ["--axis", "columns"],
                                  ["--columns", "a,b"]])
def test_header_only_gives_header_only(tmp_path: Path, content: bytes, args: list[str]) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(content)
    code, out, err = run_main(["normalize", *args, str(path)])
    assert (code, err) == (0, "")
    assert out == b"a,b,name\n"


def test_header_only_norm(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(b"a,b\n")
    assert invoke(["norm", str(path)]) == b"a,b,norm\n"
    assert invoke(["norm", "--only", "-"], input=b"a,b\n") == b"norm\n"


def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    code, out, err = run_main(["normalize", str(tmp_path / "nope.csv")])
    assert code == 2
    assert "nope.csv" in error_line(err)


def test_unknown_extension_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "a.dat"
    path.write_text("a\n1\n")
    code, out, err = run_main(["normalize", str(path)])
    assert code == 2
    error_line(err)
    assert invoke(["normalize", "--input-format", "csv", str(path)]) == b"a\n1\n"


def test_missing_tokens(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("a,b\n3,NA\nNaN,4\nnull,\n6,8\n")
    out = invoke(["normalize", str(path)])
    assert out == b"a,b\n1,\n,1\n,\n0.6,0.8\n"
