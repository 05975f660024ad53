"""Chunk sizes of the streaming path (what bounds peak memory) and the copies it avoids.

References are independent: the rows of the input (in order, each once), Python's own byte
search, Arrow's CSV writer, Parquet metadata.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from normcli.io import numtext, reader
from normcli.io.writer import CsvWriter, JsonWriter
from normcli.pipeline import InputSpec, Job, _pieces, open_job


def _text_batches(sizes: list[int], start: int = 0) -> list[pa.RecordBatch]:
    out = []
    for n in sizes:
        vals = [f"{start + i}.25" for i in range(n)]
        out.append(pa.RecordBatch.from_arrays([pa.array(vals), pa.array(vals)], names=["a", "b"]))
        start += n
    return out


def _rows(batches: list[pa.RecordBatch]) -> list[str]:
    return [v for b in batches for v in b.column(0).to_pylist()]


def test_rechunk_first_chunk_then_smaller_ones() -> None:
    batches = _text_batches([100] * 40)
    text = reader._text_size(batches[0])
    got = [b for b, _ in reader._rechunk(iter(batches), None, 4 * text,
                                         later_bytes=2 * text)]
    assert _rows(got) == _rows(batches)
    assert got[0].num_rows == 400  # four blocks of text for the first chunk
    assert all(b.num_rows == 200 for b in got[1:])  # then two blocks each


def test_rechunk_passes_a_large_block_without_copy() -> None:
    batches = _text_batches([50, 300, 300, 10])
    got = [b for b, _ in reader._rechunk(iter(batches), None, 1,
                                         later_bytes=reader._text_size(batches[1]))]
    assert _rows(got) == _rows(batches)
    assert [b.num_rows for b in got] == [50, 300, 300, 10]
    # the same buffers as Arrow's block: no copy was made
    assert got[1].column(0).buffers()[2].address == batches[1].column(0).buffers()[2].address


def test_rechunk_rows_unchanged() -> None:
    batches = _text_batches([7, 11, 13, 5])
    got = [b for b, _ in reader._rechunk(iter(batches), 10, 1 << 30)]
    assert [b.num_rows for b in got] == [10, 10, 10, 6]
    assert _rows(got) == _rows(batches)


@pytest.mark.parametrize("flush", [False, True])
def test_pieces_cover_the_chunk_in_order(flush: bool) -> None:
    batch = _text_batches([1000])[0]
    pieces = list(_pieces(reader.Chunk(batch, 500, flush=flush, pieces=3)))
    assert len(pieces) == 3
    assert _rows([p.batch for p in pieces]) == batch.column(0).to_pylist()
    assert [p.row_start for p in pieces] == [500 + sum(q.num_rows for q in pieces[:i])
                                             for i in range(3)]
    assert [p.flush for p in pieces] == [False, False, flush]


def _wide_csv(path: Path, n: int) -> list[str]:
    rng = np.random.default_rng(3)
    ids = [f"r{i:07d}" for i in range(n)]
    cols = {"id": ids, **{f"c{j}": rng.standard_normal(n) for j in range(8)}}
    pacsv.write_csv(pa.table(cols), path)
    return ids


def test_csv_chunks_after_the_first_are_small(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    ids = _wide_csv(src, 100_000)  # about 16 MB of text
    with open_job(InputSpec(str(src))) as job:
        chunks = list(job.chunks())
    assert [v for c in chunks for v in c.batch.column(0).to_pylist()] == ids
    assert [c.row_start for c in chunks] == list(np.cumsum([0] + [c.num_rows
                                                                 for c in chunks])[:-1])
    sizes = [c.batch.nbytes for c in chunks[:-1]]
    # the first chunk (about 4 MB of text, from which types are decided) is handed out in
    # slices too: no chunk holds much more than one Arrow block
    assert max(sizes) < 3 << 20
    assert len(chunks) >= 12


def test_chunk_rows_is_kept_exactly(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    _wide_csv(src, 30_000)
    with open_job(InputSpec(str(src), chunk_rows=25_000)) as job:
        assert [c.num_rows for c in job.chunks()] == [25_000, 5_000]


def test_types_still_decided_from_about_4_mb(tmp_path: Path) -> None:
    """A column with text only after the first megabyte but within the first ~4 MB is
    ambiguous (refused), as the README says: the first chunk did not shrink."""
    src = tmp_path / "in.csv"
    n = 40_000  # ~ 1.4 MB of text: within the first chunk
    lines = ["x,y"] + [f"{i}.5,{i}" for i in range(n)] + ["oops,1"]
    src.write_text("\n".join(lines) + "\n")
    job = Job(InputSpec(str(src)))
    try:
        assert job.first is not None and job.first.num_rows == n + 1
    finally:
        job.close()


def test_parquet_output_row_groups_not_one_per_chunk(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from normcli.cli import cli

    src = tmp_path / "in.csv"
    _wide_csv(src, 60_000)
    out = tmp_path / "out.parquet"
    res = CliRunner().invoke(cli, ["normalize", str(src), str(out)])
    assert res.exit_code == 0, res.output
    meta = pq.ParquetFile(out).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(sizes) == 60_000
    assert all(s >= 16_384 for s in sizes[:-1])
    table = pq.read_table(out)
    x = pacsv.read_csv(src).drop(["id"]).to_pandas().to_numpy()
    expect = x / np.linalg.norm(x, axis=1, keepdims=True)
    got = table.drop(["id"]).to_pandas().to_numpy()
    np.testing.assert_allclose(got, expect, rtol=1e-12)


@pytest.mark.parametrize("size", [0, 1, 1000, (1 << 18) - 1, 1 << 18, 700_001])
def test_find_byte_matches_python(size: int) -> None:
    rng = np.random.default_rng(size)
    text = bytes(rng.choice(np.frombuffer(b"a],[b", dtype=np.uint8), size))
    expect = [i for i, c in enumerate(text) if c == ord("]")]
    assert numtext._find_byte(text, ord("]")).tolist() == expect


def test_csv_and_json_text_with_32_bit_offsets() -> None:
    """The joined lines are read with the offsets' own width (no cast to large_binary)."""
    n = 2000
    rng = np.random.default_rng(5)
    batch = pa.RecordBatch.from_arrays(
        [pa.array([f"id{i}" for i in range(n)]), pa.array(rng.standard_normal(n)),
         pa.array([f'has "quote" {i}' for i in range(n)])],
        names=["id", "x", "t"])
    for part in (batch, batch.slice(7, 1500)):
        out = io.BytesIO()
        w = CsvWriter(out, part.schema.names, header=False)
        w.write(part)
        ref = io.StringIO()
        spelled = part.column(1).cast(pa.string()).to_pylist()  # Arrow's spelling of floats
        csv.writer(ref, lineterminator="\n").writerows(
            zip(part.column(0).to_pylist(), spelled, part.column(2).to_pylist(), strict=True))
        assert out.getvalue().decode() == ref.getvalue()
        jout = io.BytesIO()
        j = JsonWriter(jout)
        j.write(part)
        j.close()
        rows = json.loads(jout.getvalue())
        assert rows == part.to_pylist()


def test_typed_and_text_reads_cut_the_same_chunks(tmp_path: Path) -> None:
    """Statistics are merged chunk by chunk: the typed read (numbers parsed by Arrow) must cut
    the input, and the first chunk's slices, exactly where the text read does."""
    src = tmp_path / "in.csv"
    _wide_csv(src, 100_000)

    def cuts(numbers: bool) -> tuple[list[tuple[int, int]], str]:
        with open_job(InputSpec(str(src))) as job:
            sel = job.select(None, None)
            if numbers:
                job.numbers_only(sel.used)
            chunks = [(c.row_start, c.num_rows) for c in job.chunks()]
            return chunks, type(job.reader).__name__ + str(job.reader.numeric)

    typed, typed_reader = cuts(True)
    text, text_reader = cuts(False)
    assert typed_reader != text_reader  # the typed read was used
    assert typed == text
    assert len(text) >= 12 and text[0] == (0, text[0][1])
def test_writeback_hints_cover_the_output_and_keep_it(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from normcli.io import writer

    calls: list[tuple[int, int]] = []
    real = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append((offset, length))
        real(fd, offset, length, advice)

    monkeypatch.setattr(writer, "WRITEBACK_BYTES", 1)
    monkeypatch.setattr(os, "posix_fadvise", spy)
    src = tmp_path / "in.csv"
    _wide_csv(src, 20_000)
    out = tmp_path / "out.csv"
    from click.testing import CliRunner

    from normcli.cli import cli

    res = CliRunner().invoke(cli, ["normalize", str(src), str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_bytes()
    # contiguous ranges from the first data byte (after the header) on
    assert calls and all(a[0] + a[1] == b[0] for a, b in zip(calls, calls[1:], strict=False))
    assert calls[-1][0] + calls[-1][1] <= len(text)
    x = pacsv.read_csv(src).drop(["id"]).to_pandas().to_numpy()
    got = pacsv.read_csv(out).drop(["id"]).to_pandas().to_numpy()
    np.testing.assert_allclose(got, x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)


def test_writeback_off_for_pipes() -> None:
    import os

    from normcli.io.writer import _Writeback

    r, w = os.pipe()
    try:
        with os.fdopen(w, "wb", closefd=False) as fh:
            wb = _Writeback(fh)
            wb.wrote(100 << 20)  # no error on a pipe: the hint is simply not given
            assert wb._fd is None
    finally:
        os.close(r)
        os.close(w)


def test_parquet_parts_row_groups_not_one_per_chunk(tmp_path: Path) -> None:
    """A folder of Parquet parts written from CSV parts: the writer gathers its row groups
    (a chunk after the first, about 1 MB of text, would otherwise be a row group)."""
    from click.testing import CliRunner

    from normcli.cli import cli

    src = tmp_path / "in"
    src.mkdir()
    for k in range(2):
        _wide_csv(src / f"p{k}.csv", 100_000)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["normalize", "--output-format", "parquet", str(src),
                                   str(out) + "/"])
    assert res.exit_code == 0, res.output
    for k in range(2):
        part = pq.ParquetFile(out / f"p{k}.parquet")
        sizes = [part.metadata.row_group(i).num_rows for i in range(part.metadata.num_row_groups)]
        assert sum(sizes) == 100_000
        assert all(s >= 16_384 for s in sizes[:-1]), sizes
        x = pacsv.read_csv(src / f"p{k}.csv").drop(["id"]).to_pandas().to_numpy()
        got = part.read().drop(["id"]).to_pandas().to_numpy()
        np.testing.assert_allclose(got, x / np.linalg.norm(x, axis=1, keepdims=True), rtol=1e-12)
