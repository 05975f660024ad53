"""URLs: s3:// against a real S3 endpoint on 127.0.0.1 (moto's server), http:// against a local
http.server. The reference is the same command on the same bytes as local files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import S3Bucket, error_line, invoke, run_main, write_csv
from sklearn.preprocessing import StandardScaler

CMD = [sys.executable, "-m", "normcli"]


def _sales(folder: Path, rng: np.random.Generator) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, n in enumerate((40, 25, 35)):
        X = rng.normal(size=(n, 2)) * [3.0, 0.01]
        rows = [[float(a), float(b), f"r{i}-{j}"] for j, (a, b) in enumerate(X)]
        paths.append(write_csv(folder / f"part-{i}.csv", ["price", "qty", "id"], rows))
    return paths


def _upload(s3: S3Bucket, prefix: str, paths: list[Path]) -> None:
    for p in paths:
        s3.put(f"{prefix}{p.name}", p.read_bytes())


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ)  # the s3 fixture set the endpoint and credentials
    return subprocess.run([*CMD, *args], capture_output=True, env=env, timeout=120)


@pytest.mark.slow
def test_zscore_s3_prefix_to_a_local_folder(tmp_path: Path, s3: S3Bucket,
                                            rng: np.random.Generator) -> None:
    """The issue's example, as a real process: normalize --scale zscore 's3://bucket/sales/' out/"""
    local = tmp_path / "sales"
    paths = _sales(local, rng)
    _upload(s3, "sales/", paths)
    out = tmp_path / "out"
    p = _run(["normalize", "--scale", "zscore", s3.url("sales/"), str(out) + "/"])
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""
    assert sorted(os.listdir(out)) == ["part-0.csv", "part-1.csv", "part-2.csv"]
    ref = tmp_path / "ref"
    invoke(["normalize", "--scale", "zscore", str(local), str(ref) + "/"])
    for name in os.listdir(out):
        assert (out / name).read_bytes() == (ref / name).read_bytes()
    got = np.vstack([np.loadtxt(out / f"part-{i}.csv", delimiter=",", skiprows=1,
                                usecols=(0, 1)) for i in range(3)])
    raw = np.vstack([np.loadtxt(p, delimiter=",", skiprows=1, usecols=(0, 1)) for p in paths])
    np.testing.assert_allclose(got, StandardScaler().fit_transform(raw), rtol=1e-13, atol=1e-15)


def test_s3_object_output_is_atomic(tmp_path: Path, s3: S3Bucket) -> None:
    src = write_csv(tmp_path / "in.csv", ["a", "b"], [[3.0, 4.0], [1.0, 0.0]])
    code, out, err = run_main(["normalize", str(src), s3.url("res/out.csv")])
    assert code == 0, err
    assert s3.get("res/out.csv") == invoke(["normalize", str(src)])
    assert [k for k in s3.keys() if not k.endswith("/")] == ["res/out.csv"]  # "/": markers
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n" + "1,2\n" * 5000 + "x,2\n")
    code, _, err = run_main(["normalize", "--chunk-rows", "100", str(bad),
                             s3.url("res/new.csv")])
    assert code == 1
    assert "line 5002" in error_line(err)
    assert [k for k in s3.keys() if not k.endswith("/")] == ["res/out.csv"]  # no partial, no tmp
    # the old object is untouched by a failed run over it
    code, _, _ = run_main(["normalize", "--chunk-rows", "100", str(bad), s3.url("res/out.csv")])
    assert code == 1
    assert s3.get("res/out.csv") == invoke(["normalize", str(src)])


def test_s3_folder_output_and_parquet_input(tmp_path: Path, s3: S3Bucket,
                                            rng: np.random.Generator) -> None:
    for year in (2025, 2026):
        t = pa.table({"x": rng.normal(size=30), "y": rng.normal(size=30)})
        buf = pa.BufferOutputStream()
        pq.write_table(t, buf, row_group_size=10)
        s3.put(f"data/year={year}/part-0.parquet", buf.getvalue().to_pybytes())
    code, _, err = run_main(["normalize", "--scale", "minmax", s3.url("data/"),
                             s3.url("scaled/")])
    assert code == 0, err
    assert [k for k in s3.keys("scaled") if not k.endswith("/")] == [
        "scaled/year=2025/part-0.parquet", "scaled/year=2026/part-0.parquet"]
    assert not [k for k in s3.keys() if "normcli-tmp" in k]
    back = pq.read_table(pa.BufferReader(s3.get("scaled/year=2026/part-0.parquet")))
    assert back.column_names == ["x", "y"]
    # minmax over both parts together: each column's overall min is 0 and max is 1
    both = np.concatenate([
        pq.read_table(pa.BufferReader(s3.get(f"scaled/year={y}/part-0.parquet")))
        .column("x").to_numpy() for y in (2025, 2026)])
    assert both.min() == 0.0 and both.max() == 1.0


def test_fit_from_s3_glob_to_s3_model(tmp_path: Path, s3: S3Bucket,
                                      rng: np.random.Generator) -> None:
    local = tmp_path / "sales"
    paths = _sales(local, rng)
    _upload(s3, "in/", paths)
    s3.put("in/readme.txt", b"not data")
    args = ["fit", "-y", "price", "--exclude", "id", "--penalty", "l1", "--cv", "3"]
    code, _, err = run_main([*args, s3.url("in/*.csv"), s3.url("models/m.json")])
    assert code == 0, err
    ref = tmp_path / "m.json"
    invoke([*args, str(local / "*.csv"), str(ref)])
    assert json.loads(s3.get("models/m.json")) == json.loads(ref.read_text())


def test_s3_errors_are_one_line(s3: S3Bucket) -> None:
    code, _, err = run_main(["normalize", s3.url("missing/")])
    assert code == 2 and "no such file or folder" in error_line(err)
    code, _, err = run_main(["normalize", "s3://"])
    assert code == 2 and "no bucket" in error_line(err)
    s3.put("a/x.csv", b"v\n1\n")
    code, _, err = run_main(["normalize", s3.url("a/x.csv"), "https://example.invalid/o.csv"])
    assert code == 2 and "cannot write to a https:// URL" in error_line(err)
    s3.put("a/bad.csv", b"v\n1\n2\nnope\n")
    code, _, err = run_main(["normalize", "--chunk-rows", "2", s3.url("a/bad.csv")])
    assert code == 1
    assert error_line(err) == (f"normcli: error: {s3.url('a/bad.csv')}, line 4, column 'v': "
                               "not a number: 'nope'")


def test_http_csv_and_parquet(tmp_path: Path, http_root: tuple[str, Path],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    base, root = http_root
    src = write_csv(root / "h.csv", ["a", "b", "t"], [[3.0, 4.0, "x"], [6.0, 8.0, "y"]])
    assert invoke(["normalize", f"{base}/h.csv"]) == invoke(["normalize", str(src)])
    pq.write_table(pa.table({"a": [3.0, 1.0], "b": [4.0, 0.0]}), root / "h.parquet")
    assert invoke(["norm", f"{base}/h.parquet"]) == invoke(["norm", str(root / "h.parquet")])
    assert invoke(["norm", f"{base}/h.parquet"]) == b"a,b,norm\n3,4,5\n1,0,1\n"
    code, _, err = run_main(["normalize", "--scale", "zscore", f"{base}/missing.csv"])
    assert code == 1
    assert error_line(err) == f"normcli: error: {base}/missing.csv: cannot read: HTTP 404 " \
                              "File not found"


@pytest.mark.slow
def test_http_two_passes_in_a_process(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    src = write_csv(root / "z.csv", ["a"], [[float(i)] for i in range(1000)])
    env = dict(os.environ, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    p = subprocess.run([*CMD, "normalize", "--scale", "zscore", f"{base}/z.csv"],
                       capture_output=True, env=env, timeout=120)
    assert p.returncode == 0 and p.stderr == b""
    assert p.stdout == invoke(["normalize", "--scale", "zscore", str(src)])


def test_a_failed_run_leaves_nothing_in_the_bucket(tmp_path: Path, s3: S3Bucket) -> None:
    s3.put("in/a.csv", b"v\n" + b"1\n" * 50)
    s3.put("in/b.csv", b"v\n1\n2\nbad\n")
    code, _, err = run_main(["normalize", "--scale", "zscore", "--chunk-rows", "10",
                             "--save-params", s3.url("p.json"), s3.url("in/"), s3.url("out/")])
    assert code == 1
    assert error_line(err) == (f"normcli: error: {s3.url('in/b.csv')}, line 4, column 'v': "
                               "not a number: 'bad'")
    assert [k for k in s3.keys() if not k.endswith("/")] == ["in/a.csv", "in/b.csv"]
    s3.put("in/b.csv", b"v\n1\n2\n3\n")
    code, _, err = run_main(["normalize", "--scale", "zscore", "--save-params", s3.url("p.json"),
                             s3.url("in/"), s3.url("out/")])
    assert code == 0, err
    assert [k for k in s3.keys() if not k.endswith("/")] == [
        "in/a.csv", "in/b.csv", "out/a.csv", "out/b.csv", "p.json"]
    assert json.loads(s3.get("p.json"))["columns"]["v"]["count"] == 53
