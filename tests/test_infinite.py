"""Infinite values (issue 10, item 4), any real norm order and near-constant columns (item 5).

References: hand-worked limits, numpy.linalg.norm, scikit-learn's scalers on the finite cells.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, out_matrix, write_csv
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from normcli.kernels import ColumnNorms, row_norms
from normcli.scalers import ColumnStats, Scaler

INF = math.inf


# ------------------------------------------------------------------ rows: the issue's example
@pytest.mark.parametrize("norm", ["l1", "l2", "3", "max", "0.5e1"])
def test_issue_row_inf_1_2(tmp_path: Path, norm: str) -> None:
    path = write_csv(tmp_path / "i.csv", ["a", "b", "c"], [["inf", "1", "2"], ["1", "-inf", "2"]])
    got = out_matrix(invoke(["normalize", "--norm", norm, str(path)]))
    np.testing.assert_array_equal(got, [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


@pytest.mark.parametrize("norm,value", [("l1", 1 / 3), ("l2", 1 / math.sqrt(3)),
                                        ("3", 3 ** (-1 / 3)), ("max", 1.0)])
def test_several_infinite_cells_share_the_norm(tmp_path: Path, norm: str, value: float) -> None:
    """Limit of x / ||x|| when the infinite cells grow at one rate: the ±1 vector normalized."""
    path = write_csv(tmp_path / "i.csv", ["a", "b", "c", "d", "e"],
                     [["inf", "-inf", "7", "inf", ""]])
    got = out_matrix(invoke(["normalize", "--norm", norm, str(path)]))
    t = np.array([1.0, -1.0, 1.0])
    order = {"l1": 1.0, "l2": 2.0, "3": 3.0, "max": np.inf}[norm]
    limit = t / np.linalg.norm(t, ord=order)
    np.testing.assert_allclose(got[0, [0, 1, 3]], limit, rtol=1e-15)
    assert got[0, 2] == 0.0 and math.isnan(got[0, 4])
    assert abs(got[0, 0]) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("norm", ["l1", "l2", "3", "max"])
def test_axis_columns_with_inf(tmp_path: Path, norm: str) -> None:
    path = write_csv(tmp_path / "i.csv", ["a", "b"], [["1", "-inf"], ["inf", "2"], ["3", "4"]])
    got = out_matrix(invoke(["normalize", "--axis", "columns", "--norm", norm, str(path)]))
    np.testing.assert_array_equal(got, [[0.0, -1.0], [1.0, 0.0], [0.0, 0.0]])


def test_axis_columns_inf_across_chunks() -> None:
    X = np.array([[1.0, 5.0], [INF, 2.0], [3.0, -INF], [INF, 1.0]])
    acc = ColumnNorms(2, 2.0)
    for i in range(4):
        acc.update(X[i : i + 1])
    out = acc.divide(X)
    h = 1 / math.sqrt(2)
    np.testing.assert_allclose(out, [[0, 0], [h, 0], [0, -1], [h, 0]], rtol=1e-15)
    assert np.all(np.isinf(acc.norms()))


# ------------------------------------------------------------------ scalers
def test_zscore_and_minmax_use_the_finite_cells(tmp_path: Path) -> None:
    rows = [["1", "2"], ["inf", "4"], ["3", "-inf"], ["5", "6"]]
    path = write_csv(tmp_path / "s.csv", ["a", "b"], rows)
    finite_a = np.array([[1.0], [3.0], [5.0]])
    finite_b = np.array([[2.0], [4.0], [6.0]])
    z = out_matrix(invoke(["normalize", "--scale", "zscore", str(path)]))
    np.testing.assert_allclose(z[[0, 2, 3], 0], StandardScaler().fit_transform(finite_a)[:, 0],
                               rtol=1e-15)
    np.testing.assert_allclose(z[[0, 1, 3], 1], StandardScaler().fit_transform(finite_b)[:, 0],
                               rtol=1e-15)
    assert z[1, 0] == INF and z[2, 1] == -INF
    m = out_matrix(invoke(["normalize", "--scale", "minmax", str(path)]))
    np.testing.assert_allclose(m[[0, 2, 3], 0], MinMaxScaler().fit_transform(finite_a)[:, 0])
    assert m[1, 0] == INF and m[2, 1] == -INF
    c = out_matrix(invoke(["normalize", "--scale", "minmax", "--clip", str(path)]))
    assert c[1, 0] == 1.0 and c[2, 1] == 0.0
    a = out_matrix(invoke(["normalize", "--scale", "maxabs", str(path)]))
    np.testing.assert_array_equal(a, [[0, 0], [1, 0], [0, -1], [0, 0]])


def test_wide_range_does_not_overflow(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "r.csv", ["a", "b"], [["-5", "7"], ["0", "7"], ["5", "7"]])
    got = out_matrix(invoke(["normalize", "--scale", "minmax", "--range=-1e308,1e308",
                             str(path)]))
    np.testing.assert_array_equal(got, [[-1e308, -1e308], [0.0, -1e308], [1e308, -1e308]])
    path = write_csv(tmp_path / "s.csv", ["a"], [["1"], ["2"], ["4"]])
    got = out_matrix(invoke(["normalize", "--scale", "minmax", "--range=-1e308,1.7e308",
                             str(path)]))
    t = np.array([0.0, 1 / 3, 1.0])
    np.testing.assert_allclose(got[:, 0], -1e308 * (1 - t) + 1.7e308 * t, rtol=1e-15)
    assert np.all(np.isfinite(got))


def test_params_keep_the_infinite_rule(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["a"], [["1"], ["inf"], ["3"]])
    params = tmp_path / "p.json"
    first = invoke(["normalize", "--scale", "maxabs", "--save-params", str(params), str(path)])
    again = invoke(["normalize", "--scale", "maxabs", "--params", str(params), str(path)])
    assert first == again
    np.testing.assert_array_equal(out_matrix(first)[:, 0], [0.0, 1.0, 0.0])


# ------------------------------------------------------------------ near-constant columns
def test_near_constant_zscore_is_exactly_plus_minus_one(tmp_path: Path) -> None:
    vals = ["1.000000000000001"] * 5 + ["0.999999999999999"] * 5
    path = write_csv(tmp_path / "c.csv", ["a"], [[v] for v in vals])
    for chunk in ("10", "3"):
        got = out_matrix(invoke(["normalize", "--scale", "zscore", "--chunk-rows", chunk,
                                 str(path)]))[:, 0]
        np.testing.assert_allclose(got, [1.0] * 5 + [-1.0] * 5, rtol=1e-14)


def test_compensated_mean_merges_in_any_order() -> None:
    """Columns 1 + k * 2**-50: the z-scores are those of the integers k, whatever the split."""
    rng = np.random.default_rng(5)
    K = rng.integers(-3, 4, (200, 2)).astype(np.float64)
    X = 1.0 + K * 2.0**-50  # exact
    ref = (K - K.mean(axis=0)) / K.std(axis=0)
    for split in (1, 7, 100, 199):
        for s in (ColumnStats.of(X[:split]).merge(ColumnStats.of(X[split:])),
                  ColumnStats.of(X[split:]).merge(ColumnStats.of(X[:split]))):
            z = Scaler("zscore", ["a", "b"], s).transform(X)
            np.testing.assert_allclose(z, ref, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ any real order
@pytest.mark.parametrize("p", [-1.0, -2.0, -0.5, -3.5, 0.5, 0.25])
def test_any_real_order_matches_numpy(p: float) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((30, 6))
    X[3, 2] = 0.0  # a zero: the norm is 0 for negative orders
    X[4, 1] = INF
    for i in range(30):
        row = X[i]
        with np.errstate(divide="ignore", over="ignore"):
            ref = np.linalg.norm(row, ord=p)
        assert row_norms(X[i : i + 1], p)[0] == pytest.approx(ref, rel=1e-13, abs=0.0)
    acc = ColumnNorms(6, p)
    acc.update(X[:11])
    acc.update(X[11:])
    with np.errstate(divide="ignore", over="ignore"):
        ref_cols = [np.linalg.norm(X[:, j], ord=p) for j in range(6)]
    np.testing.assert_allclose(acc.norms(), ref_cols, rtol=1e-13)


def test_negative_order_is_overflow_safe() -> None:
    X = np.array([[1e-300, 1e-300], [1e300, 1e300], [3.0, 4.0]])
    got = row_norms(X, -1.0)
    np.testing.assert_allclose(got, [5e-301, 5e299, 1 / (1 / 3 + 1 / 4)], rtol=1e-15)
    assert row_norms(X, -2.0)[0] == pytest.approx(1e-300 / math.sqrt(2), rel=1e-15)


def test_cli_negative_ord(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "n.csv", ["a", "b", "c"], [["1", "2", "4"], ["0", "3", "1"]])
    got = out_matrix(invoke(["norm", "--ord", "-1", "--only", str(path)]))[:, 0]
    np.testing.assert_allclose(got, [np.linalg.norm([1, 2, 4], -1), 0.0], rtol=1e-15)
