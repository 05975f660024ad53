"""Solvers vs scikit-learn (fitted with tol=1e-12) on the same objectives."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge

from normcli.regression import GramStats, alpha_grid, fit, fit_path
from normcli.regression.solvers import FitResult

TIGHT = {"tol": 1e-12, "max_iter": 1_000_000}


def _stats(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, chunk: int = 97) -> GramStats:
    s = GramStats.empty(X.shape[1])
    for i in range(0, len(y), chunk):
        s.update(X[i : i + chunk], y[i : i + chunk], None if w is None else w[i : i + chunk])
    return s


def _assert_coef(ours: np.ndarray, ref: np.ndarray, rel: float = 1e-6) -> None:
    scale = max(float(np.max(np.abs(ref))) if ref.size else 0.0, 1e-12)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=rel * scale)


def _assert_model(res: FitResult, model: object, rel: float = 1e-6) -> None:
    coef = np.asarray(model.coef_)  # type: ignore[attr-defined]
    intercept = float(model.intercept_)  # type: ignore[attr-defined]
    _assert_coef(res.coef, coef, rel)
    assert res.intercept == pytest.approx(intercept, rel=rel, abs=rel * max(1.0, abs(intercept)))


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    return X, y, w


@pytest.fixture(scope="module")
def random_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    n, p = 400, 12
    X = rng.standard_normal((n, p)) @ rng.standard_normal((p, p)) * 0.5 + rng.uniform(-3, 3, p)
    beta = np.zeros(p)
    beta[:5] = [3.0, -2.0, 1.5, 0.0, 0.7]
    y = X @ beta + 2.0 + rng.standard_normal(n)
    w = rng.exponential(1.0, n)
    return X, y, w


# ------------------------------------------------------------------ none
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_none_matches_linear_regression(random_data, weighted, fit_intercept) -> None:
    X, y, w = random_data
    sw = w if weighted else None
    ref = LinearRegression(fit_intercept=fit_intercept).fit(X, y, sample_weight=sw)
    res = fit(_stats(X, y, sw), penalty="none", fit_intercept=fit_intercept)
    _assert_model(res, ref, rel=1e-8)
    assert res.converged and res.alpha == 0.0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_none_collinear_and_constant_min_norm(fit_intercept) -> None:
    rng = np.random.default_rng(7)
    n = 200
    a, b, c = rng.standard_normal((3, n)) * [[1.0], [10.0], [0.01]]
    X = np.column_stack([a, b, a + 2 * b, np.full(n, 3.0), c, -a, np.zeros(n)])
    y = 1.0 + a - b + 50 * c + 0.1 * rng.standard_normal(n)
    ref = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    res = fit(_stats(X, y), penalty="none", fit_intercept=fit_intercept)
    _assert_model(res, ref, rel=1e-8)
    if fit_intercept:
        assert res.coef[3] == 0.0
    assert res.coef[6] == 0.0


def test_none_singular_weighted_matches(diabetes) -> None:
    X, y, w = diabetes
    X2 = np.column_stack([X, X[:, 0] - X[:, 1], X[:, 2]])
    ref = LinearRegression().fit(X2, y, sample_weight=w)
    res = fit(_stats(X2, y, w), penalty="none")
    _assert_model(res, ref, rel=1e-8)


# ------------------------------------------------------------------ ridge
@pytest.mark.parametrize("alpha", [1e-3, 0.1, 1.0, 30.0])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_l2_matches_ridge(diabetes, alpha, weighted, fit_intercept) -> None:
    X, y, w = diabetes
    sw = w if weighted else None
    ref = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky").fit(
        X, y, sample_weight=sw
    )
    res = fit(_stats(X, y, sw), penalty="l2", alpha=alpha, fit_intercept=fit_intercept)
    _assert_model(res, ref, rel=1e-8)
    assert res.l1_ratio == 0.0


def test_enet_l1_ratio_zero_is_ridge_on_sum_scale(random_data) -> None:
    X, y, w = random_data
    a = 0.3
    ref = Ridge(alpha=a * w.sum()).fit(X, y, sample_weight=w)
    res = fit(_stats(X, y, w), penalty="elasticnet", alpha=a, l1_ratio=0.0)
    _assert_model(res, ref, rel=1e-8)


# ------------------------------------------------------------------ lasso / elastic net
def _sk_enet(X, y, sw, alpha, l1_ratio, fit_intercept):
    cls = Lasso if l1_ratio == 1.0 else ElasticNet
    kw = {} if l1_ratio == 1.0 else {"l1_ratio": l1_ratio}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(alpha=alpha, fit_intercept=fit_intercept, **kw, **TIGHT).fit(
            X, y, sample_weight=sw
        )


@pytest.mark.parametrize("alpha", [0.01, 0.1, 1.0])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.7, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_enet_matches_sklearn_diabetes(diabetes, alpha, l1_ratio, weighted) -> None:
    X, y, w = diabetes
    sw = w if weighted else None
    ref = _sk_enet(X, y, sw, alpha, l1_ratio, True)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    res = fit(_stats(X, y, sw), penalty=penalty, alpha=alpha, l1_ratio=l1_ratio, **TIGHT)
    _assert_model(res, ref)
    assert res.converged


@pytest.mark.parametrize("alpha", [0.003, 0.05, 0.5])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_enet_matches_sklearn_random(random_data, alpha, l1_ratio, fit_intercept) -> None:
    X, y, w = random_data
    ref = _sk_enet(X, y, w, alpha, l1_ratio, fit_intercept)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    res = fit(
        _stats(X, y, w), penalty=penalty, alpha=alpha, l1_ratio=l1_ratio,
        fit_intercept=fit_intercept, **TIGHT,
    )
    _assert_model(res, ref)


@pytest.mark.parametrize("alpha", [0.02, 0.2, 2.0])
def test_lasso_kkt(random_data, alpha) -> None:
    X, y, w = random_data
    res = fit(_stats(X, y, w), penalty="l1", alpha=alpha, **TIGHT)
    W = w.sum()
    r = y - res.intercept - X @ res.coef
    assert abs(float(w @ r)) <= 1e-8 * W * max(1.0, float(np.abs(y).max()))  # intercept
    Xc = X - (w @ X) / W
    grad = Xc.T @ (w * r) / W
    nz = res.coef != 0
    assert nz.any() or alpha > 1
    np.testing.assert_allclose(grad[nz], alpha * np.sign(res.coef[nz]), rtol=0, atol=1e-6 * alpha)
    assert np.all(np.abs(grad[~nz]) <= alpha * (1 + 1e-6))


def test_default_tolerance_reaches_sklearn_gap_rule(diabetes) -> None:
    X, y, w = diabetes
    s = _stats(X, y, w)
    res = fit(s, penalty="l1", alpha=0.05)
    yc = y - np.average(y, weights=w)
    assert res.converged
    assert res.duality_gap <= 1e-4 * float(w @ yc**2) / w.sum()
    ref = _sk_enet(X, y, w, 0.05, 1.0, True)
    _assert_coef(res.coef, ref.coef_, rel=1e-2)


def test_non_convergence_is_reported(diabetes) -> None:
    X, y, _ = diabetes
    res = fit(_stats(X, y), penalty="l1", alpha=1e-4, tol=1e-14, max_iter=1)
    assert not res.converged and res.n_iter == 1 and res.duality_gap > 0


# ------------------------------------------------------------------ standardize
def _manual_standardized(X, y, w, fit_intercept, alpha, penalty, l1_ratio=0.5):
    W = w.sum()
    mu = (w @ X) / W
    keep = np.sqrt((w @ (X - mu) ** 2) / W) > 1e-12 * np.maximum(1.0, np.abs(mu))  # glmnet
    m = mu if fit_intercept else np.zeros(X.shape[1])
    s = np.sqrt((w @ (X - m) ** 2) / W)
    Xs = (X[:, keep] - m[keep]) / s[keep]
    if penalty == "l2":
        model = Ridge(alpha=alpha, fit_intercept=fit_intercept, solver="cholesky")
        model.fit(Xs, y, sample_weight=w)
    else:
        model = _sk_enet(Xs, y, w, alpha, 1.0 if penalty == "l1" else l1_ratio, fit_intercept)
    coef = np.zeros(X.shape[1])
    coef[keep] = model.coef_ / s[keep]
    intercept = float(model.intercept_ - (m @ coef if fit_intercept else 0.0))
    return coef, intercept


@pytest.mark.parametrize("penalty", ["l1", "elasticnet", "l2"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standardize_matches_manual_reference(random_data, penalty, fit_intercept) -> None:
    X, y, w = random_data
    X = X * np.array([1, 100, 0.01, 1, 1, 1, 1, 5, 1, 1, 1, 1.0])
    X = np.column_stack([X, np.full(len(y), 2.5)])  # constant feature
    alpha = 5.0 if penalty == "l2" else 0.05
    coef, intercept = _manual_standardized(X, y, w, fit_intercept, alpha, penalty)
    res = fit(
        _stats(X, y, w), penalty=penalty, alpha=alpha, l1_ratio=0.5,
        fit_intercept=fit_intercept, standardize=True, **TIGHT,
    )
    _assert_coef(res.coef, coef)
    assert res.coef[-1] == 0.0
    assert res.intercept == pytest.approx(intercept, rel=1e-6, abs=1e-6)


# ------------------------------------------------------------------ robustness
@pytest.mark.parametrize("penalty", ["none", "l2", "l1", "elasticnet"])
def test_huge_offsets_give_same_slopes(penalty) -> None:
    rng = np.random.default_rng(11)
    n = 3000
    X = rng.standard_normal((n, 4)) * [1.0, 2.0, 0.5, 3.0] + 1e9
    shifted = X - 1e9  # exact: identical data without the offset
    y = shifted @ np.array([1.0, -0.5, 2.0, 0.0]) + rng.standard_normal(n)
    w = rng.uniform(0.5, 1.5, n)
    res_big = fit(_stats(X, y, w, chunk=250), penalty=penalty, alpha=0.05, **TIGHT)
    res_small = fit(_stats(shifted, y, w, chunk=250), penalty=penalty, alpha=0.05, **TIGHT)
    _assert_coef(res_big.coef, res_small.coef, rel=1e-7)
    if penalty == "l1":
        ref = _sk_enet(shifted, y, w, 0.05, 1.0, True)
        _assert_coef(res_big.coef, ref.coef_)


def test_edge_cases() -> None:
    rng = np.random.default_rng(5)
    y = rng.standard_normal(30)
    s0 = _stats(np.empty((30, 0)), y)
    for penalty in ("none", "l1", "l2", "elasticnet"):
        r = fit(s0, penalty=penalty)
        assert r.coef.shape == (0,) and r.intercept == pytest.approx(y.mean())
    X = rng.standard_normal((30, 3))
    for penalty in ("none", "l1", "l2", "elasticnet"):
        r = fit(_stats(X, np.zeros(30)), penalty=penalty, alpha=0.1)
        np.testing.assert_allclose(r.coef, 0.0, atol=1e-14)
        assert r.intercept == 0.0
        r = fit(_stats(np.ones((30, 2)), y), penalty=penalty, alpha=0.1)
        np.testing.assert_array_equal(r.coef, [0.0, 0.0])
    with pytest.raises(ValueError, match="zero rows"):
        fit(GramStats.empty(2), penalty="l1")
    with pytest.raises(ValueError, match="weight"):
        fit(GramStats.from_chunk(X, y, np.zeros(30)), penalty="l1")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"penalty": "lasso"},
        {"penalty": "l1", "alpha": -1.0},
        {"penalty": "l1", "alpha": float("nan")},
        {"penalty": "elasticnet", "l1_ratio": 1.5},
        {"penalty": "l1", "tol": 0.0},
        {"penalty": "l1", "max_iter": 0},
    ],
)
def test_invalid_parameters(kwargs) -> None:
    s = _stats(np.eye(5), np.arange(5.0))
    with pytest.raises(ValueError):
        fit(s, **kwargs)


def test_fit_path_order_and_warm_start(diabetes) -> None:
    X, y, w = diabetes
    s = _stats(X, y, w)
    alphas = [0.1, 1.0, 0.01, 0.3]
    for penalty in ("l1", "elasticnet", "l2"):
        path = fit_path(s, alphas, penalty=penalty, l1_ratio=0.5, tol=1e-12, max_iter=100000)
        assert [r.alpha for r in path] == alphas
        for a, r in zip(alphas, path, strict=True):
            single = fit(s, penalty=penalty, alpha=a, l1_ratio=0.5, **TIGHT)
            _assert_coef(r.coef, single.coef, rel=1e-8)
    warm = fit(s, penalty="l1", alpha=0.01, coef_init=path[0].coef, **TIGHT)
    _assert_coef(warm.coef, fit(s, penalty="l1", alpha=0.01, **TIGHT).coef, rel=1e-8)


def test_path_p50_converges_to_sklearn() -> None:
    """The whole default l1 path on 50 features converges, to scikit-learn's lasso path (its
    speed is measured in bench/, not here)."""
    from sklearn.linear_model import lasso_path

    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 50))
    y = X[:, :8] @ rng.standard_normal(8) + rng.standard_normal(1000)
    s = _stats(X, y, chunk=1000)
    grid = alpha_grid(s, penalty="l1")
    path = fit_path(s, grid, penalty="l1", tol=1e-12, max_iter=100000)
    assert all(r.converged for r in path)
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    _, ref, _ = lasso_path(Xc, yc, alphas=grid, tol=1e-12, max_iter=100000)
    for j, r in enumerate(path):
        np.testing.assert_allclose(r.coef, ref[:, j], rtol=1e-6, atol=1e-9)


@pytest.mark.slow
def test_two_thousand_features() -> None:
    rng = np.random.default_rng(1)
    n, p = 2200, 2000
    X = rng.standard_normal((n, p))
    y = X[:, :20] @ rng.standard_normal(20) + 0.5 * rng.standard_normal(n)
    s = _stats(X, y, chunk=1100)
    grid = alpha_grid(s, penalty="l1", n_alphas=10, eps=0.05)
    res = fit(s, penalty="l1", alpha=float(grid[-1]))
    assert res.converged and res.coef.shape == (p,)
    assert np.count_nonzero(res.coef) >= 10
    r2 = fit(s, penalty="l2", alpha=10.0)
    assert np.all(np.isfinite(r2.coef))
