"""Tests for the streaming weighted sufficient statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from normcli.regression.stats import GramStats, GroupStats


def _reference(X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple[float, np.ndarray,
                                                                          np.ndarray]:
    Z = np.column_stack([X, y])
    ww = np.ones(len(y)) if w is None else w
    W = ww.sum()
    mean = (ww @ Z) / W
    D = Z - mean
    return W, mean, (D * ww[:, None]).T @ D


def _data(n: int = 300, p: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)) * rng.uniform(0.1, 10, p) + rng.uniform(-5, 5, p)
    y = X @ rng.standard_normal(p) + rng.standard_normal(n)
    w = rng.uniform(0.0, 3.0, n)
    return X, y, w


@pytest.mark.parametrize("weighted", [False, True])
def test_single_chunk_matches_reference(weighted: bool) -> None:
    X, y, w = _data()
    ww = w if weighted else None
    s = GramStats.from_chunk(X, y, ww)
    W, mean, cross = _reference(X, y, ww)
    assert s.n_rows == len(y)
    assert s.sum_w == pytest.approx(W, rel=1e-14)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.cross, cross, rtol=1e-11, atol=1e-9)
    assert np.array_equal(s.cross, s.cross.T)


@pytest.mark.parametrize("weighted", [False, True])
def test_chunked_updates_equal_whole(weighted: bool) -> None:
    X, y, w = _data(n=1000)
    ww = w if weighted else None
    s = GramStats.empty(X.shape[1])
    bounds = [0, 1, 1, 17, 250, 251, 700, 1000]  # includes an empty chunk
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        s.update(np.asfortranarray(X[a:b]), y[a:b], None if ww is None else ww[a:b])
    W, mean, cross = _reference(X, y, ww)
    assert s.n_rows == 1000
    assert s.sum_w == pytest.approx(W, rel=1e-13)
    np.testing.assert_allclose(s.mean, mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.cross, cross, rtol=1e-11, atol=1e-8)


def test_merge_is_associative_and_subtract_inverts() -> None:
    X, y, w = _data(n=600)
    a = GramStats.from_chunk(X[:100], y[:100], w[:100])
    b = GramStats.from_chunk(X[100:350], y[100:350], w[100:350])
    c = GramStats.from_chunk(X[350:], y[350:], w[350:])
    total = a.merge(b).merge(c)
    total2 = a.merge(b.merge(c))
    np.testing.assert_allclose(total.cross, total2.cross, rtol=1e-12)
    rest = total.subtract(b)
    ref = a.merge(c)
    assert rest.n_rows == 350
    assert rest.sum_w == pytest.approx(ref.sum_w, rel=1e-13)
    np.testing.assert_allclose(rest.mean, ref.mean, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(rest.cross, ref.cross, rtol=1e-9, atol=1e-8)
    # subtracting everything leaves an empty summary
    empty = total.subtract(total)
    assert empty.n_rows == 0 and empty.sum_w == 0.0


def test_zero_rows_and_zero_weight_chunks() -> None:
    X, y, w = _data(n=50, p=3)
    s = GramStats.from_chunk(np.empty((0, 3)), np.empty(0))
    assert s.n_rows == 0 and s.sum_w == 0.0
    z = GramStats.from_chunk(X[:10], y[:10], np.zeros(10))
    assert z.n_rows == 10 and z.sum_w == 0.0
    full = GramStats.from_chunk(X, y, w)
    merged = z.merge(full)
    assert merged.n_rows == 60
    np.testing.assert_allclose(merged.cross, full.cross)
    np.testing.assert_allclose(full.merge(z).mean, full.mean)
    with pytest.raises(ValueError):
        GramStats.from_chunk(X, y, -w)


def test_huge_offsets_are_stable() -> None:
    rng = np.random.default_rng(3)
    Xc = rng.standard_normal((5000, 3))
    X = Xc + 1e9  # rounded to the float64 grid near 1e9 (spacing ~1.2e-7)
    shifted = X - 1e9  # exact (Sterbenz): the same data without the offset
    y = shifted @ np.array([1.0, -2.0, 0.5]) + 3e9
    s = GramStats.empty(3)
    for i in range(0, 5000, 333):
        s.update(X[i : i + 333], y[i : i + 333])
    ref = GramStats.from_chunk(shifted, y - 3e9)
    # relative to the variances the centered cross-products agree to ~1e-8
    np.testing.assert_allclose(s.cross, ref.cross, rtol=0, atol=1e-8 * ref.cross.max())
    np.testing.assert_allclose(s.mean[:3] - 1e9, ref.mean[:3], atol=1e-6)


def test_residual_ss_matches_direct() -> None:
    X, y, w = _data(n=400)
    s = GramStats.empty(X.shape[1])
    for i in range(0, 400, 64):
        s.update(X[i : i + 64], y[i : i + 64], w[i : i + 64])
    coef = np.linspace(-1, 1, X.shape[1])
    b = 0.7
    direct = float(np.sum(w * (y - b - X @ coef) ** 2))
    assert s.residual_ss(coef, b) == pytest.approx(direct, rel=1e-10)


def test_dict_roundtrip_is_json_safe() -> None:
    X, y, w = _data(n=40, p=2)
    s = GramStats.from_chunk(X, y, w)
    back = GramStats.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back.n_rows == s.n_rows and back.sum_w == s.sum_w
    np.testing.assert_array_equal(back.cross, s.cross)
    np.testing.assert_array_equal(back.mean, s.mean)


def test_incompatible_shapes_raise() -> None:
    with pytest.raises(ValueError):
        GramStats.empty(2).merge(GramStats.empty(3))
    with pytest.raises(ValueError):
        GramStats.from_chunk(np.zeros((3, 2)), np.zeros(4))


def test_residual_ss_many_matches_direct_residuals() -> None:
    """Many models scored at once equal the residual sums computed row by row with numpy."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 6)) + 50.0
    y = X @ rng.normal(size=6) + rng.normal(size=300)
    w = rng.uniform(0.1, 2.0, size=300)
    stats = GramStats.from_chunk(X, y, w)
    coefs = rng.normal(size=(9, 6))
    intercepts = rng.normal(size=9) * 10
    direct = np.array([np.sum(w * (y - b - X @ c) ** 2)
                       for c, b in zip(coefs, intercepts, strict=True)])
    np.testing.assert_allclose(stats.residual_ss_many(coefs, intercepts), direct, rtol=1e-9)
    assert stats.residual_ss(coefs[3], intercepts[3]) == pytest.approx(direct[3], rel=1e-9)
    with pytest.raises(ValueError):
        stats.residual_ss_many(coefs[:, :5], intercepts)


# ------------------------------------------------------------------ groups (CV folds)
def _group_reference(Z: np.ndarray, w: np.ndarray | None) -> tuple[float, np.ndarray,
                                                                    np.ndarray]:
    return _reference(Z[:, :-1], Z[:, -1], w)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_from_groups_matches_each_groups_reference(weighted: bool, order: str) -> None:
    X, y, w = _data(n=700, p=5, seed=4)
    Z = np.asarray(np.column_stack([X, y]), order=order)
    rng = np.random.default_rng(5)
    groups = rng.integers(-1, 7, len(y))  # -1 and 6 are left out (k = 6); group 4 is empty
    groups[groups == 4] = 6
    ww = w if weighted else None
    before = Z.copy()
    gs = GroupStats.from_groups(Z, groups, 6, ww)
    np.testing.assert_array_equal(Z, before)  # the input is not modified
    assert len(gs) == 6
    for g in range(6):
        rows = groups == g
        assert gs.n_rows[g] == rows.sum()
        s = gs[g]
        if not rows.any():
            assert s.n_rows == 0 and s.sum_w == 0.0
            assert not s.mean.any() and not s.cross.any()
            continue
        W, mean, cross = _group_reference(Z[rows], None if ww is None else ww[rows])
        assert s.sum_w == pytest.approx(W, rel=1e-14)
        np.testing.assert_allclose(s.mean, mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s.cross, cross, rtol=1e-11, atol=1e-9)
        assert np.array_equal(s.cross, s.cross.T)


def test_from_groups_without_groups_is_one_group() -> None:
    X, y, w = _data(n=90, p=3)
    Z = np.column_stack([X, y])
    gs = GroupStats.from_groups(Z, None, 1, w)
    W, mean, cross = _reference(X, y, w)
    assert gs.n_rows.tolist() == [90]
    np.testing.assert_allclose(gs.mean[0], mean, rtol=1e-12)
    np.testing.assert_allclose(gs.cross[0], cross, rtol=1e-11, atol=1e-9)
    with pytest.raises(ValueError):
        GroupStats.from_groups(Z, None, 2)


def test_from_groups_zero_weight_group_and_bad_weights() -> None:
    X, y, w = _data(n=60, p=2)
    Z = np.column_stack([X, y])
    groups = np.arange(60) % 3
    w = w.copy()
    w[groups == 1] = 0.0
    gs = GroupStats.from_groups(Z, groups, 3, w)
    assert gs.n_rows.tolist() == [20, 20, 20]
    assert gs.sum_w[1] == 0.0 and not gs.mean[1].any() and not gs.cross[1].any()
    assert gs.sum_w[0] == pytest.approx(w[groups == 0].sum(), rel=1e-14)
    bad = w.copy()
    bad[5] = -1.0
    with pytest.raises(ValueError, match="non-negative"):
        GroupStats.from_groups(Z, groups, 3, bad)
    # the weights of rows left out are not looked at (a dropped row may hold NaN there)
    bad[5] = np.nan
    left_out = groups.copy()
    left_out[5] = -1
    gs = GroupStats.from_groups(Z, left_out, 3, bad)
    assert gs.n_rows.tolist() == [20, 20, 19]


@pytest.mark.parametrize("weighted", [False, True])
def test_group_absorb_of_chunks_equals_whole_data(weighted: bool) -> None:
    X, y, w = _data(n=1000, p=4, seed=8)
    Z = np.column_stack([X, y])
    groups = np.random.default_rng(9).integers(0, 4, 1000)
    ww = w if weighted else None
    acc = GroupStats.empty(4, 4)
    for a, b in [(0, 3), (3, 3), (3, 250), (250, 251), (251, 1000)]:  # an empty chunk too
        acc.absorb(GroupStats.from_groups(Z[a:b], groups[a:b], 4,
                                          None if ww is None else ww[a:b]))
    for g in range(4):
        rows = groups == g
        W, mean, cross = _group_reference(Z[rows], None if ww is None else ww[rows])
        assert acc.n_rows[g] == rows.sum()
        assert acc.sum_w[g] == pytest.approx(W, rel=1e-13)
        np.testing.assert_allclose(acc.mean[g], mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(acc.cross[g], cross, rtol=1e-11, atol=1e-8)


def test_groups_with_huge_offsets_are_stable() -> None:
    rng = np.random.default_rng(13)
    Xc = rng.standard_normal((6000, 3))
    X = Xc + 1e9  # rounded to the float64 grid near 1e9 (spacing ~1.2e-7)
    shifted = X - 1e9  # exact (Sterbenz): the same data without the offset
    y = shifted @ np.array([1.0, -2.0, 0.5]) + 3e9
    groups = rng.integers(0, 5, 6000)
    acc = GroupStats.empty(5, 3)
    for i in range(0, 6000, 777):
        acc.absorb(GroupStats.from_groups(np.column_stack([X, y])[i : i + 777],
                                          groups[i : i + 777], 5))
    for g in range(5):
        rows = groups == g
        _, mean, cross = _reference(shifted[rows], y[rows] - 3e9, None)  # numpy, no offset
        np.testing.assert_allclose(acc.cross[g], cross, rtol=0, atol=1e-8 * cross.max())
        np.testing.assert_allclose(acc.mean[g, :3] - 1e9, mean[:3], atol=1e-6)


def test_group_take_places_groups() -> None:
    X, y, _ = _data(n=30, p=2)
    gs = GroupStats.from_groups(np.column_stack([X, y]), np.arange(30) % 2, 2)
    wide = gs.take([3, 0], 4)
    assert wide.n_rows.tolist() == [15, 0, 0, 15]
    np.testing.assert_array_equal(wide.cross[3], gs.cross[0])
    np.testing.assert_array_equal(wide.mean[0], gs.mean[1])
    with pytest.raises(ValueError):
        wide.absorb(gs)


def test_group_absorb_at_some_groups() -> None:
    """A chunk holding only some of the groups merges into those (``at``), the others keep
    their numbers: the same as the numpy reference of each group's rows."""
    X, y, w = _data(n=400, p=3, seed=21)
    Z = np.column_stack([X, y])
    groups = np.random.default_rng(22).integers(0, 6, 400)
    acc = GroupStats.empty(6, 3)
    for a, b in [(0, 150), (150, 400)]:
        sub = groups[a:b]
        present = np.unique(sub)[::-1]  # in another order than acc's
        local = np.searchsorted(present[::-1], sub)
        local = len(present) - 1 - local  # row's group as an index into ``present``
        acc.absorb(GroupStats.from_groups(Z[a:b], local, len(present), w[a:b]), at=present)
    for g in range(6):
        rows = groups == g
        W, mean, cross = _reference(X[rows], y[rows], w[rows])
        assert acc.n_rows[g] == rows.sum()
        assert acc.sum_w[g] == pytest.approx(W, rel=1e-13)
        np.testing.assert_allclose(acc.mean[g], mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(acc.cross[g], cross, rtol=1e-11, atol=1e-8)
