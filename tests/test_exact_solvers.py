"""The default tolerance gives the minimizer (issue 10, item 1), and the ridge grid (item 2).

References: scikit-learn fitted with tol=1e-12 and a large max_iter, and the KKT conditions
evaluated with numpy on the raw rows; never normcli's own output.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression

from normcli.cli import cli
from normcli.regression import GramStats, alpha_grid, cross_validate, fit, fit_path, fold_ids

REF = {"tol": 1e-12, "max_iter": 10_000_000}


def _stats(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, chunk: int = 101
           ) -> GramStats:
    s = GramStats.empty(X.shape[1])
    for i in range(0, len(y), chunk):
        s.update(X[i : i + chunk], y[i : i + chunk], None if w is None else w[i : i + chunk])
    return s


def _reference(X: np.ndarray, y: np.ndarray, alpha: float, l1_ratio: float = 1.0,
               w: np.ndarray | None = None) -> np.ndarray:
    model = (Lasso(alpha=alpha, **REF) if l1_ratio == 1.0
             else ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **REF))
    return np.asarray(model.fit(X, y, sample_weight=w).coef_)


def _rel_close(ours: np.ndarray, ref: np.ndarray, rel: float = 1e-6) -> None:
    """Each coefficient within ``rel`` of the reference (relative to the largest one)."""
    np.testing.assert_allclose(ours, ref, rtol=rel, atol=rel * float(np.max(np.abs(ref))))


def _kkt(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float, alpha: float,
         l1_ratio: float = 1.0, w: np.ndarray | None = None) -> None:
    """The optimality conditions of scikit-learn's objective, from the raw rows, to 1e-6 alpha."""
    w = np.ones(len(y)) if w is None else w
    W = w.sum()
    r = y - intercept - X @ coef
    assert abs(float(w @ r)) <= 1e-9 * float(w @ np.abs(y))
    Xc = X - (w @ X) / W
    g = Xc.T @ (w * r) / W - alpha * (1 - l1_ratio) * coef
    l1 = alpha * l1_ratio
    nz = coef != 0
    np.testing.assert_allclose(g[nz], l1 * np.sign(coef[nz]), rtol=0, atol=1e-6 * alpha)
    assert np.all(np.abs(g[~nz]) <= l1 + 1e-6 * alpha)


@pytest.fixture(scope="module")
def raw() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True, scaled=False)
    return np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)


# ------------------------------------------------------------------ item 1: default tolerance
@pytest.mark.parametrize("alpha", [0.5, 0.05, 5.0])
def test_raw_diabetes_lasso_default_tol(raw, alpha) -> None:
    X, y = raw
    res = fit(_stats(X, y), penalty="l1", alpha=alpha)
    assert res.converged
    _rel_close(res.coef, _reference(X, y, alpha))
    _kkt(X, y, res.coef, res.intercept, alpha)


def test_issue_value_for_age(raw) -> None:
    X, y = raw
    res = fit(_stats(X, y), penalty="l1", alpha=0.5)
    ref = _reference(X, y, 0.5)
    assert ref[0] == pytest.approx(-0.0266227, abs=5e-8)  # the issue's minimizer
    assert res.coef[0] == pytest.approx(ref[0], rel=1e-6)


@pytest.mark.parametrize("l1_ratio", [0.1, 0.5, 0.9])
def test_raw_diabetes_elasticnet_default_tol(raw, l1_ratio) -> None:
    X, y = raw
    res = fit(_stats(X, y), penalty="elasticnet", alpha=0.3, l1_ratio=l1_ratio)
    _rel_close(res.coef, _reference(X, y, 0.3, l1_ratio))
    _kkt(X, y, res.coef, res.intercept, 0.3, l1_ratio)


def test_weighted_lasso_default_tol(raw) -> None:
    X, y = raw
    w = np.random.default_rng(3).uniform(0.1, 4.0, len(y))
    res = fit(_stats(X, y, w), penalty="l1", alpha=0.5)
    _rel_close(res.coef, _reference(X, y, 0.5, w=w))
    _kkt(X, y, res.coef, res.intercept, 0.5, w=w)


def test_features_offset_by_1e9(raw) -> None:
    X, y = raw
    Xo = X + 1e9  # exact: every raw diabetes value is below 2**22 with few binary digits
    res = fit(_stats(Xo, y), penalty="l1", alpha=0.5)
    ref = _reference(X, y, 0.5)  # the offset changes only the intercept
    _rel_close(res.coef, ref)


def test_cv_path_is_exact_at_every_alpha(raw) -> None:
    """Each fold's path, including alphas just below that fold's alpha_max."""
    X, y = raw
    k = 3
    ids = fold_ids(0, len(y), k, 0)
    folds = [_stats(X[ids == f], y[ids == f]) for f in range(k)]
    total = folds[0].merge(folds[1]).merge(folds[2])
    for f in range(k):
        train = total.subtract(folds[f])
        m = ids != f
        Xt, yt = X[m], y[m]
        a_max = float(alpha_grid(train, penalty="l1", n_alphas=1)[0])
        alphas = np.concatenate([a_max * np.array([1 - 1e-9, 1 - 1e-6, 1 - 1e-3]),
                                 np.geomspace(a_max * 0.5, a_max * 1e-3, 12)])
        for res, a in zip(fit_path(train, alphas, penalty="l1"), alphas, strict=True):
            assert res.converged
            assert np.count_nonzero(res.coef) > 0  # never all zeros below alpha_max
            _kkt(Xt, yt, res.coef, res.intercept, a)
            if a <= a_max * (1 - 1e-3):
                # (closer to alpha_max, scikit-learn's own gap rule stops at zero)
                _rel_close(res.coef, _reference(Xt, yt, a))


def test_cv_chooses_as_lassocv_on_raw_data(raw) -> None:
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import PredefinedSplit

    X, y = raw
    ids = fold_ids(0, len(y), 5, 0)
    folds = [_stats(X[ids == f], y[ids == f]) for f in range(5)]
    total = folds[0]
    for s in folds[1:]:
        total = total.merge(s)
    grid = alpha_grid(total, penalty="l1", n_alphas=30)
    cv = cross_validate(total, folds, grid, penalty="l1")
    ref = LassoCV(alphas=grid, cv=PredefinedSplit(ids), **REF).fit(X, y)
    np.testing.assert_allclose(cv.mse_mean, ref.mse_path_.mean(axis=1), rtol=1e-7)
    assert cv.chosen == pytest.approx(ref.alpha_, rel=1e-12)


# ------------------------------------------------------------------ the command line
def _write(path: Path, names: list[str], Z: np.ndarray) -> Path:
    with open(path, "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(names)
        for row in Z:
            wr.writerow([repr(float(v)) for v in row])
    return path


def test_cli_default_is_the_minimizer(raw, tmp_path: Path) -> None:
    X, y = raw
    names = [f"x{j}" for j in range(X.shape[1])]
    path = _write(tmp_path / "d.csv", [*names, "y"], np.column_stack([X, y]))
    result = CliRunner().invoke(cli, ["fit", "-y", "y", "--penalty", "l1", "--alpha", "0.5",
                                      str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))[2:]
    ours = np.array([float(r[1]) for r in rows])
    _rel_close(ours, _reference(X, y, 0.5))


# ------------------------------------------------------------------ item 2: ridge grid
def _well_posed() -> tuple[np.ndarray, np.ndarray]:
    """Three independent features, coefficients 1/2/3, noise enough for shrinkage to pay."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3))
    y = X @ np.array([1.0, 2.0, 3.0]) + 3.0 * rng.standard_normal(100)
    return X, y


def test_ridge_cv_grid_spans_the_useful_range(tmp_path: Path) -> None:
    X, y = _well_posed()
    path = _write(tmp_path / "r.csv", ["a", "b", "c", "y"], np.column_stack([X, y]))
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["fit", "-y", "y", "--penalty", "l2", "--cv", "3",
                                      str(path), str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # interior choice: no warning
    report = json.loads(out.read_text())
    alphas = report["cv"]["alphas"]
    chosen = report["alpha"]
    assert alphas[-1] < chosen < alphas[0]
    ols = LinearRegression().fit(X, y).coef_
    coef = np.array([report["coefficients"][n] for n in "abc"])
    np.testing.assert_allclose(coef, ols, rtol=0.05)
    # the grid runs from almost no shrinkage to almost total shrinkage: effective degrees of
    # freedom df(a) = sum d_i / (d_i + a), d the eigenvalues of the centered X'X
    d = np.linalg.eigvalsh(np.cov(X.T, bias=True) * len(y))
    df = [float(np.sum(d / (d + a))) for a in (alphas[0], alphas[-1])]
    assert df[0] < 0.05 * 3 and df[1] > 0.95 * 3


def test_cv_warns_at_the_end_of_the_grid(tmp_path: Path) -> None:
    X, y = _well_posed()
    path = _write(tmp_path / "r.csv", ["a", "b", "c", "y"], np.column_stack([X, y]))
    for alphas, end in (("1e3,1e4,1e5", "smallest"), ("1e-8,1e-7,1e6", None)):
        result = CliRunner().invoke(cli, ["fit", "-y", "y", "--penalty", "l2", "--cv", "3",
                                          "--alphas", alphas, str(path)],
                                    catch_exceptions=False)
        assert result.exit_code == 0
        if end is None:
            continue
        assert "warning" in result.stderr and end in result.stderr
        quiet = CliRunner().invoke(cli, ["fit", "-q", "-y", "y", "--penalty", "l2", "--cv",
                                         "3", "--alphas", alphas, str(path)],
                                   catch_exceptions=False)
        assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_lasso_stopped_early_on_collinear_features_warns_not_crashes(tmp_path: Path) -> None:
    """Found in review: with --max-iter 2 on 40 nearly collinear features, the active-set step
    met an empty active set and took the maximum of an empty array (exit 1, "zero-size
    array"). It now ends as any unconverged fit does: exit 0 and a warning; the default run
    gives scikit-learn's coefficients."""
    from conftest import run_main

    rng = np.random.default_rng(1)
    n = 200
    X = rng.normal(size=n)[:, None] + 0.05 * rng.normal(size=(n, 40))
    y = X[:, :5].sum(axis=1) + rng.normal(size=n)
    names = [f"x{i}" for i in range(40)]
    path = tmp_path / "c.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*names, "y"])
        w.writerows([[repr(float(v)) for v in (*row, t)] for row, t in zip(X, y, strict=True)])
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--alpha", "0.001",
                             "--max-iter", "2", str(path), str(tmp_path / "short.json")])
    assert code == 0, err
    assert "did not converge in 2 iterations" in err
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--alpha", "0.001",
                             str(path), str(tmp_path / "m.json")])
    assert code == 0, err
    coef = json.loads((tmp_path / "m.json").read_text())["coefficients"]
    ref = Lasso(alpha=0.001, tol=1e-14, max_iter=1_000_000).fit(X, y).coef_
    got = np.array([coef[n] for n in names])
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8)
