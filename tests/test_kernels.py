"""normcli.kernels directly, against numpy / scikit-learn and hand values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.preprocessing import normalize

from normcli.errors import UsageError
from normcli.kernels import ColumnNorms, normalize_rows, parse_ord, row_norms


@pytest.mark.parametrize("text,value", [("l1", 1.0), ("L2", 2.0), ("max", math.inf),
                                        ("inf", math.inf), ("-inf", -math.inf), ("0", 0.0),
                                        ("3", 3.0), ("0.5", 0.5)])
def test_parse_ord(text: str, value: float) -> None:
    assert parse_ord(text) == value


@pytest.mark.parametrize("text", ["nan", "x", ""])
def test_parse_ord_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_ord(text)


def test_parse_ord_minimum_for_normalize() -> None:
    for text in ("0.5", "0", "-inf"):
        with pytest.raises(UsageError):
            parse_ord(text, allow_special=False, minimum=1.0)


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf, -math.inf, 0.0, 3.0, 0.5])
def test_row_norms_vs_numpy(rng, p: float) -> None:
    X = rng.standard_normal((20, 5)) * 10
    X[0] = 0
    got = row_norms(X, p)
    expected = np.array([np.linalg.norm(r, ord=p) for r in X])
    np.testing.assert_allclose(got, expected, rtol=1e-14)


def test_row_norms_all_missing_row_is_nan() -> None:
    X = np.array([[np.nan, np.nan], [3.0, np.nan]])
    for p in (1.0, 2.0, math.inf, -math.inf, 0.0, 3.0):
        got = row_norms(X, p)
        assert math.isnan(got[0])
        assert got[1] == (1.0 if p == 0 else 3.0)


@pytest.mark.parametrize("p,norm", [(1.0, "l1"), (2.0, "l2"), (math.inf, "max")])
def test_normalize_rows_vs_sklearn(rng, p: float, norm: str) -> None:
    X = rng.standard_normal((30, 4))
    X[3] = 0.0
    np.testing.assert_allclose(normalize_rows(X, p), normalize(X, norm=norm), rtol=1e-15)


@pytest.mark.parametrize("p,norm", [(1.0, "l1"), (2.0, "l2"), (math.inf, "max")])
def test_normalize_rows_into_out_leaves_x(rng, p: float, norm: str) -> None:
    """``out=``: the result is written there (in either memory order), X is left as it was,
    and missing and infinite cells follow the same rules as without it."""
    X = rng.standard_normal((40, 5)) * 1e3
    X[3] = 0.0
    X[5, 2] = np.nan
    X[7, 1] = -np.inf
    before = X.copy()
    for order in ("C", "F"):
        out = np.full(X.shape, 7.0, order=order)
        got = normalize_rows(X, p, out=out)
        assert got is out
        np.testing.assert_array_equal(X, before)
        np.testing.assert_array_equal(got, normalize_rows(X, p))
    plain = np.delete(X, [5, 7], axis=0)
    np.testing.assert_allclose(np.delete(out, [5, 7], axis=0), normalize(plain, norm=norm),
                               rtol=1e-15)
    row5 = np.delete(X[5], 2)
    np.testing.assert_allclose(np.delete(out[5], 2), normalize(row5[None], norm=norm)[0],
                               rtol=1e-15)
    assert np.isnan(out[5, 2])
    assert out[7].tolist() == [0.0, -1.0, 0.0, 0.0, 0.0]


def test_normalize_rows_subnormal_exact() -> None:
    X = np.array([[5e-324, 5e-324], [1e308, 1e308], [1e200, -1e200], [0.0, 0.0]])
    out = normalize_rows(X, 2.0)
    assert out.tolist() == [[0.7071067811865475] * 2, [0.7071067811865475] * 2,
                            [0.7071067811865475, -0.7071067811865475], [0.0, 0.0]]


@pytest.mark.parametrize("p", [1.0, 2.0, math.inf, -math.inf, 0.0, 3.0, 0.5])
def test_column_norms_merge_in_chunks(rng, p: float) -> None:
    X = rng.standard_normal((50, 3)) * np.array([1e-150, 1.0, 1e150])
    X[rng.random(X.shape) < 0.1] = np.nan
    acc = ColumnNorms(3, p)
    parts = [ColumnNorms(3, p) for _ in range(3)]
    for piece, part in zip(np.array_split(X, [7, 30]), parts, strict=True):
        part.update(piece)
    for part in reversed(parts):
        acc.merge(part)
    expected = np.array([np.linalg.norm((c[~np.isnan(c)] / 2.0**(-500 if j == 0 else 500
                                                              if j == 2 else 0)), ord=p)
                         * (1 if p == 0 else 2.0**(-500 if j == 0 else 500 if j == 2 else 0))
                         for j, c in enumerate(X.T)])
    np.testing.assert_allclose(acc.norms(), expected, rtol=1e-14)


def _general_l2(X: np.ndarray, out: np.ndarray | None, monkeypatch: pytest.MonkeyPatch
                ) -> np.ndarray:
    """normalize_rows(X, 2) by the general (any-order) route: the L2 shortcut switched off."""
    import normcli.kernels as kernels

    with monkeypatch.context() as m:
        m.setattr(kernels, "_normalize_rows_l2", lambda X, out: None)
        return normalize_rows(X, 2.0, out=out)


@pytest.mark.parametrize("order", ["C", "F"])
def test_normalize_rows_l2_shortcut_same_bits(rng, order: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The L2 shortcut (no |X| block; max and min for the scale) gives the general route's
    result to the bit, at every scale, with zeros, -0.0 and infinities; and scikit-learn's on
    ordinary rows."""
    X = rng.standard_normal((400, 6)) * 10.0 ** rng.integers(-320, 309, size=(400, 1))
    X[rng.random(X.shape) < 0.1] = 0.0
    X[rng.random(X.shape) < 0.05] = -0.0
    X[3] = 0.0
    X[5, 1] = np.inf
    X[6, [0, 4]] = -np.inf
    X[7] = [1e308, -1e308, 1e308, 0.0, 5e-324, -5e-324]  # sum of squares overflows
    X[8] = [1e-200, -1e-200, 0.0, 0.0, 0.0, 0.0]  # ... underflows
    X = np.asarray(X, order=order)
    got = normalize_rows(X, 2.0, out=np.empty(X.shape, order=order))
    want = _general_l2(X, np.empty(X.shape, order=order), monkeypatch)
    assert got.tobytes() == want.tobytes()
    assert got[7].tolist()[:3] == [1 / math.sqrt(3), -1 / math.sqrt(3), 1 / math.sqrt(3)]
    assert got[8].tolist()[:2] == [0.7071067811865475, -0.7071067811865475]
    assert got[5].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert got[6].tolist() == [-0.7071067811865475, 0, 0, 0, -0.7071067811865475, 0]
    plain = rng.standard_normal((50, 6))
    np.testing.assert_allclose(normalize_rows(np.asarray(plain, order=order), 2.0),
                               normalize(plain, norm="l2"), rtol=1e-15)


def test_normalize_rows_l2_missing_cell_takes_general_route(
        rng, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block holding a missing cell (NaN) goes the general way: that row is normalized over
    its present values, the other rows as without it."""
    X = rng.standard_normal((30, 4))
    X[9, 2] = np.nan
    got = normalize_rows(X, 2.0)
    assert np.isnan(got[9, 2])
    row = np.delete(X[9], 2)
    np.testing.assert_allclose(np.delete(got[9], 2), row / np.linalg.norm(row), rtol=1e-15)
    others = np.delete(np.arange(30), 9)
    assert got[others].tobytes() == normalize_rows(X[others], 2.0).tobytes()
    assert got.tobytes() == _general_l2(X, None, monkeypatch).tobytes()
