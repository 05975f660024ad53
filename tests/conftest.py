"""Shared helpers for the normalize / norm / I/O tests.

Helpers run the command in-process: :func:`invoke` through click's ``CliRunner`` on ``cli`` (for
successful runs), :func:`run_main` through ``normcli.cli.main`` (which turns errors into one
``normcli: error: ...`` line and an exit status).
"""

from __future__ import annotations

import csv
import io
import math
import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from normcli.cli import cli, main


def invoke(args: Sequence[str], input: bytes | str | None = None) -> bytes:
    """Run ``normcli ARGS`` with CliRunner; it must succeed and print nothing on stderr."""
    runner = CliRunner()
    result = runner.invoke(cli, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    assert result.stderr_bytes == b"", result.stderr
    return result.stdout_bytes


def run_main(args: Sequence[str], input: bytes | str | None = None) -> tuple[int, bytes, str]:
    """Run ``normcli.cli.main(ARGS)``: (exit status, stdout bytes, stderr text)."""
    runner = CliRunner()
    old_term = signal.getsignal(signal.SIGTERM)
    try:
        with runner.isolation(input=input) as (out, err, _):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            else:  # pragma: no cover - main always exits
                code = 0
            stdout, stderr = out.getvalue(), err.getvalue()
    finally:
        signal.signal(signal.SIGTERM, old_term)
    return code, stdout, stderr.decode("utf-8", "replace")


def error_line(stderr: str) -> str:
    """The single error line on stderr (asserting there is exactly one, and no traceback)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("normcli: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def fmt(v: float) -> str:
    """A cell for a CSV file: shortest round-trip text, empty for NaN (missing)."""
    return "" if isinstance(v, float) and math.isnan(v) else repr(float(v))


def write_csv(path: Path, header: Sequence[str] | None, rows: Sequence[Sequence[object]],
              delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        if header is not None:
            w.writerow(header)
        for row in rows:
            w.writerow([fmt(v) if isinstance(v, float) else v for v in row])
    return path


def write_matrix(path: Path, X: np.ndarray, names: Sequence[str] | None = None) -> Path:
    names = list(names) if names is not None else [f"c{j}" for j in range(X.shape[1])]
    return write_csv(path, names, [[float(v) for v in row] for row in X])


def parse_csv(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


def to_float(cells: Sequence[Sequence[str]]) -> np.ndarray:
    return np.array([[float(c) if c != "" else np.nan for c in row] for row in cells],
                    dtype=np.float64).reshape(len(cells), -1)


def out_matrix(data: bytes, columns: Sequence[str] | None = None,
               delimiter: str = ",") -> np.ndarray:
    """The numbers of an output CSV (header first); empty cells are NaN."""
    rows = parse_csv(data, delimiter)
    header, body = rows[0], rows[1:]
    idx = range(len(header)) if columns is None else [header.index(c) for c in columns]
    return to_float([[r[i] for i in idx] for r in body])


def assert_same_nan(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-14,
                 atol: float = 0.0) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    assert_same_nan(actual, expected)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


def leftover_temp_files(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith(".normcli-tmp")]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


BIG_ROWS = 2_000_000


@pytest.fixture(scope="session")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV large enough (about 2M rows, ~60 MB) that normalizing it takes more than a second."""
    folder = tmp_path_factory.mktemp("big")
    path = folder / "big.csv"
    rng = np.random.default_rng(7)
    block = 200_000
    with open(path, "wb") as fh:
        fh.write(b"a,b,c,label\n")
        for start in range(0, BIG_ROWS, block):
            X = rng.integers(-99999, 99999, size=(block, 3))
            lines = "\n".join(f"{a},{b},{c},r{start + i}" for i, (a, b, c) in enumerate(X))
            fh.write(lines.encode() + b"\n")
    return path


# -- servers on the loopback interface: S3 (moto) and plain HTTP -------------------------------
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/normcli-test-aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/normcli-test-aws-credentials",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint (moto's threaded server) on 127.0.0.1, for the whole session."""
    import logging

    server_mod = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class S3Bucket:
    """A fresh bucket on the test endpoint, with boto3 helpers to put and look at objects."""

    def __init__(self, endpoint: str, name: str) -> None:
        import boto3

        self.name = name
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                   aws_access_key_id="testing", aws_secret_access_key="testing")
        self.client.create_bucket(Bucket=name)

    def url(self, key: str = "") -> str:
        return f"s3://{self.name}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return body

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name,
                                                                       Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """The environment pointed at the test endpoint (also for subprocesses), and a new bucket."""
    import uuid

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(key, raising=False)
    return S3Bucket(s3_endpoint, f"normcli-{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, folder) of a plain HTTP server on 127.0.0.1 serving that folder."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path_factory.mktemp("http")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def fail_json_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every JSON output (``--save-params``, a model) fail as a full disk would, at the
    moment the run's outputs are finished: the commit-group tests' fault."""
    from normcli.errors import NormcliError
    from normcli.io.writer import Destination

    real_finish = Destination.finish

    def finish(self: Destination) -> None:
        if self.fmt == "json":
            self.abort()
            raise NormcliError(f"{self.path}: cannot write: No space left on device")
        real_finish(self)

    monkeypatch.setattr(Destination, "finish", finish)
