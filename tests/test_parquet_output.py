"""Parquet output: what the write thread, the native output file and the dictionary choice
keep (values, schema, row groups, encodings) and how their failures end.

References are independent: Parquet metadata read back by pyarrow, numpy's norms, the input's
own values, the operating system's file-size limit.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import error_line, leftover_temp_files, run_main

CMD = [sys.executable, "-m", "normcli"]


def _table(n: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({
        "id": pa.array([f"r{i:07d}" for i in range(n)], pa.large_string()),
        "cat": pa.array(["north", "south", "east"] * (n // 3) + ["west"] * (n % 3)),
        "k": pa.array(np.arange(n, dtype=np.int64) % 7),
        "x": rng.standard_normal(n),
        "y": rng.standard_normal(n) * 1e3,
    })


def _encodings(path: Path, column: str) -> set[str]:
    meta = pq.ParquetFile(path).metadata
    j = meta.schema.names.index(column)
    return {e for g in range(meta.num_row_groups) for e in meta.row_group(g).column(j).encodings}


def test_parquet_to_parquet_values_schema_and_row_groups(tmp_path: Path) -> None:
    n = 70_000
    src = tmp_path / "in.parquet"
    table = _table(n)
    pq.write_table(table, src, row_group_size=25_000)
    out = tmp_path / "out.parquet"
    code, _, err = run_main(["normalize", "--columns", "x,y", "--chunk-rows", "5000", str(src),
                             str(out)])
    assert (code, err) == (0, "")
    got = pq.read_table(out)
    assert got.schema == table.schema
    for name in ("id", "cat", "k"):
        assert got.column(name).equals(table.column(name))
    X = np.column_stack([table.column("x").to_numpy(), table.column("y").to_numpy()])
    want = X / np.linalg.norm(X, axis=1, keepdims=True)
    got_x = np.column_stack([got.column("x").to_numpy(), got.column("y").to_numpy()])
    np.testing.assert_allclose(got_x, want, rtol=1e-15)
    meta = pq.ParquetFile(out).metadata
    sizes = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    assert sum(sizes) == n and len(sizes) > 1
    assert all(s >= 16_384 for s in sizes[:-1])


def test_dictionary_only_for_columns_whose_values_repeat(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(_table(40_000), src, use_dictionary=False)
    out = tmp_path / "out.parquet"
    code, _, err = run_main(["normalize", "--columns", "x,y", str(src), str(out)])
    assert (code, err) == (0, "")
    # repeated text and integers: dictionary pages; ids all different and computed floats: none
    for name in ("cat", "k"):
        assert {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & _encodings(out, name), name
    for name in ("id", "x", "y"):
        assert not {"RLE_DICTIONARY", "PLAIN_DICTIONARY"} & _encodings(out, name), name
    assert pq.read_table(out).column("id").equals(pq.read_table(src).column("id"))


def test_empty_parquet_input_gives_empty_output_with_the_schema(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(_table(0), src)
    out = tmp_path / "out.parquet"
    code, _, err = run_main(["normalize", "--columns", "x,y", str(src), str(out)])
    assert (code, err) == (0, "")
    got = pq.read_table(out)
    assert got.num_rows == 0 and got.schema == _table(0).schema


def test_bad_cell_after_row_groups_were_written_leaves_nothing(tmp_path: Path) -> None:
    """The failure comes while earlier row groups are with the write thread: it is stopped,
    the temporary file removed, the old output kept."""
    rows = ["a,b"] + [f"{i}.5,{i}" for i in range(60_000)] + ["1,oops"]
    src = tmp_path / "in.csv"
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous")
    code, _, err = run_main(["normalize", "--chunk-rows", "1000", str(src), str(out)])
    assert code == 1
    assert "60002" in error_line(err)
    assert out.read_bytes() == b"previous"
    assert leftover_temp_files(tmp_path) == []


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))


def test_write_error_of_the_output_file_is_one_line(tmp_path: Path) -> None:
    """Arrow writes the temporary file itself: its failure (here the file-size limit) is the
    same one-line error as any failed write, and nothing is left behind."""
    src = tmp_path / "in.parquet"
    pq.write_table(_table(100_000), src)
    assert src.stat().st_size > 400_000
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous")
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    p = subprocess.run([*CMD, "normalize", "--columns", "x,y", str(src), str(out)],
                       capture_output=True, env=env, timeout=120, preexec_fn=_limit_file_size)
    assert p.returncode == 1, p.stderr
    line = error_line(p.stderr.decode())
    assert str(out) in line and "cannot write: File too large" in line
    assert out.read_bytes() == b"previous"
    assert leftover_temp_files(tmp_path) == []


def _blocked_on_pipe(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/wchan") as fh:
            return "pipe" in fh.read()
    except OSError:
        return False


@pytest.mark.slow
def test_sigterm_while_parquet_to_a_pipe_nobody_reads(tmp_path: Path) -> None:
    """Parquet to standard output blocks in its write while the pipe is full: SIGTERM ends the
    run at once (143), not when the reader goes away."""
    src = tmp_path / "in.parquet"
    pq.write_table(_table(200_000), src)
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.Popen([*CMD, "normalize", "--columns", "x,y", "--output-format",
                             "parquet", str(src), "-"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + 30
        while not _blocked_on_pipe(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None and proc.stdout is not None
        err = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
    assert code == 143, err
    assert error_line(err) == "normcli: error: terminated"
