"""The exact path's active-set machinery (issue 13 item 5): the updated Cholesky factor and
the path it serves.

References: numpy's own Cholesky factor and solve for the factor; scikit-learn's Lasso and
ElasticNet at tol=1e-12, and the KKT conditions evaluated with numpy on the raw rows, for
the path. Never normcli's own earlier output.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso

from normcli.regression import GramStats, alpha_grid, fit_path
from normcli.regression.solvers import _ActiveCholesky

REF = {"tol": 1e-12, "max_iter": 1_000_000, "precompute": True}


def _spd(p: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3 * p, p))
    X[:, 1:] += 0.8 * X[:, :-1]  # correlated neighbours: not a diagonal-dominated matrix
    return X.T @ X / (3 * p)


def _check(fac: _ActiveCholesky, Q: np.ndarray, l2: float, rng: np.random.Generator) -> None:
    idx = fac.idx
    A = Q[np.ix_(idx, idx)] + l2 * np.eye(idx.size)
    np.testing.assert_allclose(fac.L, np.linalg.cholesky(A), rtol=0, atol=1e-10)
    b = rng.standard_normal(idx.size)
    np.testing.assert_allclose(fac.solve(b), np.linalg.solve(A, b), rtol=1e-9, atol=1e-12)
    B = rng.standard_normal((idx.size, 3))
    np.testing.assert_allclose(fac.forward(B), np.linalg.solve(np.linalg.cholesky(A), B),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_factor_follows_appends_and_removals(l2: float) -> None:
    p = 420
    Q = _spd(p, 0)
    rng = np.random.default_rng(1)
    fac = _ActiveCholesky(Q, l2)
    order = rng.permutation(p)
    assert fac.set_active(order[:5])
    _check(fac, Q, l2, rng)
    assert fac.set_active(order[:330])  # a large append (several triangular blocks)
    _check(fac, Q, l2, rng)
    # one removal near the front: long tail, rank-one updates
    target = np.delete(fac.idx, [3])
    assert fac.set_active(target)
    np.testing.assert_array_equal(fac.idx, target)
    _check(fac, Q, l2, rng)
    # several removals at once, front and back, with features entering
    target = np.concatenate([np.delete(fac.idx, [0, 7, 100, 250, 320]), order[330:360]])
    assert fac.set_active(target)
    np.testing.assert_array_equal(fac.idx, target)
    _check(fac, Q, l2, rng)
    # removals near the end only (a short tail: refactored at once)
    target = np.delete(fac.idx, [fac.k - 2, fac.k - 5])
    assert fac.set_active(target)
    _check(fac, Q, l2, rng)
    # most of the set leaves: rebuilt
    assert fac.set_active(order[400:420])
    np.testing.assert_array_equal(fac.idx, order[400:420])
    _check(fac, Q, l2, rng)


def test_factor_refuses_a_feature_in_the_span_of_the_set() -> None:
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 6))
    X[:, 5] = X[:, 0] - 2.0 * X[:, 3]  # exactly dependent
    Q = X.T @ X / 200
    fac = _ActiveCholesky(Q, 0.0)
    assert fac.set_active(np.array([0, 1, 2, 3]))
    before = fac.L.copy()
    assert not fac.set_active(np.array([0, 1, 2, 3, 4, 5]))
    np.testing.assert_array_equal(fac.idx, [0, 1, 2, 3])  # unchanged
    np.testing.assert_array_equal(fac.L, before)
    # with a ridge term the same set is well posed
    fac2 = _ActiveCholesky(Q, 0.1)
    assert fac2.set_active(np.arange(6))
    _check(fac2, Q, 0.1, rng)


def _path_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Strongly correlated neighbours: features enter and leave along the path."""
    rng = np.random.default_rng(seed)
    n, p = 1200, 240
    X = rng.standard_normal((n, p))
    X[:, 1:] += 0.9 * X[:, :-1]
    X[:, 2:] += 0.5 * X[:, :-2]
    X += 4.0 * rng.standard_normal(p)  # offsets
    beta = np.zeros(p)
    beta[rng.choice(p, 48, replace=False)] = rng.standard_normal(48)
    y = X @ beta + rng.standard_normal(n)
    return X, y


def _kkt(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: float, alpha: float,
         l1_ratio: float) -> None:
    r = y - intercept - X @ coef
    assert abs(float(r.sum())) <= 1e-9 * float(np.abs(y).sum())
    g = (X - X.mean(axis=0)).T @ r / len(y) - alpha * (1 - l1_ratio) * coef
    l1 = alpha * l1_ratio
    nz = coef != 0
    np.testing.assert_allclose(g[nz], l1 * np.sign(coef[nz]), rtol=0, atol=1e-6 * alpha)
    assert np.all(np.abs(g[~nz]) <= l1 + 1e-6 * alpha)


@pytest.mark.slow
@pytest.mark.parametrize(("l1_ratio", "seed"), [(1.0, 0), (1.0, 1), (0.6, 0)])
def test_path_with_features_leaving_is_exact(l1_ratio: float, seed: int) -> None:
    X, y = _path_data(seed)
    s = GramStats.from_chunk(X, y)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    grid = alpha_grid(s, penalty=penalty, l1_ratio=l1_ratio, n_alphas=50, eps=1e-3)
    path = fit_path(s, grid, penalty=penalty, l1_ratio=l1_ratio)
    supports = [r.coef != 0 for r in path]
    left = sum(int(np.sum(a & ~b)) for a, b in zip(supports, supports[1:], strict=False))
    assert left > 0  # the data do exercise features leaving the active set
    assert supports[-1].sum() > 100  # and a support spanning several triangular blocks
    scale = float(np.max(np.abs(path[-1].coef)))
    for a, res in list(zip(grid, path, strict=True))[5::6]:
        assert res.converged
        _kkt(X, y, res.coef, res.intercept, a, l1_ratio)
        model = (Lasso(alpha=a, **REF) if l1_ratio == 1.0
                 else ElasticNet(alpha=a, l1_ratio=l1_ratio, **REF)).fit(X, y)
        np.testing.assert_allclose(res.coef, model.coef_, rtol=1e-6, atol=1e-6 * scale)
        assert res.intercept == pytest.approx(model.intercept_, rel=1e-6, abs=1e-6 * scale)


def test_path_with_duplicated_features_gives_the_minimal_objective() -> None:
    """Duplicated columns make the active-set system singular: the minimizer is not unique,
    the fitted values and the objective are; the KKT conditions hold."""
    rng = np.random.default_rng(4)
    n = 400
    X = rng.standard_normal((n, 40))
    X = np.column_stack([X, X[:, :10]])
    y = X[:, :10] @ rng.standard_normal(10) + rng.standard_normal(n)
    s = GramStats.from_chunk(X, y)
    grid = alpha_grid(s, penalty="l1", n_alphas=30)
    for a, res in list(zip(grid, fit_path(s, grid, penalty="l1"), strict=True))[4::5]:
        assert res.converged
        _kkt(X, y, res.coef, res.intercept, a, 1.0)
        model = Lasso(alpha=a, **REF).fit(X, y)
        np.testing.assert_allclose(X @ res.coef + res.intercept, model.predict(X),
                                   rtol=0, atol=1e-6 * float(np.std(y)))
