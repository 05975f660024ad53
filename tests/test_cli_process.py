"""Real processes: standard streams, spooling, broken pipes and signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import leftover_temp_files, out_matrix, write_matrix
from sklearn.preprocessing import StandardScaler

CMD = [sys.executable, "-m", "normcli"]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env.update(extra)
    return env


def run(args: list[str], input: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *args], input=input, capture_output=True, env=_env(**env),
                          timeout=120)


def test_stdin_to_stdout() -> None:
    p = run(["normalize", "-"], input=b"id,x,y\n00501,3,4\nb,0,0\n")
    assert (p.returncode, p.stderr) == (0, b"")
    assert p.stdout == b"id,x,y\n00501,0.6,0.8\nb,0,0\n"
    p = run(["norm", "--only", "--ord", "1", "-", "-"], input=b"x,y\n3,-4\n")
    assert (p.returncode, p.stderr, p.stdout) == (0, b"", b"norm\n7\n")


def test_stdin_two_pass_spool_removed(tmp_path: Path, rng) -> None:
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    X = rng.standard_normal((3000, 3)) * 10 + 5
    src = write_matrix(tmp_path / "x.csv", X)
    p = run(["normalize", "--scale", "zscore", "--chunk-rows", "256", "-"],
            input=src.read_bytes(), TMPDIR=str(spool_dir))
    assert (p.returncode, p.stderr) == (0, b"")
    np.testing.assert_allclose(out_matrix(p.stdout), StandardScaler().fit_transform(X),
                               rtol=1e-12, atol=1e-14)
    assert os.listdir(spool_dir) == []


def test_stdin_spool_removed_after_error(tmp_path: Path) -> None:
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    data = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(2000)) + b"1,zz\n"
    p = run(["normalize", "--scale", "minmax", "--chunk-rows", "100", "-"], input=data,
            TMPDIR=str(spool_dir))
    assert p.returncode == 1
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("normcli: error: ")
    assert "line 2002" in lines[0] and "zz" in lines[0]
    assert os.listdir(spool_dir) == []


def test_usage_error_exit_2_one_line() -> None:
    p = run(["normalize", "--norm", "banana", "-"], input=b"a\n1\n")
    assert p.returncode == 2
    assert p.stdout == b""
    lines = p.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("normcli: error: ")
    p = run(["normalize", "--no-such-option", "-"], input=b"a\n1\n")
    assert p.returncode == 2
    assert len(p.stderr.decode().splitlines()) == 1


@pytest.fixture(scope="module")
def medium_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("medium") / "m.csv"
    rng = np.random.default_rng(3)
    X = rng.integers(1, 1000, size=(300_000, 2))
    with open(path, "w") as fh:
        fh.write("a,b,label\n")
        fh.write("".join(f"{a},{b},x{i}\n" for i, (a, b) in enumerate(X)))
    return path


def test_broken_pipe_head(tmp_path: Path, medium_csv: Path) -> None:
    status = tmp_path / "status"
    headout = tmp_path / "head"
    script = (f'"$@" normalize "{medium_csv}" | head -n 2 > "{headout}"; '
              f'echo "${{PIPESTATUS[0]}}" > "{status}"')
    p = subprocess.run(["bash", "-c", script, "bash", *CMD], capture_output=True, env=_env(),
                       timeout=120)
    assert p.returncode == 0
    lines = headout.read_bytes().splitlines()
    assert len(lines) == 2
    assert lines[0] == b"a,b,label"
    assert int(status.read_text()) in (0, 141)
    assert b"Traceback" not in p.stderr
    assert p.stderr == b""


def test_broken_pipe_closed_reader(medium_csv: Path) -> None:
    proc = subprocess.Popen([*CMD, "normalize", "--chunk-rows", "1000", str(medium_csv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    code = proc.wait(timeout=120)
    assert first == b"a,b,label\n"
    assert code in (0, 141)
    assert b"Traceback" not in err
    assert err == b""


def _signal_run(tmp_path: Path, sig: int) -> tuple[int, bytes, Path]:
    """Interrupt a run that cannot finish first: its standard input never ends (a thread keeps
    feeding rows until the process exits), so the signal always meets it mid-write."""
    dest = tmp_path / "out.csv"
    dest.write_bytes(b"before\n")
    proc = subprocess.Popen([*CMD, "normalize", "--chunk-rows", "500", "-", str(dest)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env())
    assert proc.stdin is not None
    stdin = proc.stdin
    rows = b"".join(b"%d,%d,r%d\n" % (i, i + 1, i) for i in range(5000))

    def feed() -> None:
        try:
            stdin.write(b"a,b,label\n")
            while proc.poll() is None:
                stdin.write(rows)
                stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass  # the process exited (or its standard input was closed)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    # wait until the output is being written (its temporary file exists), then interrupt
    deadline = time.monotonic() + 60
    while not leftover_temp_files(tmp_path):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail("no temporary output file within 60 s")
        time.sleep(0.01)
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    feeder.join(timeout=10)
    err = proc.stderr.read() if proc.stderr else b""
    return code, err, dest


@pytest.mark.slow
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_mid_write(tmp_path: Path, sig: int, code: int) -> None:
    returncode, err, dest = _signal_run(tmp_path, sig)
    assert returncode == code
    lines = err.decode().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("normcli: error: ")
    assert dest.read_bytes() == b"before\n"
    assert leftover_temp_files(tmp_path) == []


@pytest.mark.slow
def test_big_file_round_trip(tmp_path: Path, big_csv: Path) -> None:
    """The 2M-row input streams through; rows and their order are kept."""
    dest = tmp_path / "o.csv"
    p = subprocess.run([*CMD, "norm", "--only", "--ord", "inf", str(big_csv), str(dest)],
                       capture_output=True, env=_env(), timeout=300)
    assert (p.returncode, p.stderr) == (0, b"")
    with open(dest, "rb") as fh:
        assert fh.readline() == b"norm\n"
        n = sum(1 for _ in fh)
    assert n == 2_000_000
    # spot check the first rows against the input
    with open(big_csv) as src, open(dest) as out:
        src.readline()
        out.readline()
        for _ in range(1000):
            a, b, c, _label = src.readline().split(",")
            assert float(out.readline()) == max(abs(int(a)), abs(int(b)), abs(int(c)))

