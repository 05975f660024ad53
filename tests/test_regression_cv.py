"""Cross-validation and fold assignment vs scikit-learn's LassoCV / ElasticNetCV."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import ElasticNetCV, LassoCV, Ridge
from sklearn.model_selection import PredefinedSplit

from normcli.regression import GramStats, alpha_grid, cross_validate, fit, fold_ids

K = 5
SEED = 1234


def _fold_stats(
    X: np.ndarray, y: np.ndarray, w: np.ndarray | None, k: int = K, chunk: int = 61
) -> tuple[GramStats, list[GramStats], np.ndarray]:
    """Stream the rows once in chunks, as the CLI does, accumulating total and per-fold stats."""
    p = X.shape[1]
    total = GramStats.empty(p)
    folds = [GramStats.empty(p) for _ in range(k)]
    ids = np.empty(len(y), dtype=np.int64)
    for start in range(0, len(y), chunk):
        sl = slice(start, min(start + chunk, len(y)))
        fid = fold_ids(start, sl.stop - start, k, SEED)
        ids[sl] = fid
        wc = None if w is None else w[sl]
        total.update(X[sl], y[sl], wc)
        for f in range(k):
            m = fid == f
            folds[f].update(X[sl][m], y[sl][m], None if wc is None else wc[m])
    return total, folds, ids


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    w = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    return X, y, w


# ------------------------------------------------------------------ fold ids
def test_fold_ids_independent_of_chunking() -> None:
    n, k = 1003, 7
    whole = fold_ids(0, n, k, 99)
    for chunk in (1, 2, 6, 7, 50, 1000):
        parts = [fold_ids(s, min(chunk, n - s), k, 99) for s in range(0, n, chunk)]
        np.testing.assert_array_equal(np.concatenate(parts), whole)
    np.testing.assert_array_equal(fold_ids(500, 10, k, 99), whole[500:510])


@pytest.mark.parametrize("n", [1, 9, 10, 11, 1234])
def test_fold_ids_balanced_and_in_range(n: int) -> None:
    k = 10
    ids = fold_ids(0, n, k, 3)
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < k
    counts = np.bincount(ids, minlength=k)
    assert counts.max() - counts.min() <= 1
    full_blocks = ids[: (n // k) * k].reshape(-1, k)
    assert all(sorted(b) == list(range(k)) for b in full_blocks)


def test_fold_ids_seed_dependent_and_deterministic() -> None:
    a = fold_ids(0, 500, 5, 1)
    assert np.array_equal(a, fold_ids(0, 500, 5, 1))
    assert not np.array_equal(a, fold_ids(0, 500, 5, 2))
    assert not np.array_equal(a[:5], a[5:10]) or not np.array_equal(a[5:10], a[10:15])
    assert fold_ids(0, 0, 5, 1).shape == (0,)
    with pytest.raises(ValueError):
        fold_ids(0, 10, 1, 0)


def _splitmix64(x: int) -> int:
    """The splitmix64 finalizer of ``x + 0x9E3779B97F4A7C15``, in Python integers."""
    m = (1 << 64) - 1
    z = (x + 0x9E3779B97F4A7C15) & m
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


@pytest.mark.parametrize("k", [2, 3, 5, 10, 16, 17, 40])
def test_fold_ids_follow_their_definition(k: int) -> None:
    """Row ``r``'s fold is the rank of ``splitmix64(splitmix64(seed) ^ r)`` among the keys of
    its block of ``k`` rows (the definition in the README and the docstring), computed here
    with Python integers and a sort per block."""
    for seed in (0, 7, -3, 2**63 + 5):
        seed_key = _splitmix64(seed & ((1 << 64) - 1))
        start, n = 123 * k + 2, 5 * k + 3  # starts and ends inside a block
        first, last = start // k, (start + n - 1) // k
        expected = []
        for block in range(first, last + 1):
            keys = [_splitmix64(seed_key ^ r) for r in range(block * k, block * k + k)]
            ranked = sorted(keys)
            expected += [ranked.index(key) for key in keys]
        offset = start - first * k
        got = fold_ids(start, n, k, seed)
        assert got.tolist() == expected[offset : offset + n]


# ------------------------------------------------------------------ alpha grid
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.3])
def test_alpha_grid_matches_sklearn(diabetes, weighted, fit_intercept, l1_ratio) -> None:
    X, y, w = diabetes
    sw = w if weighted else None
    total, _, _ = _fold_stats(X, y, sw)
    cls = LassoCV if l1_ratio == 1.0 else ElasticNetCV
    kw = {} if l1_ratio == 1.0 else {"l1_ratio": l1_ratio}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref = cls(alphas=30, eps=1e-2, cv=3, fit_intercept=fit_intercept, max_iter=200, **kw)
        ref.fit(X, y, sample_weight=sw)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    ours = alpha_grid(
        total, penalty=penalty, l1_ratio=l1_ratio, n_alphas=30, eps=1e-2,
        fit_intercept=fit_intercept,
    )
    np.testing.assert_allclose(ours, ref.alphas_, rtol=1e-10)


def test_alpha_grid_l2_and_degenerate() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3))
    y = X @ [1.0, 2.0, 0.0] + rng.standard_normal(100)
    s = GramStats.from_chunk(X, y)
    g = alpha_grid(s, penalty="l2", n_alphas=20)
    assert g.shape == (20,) and np.all(np.diff(g) < 0)
    d = np.linalg.eigvalsh((X - X.mean(0)).T @ (X - X.mean(0)))  # the spectrum's ends / eps
    assert g[0] == pytest.approx(d[-1] / 1e-3, rel=1e-10)
    assert g[-1] <= d[0] * 1e-3 * (1 + 1e-10)
    # at alpha_max of the lasso grid all coefficients vanish
    a_max = alpha_grid(s, penalty="l1")[0]
    assert np.all(fit(s, penalty="l1", alpha=a_max).coef == 0)
    flat = alpha_grid(GramStats.from_chunk(X, np.zeros(100)), penalty="l1", n_alphas=4)
    np.testing.assert_array_equal(flat, np.full(4, np.finfo(np.float64).resolution))
    with pytest.raises(ValueError):
        alpha_grid(s, penalty="none")


# ------------------------------------------------------------------ cross_validate
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_cv_matches_sklearn(diabetes, weighted, l1_ratio) -> None:
    X, y, w = diabetes
    sw = w if weighted else None
    total, folds, ids = _fold_stats(X, y, sw)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    grid = alpha_grid(total, penalty=penalty, l1_ratio=l1_ratio, n_alphas=40)
    cls = LassoCV if l1_ratio == 1.0 else ElasticNetCV
    kw = {} if l1_ratio == 1.0 else {"l1_ratio": l1_ratio}
    ref = cls(alphas=grid, cv=PredefinedSplit(ids), tol=1e-12, max_iter=100_000, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ref.fit(X, y, sample_weight=sw)
    cv = cross_validate(
        total, folds, grid[::-1], penalty=penalty, l1_ratio=l1_ratio, fit_intercept=True,
        standardize=False, tol=1e-12, max_iter=100_000,
    )
    np.testing.assert_allclose(cv.alphas, ref.alphas_, rtol=1e-14)
    np.testing.assert_allclose(cv.mse, ref.mse_path_, rtol=1e-7)
    np.testing.assert_allclose(cv.mse_mean, ref.mse_path_.mean(axis=1), rtol=1e-7)
    assert cv.alpha_min == pytest.approx(ref.alpha_, rel=1e-12)
    assert cv.chosen == cv.alpha_min and cv.folds == K
    # final refit on all rows at the chosen alpha equals sklearn's refit
    final = fit(total, penalty=penalty, alpha=cv.chosen, l1_ratio=l1_ratio, tol=1e-12,
                max_iter=100_000)
    np.testing.assert_allclose(final.coef, ref.coef_, rtol=0,
                               atol=1e-6 * np.abs(ref.coef_).max())


def test_cv_one_standard_error_rule(diabetes) -> None:
    X, y, w = diabetes
    total, folds, _ = _fold_stats(X, y, w)
    grid = alpha_grid(total, penalty="l1", n_alphas=30)
    cv = cross_validate(total, folds, grid, penalty="l1", select="1se")
    se = cv.mse.std(axis=1, ddof=1) / np.sqrt(K)
    np.testing.assert_allclose(cv.mse_se, se)
    i = int(np.argmin(cv.mse_mean))
    ok = np.flatnonzero(cv.mse_mean <= cv.mse_mean[i] + se[i])
    assert cv.alpha_1se == pytest.approx(cv.alphas[ok].max())
    assert cv.alpha_1se >= cv.alpha_min and cv.chosen == cv.alpha_1se


@pytest.mark.parametrize("weighted", [False, True])
def test_cv_l2_matches_manual_ridge(diabetes, weighted) -> None:
    X, y, w = diabetes
    sw = w if weighted else np.ones(len(y))
    total, folds, ids = _fold_stats(X, y, sw if weighted else None)
    grid = alpha_grid(total, penalty="l2", n_alphas=15)
    cv = cross_validate(total, folds, grid, penalty="l2")
    ref = np.empty((grid.size, K))
    for i, a in enumerate(cv.alphas):
        for f in range(K):
            tr, te = ids != f, ids == f
            m = Ridge(alpha=a, solver="cholesky").fit(X[tr], y[tr], sample_weight=sw[tr])
            ref[i, f] = np.average((y[te] - m.predict(X[te])) ** 2, weights=sw[te])
    np.testing.assert_allclose(cv.mse, ref, rtol=1e-8)
    assert cv.alpha_min == cv.alphas[np.argmin(ref.mean(axis=1))]


def test_cv_standardized_runs_and_errors(diabetes) -> None:
    X, y, _ = diabetes
    total, folds, _ = _fold_stats(X * [1, 10, 100, 1, 1, 1, 1, 1, 1, 0.1], y, None)
    grid = alpha_grid(total, penalty="elasticnet", l1_ratio=0.5, standardize=True, n_alphas=20)
    cv = cross_validate(total, folds, grid, penalty="elasticnet", l1_ratio=0.5, standardize=True)
    assert cv.mse.shape == (20, K) and np.all(np.isfinite(cv.mse))
    with pytest.raises(ValueError, match="none"):
        cross_validate(total, folds, grid, penalty="none")
    with pytest.raises(ValueError):
        cross_validate(total, folds, grid, penalty="l1", select="best")
    with pytest.raises(ValueError, match="empty"):
        cross_validate(total, [*folds[:-1], GramStats.empty(X.shape[1])], grid, penalty="l1")
