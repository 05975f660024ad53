"""Gaps found reviewing the session's merge (startup, polish, floats): options that the one rule
("an option that does not apply is refused, never silently ignored") had missed."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from conftest import error_line, run_main

from normcli.errors import UsageError
from normcli.pipeline import InputSpec, Job


@pytest.mark.parametrize("engine", [[], ["--engine", "dask"]], ids=["local", "dask"])
def test_save_params_with_a_compression_suffix_is_refused(tmp_path: Path,
                                                          engine: list[str]) -> None:
    # Output is never compressed: like OUTPUT and fit --path, --save-params p.json.gz used to
    # receive plain JSON under a gzip name (exit 0). Refused before the input is read (with
    # Dask it does not even exist: no cluster is started), nothing written.
    params = tmp_path / "p.json.gz"
    out = tmp_path / "o.csv"
    src = tmp_path / ("missing.csv" if engine else "in.csv")
    if not engine:
        src.write_text("a,b\n1,2\n3,5\n")
    code, stdout, err = run_main(["normalize", "--scale", "minmax", *engine, "--save-params",
                                  str(params), str(src), str(out)])
    assert code == 2
    assert error_line(err) == (f"normcli: error: --save-params {params}: normcli does not "
                               "compress its output; name the file p.json and compress it "
                               "afterwards (or write to standard output and pipe it through "
                               "a compressor)")
    assert stdout == b""
    assert not params.exists() and not out.exists()


def test_dask_column_norms_of_a_dask_dataframe_refuse_reading_options() -> None:
    # normcli.dask.norm(ddf, axis="columns", delimiter=";") went on to start a cluster and
    # ignored the option; every other function refuses it for a dask DataFrame.
    dd = pytest.importorskip("dask.dataframe")
    pytest.importorskip("distributed")
    import pandas as pd

    import normcli.dask as nd

    ddf = dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}), npartitions=1)
    for option, value in (("delimiter", ";"), ("na_values", ["x"]), ("header", False)):
        with pytest.raises(UsageError, match=f"^{option}: these say how to read or write "
                           "files; they do not apply to a dask DataFrame"):
            nd.norm(ddf, axis="columns", scheduler="tcp://127.0.0.1:9", **{option: value})
        # the other routes refuse it too (the rule is the same everywhere)
        with pytest.raises(UsageError, match=f"^{option}: these say how to read"):
            nd.scaler(ddf, "minmax", scheduler="tcp://127.0.0.1:9", **{option: value})


# -- the typed CSV read on the input shapes its tests did not cover -------------------------------
def _table(n: int = 80) -> tuple[str, np.ndarray]:
    """``n`` rows; 80 make 3.4 KB: one write to a FIFO below PIPE_BUF arrives whole (atomic), so
    the reader never sees the first rows trickle in (which would keep it on the text read)."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, 2)) * [1.0, 1e6]
    lines = ["x,id,z"] + [f"{float(X[i, 0])!r},r{i},{float(X[i, 1])!r}" for i in range(n)]
    return "\n".join(lines) + "\n", X


@pytest.mark.parametrize("shape", ["bom", "bom-crlf", "no-header", "gzip", "tsv", "fifo",
                                   "chunk-rows-1"])
def test_typed_read_on_other_input_shapes_matches_numpy(tmp_path: Path, shape: str) -> None:
    """norm --axis columns and normalize --scale zscore (two passes) against numpy, and the
    used columns really come typed (float64) from the reader, past the first chunk."""
    text, X = _table()
    data = text.encode()
    name, extra, rows = "in.csv", ["--chunk-rows", "4"], 4
    if shape.startswith("bom"):
        data = b"\xef\xbb\xbf" + (data.replace(b"\n", b"\r\n") if shape == "bom-crlf" else data)
    elif shape == "no-header":
        data = data.split(b"\n", 1)[1]
        extra.append("--no-header")
    elif shape == "gzip":
        data, name = gzip.compress(data), "in.csv.gz"
    elif shape == "tsv":
        data, name = data.replace(b",", b"\t"), "in.tsv"
    elif shape == "chunk-rows-1":
        extra, rows = ["--chunk-rows", "1"], 1
    src = tmp_path / name
    if shape == "fifo":
        os.mkfifo(src)
    else:
        src.write_bytes(data)

    def feed() -> threading.Thread | None:
        if shape != "fifo":
            return None

        def write() -> None:
            with open(src, "wb") as fh:
                fh.write(data)

        t = threading.Thread(target=write, daemon=True)
        t.start()
        return t

    cols = ["column_1", "column_3"] if shape == "no-header" else ["x", "z"]
    writer = feed()
    with Job(InputSpec(str(src), chunk_rows=rows, header=shape != "no-header")) as job:
        sel = job.select(None, None)
        assert sel.used_names == cols
        job.numbers_only(sel.used)
        types = {c.batch.schema.field(sel.used[0]).type for c in list(job.chunks())[1:]}
    if writer is not None:
        writer.join(10)
    assert types == {pa.float64()}

    writer = feed()
    code, out, err = run_main(["norm", "--axis", "columns", *extra, str(src)])
    if writer is not None:
        writer.join(10)
    assert (code, err) == (0, "")
    skip = 0 if shape == "no-header" else 1  # --no-header: no header row written either
    got = [float(line.split(b",")[1]) for line in out.splitlines()[skip:]]
    np.testing.assert_allclose(got, np.sqrt((X * X).sum(axis=0)), rtol=1e-13)

    writer = feed()
    code, out, err = run_main(["normalize", "--scale", "zscore", *extra, str(src)])
    if writer is not None:
        writer.join(10)
    assert (code, err) == (0, "")
    sep = b","  # standard output is CSV
    body = out.splitlines()[skip:]
    got_x = np.array([[float(r.split(sep)[0]), float(r.split(sep)[2])] for r in body])
    np.testing.assert_allclose(got_x, (X - X.mean(axis=0)) / X.std(axis=0), rtol=1e-9,
                               atol=1e-12)
