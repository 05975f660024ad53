"""``normcli norm`` against numpy.linalg.norm, scipy.spatial.distance and hand values."""

from __future__ import annotations

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
from scipy.spatial import distance


def _data(rng: np.random.Generator, n: int = 30, k: int = 4, missing: bool = True) -> np.ndarray:
    X = rng.standard_normal((n, k)) * rng.uniform(0.1, 100.0, k)
    X[2] = 0.0
    X[5, 1] = 0.0
    if missing:
        mask = rng.random((n, k)) < 0.15
        X[mask] = np.nan
        X[7] = np.nan  # a row with no present value: its norm is missing
    return X


def _np_norm(row: np.ndarray, p: float) -> float:
    present = row[~np.isnan(row)]
    if present.size == 0:
        return math.nan
    return float(np.linalg.norm(present, ord=p))


ORDS = [("1", 1), ("2", 2), ("inf", np.inf), ("-inf", -np.inf), ("0", 0), ("3", 3),
        ("0.5", 0.5), ("l1", 1), ("l2", 2), ("max", np.inf)]


@pytest.mark.parametrize("text,p", ORDS)
def test_row_norms_match_numpy(tmp_path: Path, rng, text: str, p: float) -> None:
    X = _data(rng)
    path = write_matrix(tmp_path / "x.csv", X)
    raw = invoke(["norm", "--ord", text, str(path)])
    rows = parse_csv(raw)
    assert rows[0] == ["c0", "c1", "c2", "c3", "norm"]
    # every input cell comes back as its input text
    original = parse_csv(path.read_bytes())
    assert [r[:-1] for r in rows] == original
    out = out_matrix(raw, ["norm"])[:, 0]
    expected = np.array([_np_norm(r, p) for r in X])
    assert_close(out, expected, rtol=1e-14)


def test_default_ord_is_2(tmp_path: Path, rng) -> None:
    X = _data(rng, missing=False)
    out = out_matrix(invoke(["norm", str(write_matrix(tmp_path / "x.csv", X))]), ["norm"])
    assert_close(out[:, 0], np.linalg.norm(X, axis=1), rtol=1e-15)


@pytest.mark.parametrize("text,p", [("1", 1), ("2", 2), ("inf", np.inf), ("-inf", -np.inf),
                                    ("0", 0), ("3", 3), ("0.5", 0.5)])
def test_axis_columns_match_numpy(tmp_path: Path, rng, text: str, p: float) -> None:
    X = _data(rng)
    path = write_matrix(tmp_path / "x.csv", X)
    rows = parse_csv(invoke(["norm", "--axis", "columns", "--ord", text, "--chunk-rows", "4",
                             str(path)]))
    assert rows[0] == ["column", "norm"]
    assert [r[0] for r in rows[1:]] == ["c0", "c1", "c2", "c3"]
    got = np.array([float(r[1]) for r in rows[1:]])
    expected = np.array([_np_norm(X[:, j], p) for j in range(X.shape[1])])
    assert_close(got, expected, rtol=1e-14)


def test_only_and_name_and_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["id", "x", "y", "z"],
                     [["00501", "3", "4", "12"], ["00502", "-5", "12", "0"]])
    rows = parse_csv(invoke(["norm", "--only", "--columns", "x,y", str(path)]))
    assert rows == [["norm"], ["5"], ["13"]]
    rows = parse_csv(invoke(["norm", "--name", "length", str(path)]))
    assert rows[0] == ["id", "x", "y", "z", "length"]
    assert rows[1] == ["00501", "3", "4", "12", "13"]  # id (leading zero) is not used
    assert float(rows[2][4]) == 13.0
    rows = parse_csv(invoke(["norm", "--exclude", "z", "--ord", "1", "--only", str(path)]))
    assert rows == [["norm"], ["7"], ["17"]]


def test_name_clash_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["x", "norm"], [["1", "2"]])
    code, out, err = run_main(["norm", str(path)])
    assert code == 2
    assert "norm" in error_line(err)


_METRICS = [
    ("1", lambda u, v: distance.cityblock(u, v)),
    ("2", lambda u, v: distance.euclidean(u, v)),
    ("inf", lambda u, v: distance.chebyshev(u, v)),
    ("3", lambda u, v: distance.minkowski(u, v, 3)),
]


@pytest.mark.parametrize("text,metric", _METRICS)
def test_to_point_matches_scipy(tmp_path: Path, rng, text: str, metric) -> None:
    X = _data(rng, missing=False)[:, :3]
    point = rng.uniform(-50, 50, 3)
    path = write_csv(tmp_path / "p.csv", ["label", "a", "b", "c"],
                     [[f"r{i}", *map(float, row)] for i, row in enumerate(X)])
    to = ",".join(repr(float(v)) for v in point)
    raw = invoke(["norm", "--ord", text, "--to", to, str(path)])
    got = out_matrix(raw, ["norm"])[:, 0]
    expected = np.array([metric(row, point) for row in X])
    assert_close(got, expected, rtol=1e-14)
    assert [r[0] for r in parse_csv(raw)[1:]] == [f"r{i}" for i in range(len(X))]


@pytest.mark.parametrize("text,metric", _METRICS)
def test_to_columns_matches_scipy(tmp_path: Path, rng, text: str, metric) -> None:
    U = rng.uniform(-100, 100, (25, 2))
    V = rng.uniform(-100, 100, (25, 2))
    path = write_matrix(tmp_path / "p.csv", np.hstack([U, V]), ["x1", "y1", "x2", "y2"])
    raw = invoke(["norm", "--ord", text, "--columns", "x1,y1", "--to-columns", "x2,y2",
                  "--chunk-rows", "6", str(path)])
    got = out_matrix(raw, ["norm"])[:, 0]
    expected = np.array([metric(u, v) for u, v in zip(U, V, strict=True)])
    assert_close(got, expected, rtol=1e-14)


def test_grid_corners_example(tmp_path: Path) -> None:
    """Opposite corners of a 6x6 grid: 12 apart by L1, 6*sqrt(2) ~ 8.485 by L2."""
    path = write_csv(tmp_path / "g.csv", ["x1", "y1", "x2", "y2"], [["0", "0", "6", "6"]])
    args = ["--only", "--columns", "x1,y1", "--to-columns", "x2,y2", str(path)]
    assert parse_csv(invoke(["norm", "--ord", "1", *args]))[1] == ["12"]
    l2 = float(parse_csv(invoke(["norm", "--ord", "2", *args]))[1][0])
    assert l2 == math.sqrt(72)  # 6**2 + 6**2, correctly rounded
    assert round(l2, 3) == 8.485
    # the same through --to
    p2 = write_csv(tmp_path / "h.csv", ["x", "y"], [["6", "6"]])
    assert parse_csv(invoke(["norm", "--only", "--ord", "1", "--to", "0,0", str(p2)]))[1] == ["12"]


def test_to_length_mismatch_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["a", "b", "c"], [["1", "2", "3"]])
    code, out, err = run_main(["norm", "--to", "1,2", str(path)])
    assert code == 2
    line = error_line(err)
    assert "2" in line and "3" in line
    assert out == b""


def test_to_columns_length_mismatch_exits_2(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "p.csv", ["a", "b", "c", "d", "e"], [["1", "2", "3", "4", "5"]])
    code, out, err = run_main(["norm", "--columns", "a,b,c", "--to-columns", "d,e", str(path)])
    assert code == 2
    line = error_line(err)
    assert "2" in line and "3" in line


@pytest.mark.parametrize("args", [["--ord", "x"], ["--ord", "nan"],
                                  ["--to", "1,x"], ["--to", "1,inf"]])
def test_bad_options_exit_2(tmp_path: Path, args: list[str]) -> None:
    path = write_csv(tmp_path / "p.csv", ["a", "b"], [["1", "2"]])
    code, out, err = run_main(["norm", *args, str(path)])
    assert code == 2, err
    error_line(err)


# -- hand values at the ends of float64 --------------------------------------------------------
@pytest.mark.parametrize("row,ord_,expected", [
    (("1e200", "1e200"), "2", 1.4142135623730951e200),
    (("1e-200", "1e-200"), "2", 1.4142135623730951e-200),
    (("1e300", "1e300"), "3", 2 ** (1 / 3) * 1e300),
    (("1e300", "-1e300"), "2", 1.4142135623730952e300),
    (("1e308", "1e308"), "2", 1.4142135623730951e308),
    (("5e-324", "5e-324"), "2", 5e-324),
    (("5e-324", "5e-324"), "1", 1e-323),
    (("1e100", "0"), "3", 1e100),
    (("1e-90", "0"), "3", 1e-90),
    (("1e-200", "1e-200"), "0.5", 4e-200),
    (("1e200", "-3e200"), "-inf", 1e200),
    (("1e200", "0"), "0", 1.0),
])
def test_extreme_hand_values(tmp_path: Path, row, ord_: str, expected: float) -> None:
    path = write_csv(tmp_path / "e.csv", ["a", "b"], [list(row)])
    got = float(parse_csv(invoke(["norm", "--only", "--ord", ord_, str(path)]))[1][0])
    if math.isinf(expected):
        assert got == expected
    else:
        np.testing.assert_allclose(got, expected, rtol=2.3e-16)


def test_l2_at_1e200_is_correctly_rounded(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", ["a", "b"], [["1e200", "1e200"], ["3e-200", "4e-200"]])
    got = [float(r[0]) for r in parse_csv(invoke(["norm", "--only", str(path)]))[1:]]
    assert got == [1.4142135623730951e200, 5e-200]
