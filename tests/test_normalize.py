"""``normcli normalize`` against scikit-learn / numpy references and hand-worked values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    assert_close,
    error_line,
    invoke,
    out_matrix,
    parse_csv,
    run_main,
    write_csv,
    write_matrix,
)
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler, normalize


def _data(rng: np.random.Generator, n: int = 40, k: int = 4, missing: bool = False) -> np.ndarray:
    X = rng.standard_normal((n, k)) * rng.uniform(0.01, 1000.0, k) + rng.uniform(-50, 50, k)
    X[3] = 0.0  # a zero row
    if missing:
        mask = rng.random((n, k)) < 0.15
        mask[3] = False
        X[mask] = np.nan
    return X


def _sk_normalize_missing(X: np.ndarray, norm: str, axis: int = 1) -> np.ndarray:
    """sklearn's normalize, leaving missing cells out (as 0) and keeping them missing."""
    out = normalize(np.nan_to_num(X, nan=0.0), norm=norm, axis=axis)
    out[np.isnan(X)] = np.nan
    return out


# -- row norms ---------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["l1", "l2", "max", "inf"])
@pytest.mark.parametrize("missing", [False, True])
def test_row_norms_match_sklearn(tmp_path: Path, rng, norm: str, missing: bool) -> None:
    X = _data(rng, missing=missing)
    path = write_matrix(tmp_path / "x.csv", X)
    out = out_matrix(invoke(["normalize", "--norm", norm, str(path)]))
    expected = _sk_normalize_missing(X, "max" if norm == "inf" else norm)
    assert_close(out, expected, rtol=1e-14)


def test_default_norm_is_l2(tmp_path: Path, rng) -> None:
    X = _data(rng)
    path = write_matrix(tmp_path / "x.csv", X)
    assert_close(out_matrix(invoke(["normalize", str(path)])), normalize(X, norm="l2"))


@pytest.mark.parametrize("p", [3.0, 1.5, 7.0])
def test_p_norm_matches_numpy(tmp_path: Path, rng, p: float) -> None:
    X = _data(rng, missing=True)
    path = write_matrix(tmp_path / "x.csv", X)
    out = out_matrix(invoke(["normalize", "--norm", repr(p), str(path)]))
    X0 = np.nan_to_num(X, nan=0.0)
    norms = np.linalg.norm(X0, ord=p, axis=1)
    norms[norms == 0] = 1.0
    expected = X / norms[:, None]
    assert_close(out, expected, rtol=1e-14)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_axis_columns_matches_sklearn(tmp_path: Path, rng, norm: str) -> None:
    X = _data(rng, n=30, k=3)
    X[:, 1] = 0.0  # a zero column stays zero
    path = write_matrix(tmp_path / "x.csv", X)
    out = out_matrix(invoke(["normalize", "--axis", "columns", "--norm", norm, str(path)]))
    assert_close(out, normalize(X, norm=norm, axis=0), rtol=1e-14)
    assert np.all(out[:, 1] == 0.0)


def test_axis_columns_missing_and_chunks(tmp_path: Path, rng) -> None:
    X = _data(rng, n=25, k=3, missing=True)
    path = write_matrix(tmp_path / "x.csv", X)
    out = out_matrix(invoke(["normalize", "--axis", "columns", "--chunk-rows", "4", str(path)]))
    assert_close(out, _sk_normalize_missing(X, "l2", axis=0), rtol=1e-14)


def test_zero_rows_stay_zero(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "z.csv", ["a", "b", "c"], [["0", "0", "0"], ["0", "-0", "0.0"],
                                                           ["1", "0", "0"]])
    for norm in ("l1", "l2", "max", "3"):
        out = out_matrix(invoke(["normalize", "--norm", norm, str(path)]))
        assert np.array_equal(out, [[0, 0, 0], [0, 0, 0], [1, 0, 0]])
        assert np.isfinite(out).all()


def test_hand_values(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "h.csv", ["x", "y"], [["3", "4"], ["-6", "8"]])
    assert parse_csv(invoke(["normalize", str(path)]))[1:] == [["0.6", "0.8"], ["-0.6", "0.8"]]
    l1 = out_matrix(invoke(["normalize", "--norm", "l1", str(path)]))
    assert l1.tolist() == [[3 / 7, 4 / 7], [-6 / 14, 8 / 14]]
    mx = out_matrix(invoke(["normalize", "--norm", "max", str(path)]))
    assert mx.tolist() == [[0.75, 1.0], [-0.75, 1.0]]


# -- the ends of float64 ---------------------------------------------------------------------
EXTREME_ROWS = [
    ("1e200", "1e200"),
    ("1e-200", "1e-200"),
    ("1e308", "1e308"),
    ("-1e308", "1e308"),
    ("1.7976931348623157e308", "1.7976931348623157e308"),
    ("5e-324", "5e-324"),
    ("2.2250738585072014e-308", "2.2250738585072014e-308"),
    ("1e-310", "-1e-310"),
]


@pytest.mark.parametrize("row", EXTREME_ROWS)
def test_extreme_rows_l2_exact(tmp_path: Path, row: tuple[str, str]) -> None:
    path = write_csv(tmp_path / "e.csv", ["a", "b"], [list(row)])
    out = parse_csv(invoke(["normalize", str(path)]))
    expected = [("-" if v.startswith("-") else "") + "0.7071067811865475" for v in row]
    assert out[1] == expected


@pytest.mark.parametrize("norm,value", [("l1", 0.5), ("max", 1.0), ("3", 2 ** (-1 / 3))])
@pytest.mark.parametrize("mag", ["1e200", "1e-200", "1e308", "5e-324", "1e-320"])
def test_extreme_rows_other_norms(tmp_path: Path, norm: str, value: float, mag: str) -> None:
    path = write_csv(tmp_path / "e.csv", ["a", "b"], [[mag, mag]])
    out = out_matrix(invoke(["normalize", "--norm", norm, str(path)]))
    np.testing.assert_allclose(out, [[value, value]], rtol=2e-16)


def test_never_nan_or_inf_from_finite_input(tmp_path: Path, rng) -> None:
    mags = 10.0 ** rng.uniform(-320, 308, size=(60, 3))
    X = mags * rng.choice([-1.0, 1.0], size=mags.shape)
    X[5] = [np.finfo(float).max, -np.finfo(float).max, np.finfo(float).max]
    X[6] = [5e-324, 0.0, -5e-324]
    X[7] = [1e308, 1e-308, 5e-324]
    path = write_matrix(tmp_path / "x.csv", X)
    for args in (["--norm", "l1"], ["--norm", "l2"], ["--norm", "max"], ["--norm", "3"],
                 ["--axis", "columns"], ["--axis", "columns", "--norm", "l1"],
                 ["--scale", "minmax"], ["--scale", "zscore"], ["--scale", "maxabs"]):
        out = out_matrix(invoke(["normalize", *args, str(path)]))
        assert np.isfinite(out).all(), args
        if args[0] == "--norm":
            p = {"l1": 1, "l2": 2, "max": np.inf, "3": 3}[args[1]]
            # norm of each normalized row is 1 (rows are not zero here)
            m = np.abs(out).max(axis=1, keepdims=True)
            norms = m[:, 0] * np.linalg.norm(out / m, ord=p, axis=1)
            np.testing.assert_allclose(norms, 1.0, rtol=1e-14)


def test_large_row_matches_reference_direction(tmp_path: Path, rng) -> None:
    """Rows at 1e300 scale give the same direction as the same row at scale 1."""
    base = rng.uniform(-1, 1, size=(10, 4))
    big = base * 2.0**990  # exact scaling
    small = base * 2.0**-1000
    for X in (big, small):
        path = write_matrix(tmp_path / "x.csv", X)
        out = out_matrix(invoke(["normalize", str(path)]))
        assert_close(out, normalize(base), rtol=1e-15, atol=1e-16)


# -- per-column scalers ----------------------------------------------------------------------
def _scaler_data(rng: np.random.Generator) -> np.ndarray:
    X = _data(rng, n=50, k=4, missing=True)
    X[:, 2] = 7.25  # constant column
    X[[4, 9], 2] = np.nan
    return X


@pytest.mark.parametrize("scale,ref", [("minmax", MinMaxScaler()), ("zscore", StandardScaler()),
                                       ("maxabs", MaxAbsScaler())])
@pytest.mark.parametrize("chunk", [None, "7"])
def test_scalers_match_sklearn(tmp_path: Path, rng, scale: str, ref, chunk: str | None) -> None:
    X = _scaler_data(rng)
    path = write_matrix(tmp_path / "x.csv", X)
    args = ["normalize", "--scale", scale, str(path)]
    if chunk:
        args[1:1] = ["--chunk-rows", chunk]
    out = out_matrix(invoke(args))
    expected = ref.fit_transform(X)
    assert_close(out, expected, rtol=1e-13, atol=1e-15)


def test_constant_columns(tmp_path: Path) -> None:
    rows = [["5", "1"], ["5", "2"], ["", "3"], ["5", "4"]]
    path = write_csv(tmp_path / "c.csv", ["a", "b"], rows)
    mm = out_matrix(invoke(["normalize", "--scale", "minmax", "--range", "-2,3", str(path)]))
    assert mm[[0, 1, 3], 0].tolist() == [-2.0, -2.0, -2.0]
    assert math.isnan(mm[2, 0])
    z = out_matrix(invoke(["normalize", "--scale", "zscore", str(path)]))
    assert z[[0, 1, 3], 0].tolist() == [0.0, 0.0, 0.0]
    assert math.isnan(z[2, 0])
    ref = StandardScaler().fit_transform(np.array([[1.0], [2], [3], [4]]))
    assert_close(z[:, 1:], ref, rtol=1e-15)


def test_minmax_range(tmp_path: Path, rng) -> None:
    X = _scaler_data(rng)
    path = write_matrix(tmp_path / "x.csv", X)
    out = out_matrix(invoke(["normalize", "--scale", "minmax", "--range", "-1,1", str(path)]))
    assert_close(out, MinMaxScaler(feature_range=(-1, 1)).fit_transform(X), rtol=1e-13,
                 atol=1e-15)


def test_zscore_extreme_values(tmp_path: Path) -> None:
    """Huge values must not overflow the variance: 1e300 +- 1e299 has z-scores +-1."""
    path = write_csv(tmp_path / "x.csv", ["a", "b"],
                     [["1.1e300", "1e-300"], ["0.9e300", "3e-300"]])
    out = out_matrix(invoke(["normalize", "--scale", "zscore", str(path)]))
    np.testing.assert_allclose(out, [[1, -1], [-1, 1]], rtol=1e-14)


# -- --save-params / --params ----------------------------------------------------------------
@pytest.mark.parametrize("scale,make", [
    ("minmax", lambda: MinMaxScaler()),
    ("zscore", lambda: StandardScaler()),
    ("maxabs", lambda: MaxAbsScaler()),
])
def test_params_round_trip(tmp_path: Path, rng, scale: str, make) -> None:
    A = _scaler_data(rng)
    B = rng.standard_normal((20, 4)) * 300.0
    B[2, 1] = np.nan
    pa_ = write_matrix(tmp_path / "a.csv", A)
    pb = write_matrix(tmp_path / "b.csv", B)
    params = tmp_path / "p.json"
    invoke(["normalize", "--scale", scale, "--save-params", str(params), str(pa_)])
    saved = json.loads(params.read_text())
    assert saved["kind"] == scale
    assert list(saved["columns"]) == ["c0", "c1", "c2", "c3"]
    out = out_matrix(invoke(["normalize", "--scale", scale, "--params", str(params), str(pb)]))
    expected = make().fit(A).transform(B)
    assert_close(out, expected, rtol=1e-13, atol=1e-14)


def test_params_minmax_clip(tmp_path: Path) -> None:
    A = np.array([[0.0, 10.0], [5.0, 20.0], [10.0, 30.0]])
    B = np.array([[-5.0, 40.0], [5.0, 15.0], [20.0, 0.0]])
    pa_, pb = write_matrix(tmp_path / "a.csv", A), write_matrix(tmp_path / "b.csv", B)
    params = tmp_path / "p.json"
    invoke(["normalize", "--scale", "minmax", "--range", "-1,1", "--save-params", str(params),
            str(pa_)])
    for clip in (False, True):
        args = ["normalize", "--scale", "minmax", "--range", "-1,1", "--params", str(params),
                str(pb)] + (["--clip"] if clip else [])
        out = out_matrix(invoke(args))
        ref = MinMaxScaler(feature_range=(-1, 1), clip=clip).fit(A).transform(B)
        assert_close(out, ref, rtol=1e-15)
    assert out.min() == -1.0 and out.max() == 1.0


def test_params_axis_columns(tmp_path: Path, rng) -> None:
    A = _data(rng, n=20, k=3)
    B = _data(rng, n=10, k=3)
    pa_, pb = write_matrix(tmp_path / "a.csv", A), write_matrix(tmp_path / "b.csv", B)
    params = tmp_path / "p.json"
    invoke(["normalize", "--axis", "columns", "--save-params", str(params), str(pa_)])
    out = out_matrix(invoke(["normalize", "--axis", "columns", "--params", str(params), str(pb)]))
    assert_close(out, B / np.linalg.norm(A, axis=0)[None, :], rtol=1e-14)


def test_params_streams_stdin(tmp_path: Path) -> None:
    A = np.array([[1.0], [3.0]])
    params = tmp_path / "p.json"
    invoke(["normalize", "--scale", "zscore", "--save-params", str(params),
            str(write_matrix(tmp_path / "a.csv", A))])
    out = out_matrix(invoke(["normalize", "--scale", "zscore", "--params", str(params), "-"],
                            input=b"c0\n2\n5\n"))
    assert out.tolist() == [[0.0], [3.0]]


def test_params_column_mismatch_exits_1_naming_column(tmp_path: Path) -> None:
    params = tmp_path / "p.json"
    invoke(["normalize", "--scale", "zscore", "--save-params", str(params),
            str(write_csv(tmp_path / "a.csv", ["x", "y"], [["1", "2"], ["3", "5"]]))])
    other = write_csv(tmp_path / "b.csv", ["x", "weight"], [["1", "2"], ["3", "5"]])
    code, out, err = run_main(["normalize", "--scale", "zscore", "--params", str(params),
                               str(other)])
    assert code == 1
    assert "'y'" in error_line(err)
    # naming the columns explicitly: the new one has no statistics
    code, out, err = run_main(["normalize", "--scale", "zscore", "--params", str(params),
                               "--columns", "x,weight", str(other)])
    assert code == 1
    assert "'weight'" in error_line(err)


def test_params_not_json_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    data = write_csv(tmp_path / "a.csv", ["x"], [["1"]])
    code, _, err = run_main(["normalize", "--scale", "zscore", "--params", str(bad), str(data)])
    assert code == 1
    assert "p.json" in error_line(err)


# -- usage errors ----------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["--norm", "0.5"],
    ["--norm", "banana"],
    ["--range", "1,0"],
    ["--range", "1"],
    ["--axis", "diagonal"],
    ["--scale", "robust"],
    ["--chunk-rows", "0"],
])
def test_bad_options_exit_2(tmp_path: Path, args: list[str]) -> None:
    data = write_csv(tmp_path / "a.csv", ["x"], [["1"]])
    code, out, err = run_main(["normalize", *args, str(data)])
    assert code == 2, err
    error_line(err)
    assert out == b""
