"""fit's report: goodness of fit, OLS/WLS inference, the path, selection order, the summary.

Every number is compared with statsmodels (OLS, WLS) or scikit-learn (enet_path, lars_path,
r2_score, mean_squared_error) on the diabetes data and on generated data.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from click.testing import CliRunner
from conftest import error_line, run_main, write_matrix
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso, Ridge, enet_path, lars_path
from sklearn.metrics import mean_squared_error, r2_score

from normcli.cli import cli
from normcli.ops.fit import report_format
from normcli.pipeline import OutputSpec

FEATURES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
RTOL = 1e-8


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray,
                                                                 np.ndarray]:
    data = load_diabetes()
    X, y = data.data, data.target
    w = np.random.default_rng(3).uniform(0.2, 3.0, len(y))
    w[::50] = 0.0  # zero weights: statsmodels still counts these rows in nobs
    path = tmp_path_factory.mktemp("report") / "diabetes.csv"
    write_matrix(path, np.column_stack([X, y, w]), [*FEATURES, "target", "w"])
    return path, X, y, w


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray,
                                                                  np.ndarray]:
    rng = np.random.default_rng(11)
    n = 300
    X = rng.normal(size=(n, 5)) * [1.0, 10.0, 0.1, 5.0, 2.0] + [0.0, 100.0, 3.0, -5.0, 1.0]
    y = X @ [1.0, 0.2, 3.0, 0.0, 0.5] + 4.0 + rng.normal(scale=2.0, size=n)
    w = rng.uniform(0.1, 2.0, n)
    path = tmp_path_factory.mktemp("report") / "gen.csv"
    write_matrix(path, np.column_stack([X, y, w]), ["a", "b", "c", "d", "e", "y", "w"])
    return path, X, y, w


def fit_json(tmp_path: Path, args: list[str]) -> dict[str, Any]:
    out = tmp_path / "model.json"
    result = CliRunner().invoke(cli, ["fit", *args, str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def close(ours: Any, ref: Any, rtol: float = RTOL) -> None:
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(ref, dtype=float),
                               rtol=rtol, atol=0)


def terms(report: dict[str, Any], key: str, names: list[str]) -> np.ndarray:
    return np.array([report[key][n] for n in names], dtype=float)


# -- OLS / WLS inference against statsmodels ------------------------------------------------
CASES = [(w, i) for w in (False, True) for i in (True, False)]


@pytest.mark.parametrize(("weighted", "intercept"), CASES)
@pytest.mark.parametrize("data", ["diabetes", "generated"])
def test_ols_inference_matches_statsmodels(request: pytest.FixtureRequest, tmp_path: Path,
                                           data: str, weighted: bool, intercept: bool) -> None:
    path, X, y, w = request.getfixturevalue(data)
    names = FEATURES if data == "diabetes" else ["a", "b", "c", "d", "e"]
    target = "target" if data == "diabetes" else "y"
    args = ["-y", target, "--exclude", "w", "--penalty", "none", str(path)]
    if weighted:
        args = ["--weights", "w", *args]
    if not intercept:
        args = ["--no-intercept", *args]
    rep = fit_json(tmp_path, args)
    exog = sm.add_constant(X) if intercept else X
    model = sm.WLS(y, exog, weights=w) if weighted else sm.OLS(y, exog)
    ref = model.fit()
    keys = (["(intercept)"] if intercept else []) + names
    params = np.array(([rep["intercept"]] if intercept else [])
                      + [rep["coefficients"][n] for n in names])
    close(params, ref.params)
    close(terms(rep, "std_errors", keys), ref.bse)
    close(terms(rep, "t_values", keys), ref.tvalues)
    close(terms(rep, "p_values", keys), ref.pvalues)
    close(np.array([rep["conf_int"][k] for k in keys]), ref.conf_int(alpha=0.05))
    close(rep["r2"], ref.rsquared)
    close(rep["r2_adj"], ref.rsquared_adj)
    close(rep["f_statistic"], ref.fvalue)
    close(rep["f_pvalue"], ref.f_pvalue)
    close(rep["condition_number"], ref.condition_number, rtol=1e-7)
    assert rep["df_resid"] == ref.df_resid
    assert rep["df_model"] == ref.df_model
    assert rep["rank"] == np.linalg.matrix_rank(exog)
    assert rep["not_identified"] == []
    # MSE / RMSE are scikit-learn's (weighted mean of squared residuals over the weights).
    pred = X @ params[-len(names):] + (params[0] if intercept else 0.0)
    sw = w if weighted else None
    close(rep["mse"], mean_squared_error(y, pred, sample_weight=sw))
    close(rep["rmse"], np.sqrt(mean_squared_error(y, pred, sample_weight=sw)))
    if intercept:
        close(rep["r2"], r2_score(y, pred, sample_weight=sw))


def test_rank_deficient_design_names_what_is_not_identified(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 120
    x1, x2, x4 = rng.normal(size=(3, n))
    x3 = x1 + 2 * x2  # collinear: x1, x2, x3 are not identified one by one
    y = 1 + x1 - x2 + 0.5 * x4 + rng.normal(size=n)
    X = np.column_stack([x1, x2, x3, x4])
    path = write_matrix(tmp_path / "rd.csv", np.column_stack([X, y]), ["x1", "x2", "x3", "x4", "y"])
    rep = fit_json(tmp_path, ["-y", "y", "--penalty", "none", str(path)])
    assert rep["not_identified"] == ["x1", "x2", "x3"]
    assert rep["rank"] == 4 and rep["df_resid"] == n - 4
    for name in ("x1", "x2", "x3"):
        assert rep["std_errors"][name] is None and rep["p_values"][name] is None
        assert rep["conf_int"][name] is None
    # The identified coefficients have the standard errors any generalized inverse gives.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels: "the design matrix is rank-deficient"
        ref = sm.OLS(y, sm.add_constant(X)).fit()
    close([rep["std_errors"]["(intercept)"], rep["std_errors"]["x4"]],
          [ref.bse[0], ref.bse[4]], rtol=1e-7)
    close([rep["p_values"]["(intercept)"], rep["p_values"]["x4"]],
          [ref.pvalues[0], ref.pvalues[4]], rtol=1e-7)
    close(rep["r2"], ref.rsquared)
    close(rep["f_statistic"], ref.fvalue, rtol=1e-7)

    # A constant feature is collinear with the intercept: neither is identified.
    Xc = np.column_stack([x1, np.full(n, 5.0), x4])
    path = write_matrix(tmp_path / "c.csv", np.column_stack([Xc, y]), ["x1", "k", "x4", "y"])
    rep = fit_json(tmp_path, ["-y", "y", "--penalty", "none", str(path)])
    assert rep["not_identified"] == ["(intercept)", "k"]
    ref = sm.OLS(y, sm.add_constant(np.column_stack([x1, x4]))).fit()
    close([rep["std_errors"]["x1"], rep["std_errors"]["x4"]], ref.bse[1:])


# -- goodness of fit of penalized models ------------------------------------------------------
TIGHT = ["--tol", "1e-12", "--max-iter", "100000"]  # the solver of l1 and elasticnet (l2: exact)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("args", "make"), [
    (["--penalty", "l1", "--alpha", "0.3", *TIGHT],
     lambda: Lasso(alpha=0.3, tol=1e-12, max_iter=10**5)),
    (["--penalty", "enet", "--alpha", "0.01", "--l1-ratio", "0.4", *TIGHT],
     lambda: ElasticNet(alpha=0.01, l1_ratio=0.4, tol=1e-12, max_iter=10**5)),
    (["--penalty", "l2", "--alpha", "0.2"], lambda: Ridge(alpha=0.2)),
])
def test_penalized_goodness_of_fit_matches_sklearn(diabetes: Any, tmp_path: Path, args: list[str],
                                                   make: Any, weighted: bool) -> None:
    path, X, y, w = diabetes
    extra = ["--weights", "w"] if weighted else ["--exclude", "w"]
    rep = fit_json(tmp_path, ["-y", "target", *extra, *args, str(path)])
    sw = w if weighted else None
    model = make().fit(X, y, sample_weight=sw)
    pred = model.predict(X)
    close(rep["r2"], r2_score(y, pred, sample_weight=sw), rtol=1e-7)
    close(rep["mse"], mean_squared_error(y, pred, sample_weight=sw), rtol=1e-7)
    close(rep["rmse"], np.sqrt(mean_squared_error(y, pred, sample_weight=sw)), rtol=1e-7)
    k = int(np.count_nonzero(model.coef_))
    n = len(y)
    assert rep["df_model"] == k
    close(rep["r2_adj"], 1 - (n - 1) / (n - 1 - k) * (1 - r2_score(y, pred, sample_weight=sw)),
          rtol=1e-7)
    for key in ("std_errors", "t_values", "p_values", "conf_int", "f_statistic", "rank",
                "not_identified", "condition_number"):
        assert rep[key] is None


def test_no_intercept_r2_is_uncentered(generated: Any, tmp_path: Path) -> None:
    path, X, y, w = generated
    rep = fit_json(tmp_path, ["-y", "y", "--exclude", "w", "--no-intercept", "--penalty", "l2",
                              "--alpha", "5", str(path)])
    model = Ridge(alpha=5.0, fit_intercept=False).fit(X, y)
    ssr = float(np.sum((y - model.predict(X)) ** 2))
    close(rep["r2"], 1 - ssr / float(np.sum(y ** 2)), rtol=1e-7)
    n, k = len(y), 5
    close(rep["r2_adj"], 1 - n / (n - k) * ssr / float(np.sum(y ** 2)), rtol=1e-7)


# -- cross-validation extras ------------------------------------------------------------------
def test_cv_nonzero_and_r2_match_sklearn(diabetes: Any, tmp_path: Path) -> None:
    path, X, y, _ = diabetes
    folds = np.arange(len(y)) % 3
    data = tmp_path / "folds.csv"
    write_matrix(data, np.column_stack([X, y, folds]), [*FEATURES, "target", "fold"])
    alphas = [2.0, 0.5, 0.1, 0.01]
    rep = fit_json(tmp_path, ["-y", "target", "--penalty", "l1", "--cv", "3", "--fold-column",
                              "fold", "--alphas", ",".join(map(str, alphas)), "--tol", "1e-12",
                              "--max-iter", "100000", str(data)])
    cv = rep["cv"]
    assert cv["alphas"] == alphas
    ref_nz = [int(np.count_nonzero(Lasso(alpha=a, tol=1e-12, max_iter=10**5).fit(X, y).coef_))
              for a in alphas]
    assert cv["n_nonzero"] == ref_nz
    ref_r2 = []
    for a in alphas:
        scores = []
        for f in range(3):
            train, test = folds != f, folds == f
            m = Lasso(alpha=a, tol=1e-12, max_iter=10**5).fit(X[train], y[train])
            scores.append(r2_score(y[test], m.predict(X[test])))
        ref_r2.append(np.mean(scores))
    close(cv["r2"], ref_r2, rtol=1e-6)
    i = alphas.index(rep["alpha"])
    close(rep["cv_mse"], cv["mse_mean"][i], rtol=1e-15)
    close(rep["cv_r2"], cv["r2"][i], rtol=1e-15)
    close(rep["cv_mse_se"], cv["mse_se"][i], rtol=1e-15)


# -- --path against enet_path -----------------------------------------------------------------
def read_path(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text())))
    return rows[0], rows[1:]


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_path_matches_enet_path(diabetes: Any, tmp_path: Path, l1_ratio: float) -> None:
    path, X, y, _ = diabetes
    table = tmp_path / "path.csv"
    penalty = ["--penalty", "l1"] if l1_ratio == 1 else ["--penalty", "enet", "--l1-ratio",
                                                         str(l1_ratio)]
    fit_json(tmp_path, ["-y", "target", "--exclude", "w", *penalty, "--n-alphas", "30",
                        "--tol", "1e-12", "--max-iter", "100000", "--path", str(table),
                        str(path)])
    header, rows = read_path(table)
    assert header == ["alpha", "n_nonzero", "cv_mse", "cv_mse_se", *FEATURES]
    Xc, yc = X - X.mean(axis=0), y - y.mean()
    alphas, coefs, _ = enet_path(Xc, yc, l1_ratio=l1_ratio, eps=1e-3, alphas=30, tol=1e-12,
                                 max_iter=10**5)
    ours = np.array([[float(c) for c in r[4:]] for r in rows])
    close([float(r[0]) for r in rows], alphas, rtol=1e-12)
    scale = np.max(np.abs(coefs))
    np.testing.assert_allclose(ours, coefs.T, rtol=1e-6, atol=1e-6 * scale)
    assert [int(r[1]) for r in rows] == list(np.count_nonzero(ours, axis=1))
    assert all(r[2] == "" and r[3] == "" for r in rows)  # no --cv: empty CV columns


def test_path_with_cv_holds_the_cv_curve(diabetes: Any, tmp_path: Path) -> None:
    path, X, y, _ = diabetes
    table = tmp_path / "p.csv"
    rep = fit_json(tmp_path, ["-y", "target", "--exclude", "w", "--penalty", "l2", "--cv", "4",
                              "--n-alphas", "12", "--path", str(table), str(path)])
    _, rows = read_path(table)
    close([float(r[0]) for r in rows], rep["cv"]["alphas"], rtol=1e-15)
    close([float(r[2]) for r in rows], rep["cv"]["mse_mean"], rtol=1e-15)
    close([float(r[3]) for r in rows], rep["cv"]["mse_se"], rtol=1e-15)
    for r in rows[::5]:
        ref = Ridge(alpha=float(r[0])).fit(X, y).coef_
        np.testing.assert_allclose([float(c) for c in r[4:]], ref, rtol=1e-6,
                                   atol=1e-9 * np.max(np.abs(ref)))


def test_path_refusals(diabetes: Any, tmp_path: Path) -> None:
    path = diabetes[0]
    out = tmp_path / "m.json"
    for args in (["--penalty", "none", "--path", str(tmp_path / "p.csv")],
                 ["--penalty", "l1", "--path", str(path)],
                 ["--penalty", "l1", "--path", str(out)],
                 ["--penalty", "l1", "--path", str(tmp_path / "x.png"), "--plot",
                  str(tmp_path / "x.png")],
                 ["--penalty", "l1", "--path", "-"],
                 ["--penalty", "l1", "--path", str(tmp_path / "p.txt")]):
        code, _, err = run_main(["fit", "-y", "target", *args, str(path), str(out)])
        assert code == 2, err
        error_line(err)
        assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []


# -- selection order against LARS -------------------------------------------------------------
def test_selection_order_is_the_lars_order(diabetes: Any, tmp_path: Path) -> None:
    path, X, y, _ = diabetes
    table = tmp_path / "path.csv"
    rep = fit_json(tmp_path, ["-y", "target", "--exclude", "w", "--penalty", "l1", "--alpha",
                              "0.001", "--n-alphas", "200", "--eps", "1e-5", "--tol", "1e-12",
                              "--max-iter", "100000", "--path", str(table), str(path)])
    lars_alphas, _, lars_coefs = lars_path(X, y, method="lasso")
    first = [int(np.flatnonzero(lars_coefs[j])[0]) for j in range(X.shape[1])]
    exact = {FEATURES[j]: lars_alphas[first[j] - 1] for j in range(X.shape[1])}
    expected = sorted(exact, key=lambda f: -exact[f])
    order = rep["selection_order"]
    assert [e["feature"] for e in order] == expected
    grid = sorted({float(r[0]) for r in read_path(table)[1]}, reverse=True)
    for e in order:
        k = grid.index(e["alpha"])
        # enters between the previous grid alpha and the reported one
        assert e["alpha"] < exact[e["feature"]] * (1 + 1e-9)
        assert k == 0 or grid[k - 1] >= exact[e["feature"]] * (1 - 1e-9)


def test_verbose_prints_the_selection_order(diabetes: Any, tmp_path: Path) -> None:
    path = diabetes[0]
    code, _, err = run_main(["fit", "-y", "target", "--exclude", "w", "--penalty", "l1",
                             "--alpha", "1", "-v", str(path), str(tmp_path / "m.json")])
    assert code == 0
    line = next(ln for ln in err.splitlines() if "selection order" in ln)
    rep = json.loads((tmp_path / "m.json").read_text())
    listed = [part.split(" (alpha ")[0]
              for part in line.removeprefix("normcli: selection order: ").split(", ")]
    assert listed == [e["feature"] for e in rep["selection_order"]]
    assert sorted(listed) == sorted(f for f, c in rep["coefficients"].items() if c != 0)


def test_predict_selected_lists_the_model_features(diabetes: Any, tmp_path: Path) -> None:
    path, X, y, _ = diabetes
    rep = fit_json(tmp_path, ["-y", "target", "--exclude", "w", "--penalty", "l1", "--alpha",
                              "1", str(path)])
    code, out, err = run_main(["predict", "--model", str(tmp_path / "model.json"), "--selected",
                               str(path)])
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out.decode())))
    assert rows[0] == ["feature", "coefficient", "entry_alpha"]
    ref = Lasso(alpha=1.0).fit(X, y).coef_
    assert sorted(r[0] for r in rows[1:]) == sorted(np.array(FEATURES)[ref != 0])
    assert [r[0] for r in rows[1:]] == [e["feature"] for e in rep["selection_order"]]
    # the input must hold the selected columns
    small = write_matrix(tmp_path / "s.csv", X[:, :1], ["age"])
    code, _, err = run_main(["predict", "--model", str(tmp_path / "model.json"), "--selected",
                             str(small)])
    assert code == 1 and "not in the input" in error_line(err)


# -- the text summary -------------------------------------------------------------------------
def test_text_summary_of_ols(diabetes: Any) -> None:
    path, X, y, _ = diabetes
    result = CliRunner().invoke(cli, ["fit", "-y", "target", "--exclude", "w", "--penalty",
                                      "none", "--output-format", "text", str(path)])
    assert result.exit_code == 0
    text = result.stdout
    ref = sm.OLS(y, sm.add_constant(X)).fit()
    assert "Coefficients:" in text and "Std. Error" in text and "Pr(>|t|)" in text
    assert f"R-squared: {ref.rsquared:.4g}," in text
    assert f"Adjusted R-squared: {ref.rsquared_adj:.4g}" in text
    assert f"on {ref.df_model:g} and {ref.df_resid:g} DF" in text
    bmi = next(ln for ln in text.splitlines() if ln.startswith("bmi "))
    assert f"{ref.params[3]:.6g}" in bmi and f"{ref.bse[3]:.6g}" in bmi and bmi.endswith("***")


def test_text_summary_of_cv_lasso_says_how_alpha_was_chosen(diabetes: Any) -> None:
    path = diabetes[0]
    result = CliRunner().invoke(cli, ["fit", "-y", "target", "--exclude", "w", "--penalty",
                                      "l1", "--cv", "3", "--select", "1se", "--output-format",
                                      "text", str(path)])
    assert result.exit_code == 0
    assert "3-fold cross-validation, rule 1se" in result.stdout
    assert "Cross-validated MSE:" in result.stdout and "Enters at alpha" in result.stdout


def test_text_is_the_default_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    assert report_format(OutputSpec()) == "text"
    assert report_format(OutputSpec("-")) == "text"
    assert report_format(OutputSpec(None, "csv")) == "csv"
    assert report_format(OutputSpec("m.json")) == "json"
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert report_format(OutputSpec()) == "csv"
    assert report_format(OutputSpec("summary.txt")) == "text"


def test_text_format_is_refused_by_other_commands(diabetes: Any) -> None:
    code, out, err = run_main(["normalize", "--output-format", "text", str(diabetes[0])])
    assert code == 2 and out == b""
    assert "text" in error_line(err)


@pytest.mark.slow
def test_plot_with_log_mse_axis(diabetes: Any, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")  # the plot extra; the test extra alone must pass too
    path = diabetes[0]
    png = tmp_path / "cv.png"
    code, _, err = run_main(["fit", "-y", "target", "--exclude", "w", "--penalty", "l1", "--cv",
                             "3", "--n-alphas", "10", "--plot", str(png), "--plot-log-mse",
                             str(path), str(tmp_path / "m.json")])
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_plot_axes_show_log_mse_and_nonzero_counts(diabetes: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    import normcli.plot as plot_mod

    figures: list[Any] = []
    real = plot_mod.make_figure

    def keep(report: Any) -> Any:
        fig = real(report)
        figures.append((fig, report))
        return fig

    monkeypatch.setattr(plot_mod, "make_figure", keep)
    monkeypatch.setattr(plt, "close", lambda fig: None)
    path, X, y, _ = diabetes
    CliRunner().invoke(cli, ["fit", "-y", "target", "--exclude", "w", "--penalty", "l1", "--cv",
                             "3", "--n-alphas", "10", "--plot", str(tmp_path / "p.png"),
                             "--plot-log-mse", str(path), str(tmp_path / "m.json")],
                       catch_exceptions=False)
    fig, report = figures[0]
    rep = json.loads((tmp_path / "m.json").read_text())
    cv_axes = [a for a in fig.axes if a.get_ylabel().startswith("validation MSE")]
    assert len(cv_axes) == 1 and cv_axes[0].get_yscale() == "log"
    tops = [a for a in fig.axes if a.get_xlabel() == "non-zero coefficients"]
    assert len(tops) == 2
    alphas, counts = rep["cv"]["alphas"], rep["cv"]["n_nonzero"]
    for top in tops:
        for tick, label in zip(top.get_xticks(), top.get_xticklabels(), strict=True):
            i = int(np.argmin(np.abs(np.log(alphas) - np.log(tick))))
            assert label.get_text() == str(counts[i])
    texts = [t.get_text() for a in fig.axes for t in a.texts]
    assert "alpha_min" in texts and "alpha_1se" in texts
    plt.close("all")


def test_path_column_clash_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    data = write_matrix(tmp_path / "d.csv", rng.normal(size=(20, 3)), ["alpha", "b", "y"])
    out, table = tmp_path / "m.json", tmp_path / "p.csv"
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--path", str(table),
                             str(data), str(out)])
    assert code == 2 and "'alpha'" in error_line(err)
    assert not out.exists() and not table.exists()


def test_saturated_ols_has_no_standard_errors(tmp_path: Path) -> None:
    X = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]])
    y = np.array([3.0, 5.0, 4.0])
    path = write_matrix(tmp_path / "t.csv", np.column_stack([X, y]), ["a", "b", "y"])
    rep = fit_json(tmp_path, ["-y", "y", "--penalty", "none", str(path)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sm.OLS(y, sm.add_constant(X)).fit()
        assert not np.isfinite(ref.bse).any()  # statsmodels: division by df_resid = 0
    assert rep["df_resid"] == ref.df_resid == 0
    close(rep["r2"], ref.rsquared)
    assert rep["r2_adj"] is None and rep["f_statistic"] is None
    assert set(rep["std_errors"].values()) == {None} and rep["not_identified"] == []


def test_features_entering_between_the_same_grid_alphas_keep_the_lars_order(
        diabetes: Any, tmp_path: Path) -> None:
    # A coarse grid: several features enter between the same two grid alphas (ties), and are
    # ordered by where their correlation meets the penalty (extrapolated along the path).
    path, X, y, _ = diabetes
    rep = fit_json(tmp_path, ["-y", "target", "--exclude", "w", "--penalty", "l1", "--alpha",
                              "0.001", "--n-alphas", "20", "--eps", "1e-5", "--tol", "1e-12",
                              "--max-iter", "100000", str(path)])
    _, _, lars_coefs = lars_path(X, y, method="lasso")
    first = [int(np.flatnonzero(lars_coefs[j])[0]) for j in range(X.shape[1])]
    expected = [FEATURES[j] for j in sorted(range(X.shape[1]), key=lambda j: first[j])]
    order = rep["selection_order"]
    assert [e["feature"] for e in order] == expected
    alphas = [e["alpha"] for e in order]
    assert len(set(alphas)) < len(alphas)  # there are ties to break
