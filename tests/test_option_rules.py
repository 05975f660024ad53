"""Options that do not apply to a combination are usage errors, never silently ignored.

One rule per option, kept in the format registry (:func:`normcli.formats.check_reading_options`)
and in the places that check an output before any data is read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import error_line, leftover_temp_files, run_main, write_csv

import normcli
from normcli.errors import UsageError
from normcli.pipeline import InputSpec

ROWS = [{"a": 3.0, "b": 4.0, "y": 1.0}, {"a": 0.0, "b": 5.0, "y": 2.0},
        {"a": 6.0, "b": 8.0, "y": 2.5}, {"a": 1.0, "b": 1.0, "y": 0.5}]


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    """The same table as JSON Lines (both extensions) and Parquet."""
    text = "".join(json.dumps(r) + "\n" for r in ROWS)
    paths = {"jsonl": tmp_path / "d.jsonl", "ndjson": tmp_path / "d.ndjson",
             "parquet": tmp_path / "d.parquet"}
    paths["jsonl"].write_text(text)
    paths["ndjson"].write_text(text)
    pq.write_table(pa.Table.from_pylist(ROWS), paths["parquet"])
    return paths


READING = [(["--no-header"], "--no-header"), (["--delimiter", ";"], "--delimiter"),
           (["--delimiter", "tab"], "--delimiter")]
TITLES = {"jsonl": "JSON Lines", "ndjson": "JSON Lines", "parquet": "Parquet"}


@pytest.mark.parametrize("kind", ["jsonl", "ndjson", "parquet"])
@pytest.mark.parametrize(("extra", "option"), READING)
@pytest.mark.parametrize("command", [["normalize"], ["norm"], ["fit", "-y", "y"]])
def test_delimited_text_options_refused(inputs: dict[str, Path], tmp_path: Path, kind: str,
                                        extra: list[str], option: str,
                                        command: list[str]) -> None:
    out = tmp_path / "out.csv"
    code, stdout, err = run_main([*command, *extra, str(inputs[kind]), str(out)])
    assert code == 2
    line = error_line(err)
    assert line.startswith(f"normcli: error: {option} does not apply to {TITLES[kind]} input")
    assert "CSV/TSV" in line
    assert stdout == b""
    assert not out.exists()
    assert leftover_temp_files(tmp_path) == []


def test_delimiter_message_points_to_output_delimiter(inputs: dict[str, Path]) -> None:
    code, _, err = run_main(["normalize", "--delimiter", ";", str(inputs["parquet"])])
    assert code == 2
    assert "--output-delimiter" in error_line(err)
    # ... which is the option that does it: the CSV output of a Parquet input, ';'-separated.
    code, out, err = run_main(["normalize", "--output-delimiter", ";", str(inputs["parquet"])])
    assert (code, err) == (0, "")
    row = np.array([3.0, 4.0, 1.0]) / np.sqrt(26.0)
    assert out.splitlines()[:2] == [b"a;b;y", ";".join(repr(float(v)) for v in row).encode()]


def test_jsonl_from_standard_input(inputs: dict[str, Path]) -> None:
    data = inputs["jsonl"].read_bytes()
    code, _, err = run_main(["normalize", "--input-format", "jsonl", "--no-header", "-"],
                            input=data)
    assert code == 2
    assert error_line(err).startswith(
        "normcli: error: --no-header does not apply to JSON Lines input")


def test_na_values_refused_for_parquet(inputs: dict[str, Path]) -> None:
    code, out, err = run_main(["normalize", "--na-values", "x", str(inputs["parquet"])])
    assert code == 2
    assert out == b""
    assert error_line(err).startswith(
        "normcli: error: --na-values does not apply to Parquet input")


def test_na_values_applies_to_jsonl_strings(tmp_path: Path) -> None:
    """JSON Lines strings are read as CSV cells are, so --na-values is not ignored there: it
    settles a string field that holds numbers and one other text."""
    path = tmp_path / "s.jsonl"
    path.write_text('{"a": "3", "b": 4}\n{"a": "x", "b": 4}\n{"a": "4", "b": 3}\n')
    code, _, err = run_main(["normalize", str(path)])
    assert code == 1 and "'x' is not a number" in error_line(err)
    code, out, err = run_main(["normalize", "--na-values", "x", str(path)])
    assert (code, err) == (0, "")
    # by hand: (3,4)/5, (missing, 4)/4, (4,3)/5
    assert out == b"a,b\n0.6,0.8\n,1\n0.8,0.6\n"


def test_folder_of_parquet_files(inputs: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    inputs["parquet"].rename(folder / "part-0.parquet")
    code, _, err = run_main(["normalize", "--no-header", str(folder)])
    assert code == 2
    assert "--no-header does not apply to Parquet input" in error_line(err)


def test_dask_engine_input_refuses_too(inputs: dict[str, Path]) -> None:
    """The Dask engine opens its input on the client with the same rule (no cluster needed:
    the check comes before any task)."""
    from normcli.engines.dask_engine import open_input

    with pytest.raises(UsageError, match="--na-values does not apply to Parquet input"):
        open_input(InputSpec(path=str(inputs["parquet"]), na_values=("x",)))
    with pytest.raises(UsageError, match="--delimiter does not apply to JSON Lines input"):
        open_input(InputSpec(path=str(inputs["jsonl"]), delimiter=";"))


@pytest.mark.parametrize(("kwargs", "name"), [({"header": False}, "header=False"),
                                             ({"delimiter": ";"}, "delimiter")])
@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
def test_python_api(inputs: dict[str, Path], kind: str, kwargs: dict[str, object],
                    name: str) -> None:
    with pytest.raises(UsageError, match=f"^{name} does not apply to {TITLES[kind]} input"):
        normcli.normalize(inputs[kind], **kwargs)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=f"^{name} does not apply"):
        normcli.fit(inputs[kind], target="y", **kwargs)  # type: ignore[arg-type]


def test_python_api_na_values(inputs: dict[str, Path]) -> None:
    with pytest.raises(UsageError, match="^na_values does not apply to Parquet input"):
        normcli.norm(inputs["parquet"], na_values=["x"])
    got = normcli.norm(inputs["jsonl"], na_values=["x"])  # applies: no error
    expected = np.linalg.norm(np.array([[r["a"], r["b"], r["y"]] for r in ROWS]), axis=1)
    np.testing.assert_allclose(got["norm"].to_numpy(), expected, rtol=1e-15)


# -- fit --plot and --path: the extension chooses the format ------------------------------------
@pytest.fixture
def reg(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    y = X @ np.array([1.5, -2.0, 0.0]) + 0.3 * rng.normal(size=60)
    path = tmp_path / "r.csv"
    rows = ["a,b,c,y"] + [",".join(repr(float(v)) for v in (*X[i], y[i])) for i in range(60)]
    path.write_text("\n".join(rows) + "\n")
    return path, X, y


MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "PNG": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-",
         "jpg": b"\xff\xd8\xff", "tiff": b"II*\x00", "eps": b"%!PS-Adobe", "svgz": b"\x1f\x8b"}


@pytest.mark.parametrize("ext", sorted(MAGIC) + ["svg"])
def test_plot_format_from_extension(reg: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path,
                                    ext: str) -> None:
    pytest.importorskip("matplotlib")
    image = tmp_path / f"p.{ext}"
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--n-alphas", "5", "--plot",
                             str(image), str(reg[0]), str(tmp_path / "m.json")])
    assert (code, err) == (0, "")  # PostScript's transparency notice is not printed either
    data = image.read_bytes()
    if ext == "svg":
        assert b"<svg" in data[:500]
    else:
        assert data.startswith(MAGIC[ext])
    assert leftover_temp_files(tmp_path) == []


@pytest.mark.parametrize(("name", "why"), [("p.txt", "'.txt' is not an image format"),
                                           ("p", "no extension"),
                                           ("p.csv", "'.csv' is not an image format")])
def test_plot_unknown_extension_refused_before_reading(tmp_path: Path, name: str,
                                                       why: str) -> None:
    """Refused before the input is opened: the input does not even exist."""
    model = tmp_path / "m.json"
    code, _, err = run_main(["fit", "-y", "y", "--plot", str(tmp_path / name),
                             str(tmp_path / "missing.csv"), str(model)])
    assert code == 2
    line = error_line(err)
    assert line.startswith(f"normcli: error: --plot {tmp_path / name}: {why}")
    assert ".png, .svg" in line
    assert not model.exists() and not (tmp_path / name).exists()


@pytest.mark.parametrize("name", ["p.txt", "p", "p.csv.gz"])
def test_path_unknown_or_compressed_refused_before_reading(tmp_path: Path, name: str) -> None:
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--path",
                             str(tmp_path / name), str(tmp_path / "missing.csv")])
    assert code == 2
    line = error_line(err)
    assert line.startswith(f"normcli: error: --path {tmp_path / name}: ")
    assert (".jsonl" in line) if not name.endswith(".gz") else ("does not compress" in line)


def test_path_as_json_lines(reg: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    """Every format the output registry writes; the coefficients are scikit-learn's Lasso at
    each alpha of the table."""
    from sklearn.linear_model import Lasso

    path, X, y = reg
    table = tmp_path / "path.jsonl"
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--n-alphas", "4", "--path",
                             str(table), str(path), str(tmp_path / "m.json")])
    assert (code, err) == (0, "")
    rows = [json.loads(line) for line in table.read_text().splitlines()]
    assert len(rows) == 4
    assert list(rows[0]) == ["alpha", "n_nonzero", "cv_mse", "cv_mse_se", "a", "b", "c"]
    for row in rows:
        ref = Lasso(alpha=row["alpha"], tol=1e-12, max_iter=100_000).fit(X, y).coef_
        np.testing.assert_allclose([row["a"], row["b"], row["c"]], ref, rtol=1e-6, atol=1e-9)
        assert row["n_nonzero"] == int(np.count_nonzero(ref))


# -- outputs: compression and --output-delimiter ------------------------------------------------
@pytest.mark.parametrize("name", ["o.csv.gz", "o.json.bz2", "o.parquet.zst"])
def test_compressed_output_refused(tmp_path: Path, name: str) -> None:
    """A .gz output used to hold plain text."""
    src = tmp_path / "in.csv"
    src.write_text("a,b\n3,4\n")
    code, _, err = run_main(["normalize", str(src), str(tmp_path / name)])
    assert code == 2
    assert "does not compress its output" in error_line(err)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(("out", "title"), [("o.parquet", "Parquet"), ("o.json", "JSON"),
                                            ("o.jsonl", "JSON Lines")])
def test_output_delimiter_refused_for_other_formats(tmp_path: Path, out: str, title: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text("a,b\n3,4\n")
    code, _, err = run_main(["normalize", "--output-delimiter", ";", str(src),
                             str(tmp_path / out)])
    assert code == 2
    assert error_line(err) == (f"normcli: error: --output-delimiter does not apply to {title} "
                               "output (it is the field separator of CSV/TSV output)")
    assert not (tmp_path / out).exists()


def test_fit_output_delimiter_applies_to_either_table(
        reg: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    path = reg[0]
    code, _, err = run_main(["fit", "-y", "y", "--output-delimiter", ";", str(path),
                             str(tmp_path / "m.json")])
    assert code == 2 and "does not apply to JSON output" in error_line(err)
    # with a CSV --path, the option is that table's separator
    table = tmp_path / "path.csv"
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--n-alphas", "3",
                             "--output-delimiter", ";", "--path", str(table), str(path),
                             str(tmp_path / "m.json")])
    assert (code, err) == (0, "")
    assert table.read_text().splitlines()[0] == "alpha;n_nonzero;cv_mse;cv_mse_se;a;b;c"


# -- normcli.dask: options a path input takes, none ignored -------------------------------------
def test_dask_api_options(inputs: dict[str, Path]) -> None:
    pytest.importorskip("distributed")
    import normcli.dask as nd
    from normcli.engines.dask_engine import open_input

    with pytest.raises(TypeError, match="unknown option 'delimter'"):
        nd._spec(inputs["parquet"], {"delimter": ";"})
    # na_values reaches the input (it was dropped), and is refused for Parquet by the same rule
    with pytest.raises(UsageError, match="^na_values does not apply to Parquet input"):
        open_input(nd._spec(inputs["parquet"], {"na_values": ["x"]}))
    # --plot and --path are files the command line writes: not options of the cluster's fit
    for option in ("path", "plot_log_mse"):
        with pytest.raises(TypeError, match=f"unknown option '{option}'"):
            nd.fit(inputs["parquet"], "y", **{option: "p.csv" if option == "path" else True})


# -- options that only mean something with others -----------------------------------------------
@pytest.mark.parametrize(("args", "message"), [
    (["fit", "-y", "y", "--select", "1se"], "--select picks alpha from the cross-validation"),
    (["fit", "-y", "y", "--seed", "3"], "--seed assigns the folds of --cv"),
    (["fit", "-y", "y", "--penalty", "l1", "--cv", "3", "--fold-column", "a", "--seed", "3"],
     "--seed assigns the folds of --cv"),
    (["fit", "-y", "y", "--plot-log-mse"], "--plot-log-mse draws the CV curve of --plot"),
    (["fit", "-y", "y", "--penalty", "l1", "--plot", "p.png", "--plot-log-mse"],
     "--plot-log-mse draws the CV curve of --plot"),
    (["norm", "--axis", "columns", "--only"], "--only writes the row norms alone"),
    (["predict", "--model", "m.json", "--selected", "--name", "p"], "--name names the "
     "prediction column"),
])
def test_option_without_effect_refused(tmp_path: Path, args: list[str], message: str) -> None:
    """Refused before anything is read (the input does not exist)."""
    code, out, err = run_main([*args, str(tmp_path / "missing.csv")])
    assert code == 2
    assert error_line(err) .startswith(f"normcli: error: {message}")
    assert out == b""


def test_options_left_at_their_defaults_pass(reg: tuple[Path, np.ndarray, np.ndarray],
                                             tmp_path: Path) -> None:
    """Only options given are checked: the defaults of --select, --seed are fine without --cv,
    and the given ones are fine where they apply."""
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", str(reg[0]),
                             str(tmp_path / "m.json")])
    assert (code, err) == (0, "")
    code, _, err = run_main(["fit", "-y", "y", "--penalty", "l1", "--cv", "3", "--seed", "2",
                             "--select", "1se", str(reg[0]), str(tmp_path / "m.json")])
    assert (code, err) == (0, "")


def test_plot_naming_a_file_of_a_dataset_input_is_refused(tmp_path: Path) -> None:
    """With an image extension, --plot that names an input file (through a link) is still
    refused as such."""
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "a.csv").write_text("x,y\n1,2\n2,3\n3,5\n")
    link = tmp_path / "a.png"
    link.symlink_to(folder / "a.csv")
    code, _, err = run_main(["fit", "-y", "y", "--plot", str(link), str(folder),
                             str(tmp_path / "m.json")])
    assert code == 2
    assert "is a file of the input" in error_line(err)
    assert (folder / "a.csv").read_text() == "x,y\n1,2\n2,3\n3,5\n"


# -- the Python API: the same rules, the same messages ------------------------------------------
# Each case: the command line's arguments, and the Python call that says the same thing. The
# input does not exist: both refuse before anything is read, with the same message (the rule is
# defined once, normcli.errors.refuse_unused over the ops' unused_options).
API_UNUSED = [
    (["norm", "--axis", "columns", "--only"],
     lambda p: normcli.norm(p, axis="columns", only=True)),
    (["fit", "-y", "y", "--seed", "3"], lambda p: normcli.fit(p, "y", seed=3)),
    (["fit", "-y", "y", "--seed", "0"], lambda p: normcli.fit(p, "y", seed=0)),  # the default
    (["fit", "-y", "y", "--select", "1se"], lambda p: normcli.fit(p, "y", select="1se")),
    (["fit", "-y", "y", "--select", "min"], lambda p: normcli.fit(p, "y", select="min")),
    (["fit", "-y", "y", "--penalty", "l1", "--cv", "3", "--fold-column", "a", "--seed", "3"],
     lambda p: normcli.fit(p, "y", penalty="l1", cv=3, fold_column="a", seed=3)),
]


@pytest.mark.parametrize(("args", "call"), API_UNUSED)
def test_python_api_refuses_what_the_command_line_refuses(tmp_path: Path, args: list[str],
                                                          call: Any) -> None:
    missing = tmp_path / "missing.csv"
    code, _, err = run_main([*args, str(missing)])
    assert code == 2
    with pytest.raises(UsageError) as caught:
        call(missing)
    assert error_line(err) == f"normcli: error: {caught.value}"
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 3.0, 2.0, 5.0]})
    with pytest.raises(UsageError, match=f"^{re.escape(str(caught.value))}$"):
        call(frame)


@pytest.mark.parametrize("kind", ["zscore", "maxabs"])
@pytest.mark.parametrize(("cli", "kwargs"), [
    (["--range", "-1,1"], {"feature_range": (-1.0, 1.0)}),
    (["--range", "0,1"], {"feature_range": (0.0, 1.0)}),  # the default, given
    (["--clip"], {"clip": True}),
    (["--no-clip"], {"clip": False}),
])
def test_scaler_range_and_clip_are_for_minmax(tmp_path: Path, kind: str, cli: list[str],
                                              kwargs: dict[str, object]) -> None:
    """``Scaler.fit`` (and ``normcli.dask.scaler``) apply normalize's rule for --range and
    --clip: the same message as ``normalize --scale zscore --range ...``."""
    path = write_csv(tmp_path / "d.csv", ["a", "b"], [[1.0, 2.0], [3.0, 5.0]])
    code, _, err = run_main(["normalize", "--scale", kind, *cli, str(path)])
    assert code == 2
    with pytest.raises(UsageError) as caught:
        normcli.Scaler.fit(path, kind, **kwargs)  # type: ignore[arg-type]
    assert error_line(err) == f"normcli: error: {caught.value}"
    with pytest.raises(UsageError, match="applies to --scale minmax only"):
        normcli.Scaler.fit(pd.DataFrame({"a": [1.0, 2.0]}), kind,  # type: ignore[arg-type]
                           **kwargs)


def test_python_api_options_where_they_apply(reg: tuple[Path, np.ndarray, np.ndarray]) -> None:
    """Given where they apply, the options work (checked against scikit-learn)."""
    from sklearn.preprocessing import MinMaxScaler

    path, X, _ = reg
    df = pd.read_csv(path)
    scaler = normcli.Scaler.fit(df, "minmax", feature_range=(-1.0, 1.0), clip=True,
                                columns=["a", "b", "c"])
    new = pd.DataFrame({"a": [0.0, 100.0], "b": [0.0, -100.0], "c": [0.5, 0.25]})
    ref = MinMaxScaler(feature_range=(-1.0, 1.0), clip=True).fit(X)
    np.testing.assert_allclose(scaler.transform(new).to_numpy(),
                               ref.transform(new.to_numpy()), rtol=1e-13, atol=1e-15)
    plain = normcli.Scaler.fit(df, "zscore", columns=["a"])  # no range or clip given
    assert plain.kind == "zscore"
    # defaults of seed and select are fine without cv; given, they work with it
    assert normcli.fit(df, "y").alpha_ == 1.0
    a = normcli.fit(df, "y", penalty="l1", cv=3, seed=2, select="1se")
    b = normcli.fit(df, "y", penalty="l1", cv=3, seed=2, select="min")
    assert a.alpha_ >= b.alpha_ and a.report["cv"]["select"] == "1se"
    assert normcli.norm(df, only=True).shape == (60, 1)


@pytest.mark.parametrize("kw", [{"delimiter": ";"}, {"na_values": ["-999"]},
                                {"input_format": "csv"}, {"header": False}])
def test_reading_options_refused_for_in_memory_data_everywhere(kw: dict[str, object]) -> None:
    """Every function of the API, and the methods that call them, refuse reading options for
    a DataFrame or an Arrow table (its columns are typed; nothing is read)."""
    df = pd.DataFrame({"a": [3.0, 1.0, 2.0], "y": [4.0, 1.0, 3.0]})
    model = normcli.fit(df, "y")
    scaler = normcli.Scaler.fit(df, "zscore")
    calls: list[Callable[[Any], object]] = [
        lambda d: normcli.normalize(d, **kw), lambda d: normcli.norm(d, **kw),
        lambda d: normcli.fit(d, "y", **kw), lambda d: normcli.predict(model, d, **kw),
        lambda d: model.predict(d, **kw), lambda d: scaler.transform(d, **kw),
        lambda d: normcli.Scaler.fit(d, "zscore", **kw)]
    for data in (df, pa.Table.from_pandas(df)):
        for call in calls:
            with pytest.raises(UsageError, match="do not apply to a DataFrame or an Arrow table"):
                call(data)


# -- normcli.dask: the same rules, refused before any task ----------------------------------------
# ``client`` is a stand-in that no cluster call could use: the refusal comes first.
NO_CLIENT = object()


def _nd() -> Any:
    pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    import normcli.dask

    return normcli.dask


def _ddf() -> Any:
    import dask.dataframe as dd

    return dd.from_pandas(pd.DataFrame({"id": ["a", "b", "c", "d"], "a": [1.0, 2.0, 3.0, 4.0],
                                        "y": [1.0, 3.0, 2.0, 5.0]}), npartitions=2)


DASK_REFUSED = [
    pytest.param(lambda nd, d, p: nd.fit(d, "y", seed=3, client=NO_CLIENT), UsageError,
                 "--seed assigns the folds of --cv", id="fit-frame-seed"),
    pytest.param(lambda nd, d, p: nd.fit(p, "y", select="1se", client=NO_CLIENT), UsageError,
                 "--select picks alpha", id="fit-path-select"),
    pytest.param(lambda nd, d, p: nd.scaler(d, "zscore", feature_range=(0, 2), client=NO_CLIENT),
                 UsageError, "--range applies to --scale minmax only", id="scaler-frame-range"),
    pytest.param(lambda nd, d, p: nd.scaler(p, "maxabs", clip=False, client=NO_CLIENT),
                 UsageError, "--clip/--no-clip applies to --scale minmax only",
                 id="scaler-path-clip"),
    pytest.param(lambda nd, d, p: nd.scaler(p, "zscore", output_format="csv", client=NO_CLIENT),
                 TypeError, "unknown option 'output_format'", id="scaler-path-output-format"),
    pytest.param(lambda nd, d, p: nd.normalize(d, scale="zscore", feature_range=(0, 2),
                                               client=NO_CLIENT),
                 UsageError, "--range applies to --scale minmax only", id="normalize-frame-range"),
    pytest.param(lambda nd, d, p: nd.normalize(d, scale="maxabs", clip=True, client=NO_CLIENT),
                 UsageError, "--clip/--no-clip applies to --scale minmax only",
                 id="normalize-frame-clip"),
    pytest.param(lambda nd, d, p: nd.normalize(d, scale="zscore", norm="l1", client=NO_CLIENT),
                 UsageError, "give --norm or --scale, not both", id="normalize-frame-norm-scale"),
    pytest.param(lambda nd, d, p: nd.normalize(d, scale="zscore", delimiter=";",
                                               client=NO_CLIENT),
                 UsageError, "do not apply to a dask DataFrame", id="normalize-frame-delimiter"),
    pytest.param(lambda nd, d, p: nd.norm(d, axis="columns", only=True, client=NO_CLIENT),
                 UsageError, "--only writes the row norms alone", id="norm-frame-only"),
    pytest.param(lambda nd, d, p: nd.norm(d, axis="columns", to=[0.0, 0.0], client=NO_CLIENT),
                 UsageError, "--to and --to-columns work with --axis rows", id="norm-frame-to"),
    pytest.param(lambda nd, d, p: nd.norm(d, axis="columns", onyl=True, client=NO_CLIENT),
                 TypeError, "onyl", id="norm-frame-misspelt"),
    pytest.param(lambda nd, d, p: nd.norm(p, "out.csv", axis="columns", only=True,
                                          client=NO_CLIENT),
                 UsageError, "--only writes the row norms alone", id="norm-path-only"),
    pytest.param(lambda nd, d, p: nd.norm(d, "out/", client=NO_CLIENT), UsageError,
                 "a dask DataFrame gives a dask DataFrame", id="norm-frame-output"),
    pytest.param(lambda nd, d, p: nd.predict(normcli.fit(d.compute(), "y", columns=["a"]), d,
                                             "out/", client=NO_CLIENT),
                 UsageError, "a dask DataFrame gives a dask DataFrame", id="predict-frame-output"),
    pytest.param(lambda nd, d, p: nd.fit(p, "y", client=NO_CLIENT,
                                         scheduler="tcp://127.0.0.1:1"),
                 UsageError, "give client or scheduler, not both", id="client-and-scheduler"),
]


@pytest.mark.parametrize(("call", "error", "message"), DASK_REFUSED)
def test_dask_api_refuses_before_any_task(tmp_path: Path, call: Any, error: type[Exception],
                                          message: str) -> None:
    nd = _nd()
    with pytest.raises(error, match=message):
        call(nd, _ddf(), tmp_path / "missing.csv")
