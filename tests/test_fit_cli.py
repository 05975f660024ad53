"""fit and predict through the command line, compared with scikit-learn."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from conftest import error_line, run_main
from sklearn.datasets import load_diabetes
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LassoCV,
    LinearRegression,
    Ridge,
)
from sklearn.model_selection import PredefinedSplit

from normcli.cli import cli, main


def write_csv(path: Path, names: list[str], X: np.ndarray) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in X:
            w.writerow([repr(float(v)) for v in row])
    return path


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    data = load_diabetes()
    X, y = data.data, data.target
    names = [*data.feature_names, "target"]
    path = tmp_path_factory.mktemp("fit") / "diabetes.csv"
    write_csv(path, names, np.column_stack([X, y]))
    return path, X, y


def run_fit(args: list[str]) -> dict[str, float]:
    result = CliRunner().invoke(cli, ["fit", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0] == ["term", "coefficient"]
    assert rows[1][0] == "(intercept)"
    return {r[0]: float(r[1]) for r in rows[1:]}


def coef_vector(out: dict[str, float], names: list[str]) -> np.ndarray:
    return np.array([out[n] for n in names])


FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def assert_close(ours: np.ndarray, ref: np.ndarray, rtol: float = 1e-6) -> None:
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize(
    ("args", "model"),
    [
        (["--penalty", "none"], LinearRegression()),
        (["--penalty", "ols"], LinearRegression()),
        (["--penalty", "l2", "--alpha", "0.5"], Ridge(alpha=0.5)),
        (["--penalty", "ridge", "--alpha", "3"], Ridge(alpha=3.0)),
        (["--penalty", "l1", "--alpha", "0.1", "--tol", "1e-12", "--max-iter", "100000"],
         Lasso(alpha=0.1, tol=1e-12, max_iter=100000)),
        (["--penalty", "enet", "--alpha", "0.01", "--l1-ratio", "0.3", "--tol", "1e-12",
          "--max-iter", "100000"],
         ElasticNet(alpha=0.01, l1_ratio=0.3, tol=1e-12, max_iter=100000)),
    ],
)
def test_fit_matches_sklearn_on_diabetes(diabetes, args, model) -> None:  # type: ignore[no-untyped-def]
    path, X, y = diabetes
    out = run_fit(["-y", "target", *args, str(path)])
    model.fit(X, y)
    assert_close(coef_vector(out, FEATURES), model.coef_)
    assert out["(intercept)"] == pytest.approx(model.intercept_, rel=1e-6)


def test_fit_weights_and_no_intercept(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4)) + 5
    y = X @ np.array([1.0, -2.0, 0.0, 0.5]) + 3 + rng.normal(size=300)
    w = rng.uniform(0.1, 3, size=300)
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "d", "y", "w"], np.column_stack([X, y, w]))
    out = run_fit(["-y", "y", "--weights", "w", "--penalty", "l1", "--alpha", "0.05",
                   "--tol", "1e-12", "--max-iter", "100000", str(path)])
    ref = Lasso(alpha=0.05, tol=1e-12, max_iter=100000).fit(X, y, sample_weight=w)
    assert_close(coef_vector(out, ["a", "b", "c", "d"]), ref.coef_)
    assert out["(intercept)"] == pytest.approx(ref.intercept_, rel=1e-6)

    out = run_fit(["-y", "y", "--weights", "w", "--penalty", "l2", "--alpha", "2",
                   "--no-intercept", str(path)])
    ref2 = Ridge(alpha=2.0, fit_intercept=False).fit(X, y, sample_weight=w)
    assert_close(coef_vector(out, ["a", "b", "c", "d"]), ref2.coef_)
    assert out["(intercept)"] == 0.0


def test_fit_large_offsets_give_centered_slopes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(500, 3))
    y = Z @ np.array([2.0, -1.0, 0.5]) + rng.normal(scale=0.1, size=500)
    path = write_csv(tmp_path / "o.csv", ["a", "b", "c", "y"], np.column_stack([Z + 1e9, y]))
    out = run_fit(["-y", "y", "--penalty", "none", "--chunk-rows", "37", str(path)])
    Xo = np.loadtxt(path, delimiter=",", skiprows=1)[:, :3]
    ref = LinearRegression().fit(Xo - Xo.mean(axis=0), y)
    assert_close(coef_vector(out, ["a", "b", "c"]), ref.coef_, rtol=1e-6)


def test_fit_collinear_min_norm(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=200)
    X = np.column_stack([a, 2 * a, rng.normal(size=200), np.ones(200)])
    y = 3 * a + X[:, 2] + rng.normal(scale=0.1, size=200)
    path = write_csv(tmp_path / "c.csv", ["a", "a2", "b", "k", "y"], np.column_stack([X, y]))
    out = run_fit(["-y", "y", "--penalty", "none", str(path)])
    ref = LinearRegression().fit(X, y)
    assert_close(coef_vector(out, ["a", "a2", "b", "k"]), ref.coef_)


def test_cv_matches_lassocv_with_fold_column(tmp_path: Path, diabetes) -> None:  # type: ignore[no-untyped-def]
    _, X, y = diabetes
    folds = np.arange(len(y)) % 5
    path = write_csv(tmp_path / "f.csv", [*FEATURES, "target", "fold"],
                     np.column_stack([X, y, folds]))
    report_path = tmp_path / "m.json"
    result = CliRunner().invoke(
        cli, ["fit", "-y", "target", "--penalty", "l1", "--cv", "5", "--fold-column", "fold",
              "--tol", "1e-12", "--max-iter", "100000", str(path), str(report_path)],
        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    ref = LassoCV(cv=PredefinedSplit(folds), tol=1e-12, max_iter=100000).fit(X, y)
    cvr = report["cv"]
    np.testing.assert_allclose(cvr["alphas"], ref.alphas_, rtol=1e-10)
    np.testing.assert_allclose(cvr["mse_mean"], ref.mse_path_.mean(axis=1), rtol=1e-6)
    assert cvr["alpha_min"] == pytest.approx(ref.alpha_, rel=1e-10)
    assert report["alpha"] == pytest.approx(ref.alpha_, rel=1e-10)
    coef = np.array([report["coefficients"][n] for n in FEATURES])
    assert_close(coef, ref.coef_)
    assert report["n_rows"] == len(y)
    assert report["n_nonzero"] == int(np.count_nonzero(ref.coef_))
    for key in ("penalty", "l1_ratio", "intercept", "converged", "duality_gap"):
        assert key in report
    # 1se: the largest alpha within one standard error of the minimum (computed here by hand).
    mse = ref.mse_path_
    se = mse.std(axis=1, ddof=1) / np.sqrt(5)
    i = int(np.argmin(mse.mean(axis=1)))
    ok = np.flatnonzero(mse.mean(axis=1) <= mse.mean(axis=1)[i] + se[i])
    assert cvr["alpha_1se"] == pytest.approx(ref.alphas_[ok].max(), rel=1e-10)


def test_cv_seed_folds_are_reproducible_and_chunk_independent(diabetes) -> None:  # type: ignore[no-untyped-def]
    path = diabetes[0]
    base = ["fit", "-y", "target", "--penalty", "l1", "--cv", "4", "--n-alphas", "20",
            "--output-format", "json", str(path)]
    a = CliRunner().invoke(cli, base, catch_exceptions=False).output
    b = CliRunner().invoke(cli, [*base, "--chunk-rows", "17"], catch_exceptions=False).output
    c = CliRunner().invoke(cli, [*base, "--seed", "5"], catch_exceptions=False).output
    ja, jb, jc = json.loads(a), json.loads(b), json.loads(c)
    assert ja["cv"]["mse_mean"] == pytest.approx(jb["cv"]["mse_mean"], rel=1e-9)
    assert ja["cv"]["mse_mean"] != jc["cv"]["mse_mean"]


def test_predict_appends_sklearn_predictions(tmp_path: Path, diabetes) -> None:  # type: ignore[no-untyped-def]
    path, X, y = diabetes
    model = tmp_path / "m.json"
    CliRunner().invoke(cli, ["fit", "-y", "target", "--penalty", "l2", "--alpha", "0.3",
                             str(path), str(model)], catch_exceptions=False)
    out = tmp_path / "p.parquet"
    result = CliRunner().invoke(cli, ["predict", "--model", str(model), str(path), str(out)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    table = pq.read_table(out)
    assert table.column_names == [*FEATURES, "target", "prediction"]
    ref = Ridge(alpha=0.3).fit(X, y).predict(X)
    np.testing.assert_allclose(table.column("prediction").to_numpy(), ref, rtol=1e-9)


def exit_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    err = capsys.readouterr().err
    return int(info.value.code or 0), err


def test_missing_values_name_line_and_column(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "m.csv"
    p.write_text('id,a,y\n"q\nq",1,3\n\nr,2,\ns,3,6\nt,4,8\n')
    code, err = exit_of(["fit", "-y", "y", str(p)], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "line 5" in err and "'y'" in err
    code, err = exit_of(["fit", "-y", "y", "--drop-missing", "--penalty", "none", str(p)], capsys)
    assert code == 0
    assert "dropped 1 rows" in err


def test_target_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "t.csv"
    p.write_text("a,b,name\n1,2,x\n2,3,y\n")
    code, err = exit_of(["fit", "-y", "nope", str(p)], capsys)
    assert code == 2 and "nope" in err
    code, err = exit_of(["fit", "-y", "name", str(p)], capsys)
    assert code == 2 and "name" in err
    code, err = exit_of(["fit", "-y", "a", "--penalty", "none", "--cv", "3", str(p)], capsys)
    assert code == 2


def test_predict_missing_feature(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "m.json"
    model.write_text(json.dumps({"intercept": 1.0, "coefficients": {"a": 1.0, "zz": 2.0}}))
    p = tmp_path / "d.csv"
    p.write_text("a,b\n1,2\n")
    code, err = exit_of(["predict", "--model", str(model), str(p)], capsys)
    assert code == 1 and "zz" in err


@pytest.mark.slow
def test_two_thousand_features_and_the_limit(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    p = 2000
    X = rng.normal(size=(60, p))
    y = X[:, 0] * 2 + rng.normal(size=60)
    names = [f"f{i}" for i in range(p)]
    path = write_csv(tmp_path / "wide.csv", [*names, "y"], np.column_stack([X, y]))
    out = run_fit(["-y", "y", "--penalty", "l2", "--alpha", "1", str(path)])
    ref = Ridge(alpha=1.0).fit(X, y)
    assert_close(coef_vector(out, names), ref.coef_)

    big = tmp_path / "wider.csv"
    with open(big, "w") as fh:
        fh.write(",".join(f"f{i}" for i in range(4001)) + ",y\n")
        fh.write(",".join("1" for _ in range(4002)) + "\n")
    code, err = exit_of(["fit", "-y", "y", str(big)], capsys)
    assert code == 2 and "4000" in err


def test_plot_writes_png(tmp_path: Path, diabetes) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    png = tmp_path / "p.png"
    result = CliRunner().invoke(cli, ["fit", "-y", "target", "--penalty", "l1", "--cv", "3",
                                      "--n-alphas", "10", "--plot", str(png), str(diabetes[0])],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".normcli-tmp")]


def test_fit_from_parquet_equals_csv(tmp_path: Path, diabetes) -> None:  # type: ignore[no-untyped-def]
    path, X, y = diabetes
    pqp = tmp_path / "d.parquet"
    pq.write_table(pa.table({**{n: X[:, i] for i, n in enumerate(FEATURES)}, "target": y}), pqp)
    a = run_fit(["-y", "target", "--penalty", "l1", "--alpha", "0.2", str(path)])
    b = run_fit(["-y", "target", "--penalty", "l1", "--alpha", "0.2", str(pqp)])
    assert a == pytest.approx(b, rel=1e-12)


def test_infinite_and_negative_weight_name_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "i.csv"
    p.write_text("a,b,y,w\n1,2,3,1\n2,-inf,4,1\n3,1,5,1\n4,2,1,1\n")
    code, err = exit_of(["fit", "-y", "y", "--weights", "w", str(p)], capsys)
    assert code == 1 and "line 3" in err and "'b'" in err and "infinite" in err
    p.write_text("a,b,y,w\n1,2,3,1\n2,1,4,1\n3,1,5,-2\n4,2,1,1\n")
    code, err = exit_of(["fit", "-y", "y", "--weights", "w", str(p)], capsys)
    assert code == 1 and "line 4" in err and "'w'" in err and "negative weight" in err


@pytest.mark.parametrize(("drop", "text", "expect"), [
    # an infinity is refused even with --drop-missing, located by line and column
    (True, "x,y\n1,2\nNA,3\n2,inf\n", "line 4, column 'y': infinite value"),
    (False, "x,y\n1,2\n-inf,NA\n", "line 3, column 'x': infinite value"),
    (False, "x,y\n1,2\n3,NA\n", "line 3, column 'y': missing value"),
])
def test_fit_locates_infinite_and_missing_cells(tmp_path: Path, drop: bool, text: str,
                                                expect: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text(text)
    args = ["fit", "-y", "y", *(["--drop-missing"] if drop else []), str(src)]
    code, _, err = run_main(args)
    assert code == 1
    assert expect in error_line(err)


def test_cv_with_dropped_rows_over_many_chunks_matches_lassocv(tmp_path: Path, diabetes) -> None:  # type: ignore[no-untyped-def]
    """Seeded folds (assigned by row position, before rows with missing cells are dropped),
    chunks of 37 rows, empty cells in number columns: scikit-learn's LassoCV on the rows
    kept, with the same folds."""
    from normcli.regression import fold_ids

    _, X, y = diabetes
    n = len(y)
    missing = np.zeros(X.shape, dtype=bool)
    missing[np.arange(3, n, 29), np.arange(3, n, 29) % X.shape[1]] = True
    path = tmp_path / "m.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*FEATURES, "target"])
        for i in range(n):
            w.writerow(["" if missing[i, j] else repr(float(X[i, j])) for j in range(10)]
                       + [repr(float(y[i]))])
    report_path = tmp_path / "m.json"
    result = CliRunner().invoke(
        cli, ["fit", "-y", "target", "--penalty", "l1", "--cv", "5", "--drop-missing",
              "--chunk-rows", "37", "--tol", "1e-12", "--max-iter", "100000", str(path),
              str(report_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    keep = ~missing.any(axis=1)
    folds = fold_ids(0, n, 5, 0)[keep]  # the README's assignment, by position in the file
    ref = LassoCV(cv=PredefinedSplit(folds), tol=1e-12, max_iter=100000).fit(X[keep], y[keep])
    assert report["n_rows"] == int(keep.sum()) and report["dropped_rows"] == int((~keep).sum())
    np.testing.assert_allclose(report["cv"]["mse_mean"], ref.mse_path_.mean(axis=1), rtol=1e-6)
    assert report["alpha"] == pytest.approx(ref.alpha_, rel=1e-10)
    assert_close(np.array([report["coefficients"][f] for f in FEATURES]), ref.coef_)


def test_cv_fold_column_ids_first_seen_in_later_chunks(tmp_path: Path, diabetes) -> None:  # type: ignore[no-untyped-def]
    """Fold ids that show up chunk after chunk, in no sorted order, and a fold spread over
    chunks far apart: the same folds as LassoCV's."""
    _, X, y = diabetes
    n = len(y)
    names = np.array(["e", "b", "d", "a", "c"])
    labels = names[np.minimum(np.arange(n) * 5 // n, 4)]  # one run of rows per fold
    labels[::50] = "a"  # and fold a also in every other stretch
    path = tmp_path / "f.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([*FEATURES, "target", "fold"])
        for i in range(n):
            w.writerow([repr(float(v)) for v in X[i]] + [repr(float(y[i])), labels[i]])
    report_path = tmp_path / "m.json"
    result = CliRunner().invoke(
        cli, ["fit", "-y", "target", "--penalty", "l1", "--cv", "5", "--fold-column", "fold",
              "--chunk-rows", "23", "--tol", "1e-12", "--max-iter", "100000", str(path),
              str(report_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    ref = LassoCV(cv=PredefinedSplit(np.searchsorted(np.sort(names), labels)), tol=1e-12,
                  max_iter=100000).fit(X, y)
    np.testing.assert_allclose(report["cv"]["mse_mean"], ref.mse_path_.mean(axis=1), rtol=1e-6)
    assert report["alpha"] == pytest.approx(ref.alpha_, rel=1e-10)
    assert_close(np.array([report["coefficients"][f] for f in FEATURES]), ref.coef_)


def test_no_header_input_gives_a_coefficient_table_without_header(tmp_path: Path) -> None:
    # CLI.md: with --no-header "the output has no header either" (norm --axis columns already
    # did so; fit's term,coefficient table kept its header line). --path, a side file, keeps it.
    X = np.array([[1.0, 2.0], [4.0, 5.0], [7.0, 8.0], [2.0, 1.0], [3.0, 7.0]])
    y = np.array([3.0, 6.0, 10.0, 1.0, 2.0])
    src = tmp_path / "in.csv"
    src.write_text("".join(f"{a},{b},{t}\n" for (a, b), t in zip(X, y, strict=True)))
    code, out, err = run_main(["fit", "--no-header", "-y", "column_3", "--penalty", "none",
                               str(src), "-"])
    assert code == 0, err
    rows = [line.split(",") for line in out.decode().splitlines()]
    assert [r[0] for r in rows] == ["(intercept)", "column_1", "column_2"]
    want, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)
    np.testing.assert_allclose([float(r[1]) for r in rows], want, rtol=1e-12)
    path = tmp_path / "path.csv"
    code, out, err = run_main(["fit", "--no-header", "-y", "column_3", "--penalty", "l1",
                               "--cv", "2", "--path", str(path), str(src), "-"])
    assert code == 0, err
    assert out.decode().splitlines()[0].startswith("(intercept),")
    assert path.read_text().splitlines()[0] == \
        "alpha,n_nonzero,cv_mse,cv_mse_se,column_1,column_2"
