"""Faults a cron job meets: truncated and corrupt input, a failing disk, bad destinations.

For each: one ``normcli: error:`` line, the documented exit status, no traceback, the previous
output intact and no temporary file left behind.
"""

from __future__ import annotations

import errno
import gzip
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import error_line, leftover_temp_files, run_main

from normcli.io import writer


def big_csv(path: Path, rows: int = 20000) -> Path:
    with open(path, "w") as fh:
        fh.write("id,a,b\n")
        for i in range(rows):
            fh.write(f"r{i},{i % 97}.5,{(i * 7) % 13}\n")
    return path


def test_truncated_gzip_keeps_old_output(tmp_path: Path) -> None:
    data = big_csv(tmp_path / "d.csv").read_bytes()
    gz = tmp_path / "t.csv.gz"
    gz.write_bytes(gzip.compress(data)[: len(data) // 20])
    out = tmp_path / "out.csv"
    out.write_text("previous\n")
    code, _, err = run_main(["normalize", str(gz), str(out)])
    assert code == 1
    assert "t.csv.gz" in error_line(err)
    assert out.read_text() == "previous\n"
    assert leftover_temp_files(tmp_path) == []


def test_corrupt_parquet(tmp_path: Path) -> None:
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"PAR1 this is not parquet at all")
    code, _, err = run_main(["normalize", str(bad)])
    assert code == 1
    assert "x.parquet" in error_line(err)


class FailingFile:
    """A binary file that fails with ENOSPC once ``budget`` bytes are written."""

    def __init__(self, real: Any, budget: int) -> None:
        self.real = real
        self.budget = budget

    def write(self, data: Any) -> int:
        n = len(memoryview(data).cast("B"))
        if n > self.budget:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= n
        return int(self.real.write(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_full_disk_leaves_old_output_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    src = big_csv(tmp_path / "d.csv")
    out = tmp_path / f"out{suffix}"
    out.write_bytes(b"previous")
    real_open = writer.Destination.open

    def failing_open(self: writer.Destination) -> Any:
        return FailingFile(real_open(self), budget=10_000)

    monkeypatch.setattr(writer.Destination, "open", failing_open)
    code, _, err = run_main(["normalize", "--chunk-rows", "500", str(src), str(out)])
    assert code == 1
    assert "No space left on device" in error_line(err)
    assert out.read_bytes() == b"previous"
    assert leftover_temp_files(tmp_path) == []


def test_failing_rename_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = big_csv(tmp_path / "d.csv", rows=50)
    out = tmp_path / "out.csv"
    out.write_bytes(b"previous")

    def broken_replace(a: str, b: str) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(writer.os, "replace", broken_replace)
    code, _, err = run_main(["normalize", str(src), str(out)])
    assert code == 1
    assert "out.csv" in error_line(err)
    assert out.read_bytes() == b"previous"
    assert leftover_temp_files(tmp_path) == []


def test_output_is_input_is_refused(tmp_path: Path) -> None:
    src = big_csv(tmp_path / "d.csv", rows=10)
    before = src.read_bytes()
    for args in (["normalize", str(src), str(src)],
                 ["normalize", "--scale", "zscore", str(src), str(tmp_path / "." / "d.csv")],
                 ["norm", str(src), str(src)]):
        code, _, err = run_main(args)
        assert code == 2
        assert "input" in error_line(err)
        assert src.read_bytes() == before


def test_output_folder_missing(tmp_path: Path) -> None:
    src = big_csv(tmp_path / "d.csv", rows=10)
    code, _, err = run_main(["normalize", str(src), str(tmp_path / "no" / "such" / "o.csv")])
    assert code == 2
    assert "no such folder" in error_line(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_folder(tmp_path: Path) -> None:  # pragma: no cover - CI runs as root
    src = big_csv(tmp_path / "d.csv", rows=10)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code, _, err = run_main(["normalize", str(src), str(locked / "o.csv")])
        assert code == 1
        assert "permission denied" in error_line(err)
    finally:
        locked.chmod(0o700)


def test_unwritable_folder_as_seen_by_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the permission check says, a refused temporary file is one error line."""
    src = big_csv(tmp_path / "d.csv", rows=10)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    monkeypatch.setattr(writer.tempfile, "mkstemp", refuse)
    code, _, err = run_main(["normalize", str(src), str(tmp_path / "o.csv")])
    assert code == 1
    assert "Permission denied" in error_line(err)
    assert not (tmp_path / "o.csv").exists()


def test_debug_shows_traceback(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n3,x\n")
    code, _, err = run_main(["normalize", "--columns", "a,b", str(src)])
    # 'x' is in the first chunk of b, which holds numbers too: the not-a-number error at its line
    assert code == 1
    assert error_line(err) == f"normcli: error: {src}, line 3, column 'b': not a number: 'x'"
    src.write_text("a,b\n1,2\n3,4\n5,x\n")
    code, _, err = run_main(["normalize", "--debug", "--chunk-rows", "1", str(src)])
    assert code == 1
    assert "Traceback" in err
    last = err.rstrip().splitlines()[-1]
    assert last == f"normcli: error: {src}, line 4, column 'b': not a number: 'x'"


def test_quiet_and_verbose(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b,y\n1,2,3\n2,,5\n3,4,8\n4,1,7\n")
    code, _, err = run_main(["fit", "-y", "y", "--drop-missing", str(src)])
    assert code == 0 and "dropped 1 rows" in err
    code, _, err = run_main(["fit", "-y", "y", "--drop-missing", "-q", str(src)])
    assert code == 0 and err == ""
    code, _, err = run_main(["normalize", "-v", str(src)])
    assert code == 0 and err.startswith("normcli: normalized 4 rows")


def test_progress_goes_to_stderr_only(tmp_path: Path) -> None:
    src = big_csv(tmp_path / "d.csv", rows=2000)
    quiet_code, quiet_out, _ = run_main(["normalize", "--no-progress", str(src)])
    code, out, err = run_main(["normalize", "--progress", "--chunk-rows", "100", str(src)])
    assert code == quiet_code == 0
    assert out == quiet_out
    assert "normcli" in err


def test_version() -> None:
    from normcli import __version__

    code, out, _ = run_main(["--version"])
    assert code == 0 and __version__ in out.decode()


@pytest.mark.parametrize("chunk", [4, 5, 6])
def test_bad_cell_at_a_chunk_boundary(tmp_path: Path, chunk: int) -> None:
    """The bad cell is the first or last row of a chunk, or just past it: the line is exact."""
    rows = ["a,b"]
    for i in range(20):
        rows.append(f"{i},{i + 1}")
    rows[11] = "10,oops"  # data row 10 (0-based) on physical line 12
    src = tmp_path / "d.csv"
    src.write_text("\r\n".join(rows) + "\r\n")
    out = tmp_path / "o.csv"
    out.write_text("previous\n")
    code, _, err = run_main(["normalize", "--chunk-rows", str(chunk), str(src), str(out)])
    assert code == 1
    assert error_line(err) == f"normcli: error: {src}, line 12, column 'b': not a number: 'oops'"
    assert out.read_text() == "previous\n"
    assert leftover_temp_files(tmp_path) == []


def test_ragged_row_past_the_first_chunk(tmp_path: Path) -> None:
    lines = ["id,a,b"] + [f'"r\n{i}",{i},{i}' for i in range(3000)]
    lines[2500] = "x,1"
    src = tmp_path / "d.csv"
    src.write_text("\n".join(lines) + "\n")
    code, _, err = run_main(["normalize", "--chunk-rows", "100", str(src)])
    assert code == 1
    # every earlier data row spans two physical lines
    assert error_line(err) == (
        f"normcli: error: {src}, line {1 + 2 * 2499 + 1}: expected 3 fields, found 2"
    )


def test_dictionary_text_from_parquet_is_quoted_in_csv(tmp_path: Path) -> None:
    import csv as pycsv
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    values = ["a,b", "x", 'q"q']
    src = tmp_path / "cat.parquet"
    pq.write_table(pa.table({"c": pa.array(values).dictionary_encode(),
                             "v": [3.0, 4.0, 0.0]}), src)
    code, out, err = run_main(["normalize", str(src)])
    assert (code, err) == (0, "")
    rows = list(pycsv.reader(io.StringIO(out.decode())))
    assert [r[0] for r in rows[1:]] == values


def test_progress_line_ends_before_the_error(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n3,4\n5,6\n7,x\n")
    code, _, err = run_main(["norm", "--progress", "--chunk-rows", "2", "-"],
                            input=src.read_bytes())
    assert code == 1
    assert err.splitlines()[-1] == "normcli: error: <stdin>, line 5, column 'b': not a number: 'x'"


def test_destination_checked_before_the_statistics_pass(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n3,4\n5,6\n7,x\n")
    code, _, err = run_main(["normalize", "--scale", "zscore", "--chunk-rows", "2", str(src),
                             str(tmp_path / "missing" / "o.csv")])
    assert code == 2
    assert "no such folder" in error_line(err)


def test_fit_empty_weighted_fold_is_a_data_error(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,y,w,f\n1,2,0,0\n2,3,0,0\n3,5,1,1\n4,4,1,1\n5,7,1,2\n6,8,1,2\n")
    code, _, err = run_main(["fit", "-y", "y", "--weights", "w", "--penalty", "l1", "--cv", "3",
                             "--fold-column", "f", str(src)])
    assert code == 1
    assert "fold" in error_line(err)


def test_fit_warning_silenced_by_quiet(tmp_path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    X[:, 1] = X[:, 0] + 0.01 * rng.normal(size=200)
    y = X @ rng.normal(size=5) + rng.normal(size=200)
    src = tmp_path / "d.csv"
    src.write_text("a,b,c,d,e,y\n" + "\n".join(
        ",".join(repr(float(v)) for v in row) for row in np.column_stack([X, y])) + "\n")
    args = ["fit", "-y", "y", "--penalty", "l1", "--alpha", "1e-4", "--max-iter", "1",
            "--tol", "1e-15", str(src)]
    code, _, err = run_main(args)
    assert code == 0 and "did not converge" in err
    code, _, err = run_main([*args, "-q"])
    assert code == 0 and err == ""
