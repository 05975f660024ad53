"""normcli.scalers directly: statistics, transforms and JSON parameters vs scikit-learn."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

from normcli.errors import DataError
from normcli.scalers import ColumnStats, Scaler


def _X(rng: np.random.Generator) -> np.ndarray:
    X = rng.standard_normal((40, 4)) * [1.0, 1e-3, 1e5, 2.0] + [0.0, 5.0, -1e6, 1.0]
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 3] = 2.5
    return X


@pytest.mark.parametrize("kind,ref", [("minmax", MinMaxScaler), ("zscore", StandardScaler),
                                      ("maxabs", MaxAbsScaler)])
def test_transform_vs_sklearn(rng, kind: str, ref) -> None:
    X = _X(rng)
    st = ColumnStats.empty(4)
    for piece in np.array_split(X, 5):
        st.update(piece)
    out = Scaler(kind, list("abcd"), st).transform(X)
    # column b (5 +- 1e-3) is ill-conditioned: both are within ~5e-13 of the exact z-scores
    np.testing.assert_allclose(out, ref().fit_transform(X), rtol=1e-12, atol=2e-12)


def test_json_round_trip(rng) -> None:
    X = _X(rng)
    st = ColumnStats.of(X)
    sc = Scaler("zscore", list("abcd"), st)
    data = json.loads(json.dumps(sc.to_json()))
    back = Scaler.from_json(data, list("dcba"), "p.json")
    Y = rng.standard_normal((5, 4))
    np.testing.assert_array_equal(back.transform(Y[:, ::-1])[:, ::-1], sc.transform(Y))
    with pytest.raises(DataError, match="'zz'"):
        Scaler.from_json(data, ["a", "zz"], "p.json")


def test_exact_stats_at_extremes() -> None:
    X = np.array([[1e308, 1e-300], [-1e308, 3e-300], [1.7e308, 2e-300]])
    st = ColumnStats.of(X)
    for j in range(2):
        xs = [Fraction(v) for v in X[:, j]]
        mean = sum(xs) / 3
        var = sum((v - mean) ** 2 for v in xs) / 3
        assert st.mean[j] == pytest.approx(float(mean), rel=1e-15)
        # std via a scaled Fraction (float(var) would overflow/underflow)
        s = Fraction(2) ** (1023 if j == 0 else -996)
        assert st.std[j] == pytest.approx(float(var / s / s) ** 0.5 * float(s), rel=1e-15)
    z = Scaler("zscore", ["a", "b"], st).transform(X)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z[:, 1], [-1.224744871391589, 1.224744871391589, 0.0],
                               atol=1e-15)
