"""Issue 9 (input side) and issue 10 item 8: input that used to be swallowed, hang or crash.

Each test names the item it checks; each failed on the main branch before these changes.
"""

from __future__ import annotations

import gzip
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import error_line, invoke, parse_csv, run_main

from normcli.io import reader as reader_mod

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "normcli", *args]


# -- item 2: an unterminated quote at the end of the input -----------------------------------
def test_unterminated_quote_names_the_line(tmp_path: Path) -> None:
    src = tmp_path / "q.csv"
    src.write_bytes(b'a,b,name\n1,2,foo\n3,4,"bar\n5,6,baz\n7,8,qux\n')
    code, out, err = run_main(["normalize", str(src)])
    assert code == 1
    assert "q.csv, line 3" in error_line(err) and "unterminated" in err


@pytest.mark.parametrize("tail", [b'7,8,"qux', b'7,8,"qux\n', b'7,"8,qux\n'])
def test_unterminated_quote_on_the_last_line(tmp_path: Path, tail: bytes) -> None:
    src = tmp_path / "q.csv"
    src.write_bytes(b"a,b,name\n1,2,foo\n" + tail)
    code, _, err = run_main(["normalize", str(src)])
    assert code == 1
    assert "line 3" in error_line(err) and "unterminated" in err


def test_unterminated_quote_far_into_a_big_file(tmp_path: Path) -> None:
    src = tmp_path / "big.csv"
    rows = 200_000
    with open(src, "w") as fh:
        fh.write("a,b,name\n")
        fh.writelines(f"{i},{i % 7},r{i}\n" for i in range(rows))
        fh.write('1,2,"open\n3,4,x\n5,6,y\n')
    code, _, err = run_main(["normalize", str(src)])
    assert code == 1
    assert f"line {rows + 2}" in error_line(err)


def test_closed_quotes_still_read(tmp_path: Path) -> None:
    """The sentinel row must not change what a well-formed file gives."""
    src = tmp_path / "ok.csv"
    src.write_bytes(b'a,b,name\n3,4,"x\n""y"""\n0,5,""\n6,8,"z"')
    rows = parse_csv(invoke(["normalize", str(src)]))
    assert rows == [["a", "b", "name"], ["0.6", "0.8", 'x\n"y"'], ["0", "1", ""],
                    ["0.6", "0.8", "z"]]


# -- item 3: FIFOs and process substitution ---------------------------------------------------
def _feed_fifo(path: Path, data: bytes) -> threading.Thread:
    def run() -> None:
        with open(path, "wb") as fh:
            fh.write(data)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("args", [[], ["--scale", "zscore"]])
def test_fifo_input_is_read_once(tmp_path: Path, args: list[str]) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    out = tmp_path / "o.csv"
    writer = _feed_fifo(fifo, b"a,b\n3,4\n6,8\n1,0\n")
    proc = subprocess.run(_cli("normalize", *args, str(fifo), str(out)), env=ENV,
                          capture_output=True, timeout=60)
    writer.join(5)
    assert proc.returncode == 0, proc.stderr
    X = np.array([[3, 4], [6, 8], [1, 0]], dtype=float)
    got = np.array([[float(v) for v in r] for r in parse_csv(out.read_bytes())[1:]])
    if args:
        expected = (X - X.mean(axis=0)) / X.std(axis=0)
    else:
        expected = X / np.linalg.norm(X, axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-15)


def test_process_substitution_of_a_compressed_file(tmp_path: Path) -> None:
    gz = tmp_path / "d.csv.gz"
    gz.write_bytes(gzip.compress(b"a,b\n3,4\n0,2\n"))
    out = tmp_path / "o.csv"
    proc = subprocess.run(["bash", "-c", f'"$@" <(cat {gz}) {out}', "x",
                           *_cli("normalize", "--scale", "maxabs")],
                          env=ENV, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert parse_csv(out.read_bytes()) == [["a", "b"], ["1", "1"], ["0", "0.5"]]


def test_sigterm_while_a_fifo_has_no_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)
    out = tmp_path / "o.csv"
    proc = subprocess.Popen(_cli("normalize", str(fifo), str(out)), env=ENV,
                            stderr=subprocess.PIPE)
    # Wait until it is blocked opening the FIFO (it has imported everything by then).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if os.path.exists(f"/proc/{proc.pid}/fd") and any(
                os.readlink(f"/proc/{proc.pid}/fd/{fd}") == str(fifo)
                for fd in os.listdir(f"/proc/{proc.pid}/fd")
                if os.path.exists(f"/proc/{proc.pid}/fd/{fd}")):
            break
        with open(f"/proc/{proc.pid}/wchan") as fh:
            wchan = fh.read()
        if "fifo" in wchan or "wait_for_partner" in wchan:  # Linux: blocked in open()
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 143, err
    assert sorted(os.listdir(tmp_path)) == ["in.csv"]


# -- item 4: large cells and records ------------------------------------------------------------
def test_cell_larger_than_a_block(tmp_path: Path) -> None:
    big = "x" * (3 << 20)
    src = tmp_path / "big.csv"
    src.write_text(f'a,b,t\n3,4,"{big}\nmore"\n6,8,y\n0,1,"{big}"\n5,12,z\n')
    rows = parse_csv(invoke(["normalize", str(src)]))
    assert [r[2] for r in rows[1:]] == [big + "\nmore", "y", big, "z"]
    assert [r[:2] for r in rows[1:]] == [["0.6", "0.8"], ["0.6", "0.8"], ["0", "1"],
                                         [repr(5 / 13), repr(12 / 13)]]


def test_record_past_the_limit_names_its_line(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader_mod, "MAX_RECORD_BYTES", 2 << 20)
    src = tmp_path / "big.csv"
    src.write_text("a,b\n1,2\n3,4\n5," + "9" * (3 << 20) + "\n7,8\n")
    code, _, err = run_main(["normalize", str(src)])
    assert code == 1
    assert "line 4" in error_line(err) and "limit" in err


def test_deep_unterminated_quote_reports_its_line(tmp_path: Path) -> None:
    src = tmp_path / "deep.csv"
    with open(src, "w") as fh:
        fh.write("a,b\n1,2\n3,\"4\n")
        fh.writelines(f"{i},{i}\n" for i in range(400_000))
    code, _, err = run_main(["normalize", str(src)])
    assert code == 1
    assert "line 3" in error_line(err) and "unterminated" in err


# -- item 7: the stdin spool leaves no path, even after SIGKILL --------------------------------
def test_stdin_spool_has_no_name_even_after_sigkill(tmp_path: Path) -> None:
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    out = tmp_path / "o.csv"
    proc = subprocess.Popen(_cli("normalize", "--scale", "zscore", "-", str(out)),
                            env={**ENV, "TMPDIR": str(spool_dir)}, stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(b"a,b\n" + b"1,2\n" * 100_000)
    proc.stdin.flush()
    # The spool is open (and named nowhere) once the first rows are read.
    deadline = time.monotonic() + 60
    targets: list[str] = []
    while time.monotonic() < deadline and not any(str(spool_dir) in t for t in targets):
        fds = f"/proc/{proc.pid}/fd"
        targets = []
        for fd in os.listdir(fds):
            try:
                targets.append(os.readlink(f"{fds}/{fd}"))
            except OSError:
                pass
        time.sleep(0.05)
    spools = [t for t in targets if str(spool_dir) in t]
    assert spools and all(t.endswith("(deleted)") for t in spools), targets
    proc.kill()
    proc.wait(timeout=20)
    assert os.listdir(spool_dir) == []
    assert not out.exists()


def test_stdin_two_passes_and_line_numbers_from_the_spool() -> None:
    data = b"a,b\n3,4\n6,8\n0,x\n"
    code, _, err = run_main(["normalize", "--scale", "zscore", "--chunk-rows", "1", "-"],
                            input=data)
    assert code == 1
    assert "line 4" in error_line(err) and "'x'" in err


# -- item 9: clean errors ----------------------------------------------------------------------
@pytest.mark.parametrize("content", [
    b"a,\xff\xfeb\n1,2\n",  # invalid UTF-8 in the header
    "a,b\n1,2\n".encode("utf-16"),  # UTF-16 with its byte-order mark
    "a,b\n1,2\n".encode("utf-16-le"),  # ... and without
])
def test_header_not_utf8(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "t.csv"
    src.write_bytes(content)
    code, _, err = run_main(["normalize", str(src)])
    assert code == 1
    assert "not UTF-8 text" in error_line(err)


def test_parquet_read_as_csv(tmp_path: Path) -> None:
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0]}), src)
    code, _, err = run_main(["normalize", "--input-format", "csv", str(src)])
    assert code == 1
    assert "not CSV" in error_line(err)


def test_invalid_utf8_in_data_names_line_and_column(tmp_path: Path) -> None:
    src = tmp_path / "t.csv"
    src.write_bytes(b"a,b,c\n1,2,x\n3,4,\"multi\nline\"\n5,6,ab\xffcd\n")
    code, _, err = run_main(["normalize", str(src)])
    assert code == 1
    line = error_line(err)
    assert "line 5" in line and "column 'c'" in line and "not UTF-8" in line


@pytest.mark.parametrize("args", [["--delimiter", "§"], ["--output-delimiter", "é"]]
                         + [["--output-delimiter", c] for c in "0.eE-+"])
def test_delimiters_that_break_numbers(tmp_path: Path, args: list[str]) -> None:
    src = tmp_path / "t.csv"
    src.write_text("a,b\n1.5,2e3\n")
    code, _, err = run_main(["normalize", *args, str(src)])
    assert code == 2
    error_line(err)


def test_parquet_nested_columns_to_csv_as_json(tmp_path: Path) -> None:
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [3.0, 0.0], "l": [[1, 2], None],
                             "s": [{"x": 1, "y": "q"}, {"x": 2, "y": None}]}), src)
    rows = parse_csv(invoke(["normalize", str(src)]))
    assert rows[0] == ["a", "l", "s"]
    assert [json.loads(r[1]) if r[1] else None for r in rows[1:]] == [[1, 2], None]
    assert [json.loads(r[2]) for r in rows[1:]] == [{"x": 1, "y": "q"}, {"x": 2, "y": None}]


def test_parquet_big_integers_are_identifiers(tmp_path: Path) -> None:
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": pa.array([2**62, 5], pa.int64()), "a": [3.0, 4.0],
                             "b": [4.0, 3.0]}), src)
    rows = parse_csv(invoke(["normalize", str(src)]))
    assert [r[0] for r in rows[1:]] == [str(2**62), "5"]
    assert rows[1][1:] == ["0.6", "0.8"]
    # Named in --columns it is read as numbers (rounded to float64, as its text would be).
    rows = parse_csv(invoke(["norm", "--columns", "id", "--only", str(src)]))
    assert [float(r[0]) for r in rows[1:]] == [float(2**62), 5.0]


# -- item 10: wide inputs -----------------------------------------------------------------------
def test_wide_input_matches_numpy(tmp_path: Path, rng: np.random.Generator) -> None:
    n_cols = 3000
    X = rng.normal(size=(7, n_cols))
    src = tmp_path / "w.csv"
    with open(src, "w") as fh:
        fh.write(",".join(f"c{j}" for j in range(n_cols)) + ",id\n")
        for i, row in enumerate(X):
            fh.write(",".join(repr(float(v)) for v in row) + f",00{i}\n")
    rows = parse_csv(invoke(["normalize", "--scale", "zscore", str(src)]))
    got = np.array([[float(v) for v in r[:-1]] for r in rows[1:]])
    np.testing.assert_allclose(got, (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-12,
                               atol=1e-12)
    assert [r[-1] for r in rows[1:]] == [f"00{i}" for i in range(7)]


def test_fit_refuses_too_many_features_from_the_header(tmp_path: Path) -> None:
    src = tmp_path / "w.csv"
    # Only the header is sound: any read of the data would fail first.
    src.write_text(",".join(f"c{j}" for j in range(5000)) + "\n1,2\n\"open\n")
    code, _, err = run_main(["fit", "-y", "c0", str(src)])
    assert code == 2
    assert "at most" in error_line(err)


# -- issue 10 item 8: streaming latency ---------------------------------------------------------
@pytest.mark.parametrize("args", [["normalize"], ["norm", "--only"]])
def test_rows_trickling_in_on_a_pipe_come_out_before_the_input_ends(args: list[str]) -> None:
    proc = subprocess.Popen(_cli(*args, "-", "-"), env=ENV, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(b"a,b\n3,4\n6,8\n")
        proc.stdin.flush()
        got = b""
        deadline = time.monotonic() + 60
        while got.count(b"\n") < 3 and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1)
            if ready:
                got += os.read(proc.stdout.fileno(), 1 << 16)
        assert got.count(b"\n") == 3, got  # header and both rows, stdin still open
        proc.stdin.write(b"0,5\n")
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    rows = parse_csv(got + rest)
    if args[0] == "norm":
        assert rows == [["norm"], ["5"], ["10"], ["5"]]
    else:
        assert rows == [["a", "b"], ["0.6", "0.8"], ["0.6", "0.8"], ["0", "1"]]


def test_unterminated_quote_line_on_crlf_stdin() -> None:
    """On standard input the header's CR may arrive before its LF: lines still count right."""
    code, _, err = run_main(["normalize", "-"], input=b'a,b\r\n1,2\r\n3,"4\r\n5,6\r\n')
    assert code == 1
    assert "line 3" in error_line(err) and "unterminated" in err
