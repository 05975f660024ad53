"""Issue 9, the output side: no write is cut short, no output lands without the others, closed
or failing standard streams, SIGHUP, and hostile side files (--model, --params).

Descriptor and signal behaviour is tested on real processes; the commit group in-process, with
the failure injected.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import resource
import select
import signal
import stat
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import error_line, leftover_temp_files, out_matrix, run_main, write_matrix
from sklearn.preprocessing import StandardScaler, normalize

from normcli.io import writer

CMD = [sys.executable, "-m", "normcli"]

#: How Python's standard output is set up: buffered, `python -u`, PYTHONUNBUFFERED=1.
MODES = {
    "buffered": ([], {}),
    "dash-u": (["-u"], {}),
    "PYTHONUNBUFFERED": ([], {"PYTHONUNBUFFERED": "1"}),
}


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env.pop("PYTHONUNBUFFERED", None)
    env.update(extra)
    return env


def _cmd(mode: str) -> tuple[list[str], dict[str, str]]:
    flags, extra = MODES[mode]
    return [sys.executable, *flags, "-m", "normcli"], _env(**extra)


def _lines(err: bytes) -> list[str]:
    text = err.decode("utf-8", "replace")
    assert "Traceback" not in text and "Exception ignored" not in text, text
    return text.splitlines()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """About 4 MB of CSV: far more than a pipe holds."""
    rng = np.random.default_rng(9)
    X = rng.standard_normal((60_000, 3)) * 100
    path = write_matrix(tmp_path_factory.mktemp("data") / "d.csv", X, ["a", "b", "c"])
    return path, X


# -- item 1: every write writes everything or fails ------------------------------------------
def _read_all(fd: int) -> bytes:
    """Everything from ``fd`` until end of file. The writer's multi-megabyte writes meet a
    64 KB pipe: short writes for certain, and EAGAIN whenever the pipe is full."""
    got = bytearray()
    while piece := os.read(fd, 1 << 16):
        got += piece
    return bytes(got)


@pytest.mark.parametrize("mode", list(MODES))
def test_nonblocking_stdout_pipe_gets_every_byte(tmp_path: Path, data: Any, mode: str) -> None:
    src, X = data
    cmd, env = _cmd(mode)
    ref = subprocess.run([*CMD, "normalize", str(src), str(tmp_path / "ref.csv")],
                         capture_output=True, env=_env(), timeout=120)
    assert ref.returncode == 0
    r, w = os.pipe()
    os.set_blocking(w, False)  # the reader's side stays blocking
    proc = subprocess.Popen([*cmd, "normalize", str(src)], stdout=w, stderr=subprocess.PIPE,
                            env=env)
    os.close(w)
    try:
        got = _read_all(r)
    finally:
        os.close(r)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert (proc.wait(timeout=120), err) == (0, b"")
    assert got == (tmp_path / "ref.csv").read_bytes()
    np.testing.assert_allclose(out_matrix(got), normalize(X), rtol=1e-15)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("args", [
    ["normalize", "{src}"],                       # a big output
    ["normalize", "--columns", "a", "{small}"],   # a few bytes, written at exit
    ["fit", "-y", "a", "{small}"],
    ["--version"],
])
def test_dev_full_as_stdout_exits_1_with_one_line(tmp_path: Path, data: Any, mode: str,
                                                  args: list[str]) -> None:
    src, _ = data
    small = tmp_path / "s.csv"
    small.write_text("a,b\n1,2\n3,5\n4,4\n")
    cmd, env = _cmd(mode)
    with open("/dev/full", "wb") as full:
        p = subprocess.run([*cmd, *(a.format(src=src, small=small) for a in args)],
                           stdout=full, stderr=subprocess.PIPE, env=env, timeout=120)
    lines = _lines(p.stderr)
    assert p.returncode == 1
    assert len(lines) == 1 and lines[0].startswith("normcli: error: "), lines
    assert "No space left on device" in lines[0]


@pytest.mark.parametrize("mode", list(MODES))
def test_head_closing_the_pipe_exits_141_quietly(tmp_path: Path, data: Any, mode: str) -> None:
    src, _ = data
    cmd, env = _cmd(mode)
    script = '"$@" | head -n 1 > /dev/null; echo "${PIPESTATUS[0]}" >&2'
    p = subprocess.run(["bash", "-c", script, "bash", *cmd, "normalize", str(src)],
                       capture_output=True, env=env, timeout=120)
    assert p.stderr.decode().split() == ["141"]


# -- item 5: the outputs of a run commit together ---------------------------------------------
def _fail_for(monkeypatch: pytest.MonkeyPatch, name: str, fn: str) -> None:
    """Make ``os.<fn>`` (fsync or replace) fail with ENOSPC for files whose name holds ``name``."""
    real = getattr(writer.os, fn)

    def failing(*args: Any) -> Any:
        target = args[0]
        if isinstance(target, int):
            target = os.readlink(f"/proc/self/fd/{target}")
        if name in os.path.basename(str(target)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args)

    monkeypatch.setattr(writer.os, fn, failing)


@pytest.mark.parametrize("fn", ["fsync", "replace"])
def test_save_params_failure_leaves_every_output_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fn: str
) -> None:
    src = write_matrix(tmp_path / "d.csv", np.arange(20.0).reshape(10, 2) ** 2)
    out, params = tmp_path / "o.csv", tmp_path / "p.json"
    out.write_bytes(b"old output\n")
    params.write_bytes(b"old params\n")
    _fail_for(monkeypatch, "p.json", fn)
    code, _, err = run_main(["normalize", "--scale", "zscore", "--save-params", str(params),
                             str(src), str(out)])
    assert code == 1
    assert "p.json" in error_line(err) and "No space left on device" in err
    assert out.read_bytes() == b"old output\n"
    assert params.read_bytes() == b"old params\n"
    assert leftover_temp_files(tmp_path) == []


def test_new_outputs_do_not_appear_when_a_later_rename_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_matrix(tmp_path / "d.csv", np.arange(20.0).reshape(10, 2) ** 2)
    out, params = tmp_path / "o.csv", tmp_path / "p.json"
    _fail_for(monkeypatch, "p.json", "replace")
    code, _, err = run_main(["normalize", "--axis", "columns", "--save-params", str(params),
                             str(src), str(out)])
    assert code == 1
    error_line(err)
    assert not out.exists() and not params.exists()
    assert leftover_temp_files(tmp_path) == []


def test_fit_plot_failure_keeps_the_old_model(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(1)
    src = write_matrix(tmp_path / "d.csv", rng.standard_normal((50, 3)), ["x1", "x2", "y"])
    model, plot = tmp_path / "m.json", tmp_path / "p.png"
    model.write_bytes(b"old model\n")
    _fail_for(monkeypatch, "p.png", "fsync")
    code, _, err = run_main(["fit", "-y", "y", "--plot", str(plot), str(src), str(model)])
    assert code == 1
    assert "p.png" in error_line(err)
    assert model.read_bytes() == b"old model\n" and not plot.exists()
    assert leftover_temp_files(tmp_path) == []


def test_save_params_and_data_both_land(tmp_path: Path, rng: np.random.Generator) -> None:
    X = rng.standard_normal((40, 2)) * 3 + 1
    src = write_matrix(tmp_path / "d.csv", X, ["a", "b"])
    out, params = tmp_path / "o.csv", tmp_path / "p.json"
    code, _, err = run_main(["normalize", "--scale", "zscore", "--save-params", str(params),
                             str(src), str(out)])
    assert (code, err) == (0, "")
    ref = StandardScaler().fit(X)
    np.testing.assert_allclose(out_matrix(out.read_bytes()), ref.transform(X), rtol=1e-12,
                               atol=1e-14)
    saved = json.loads(params.read_text())
    np.testing.assert_allclose([saved["columns"][c]["mean"] for c in "ab"], ref.mean_,
                               rtol=1e-14)


@pytest.mark.parametrize("args", [
    ["normalize", "--scale", "minmax", "--save-params", "{out}", "{src}", "{out}"],
    ["normalize", "--scale", "minmax", "--save-params", "{src}", "{src}", "{out}"],
    ["normalize", "--scale", "minmax", "--params", "{out}", "{src}", "{out}"],
    ["normalize", "--scale", "minmax", "--params", "{src}", "{src}", "{out}"],
    ["predict", "--model", "{out}", "{src}", "{out}"],
    ["predict", "--model", "{src}", "{src}", "{out}"],
    ["fit", "-y", "a", "--plot", "{out}", "{src}", "{out}"],
    ["fit", "-y", "a", "--plot", "{src}", "{src}", "{out}"],
    ["fit", "-y", "a", "--plot", "{sub}/../o.csv", "{src}", "{out}"],
    ["fit", "-y", "a", "--path", "{sub}/../p.csv", "--plot", "{sub}/../p.csv", "{src}", "{out}"],
])
def test_side_file_naming_the_input_or_output_is_refused(tmp_path: Path, args: list[str]) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n3,4\n5,7\n")
    src2 = tmp_path / "d2.csv"
    src2.write_text("a,b\n1,2\n3,4\n5,7\n")
    (tmp_path / "sub").mkdir()
    out = tmp_path / "o.csv"
    out.write_text("old\n")
    before = src.read_bytes()
    code, _, err = run_main([a.format(src=src, src2=src2, out=out, sub=tmp_path / "sub")
                             for a in args])
    assert code == 2
    assert "same file" in error_line(err)
    assert out.read_text() == "old\n" and src.read_bytes() == before
    assert leftover_temp_files(tmp_path) == []


def test_side_files_naming_each_other_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n3,4\n")
    p = tmp_path / "p.json"
    code, _, err = run_main(["normalize", "--scale", "minmax", "--params", str(p),
                             "--save-params", str(tmp_path / "." / "p.json"), str(src),
                             str(tmp_path / "o.csv")])
    assert code == 2 and "--save-params" in error_line(err) and "--params" in err


@pytest.mark.parametrize("kind", ["fifo", "chardev"])
def test_an_output_that_is_not_a_file_is_written_in_place(tmp_path: Path, kind: str) -> None:
    """Renaming over /dev/null or a FIFO would replace it with a regular file (as root, for
    /dev/null, the whole system's)."""
    src = tmp_path / "d.csv"
    src.write_text("a,b\n3,4\n0,5\n")
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        try:
            os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null
            open(target, "wb").close()
        except OSError:
            pytest.skip("cannot make a device node here")
    reader = os.open(target, os.O_RDONLY | os.O_NONBLOCK) if kind == "fifo" else None
    proc = subprocess.Popen([*CMD, "normalize", "--output-format", "csv", str(src),
                             str(target)], stderr=subprocess.PIPE, env=_env())
    got = bytearray()
    if reader is not None:
        os.set_blocking(reader, True)
        while True:
            select.select([reader], [], [], 5.0)
            piece = os.read(reader, 4096)
            if not piece and proc.poll() is not None:
                break
            got += piece
        os.close(reader)
    assert proc.stderr is not None
    assert (proc.wait(timeout=60), proc.stderr.read()) == (0, b"")
    mode = os.stat(target).st_mode
    assert stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode)
    if kind == "fifo":
        assert bytes(got) == b"a,b\n0.6,0.8\n0,1\n"
    assert leftover_temp_files(tmp_path) == []


# -- item 6: closed standard descriptors -------------------------------------------------------
def _shell(redirect: str, args: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["bash", "-c", f'"$@" {redirect}', "bash", *CMD, *args],
                          capture_output=True, env=_env(), timeout=120, **kw)


def test_closed_stderr_runs_normally(tmp_path: Path, rng: np.random.Generator) -> None:
    X = rng.standard_normal((30, 3))
    src = write_matrix(tmp_path / "d.csv", X)
    out = tmp_path / "o.csv"
    p = _shell("2>&-", ["normalize", str(src), str(out)])
    assert p.returncode == 0
    np.testing.assert_allclose(out_matrix(out.read_bytes()), normalize(X), rtol=1e-15)


def test_closed_stderr_failure_keeps_its_status_and_no_file(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n3,4\n5,x\n")
    out = tmp_path / "o.csv"
    p = _shell("2>&-", ["normalize", "--chunk-rows", "1", str(src), str(out)])
    assert p.returncode == 1
    assert not out.exists() and leftover_temp_files(tmp_path) == []


def test_closed_stdout_is_an_error_for_output_to_stdout(tmp_path: Path) -> None:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n")
    p = _shell(">&-", ["normalize", str(src)])
    assert p.returncode == 1
    lines = _lines(p.stderr)
    assert len(lines) == 1 and "standard output is closed" in lines[0]
    p = _shell(">&-", ["normalize", str(src), str(tmp_path / "o.csv")])
    assert (p.returncode, p.stderr) == (0, b"")
    assert (tmp_path / "o.csv").read_text() == "a,b\n0.4472135954999579,0.8944271909999159\n"


def test_closed_stdin_is_a_usage_error(tmp_path: Path) -> None:
    p = _shell("<&-", ["normalize", "-", str(tmp_path / "o.csv")])
    assert p.returncode == 2
    lines = _lines(p.stderr)
    assert len(lines) == 1 and "standard input is closed" in lines[0]
    assert not (tmp_path / "o.csv").exists()


def test_failing_stderr_does_not_fail_a_committed_run(tmp_path: Path) -> None:
    """fit's dropped-rows note goes to a full stderr: the model is written and the status is 0
    (the run did not fail after committing its output)."""
    src = tmp_path / "d.csv"
    src.write_text("x,y\n1,2\n2,4.5\n,1\n3,6\n4,8.5\n")
    model = tmp_path / "m.json"
    with open("/dev/full", "wb") as full:
        p = subprocess.run([*CMD, "fit", "-y", "y", "--penalty", "none", "--drop-missing",
                            str(src), str(model)], stderr=full, env=_env(), timeout=120)
    assert p.returncode == 0
    rep = json.loads(model.read_text())
    coef = np.polyfit([1, 2, 3, 4], [2, 4.5, 6, 8.5], 1)
    np.testing.assert_allclose([rep["coefficients"]["x"], rep["intercept"]], coef, rtol=1e-10,
                               atol=1e-12)


# -- item 7 and the output side of "signals in every blocking call" --------------------------
def _pipe_full(fd: int) -> bool:
    size = fcntl.fcntl(fd, 1032)  # F_GETPIPE_SZ
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder) >= size // 2  # pages may be partly filled


@pytest.mark.parametrize("blocking", [True, False])
@pytest.mark.parametrize("sig,code", [(signal.SIGHUP, 129), (signal.SIGTERM, 143)])
def test_signal_while_stdout_is_full(tmp_path: Path, data: Any, blocking: bool, sig: int,
                                     code: int) -> None:
    """Nobody reads standard output: normcli waits in a write (or in poll, for a non-blocking
    pipe) and a signal still ends it, removing the --save-params temporary file."""
    src, _ = data
    r, w = os.pipe()
    os.set_blocking(w, blocking)
    proc = subprocess.Popen([*CMD, "normalize", "--axis", "columns", "--save-params",
                             str(tmp_path / "p.json"), str(src)], stdout=w,
                            stderr=subprocess.PIPE, env=_env())
    os.close(w)
    try:
        deadline = time.monotonic() + 60
        while not _pipe_full(r):
            assert proc.poll() is None, "normcli ended while its output was not read"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(sig)
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == code
    finally:
        os.close(r)
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith("normcli: error: ")
    assert os.listdir(tmp_path) == []


def _has_file_in(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` has a file in ``folder`` open (the stdin spool has no name:
    its descriptor's link reads ``folder/#inode (deleted)``)."""
    fds = f"/proc/{pid}/fd"
    for fd in os.listdir(fds):
        try:
            if os.readlink(f"{fds}/{fd}").startswith(str(folder) + "/"):
                return True
        except OSError:
            pass
    return False


def test_sighup_mid_write_removes_temp_files_and_spool(tmp_path: Path, data: Any) -> None:
    src, _ = data
    spool_dir = tmp_path / "tmp"
    spool_dir.mkdir()
    dest = tmp_path / "out.csv"
    dest.write_bytes(b"before\n")
    # standard input through a pipe we feed: the run is mid-way for as long as we like
    proc = subprocess.Popen([*CMD, "normalize", "--scale", "zscore", "-", str(dest)],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(TMPDIR=str(spool_dir)))
    assert proc.stdin is not None and proc.stderr is not None
    body = src.read_bytes()
    proc.stdin.write(body[: len(body) // 2])
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not _has_file_in(proc.pid, spool_dir):  # the (unnamed) spool is open: reading
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGHUP)
    # (A signal that arrives while normcli waits for standard input is acted on when input
    # comes; that wait is the input side's. Ending the input here makes the test deterministic.)
    proc.stdin.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 129
    lines = _lines(err)
    assert len(lines) == 1 and lines[0].startswith("normcli: error: ")
    assert dest.read_bytes() == b"before\n"
    assert leftover_temp_files(tmp_path) == [] and os.listdir(spool_dir) == []


def _ignore_hup() -> None:  # pragma: no cover - runs in the child
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def test_sighup_ignored_by_nohup_stays_ignored(tmp_path: Path, data: Any) -> None:
    src, X = data
    dest = tmp_path / "out.csv"
    proc = subprocess.Popen([*CMD, "normalize", "-", str(dest)], stdin=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(), preexec_fn=_ignore_hup)
    assert proc.stdin is not None and proc.stderr is not None
    body = src.read_bytes()
    proc.stdin.write(body[: len(body) // 2])
    proc.stdin.flush()
    proc.send_signal(signal.SIGHUP)
    proc.stdin.write(body[len(body) // 2:])
    proc.stdin.close()
    assert (proc.wait(timeout=120), proc.stderr.read()) == (0, b"")
    np.testing.assert_allclose(out_matrix(dest.read_bytes()), normalize(X), rtol=1e-15)


# -- item 8: hostile side files ---------------------------------------------------------------
@pytest.fixture
def small(tmp_path: Path) -> Path:
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n3,4\n")
    return src


@pytest.mark.parametrize("text,expect", [
    ("{}", "'coefficients' is a required property"),
    ('{"coefficients": []}', "at coefficients: [] is not of type 'object'"),
    ('{"coefficients": {"a": 1}, "intercept": "5"}', "at intercept: '5' is not of type"),
    ('{"coefficients": {"a": true}, "intercept": 5}', "at coefficients/a: True is not of type"),
    ('{"coefficients": {"a": NaN}, "intercept": 5}', "at coefficients/a: NaN is not a number"),
    ('{"coefficients": {"a": 1}, "intercept": Infinity}', "at intercept: an infinite value"),
    ('{"coefficients": {"a": 1}, "intercept": 1, "intercept": 2}', "'intercept' appears twice"),
    ('[1, 2]', "is not of type 'object'"),
    ('{"coefficients": {"a": 1},\n "intercept": }', "line 2: not JSON: Expecting value"),
])
def test_bad_model_is_one_line_naming_the_file(tmp_path: Path, small: Path, text: str,
                                               expect: str) -> None:
    model = tmp_path / "m.json"
    model.write_text(text)
    code, out, err = run_main(["predict", "--model", str(model), str(small)])
    assert (code, out) == (1, b"")
    line = error_line(err)
    assert str(model) in line and expect in line, line


SCALER_COL = {"count": 2, "scale": 4.0, "mean_scaled": 0.5, "m2_scaled": 0.125, "min": 1.0,
              "max": 3.0}


@pytest.mark.parametrize("change,expect", [
    ({"kind": "robust"}, "at kind: 'robust' is not one of"),
    ({"columns": []}, "at columns: [] is not of type 'object'"),
    ({"a": {"m2_scaled": -1.0}}, "at columns/a/m2_scaled: -1.0 is less than the minimum of 0"),
    ({"a": {"m2_scaled": float("nan")}}, "at columns/a/m2_scaled: NaN is not a number"),
    ({"a": {"count": -2}}, "at columns/a/count: -2 is less than the minimum of 0"),
    ({"a": {"count": True}}, "at columns/a/count: True is not of type 'integer'"),
    ({"a": {"min": "1"}}, "at columns/a/min: '1' is not of type"),
    ({"a": {"scale": float("inf")}}, "at columns/a/scale: an infinite value"),
    ({"range": [0]}, "at range: [0] is too short"),
])
def test_bad_params_are_one_line_naming_the_file(tmp_path: Path, small: Path,
                                                 change: dict[str, Any], expect: str) -> None:
    doc: dict[str, Any] = {"kind": "zscore", "columns": {"a": dict(SCALER_COL),
                                                         "b": dict(SCALER_COL)}}
    for key, value in change.items():
        if key in ("a", "b"):
            doc["columns"][key].update(value)
        else:
            doc[key] = value
    params = tmp_path / "p.json"
    params.write_text(json.dumps(doc))
    code, out, err = run_main(["normalize", "--scale", "zscore", "--params", str(params),
                               str(small)])
    assert (code, out) == (1, b"")
    line = error_line(err)
    assert str(params) in line and expect in line, line


def test_saved_params_of_every_kind_still_load(tmp_path: Path, small: Path) -> None:
    for args in (["--scale", "zscore"], ["--scale", "minmax", "--range", "-1,1"],
                 ["--scale", "maxabs"], ["--axis", "columns", "--norm", "3"]):
        params = tmp_path / "p.json"
        code, first, err = run_main(["normalize", *args, "--save-params", str(params),
                                     str(small)])
        assert (code, err) == (0, "")
        code, again, err = run_main(["normalize", *args, "--params", str(params), str(small)])
        assert (code, err) == (0, ""), err
        assert again == first


def test_side_file_invalid_utf8_and_deep_nesting(tmp_path: Path, small: Path) -> None:
    model = tmp_path / "m.json"
    model.write_bytes(b'{"coefficients": {"\xff": 1}, "intercept": 0}')
    code, _, err = run_main(["predict", "--model", str(model), str(small)])
    assert code == 1 and "not UTF-8 text (byte 0xff at offset 19)" in error_line(err)
    model.write_text("[" * 200_000 + "]" * 200_000)
    code, _, err = run_main(["predict", "--model", str(model), str(small)])
    assert code == 1 and "nested too deeply" in error_line(err)


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("option", ["--model", "--params"])
def test_endless_side_file_fails_fast_with_its_size_limit(small: Path, option: str) -> None:
    args = (["predict", "--model", "/dev/zero", str(small)] if option == "--model" else
            ["normalize", "--scale", "zscore", "--params", "/dev/zero", str(small)])
    p = subprocess.run([*CMD, *args], capture_output=True, env=_env(), timeout=120,
                       preexec_fn=_limit_memory)
    assert p.returncode == 1
    lines = _lines(p.stderr)
    assert len(lines) == 1 and "/dev/zero: larger than 64 MB" in lines[0], lines


def test_sigterm_while_reading_a_side_file(tmp_path: Path, small: Path) -> None:
    fifo = tmp_path / "m.json"
    os.mkfifo(fifo)
    proc = subprocess.Popen([*CMD, "predict", "--model", str(fifo), str(small)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    with open(fifo, "wb") as fh:  # returns once normcli has opened it
        fh.write(b'{"coefficients": {')
        fh.flush()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    # (flaky once under heavy load, not reproduced: the message says what happened)
    assert proc.returncode == 143 and out == b"", (proc.returncode, out, err)
    assert len(_lines(err)) == 1, err


# -- a one-column CSV output with missing or empty cells ------------------------------------------
@pytest.mark.parametrize("args, stdin, want", [
    # a missing norm (a row with no present cell), among others
    (["norm", "--only", "--columns", "a", "-"], "a,b\n1,2\n,3\n-4,1\n", [1.0, None, 4.0]),
    # a one-column input: the missing cell stays missing
    (["normalize", "-"], "a\n1\nNA\n-2\n", [1.0, None, -1.0]),
    (["normalize", "-"], "a\n\"\"\n3\n", [None, 1.0]),
])
def test_one_column_output_keeps_rows_with_missing_cells(args: list[str], stdin: str,
                                                         want: list[float | None]) -> None:
    # Before: the missing cell was an empty line, which CSV readers skip (normcli, pandas) or
    # read as a row of no fields (Python's csv): the row was lost on reading the output back.
    import csv
    import io

    import pandas as pd

    code, out, err = run_main(args, input=stdin)
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out.decode())))
    assert [len(r) for r in rows] == [1] * (len(want) + 1)  # the header and one field a row
    assert [None if r[0] == "" else float(r[0]) for r in rows[1:]] == want
    back = pd.read_csv(io.BytesIO(out)).iloc[:, 0].tolist()
    assert [None if v != v else v for v in back] == want
    # and normcli reads its own output back, row for row
    code, again, err = run_main(["norm", "--only", "-"], input=out.decode())
    assert code == 0, err
    norms = [None if ln in ('""', "") else float(ln) for ln in again.decode().splitlines()[1:]]
    assert norms == [None if w is None else abs(w) for w in want]
