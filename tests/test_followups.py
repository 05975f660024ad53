"""Follow-ups found when the helpers' work was merged.

1. --save-params on data holding infinite values: finite statistics that --params reloads.
2. An output or side file that is one of the files of a dataset input is refused.
3. JSON Lines datasets, and folder outputs checked by the format registry.
4. Non-ASCII delimiters are usage errors.
5. --verbose names a partition column as such.

References: numpy on the finite cells, scikit-learn's scalers, the same rows in one file.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import error_line, invoke, leftover_temp_files, out_matrix, run_main, write_csv
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

# ------------------------------------------------------------------ 1. params with infinities
_INF_ROWS = [
    ["1.5", "2", "0", "x"],
    ["inf", "3", "1e300", "y"],
    ["4", "-inf", "", "z"],
    ["-2.25", "6", "-1e300", "w"],
    ["inf", "", "7", "v"],
]


def _numbers(value: Any) -> list[float]:
    """Every JSON number in ``value``."""
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [float(value)]
    return []


def _finite_columns() -> list[np.ndarray]:
    X = np.array([[float(c) if c else np.nan for c in r[:3]] for r in _INF_ROWS])
    return [X[np.isfinite(X[:, j]), j] for j in range(3)]


@pytest.mark.parametrize("chunk_rows", ["1", "2", "100"])
@pytest.mark.parametrize("scale", ["zscore", "minmax", "maxabs"])
def test_scaler_params_with_infinities_are_finite_and_reload(
        tmp_path: Path, scale: str, chunk_rows: str) -> None:
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "t"], _INF_ROWS)
    params = tmp_path / "p.json"
    first = invoke(["normalize", "--scale", scale, "--chunk-rows", chunk_rows,
                    "--save-params", str(params), str(data)])
    saved = json.loads(params.read_text())  # Python's json reads NaN/Infinity: check them
    assert all(math.isfinite(x) for x in _numbers(saved)), saved
    # the statistics are those of the finite cells (numpy on them)
    for name, col in zip("abc", _finite_columns(), strict=True):
        c = saved["columns"][name]
        assert c["count"] == len(col)
        assert c["min"] == col.min() and c["max"] == col.max()
        assert c["max_abs"] == np.abs(col).max()
        # (scaled by the largest |x|: 1e300 squared overflows in numpy; the mean of
        # 1e300, -1e300, 7 is exact only to rounding at the scale of 1e300)
        m = np.abs(col).max()
        np.testing.assert_allclose(c["mean"], (col / m).mean() * m, rtol=0, atol=4e-16 * m)
        np.testing.assert_allclose(c["std"], (col / m).std() * m, rtol=1e-14)
    assert [saved["columns"][n]["infinite"] for n in "abc"] == [2, 1, 0]
    # reloaded on the same data: the same output, byte for byte (and in one pass)
    again = invoke(["normalize", "--params", str(params), "--chunk-rows", chunk_rows, str(data)])
    assert again == first
    # the finite cells as scikit-learn scales the finite cells (zscore checked; inf stays inf)
    if scale == "zscore":
        got = out_matrix(first, ["a", "b", "c"])
        for j, col in enumerate(_finite_columns()):
            # (column c, +-1e300, is given to StandardScaler divided by its largest |x|: its
            # variance overflows float64 otherwise)
            m = np.abs(col).max()
            ref = StandardScaler().fit(col[:, None] / m)
            X = np.array([[float(r[j]) if r[j] else np.nan] for r in _INF_ROWS])
            finite = np.isfinite(X[:, 0])
            np.testing.assert_allclose(got[finite, j], ref.transform(X[finite] / m)[:, 0],
                                       rtol=1e-13, atol=1e-15)
            assert np.isinf(got[np.isinf(X[:, 0]), j]).all()


@pytest.mark.parametrize("norm", ["l1", "l2", "max", "3"])
def test_column_norm_params_with_infinities_reload(tmp_path: Path, norm: str) -> None:
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "t"], _INF_ROWS)
    params = tmp_path / "p.json"
    first = invoke(["normalize", "--axis", "columns", "--norm", norm, "--chunk-rows", "2",
                    "--save-params", str(params), str(data)])
    saved = json.loads(params.read_text())
    assert not any(math.isnan(x) for x in _numbers(saved)), saved
    order = {"l1": 1, "l2": 2, "max": np.inf, "3": 3}[norm]
    col_c = _finite_columns()[2]
    m = np.abs(col_c).max()  # (numpy's norm of +-1e300 overflows)
    np.testing.assert_allclose(saved["columns"]["c"]["norm"],
                               np.linalg.norm(col_c / m, ord=order) * m, rtol=1e-14)
    again = invoke(["normalize", "--params", str(params), str(data)])
    assert again == first


# ------------------------------------------------------------------ 2. dataset files as outputs
@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A folder of two CSV files; the second holds a bad cell on its last line, so a run that
    read the data would end with exit 1, not the usage error (2) expected before any read."""
    folder = tmp_path / "ds"
    folder.mkdir()
    write_csv(folder / "a.csv", ["x", "y"], [[1, 2.5], [2, 3.5], [3, 7]])
    write_csv(folder / "b.csv", ["x", "y"], [[4, 8], [5, "oops"]])
    return folder


@pytest.mark.parametrize("args", [
    ["fit", "-y", "y", "{input}", "{member}"],
    ["fit", "-y", "y", "--output-format", "json", "{input}", "{member}"],
    ["fit", "-y", "y", "--path", "{member}", "{input}", "{out}"],
    ["fit", "-y", "y", "--plot", "{member}", "{input}", "{out}"],
    ["normalize", "--scale", "zscore", "--save-params", "{member}", "{input}", "{out}"],
    ["normalize", "--axis", "columns", "--save-params", "{member}", "{input}", "{out}"],
    ["normalize", "{input}", "{member}"],
    ["norm", "{input}", "{member}"],
    ["predict", "--model", "{member}", "{input}", "{out}"],
])
@pytest.mark.parametrize("form", ["folder", "glob", "link"])
def test_a_file_of_a_dataset_input_is_refused(tmp_path: Path, dataset: Path, args: list[str],
                                              form: str) -> None:
    member = dataset / "b.csv"
    if form == "link":  # another name of the same file
        link = tmp_path / "link.csv"
        link.symlink_to(member)
        named = link
    else:
        named = member
    inp = str(dataset) if form != "glob" else str(dataset / "*.csv")
    before = {p.name: p.read_bytes() for p in dataset.iterdir()}
    out = tmp_path / "o.csv"
    code, _, err = run_main([a.format(input=inp, member=named, out=out) for a in args])
    assert code == 2, err
    line = error_line(err)
    assert "is a file of the input" in line and "b.csv" in line
    assert {p.name: p.read_bytes() for p in dataset.iterdir()} == before
    assert not out.exists()
    assert leftover_temp_files(tmp_path) == [] and leftover_temp_files(dataset) == []


def test_a_side_file_beside_a_glob_input_but_not_in_it_is_written(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    write_csv(folder / "a.csv", ["x", "y"], [[1, 2.5], [2, 3.5], [3, 7]])
    model = folder / "model.json"
    model.write_text("old")
    invoke(["fit", "-y", "y", "--penalty", "none", str(folder / "a*.csv"), str(model)])
    coef = json.loads(model.read_text())["coefficients"]["x"]
    np.testing.assert_allclose(coef, np.polyfit([1, 2, 3], [2.5, 3.5, 7], 1)[0], rtol=1e-12)


def test_an_existing_output_beside_a_glob_input(tmp_path: Path) -> None:
    """The output-is-the-input check compared an existing output with the glob as a file name
    (os.path.samefile on a name that does not exist: exit 1, 'No such file')."""
    folder = tmp_path / "ds"
    folder.mkdir()
    write_csv(folder / "a.csv", ["x", "y"], [[3, 4]])
    out = folder / "out.csv"
    out.write_text("old")
    code, _, err = run_main(["normalize", str(folder / "a*.csv"), str(out)])
    assert code == 0, err
    assert out.read_text() == "x,y\n0.6,0.8\n"


# ------------------------------------------------------------------ 3. JSON Lines datasets
def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _jsonl_rows(rng: np.random.Generator, n: int, start: int) -> list[dict[str, Any]]:
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1]
    y = X @ [1.5, -0.2, 4.0] + rng.normal(size=n)
    return [{"id": f"r{start + i}", "x1": float(a), "x2": float(b), "x3": float(c),
             "y": float(t)} for i, (a, b, c, t) in enumerate(zip(*X.T, y, strict=True))]


def test_a_folder_of_jsonl_files_is_one_table(tmp_path: Path, rng: np.random.Generator) -> None:
    parts = [_jsonl_rows(rng, n, s) for n, s in ((40, 0), (25, 40), (35, 65))]
    folder = tmp_path / "d"
    for i, rows in enumerate(parts):
        _jsonl(folder / f"part-{i}.jsonl", rows)
    single = tmp_path / "all.jsonl"
    _jsonl(single, [r for rows in parts for r in rows])
    # row outputs byte for byte as the single file; statistics (merged file by file) to rounding
    assert (invoke(["norm", "--ord", "1", "--chunk-rows", "7", str(folder)])
            == invoke(["norm", "--ord", "1", str(single)]))
    got = out_matrix(invoke(["normalize", "--scale", "zscore", str(folder)]), ["x1", "x2", "x3"])
    one = out_matrix(invoke(["normalize", "--scale", "zscore", str(single)]), ["x1", "x2", "x3"])
    np.testing.assert_allclose(got, one, rtol=1e-13, atol=1e-15)
    X = np.array([[r["x1"], r["x2"], r["x3"]] for rows in parts for r in rows])
    np.testing.assert_allclose(got, StandardScaler().fit_transform(X), rtol=1e-12, atol=1e-14)
    # fit: the same model as the single file, and Ridge's
    models = []
    for data in (str(folder), str(folder / "*.jsonl"), str(single)):
        dest = tmp_path / f"m{len(models)}.json"
        invoke(["fit", "-y", "y", "--penalty", "l2", "--alpha", "0.5", "--chunk-rows", "5", data,
                str(dest)])
        models.append(json.loads(dest.read_text()))
    assert models[0]["coefficients"] == models[1]["coefficients"]  # the same files
    coef = [list(m["coefficients"].values()) for m in models]
    np.testing.assert_allclose(coef[0], coef[2], rtol=1e-12)
    y = np.array([r["y"] for rows in parts for r in rows])
    ref = Ridge(alpha=0.5).fit(X, y)
    np.testing.assert_allclose(coef[0], ref.coef_, rtol=1e-9)


def test_jsonl_dataset_errors_name_the_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    _jsonl(folder / "a.jsonl", [{"x": 1.0, "y": 2.0}])
    (folder / "b.jsonl").write_text('{"x": 3.0, "y": 4.0}\n{"x": "oops", "y": 5.0}\n')
    code, _, err = run_main(["normalize", "--chunk-rows", "1", str(folder)])
    assert code == 1
    assert "b.jsonl, line 2" in error_line(err)


def test_jsonl_dataset_with_partitions_and_folder_output(tmp_path: Path) -> None:
    root = tmp_path / "d"
    _jsonl(root / "year=2025" / "p.jsonl", [{"a": 3.0, "b": 4.0}, {"a": 0.0, "b": 2.0}])
    _jsonl(root / "year=2026" / "p.jsonl", [{"a": 1.0, "b": None}])
    out = invoke(["normalize", str(root)])
    assert out == b"a,b,year\n0.6,0.8,2025\n0,1,2025\n1,,2026\n"
    # one part per file, in the input's format (JSON Lines) ...
    invoke(["normalize", str(root), str(tmp_path / "o") + "/"])
    lines = (tmp_path / "o" / "year=2025" / "p.jsonl").read_text().splitlines()
    assert [json.loads(s) for s in lines] == [{"a": 0.6, "b": 0.8}, {"a": 0.0, "b": 1.0}]
    assert json.loads((tmp_path / "o" / "year=2026" / "p.jsonl").read_text()) == {
        "a": 1.0, "b": None}
    # ... or another: the extension from the format registry
    invoke(["normalize", "--output-format", "parquet", str(root), str(tmp_path / "q") + "/"])
    got = pq.read_table(tmp_path / "q" / "year=2025" / "p.parquet")
    assert got.to_pydict() == {"a": [0.6, 0.0], "b": [0.8, 1.0]}
    invoke(["normalize", "--output-format", "tsv", str(root), str(tmp_path / "t") + "/"])
    assert (tmp_path / "t" / "year=2026" / "p.tsv").read_text() == "a\tb\n1\t\n"


def test_a_folder_output_in_jsonl_needs_distinct_names(tmp_path: Path) -> None:
    """Named fields (JSON Lines as Parquet and JSON): a repeated header name is refused."""
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.csv").write_text("x,x,y\n1,2,3\n")
    for fmt in ("jsonl", "json", "parquet"):
        code, _, err = run_main(["normalize", "--columns", "y", "--output-format", fmt,
                                 str(folder), str(tmp_path / f"o-{fmt}") + "/"])
        assert code == 2 and "repeated" in error_line(err), (fmt, err)
        assert not (tmp_path / f"o-{fmt}").exists()
    code, _, err = run_main(["normalize", "--columns", "y", "--output-format", "text", str(folder),
                             str(tmp_path / "o-text") + "/"])
    assert code == 2 and "text" in error_line(err)


def test_dataset_input_format_choices_come_from_the_registry(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    _jsonl(folder / "a.txt", [{"x": 3.0, "y": 4.0}])
    assert invoke(["normalize", "--input-format", "jsonl", str(folder)]) == b"x,y\n0.6,0.8\n"
    code, _, err = run_main(["normalize", str(folder)])
    assert code == 2 and "jsonl" in error_line(err)


# ------------------------------------------------------------------ 4. delimiters
@pytest.mark.parametrize("args", [
    ["normalize", "--output-delimiter", "é"],
    ["normalize", "--delimiter", "é"],
    ["norm", "--output-delimiter", "€"],
    ["predict", "--model", "{model}", "--output-delimiter", "é"],
    ["fit", "-y", "b", "--output-delimiter", "é"],
    ["fit", "-y", "b", "--delimiter", "é"],
])
def test_a_non_ascii_delimiter_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    """Exit 2 in one line, before the data is read: the input's last cell is bad, so a run
    that read it would end with exit 1."""
    data = write_csv(tmp_path / "d.csv", ["a", "b"], [[1, 2], [3, 4], [5, "oops"]])
    model = tmp_path / "m.json"
    model.write_text(json.dumps({"coefficients": {"a": 1.0}, "intercept": 0.0}))
    code, out, err = run_main([a.format(model=model) for a in args] + [str(data)])
    assert code == 2, err
    line = error_line(err)
    assert "ASCII" in line and ("--delimiter" in line or "--output-delimiter" in line)
    assert out == b""


def test_a_non_ascii_output_delimiter_with_a_folder_output(tmp_path: Path,
                                                           dataset: Path) -> None:
    code, _, err = run_main(["normalize", "--output-delimiter", "é", str(dataset),
                             str(tmp_path / "o") + "/"])
    assert code == 2 and "ASCII" in error_line(err)
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ 5. --verbose
def test_verbose_names_partition_columns(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for year, x in ((2025, 1.0), (2026, 2.0)):
        (root / f"year={year}" / "k=7").mkdir(parents=True)
        pq.write_table(pa.table({"x": [x, x + 1], "id": ["a", "b"]}),
                       root / f"year={year}" / "k=7" / "p.parquet")
    code, _, err = run_main(["normalize", "--verbose", str(root)])
    assert code == 0
    report = [s for s in err.splitlines() if "columns used" in s][0]
    assert "columns used: x;" in report
    assert "year (partition column)" in report and "k (partition column)" in report
    assert "id (text)" in report
    # CSV partitions (text, holding numbers) too
    csv_root = tmp_path / "c" / "month=11"
    csv_root.mkdir(parents=True)
    (csv_root / "p.csv").write_text("x\n3\n")
    code, _, err = run_main(["norm", "--verbose", str(tmp_path / "c")])
    assert code == 0 and "month (partition column)" in err


def test_check_distinct_lists_only_when_a_file_could_be_in_the_dataset(
        tmp_path: Path, dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No listing of a (possibly huge or remote) dataset when no other file exists yet."""
    from normcli.io import dataset as dataset_mod
    from normcli.io.writer import check_distinct

    calls: list[str] = []
    real = dataset_mod.dataset_files

    def counting(spec: str) -> list[str]:
        calls.append(spec)
        return real(spec)

    monkeypatch.setattr(dataset_mod, "dataset_files", counting)
    check_distinct([("INPUT", str(dataset)), ("OUTPUT", str(tmp_path / "new.csv")),
                    ("--save-params", str(tmp_path / "new.json"))])
    assert calls == []
    check_distinct([("INPUT", str(dataset)), ("OUTPUT", os.fspath(dataset / "a.csv") + ".x")])
    assert calls == []


# ------------------------------------------------------------------ 6. --help
def _help(*args: str) -> str:
    return " ".join(invoke([*args, "--help"]).decode().split())  # words, not line breaks


def test_help_statements() -> None:
    top = _help()
    assert "JSON Lines" in top and "143" in top and "129" in top  # every documented status
    fit = _help("fit")
    assert "[csv|tsv|parquet|json|jsonl|text]" in fit
    # --eps spans ridge's grid too; --tol is the KKT tolerance of l1/elasticnet only
    eps = fit.split("--eps FLOAT")[1].split("--fold-column")[0]
    assert "l2" in eps and "l1/elasticnet" in eps
    tol = fit.split("--tol FLOAT")[1].split("--max-iter")[0]
    assert "KKT" in tol and "none and l2 are solved exactly" in tol
    assert "text summary when it is a terminal" in fit
    for command in ("normalize", "norm", "predict"):
        text = _help(command)
        assert "[csv|tsv|parquet|json|jsonl]" in text, command  # text is fit's alone
        assert "fit's readable summary" not in text
        assert "ASCII" in text


def test_text_output_is_a_usage_error_of_the_other_commands(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", ["a", "b"], [[1, 2]])
    for command in (["normalize"], ["norm"]):
        code, out, err = run_main([*command, "--output-format", "text", str(data)])
        assert code == 2 and out == b"" and "'text' is not one of" in error_line(err)


def test_a_missing_folder_input_says_so(tmp_path: Path) -> None:
    """INPUT ending in '/' that does not exist: 'no such folder', not a format question."""
    code, _, err = run_main(["normalize", str(tmp_path / "nodir") + "/"])
    assert code == 2
    assert error_line(err) == f"normcli: error: {tmp_path / 'nodir'}/: no such folder"
