"""The format registry, and JSON Lines as a format like the others."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import error_line, invoke, out_matrix, parse_csv, run_main
from sklearn.preprocessing import StandardScaler
from sklearn.preprocessing import normalize as sk_normalize

import normcli
from normcli import formats
from normcli.formats import Format, delimited
from normcli.io.formats import format_of, resolve_input_format, resolve_output_format


# -- the registry --------------------------------------------------------------------------------
def test_registry_names_and_extensions() -> None:
    names = [f.name for f in formats.all_formats()]
    assert len(names) == len(set(names))
    assert formats.readable() == ["csv", "tsv", "parquet", "jsonl"]
    assert formats.writable() == ["csv", "tsv", "parquet", "json", "jsonl"]
    expected = {"a.csv": "csv", "a.CSV.gz": "csv", "a.tsv": "tsv", "a.tab.bz2": "tsv",
                "a.parquet": "parquet", "a.pq": "parquet", "a.json": "json",
                "a.jsonl": "jsonl", "a.ndjson.zst": "jsonl", "a.txt": None}
    assert {p: format_of(p) for p in expected} == expected
    assert {f.name: f.typed for f in formats.all_formats() if f.reader} == {
        "csv": False, "tsv": False, "parquet": True, "jsonl": False}
    with pytest.raises(normcli.UsageError, match="csv|tsv|parquet|jsonl"):
        resolve_input_format("a.json", None)  # JSON (one array) is output only
    with pytest.raises(normcli.UsageError, match=r"csv\|tsv\|parquet\|json\|jsonl"):
        resolve_output_format("a.txt", None)
    with pytest.raises(normcli.UsageError, match="unknown input format"):
        resolve_input_format("a.csv", "xml")


def test_a_new_format_is_one_registration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    # Pipe-separated values: a Format built from the delimited module's reader and writer; no
    # other code knows about it.
    psv = Format("psv", (".psv",), typed=False, reader=delimited._reader,
                 writer=delimited._writer, keeps_text=True, delimiter="|")
    monkeypatch.setitem(formats._load(), "psv", psv)
    src = tmp_path / "in.psv"
    src.write_text("id|a|b\nx|3|4\ny|0|2\n")
    out = tmp_path / "out.psv"
    invoke(["normalize", str(src), str(out)])
    assert out.read_text() == "id|a|b\nx|0.6|0.8\ny|0|1\n"


# -- JSON Lines ----------------------------------------------------------------------------------
def write_jsonl(path: Path, rows: list[dict[str, object]], blank_after: int | None = None) -> Path:
    lines = [json.dumps(r) for r in rows]
    if blank_after is not None:
        lines.insert(blank_after, "")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def data(rng: np.random.Generator) -> np.ndarray:
    X = rng.normal(size=(300, 3)) * [1.0, 100.0, 0.01]
    X[::7, 0] = np.round(X[::7, 0] * 10)  # integral values among the floats
    return X


def rows_of(X: np.ndarray) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, (a, b, c) in enumerate(X):
        a_val: object = int(a) if float(a).is_integer() else float(a)
        out.append({"id": f"{i:05d}", "a": a_val, "b": float(b), "c": float(c)})
    return out


def test_jsonl_reads_like_csv(data: np.ndarray, tmp_path: Path) -> None:
    rows = rows_of(data)
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    csv_src = tmp_path / "in.csv"
    csv_src.write_text("id,a,b,c\n" + "".join(
        f"{r['id']},{r['a']!r},{r['b']!r},{r['c']!r}\n" for r in rows))
    data = np.array([[float(r["a"]), r["b"], r["c"]] for r in rows])  # type: ignore[arg-type]
    for args in (["--norm", "l2"], ["--scale", "zscore"], ["--axis", "columns", "--norm", "1"]):
        from_jsonl = invoke(["normalize", *args, "--chunk-rows", "64", str(src)])
        from_csv = invoke(["normalize", *args, "--chunk-rows", "64", str(csv_src)])
        assert from_jsonl == from_csv, args  # byte for byte, ids kept as text
    got = out_matrix(invoke(["normalize", str(src)]), ["a", "b", "c"])
    np.testing.assert_allclose(got, sk_normalize(data), rtol=1e-15)
    got = out_matrix(invoke(["normalize", "--scale", "zscore", str(src)]), ["a", "b", "c"])
    np.testing.assert_allclose(got, StandardScaler().fit_transform(data), rtol=1e-12,
                               atol=1e-15)


def test_jsonl_output_round_trips(data: np.ndarray, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", rows_of(data))
    out = tmp_path / "out.ndjson"
    invoke(["norm", "--ord", "1", str(src), str(out)])
    lines = out.read_text().splitlines()
    assert len(lines) == len(data)
    first = json.loads(lines[0])
    assert list(first) == ["id", "a", "b", "c", "norm"] and first["id"] == "00000"
    norms = np.array([json.loads(line)["norm"] for line in lines])
    np.testing.assert_allclose(norms, np.abs(data).sum(axis=1), rtol=1e-15)
    # --output-format jsonl to standard output; missing values are null.
    stdout = invoke(["normalize", "--output-format", "jsonl", "-"],
                    input="a,b,name\n3,4,x\n,2,y\n")
    assert [json.loads(v) for v in stdout.decode().splitlines()] == [
        {"a": 0.6, "b": 0.8, "name": "x"}, {"a": None, "b": 1.0, "name": "y"}]


def test_jsonl_from_stdin_two_passes_and_gzip(data: np.ndarray, tmp_path: Path) -> None:
    text = "\n".join(json.dumps(r) for r in rows_of(data)) + "\n"
    expected = invoke(["normalize", "--scale", "minmax",
                       str(write_jsonl(tmp_path / "in.jsonl", rows_of(data)))])
    assert invoke(["normalize", "--scale", "minmax", "--input-format", "jsonl", "-"],
                  input=text) == expected
    gz = tmp_path / "in.jsonl.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert invoke(["normalize", "--scale", "minmax", str(gz)]) == expected


def test_jsonl_types_missing_and_nested(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        '{"id": 7, "x": 3, "y": 4, "when": "2024-01-05", "tags": ["a", "b"], "ok": true}\n'
        "\n"
        '{"id": 8, "x": 1.5, "y": null, "ok": false}\n'
        '{"id": 9, "x": 0, "y": 2, "when": null}\n')
    out = invoke(["normalize", "--exclude", "id", str(src)])
    assert parse_csv(out) == [
        ["id", "x", "y", "when", "tags", "ok"],
        ["7", "0.6", "0.8", "2024-01-05", '["a", "b"]', "true"],
        ["8", "1", "", "", "", "false"],
        ["9", "0", "1", "", "", ""],
    ]
    df = normcli.normalize(src, exclude=["id"])
    assert df["when"].iloc[0] == "2024-01-05" and df["when"].iloc[1:].isna().all()
    np.testing.assert_array_equal(df["x"].to_numpy(), [0.6, 1.0, 0.0])


@pytest.mark.parametrize(("text", "message"), [
    ('{"x": 1}\n{"x": 2}\n\n{"x": "zz"}\n', "in.jsonl, line 4, column 'x': expected a number"),
    # in the first block, where the types are not known yet
    ('{"x": 1}\n\n{"x": "zz"}\n', "in.jsonl, line 3, column 'x': expected a number, found \"zz\""),
    ('{"x": "a"}\n{"x": [1]}\n', "in.jsonl, line 2, column 'x': expected text, found [1]"),
    ('{"x": 1}\n{"x": 2}\n{"x": 3, "q": 1}\n', "line 3, column 'q': a field the first lines"),
    ('{"x": 1}\n{"x": 2}\n{"x": 3\n', "in.jsonl, line 3: not valid JSON"),
    ('{"x": 1}\n[1, 2]\n', "line 2: not a JSON object"),
    ("", "the input is empty"),
])
def test_jsonl_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(text)
    code, out, err = run_main(["normalize", "--chunk-rows", "2", str(src)])
    assert code == 1
    assert message in error_line(err)


def test_jsonl_bad_cell_in_used_text_column_names_line(tmp_path: Path) -> None:
    # A column of numbers written as strings is inferred like CSV text; a later non-number is a
    # located error.
    src = tmp_path / "in.jsonl"
    src.write_text('{"x": "1"}\n{"x": "2"}\n\n{"x": "oops"}\n')
    code, _, err = run_main(["normalize", "--chunk-rows", "2", str(src)])
    assert code == 1
    assert "line 4, column 'x'" in error_line(err) and "oops" in err


def test_jsonl_does_not_import_pandas(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"a": 1, "b": [1]}\n{"a": 2, "b": null}\n')
    code = (
        "import sys\n"
        "from normcli.cli import main\n"
        "try:\n"
        f"    main(['normalize', {str(src)!r}, {str(tmp_path / 'o.csv')!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print('pandas' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60,
                          check=True)
    assert proc.stdout.strip() == b"False"
