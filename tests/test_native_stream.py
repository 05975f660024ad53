"""Issue 13 items 1 and 4: a regular CSV file (plain or compressed) goes to Arrow as a native
stream (no Python call, no Python bytes per block); streams still go through ``_Body``.

Every behaviour of the Python path is kept: the end sentinel (an unterminated quote at the end
is an error naming where it opened), records longer than Arrow's block, stopping.
"""

from __future__ import annotations

import bz2
import gzip
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import error_line, parse_csv, run_main

from normcli.errors import DataError
from normcli.io import reader as reader_mod
from normcli.io.formats import CsvDialect
from normcli.io.source import Source

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
COMPRESS = {"": lambda b: b, ".gz": gzip.compress, ".bz2": bz2.compress,
            ".zst": lambda b: pa.compress(b, "zstd", asbytes=True)}


def _write(tmp_path: Path, data: bytes, ext: str = "") -> Path:
    path = tmp_path / f"d.csv{ext}"
    path.write_bytes(COMPRESS[ext](data))
    return path


def _reader(path: Path | str) -> reader_mod.CsvReader:
    return reader_mod.CsvReader(Source(str(path)), CsvDialect())


def _rows(reader: reader_mod.CsvReader) -> list[list[str]]:
    out: list[list[str]] = []
    try:
        for chunk in reader:
            out.extend(list(r.values()) for r in chunk.batch.to_pylist())
    finally:
        reader.close()
    return out


@pytest.mark.parametrize("ext", list(COMPRESS))
def test_a_regular_file_is_read_natively(tmp_path: Path, ext: str) -> None:
    path = _write(tmp_path, b"\xef\xbb\xbfa,b\n1,2\n3,\"x\ny\"\n", ext)
    reader = _reader(path)
    assert isinstance(reader._body, reader_mod._NativeBody)
    assert reader.names == ["a", "b"]  # the BOM is not part of the first name
    assert _rows(reader) == [["1", "2"], ["3", "x\ny"]]


def test_a_fifo_is_read_through_python(tmp_path: Path) -> None:
    fifo = tmp_path / "in.csv"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(b"a,b\n1,2\n3,4\n")

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    source = Source(str(fifo))
    try:
        reader = reader_mod.CsvReader(source, CsvDialect())
        assert isinstance(reader._body, reader_mod._Body)
        assert _rows(reader) == [["1", "2"], ["3", "4"]]
    finally:
        source.close()
        writer.join(5)


def test_standard_input_is_read_through_python(monkeypatch: pytest.MonkeyPatch) -> None:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"a,b\n1,2\n")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        source = Source("-")
        try:
            reader = reader_mod.CsvReader(source, CsvDialect())
            assert isinstance(reader._body, reader_mod._Body)
            assert _rows(reader) == [["1", "2"]]
        finally:
            source.close()


@pytest.mark.parametrize("ext", ["", ".gz", ".zst"])
@pytest.mark.parametrize("tail", [b'7,8,"qux', b'7,8,"qux\n', b'7,"8,qux\n9,9\n'])
def test_unterminated_quote_at_the_end_of_a_native_file(tmp_path: Path, ext: str,
                                                         tail: bytes) -> None:
    path = _write(tmp_path, b"a,b,name\n1,2,foo\n" + tail, ext)
    reader = _reader(path)
    assert isinstance(reader._body, reader_mod._NativeBody)
    with pytest.raises(DataError, match="unterminated") as info:
        _rows(reader)
    assert info.value.line == 3
    code, _, err = run_main(["normalize", str(path)])
    assert code == 1
    assert f"{path.name}, line 3" in error_line(err) and "unterminated" in err


@pytest.mark.parametrize("ext", ["", ".gz"])
def test_records_longer_than_a_block_in_a_native_file(tmp_path: Path, ext: str) -> None:
    big = "x" * (3 << 20)  # longer than Arrow's 1 MB block: the record straddles blocks
    text = f'a,b,t\n3,4,"{big}\nmore"\n6,8,y\n0,1,"{big}"\n5,12,z\n'
    path = _write(tmp_path, text.encode(), ext)
    reader = _reader(path)
    assert _rows(reader) == [["3", "4", big + "\nmore"], ["6", "8", "y"], ["0", "1", big],
                             ["5", "12", "z"]]
    # the command, from the restart after each long record on (native again)
    rows = parse_csv(subprocess.run([sys.executable, "-m", "normcli", "normalize", str(path)],
                                    env=ENV, capture_output=True, check=True).stdout)
    assert [r[2] for r in rows[1:]] == [big + "\nmore", "y", big, "z"]
    assert [r[:2] for r in rows[1:]] == [["0.6", "0.8"], ["0.6", "0.8"], ["0", "1"],
                                         [repr(5 / 13), repr(12 / 13)]]


def test_the_restart_after_a_long_record_is_native(tmp_path: Path) -> None:
    big = "9" * (2 << 20)
    path = _write(tmp_path, f"a,b\n1,{big}\n3,4\n".encode())
    reader = _reader(path)
    bodies = []
    rows = []
    for chunk in reader:
        bodies.append(type(reader._body))
        rows.extend(list(r.values()) for r in chunk.batch.to_pylist())
    reader.close()
    assert rows == [["1", big], ["3", "4"]]
    assert bodies and all(b is reader_mod._NativeBody for b in bodies)


def test_invalid_utf8_in_a_native_file_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a,name\n1,ok\n2,\xff\xfe\n", ".gz")
    code, _, err = run_main(["normalize", str(path)])
    assert code == 1
    line = error_line(err)
    assert "line 3" in line and "name" in line and "UTF-8" in line


def test_a_stopped_native_body_fails_at_once(tmp_path: Path) -> None:
    """After stop(), a read must not go on to the end of the file (an empty block from the
    transform would make Arrow read on) nor block: it fails."""
    path = _write(tmp_path, b"a\n" + b"1\n" * (1 << 20))
    body = reader_mod._NativeBody(pa.OSFile(str(path)), b"\nEND\n")
    stream = body.arrow_file()
    assert stream.read(2) == b"a\n"
    body.stop()
    with pytest.raises(OSError, match="stopped"):
        stream.read(1 << 16)


def test_the_end_row_comes_once(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a\n1\n")
    body = reader_mod._NativeBody(pa.OSFile(str(path)), b"\nEND\n")
    stream = body.arrow_file()
    assert stream.read(100) == b"a\n1\n\nEND\n"
    assert stream.read(100) == b""
    assert stream.read(100) == b""


def test_close_drops_arrows_reader(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a,b\n" + b"1,2\n" * 400_000)
    reader = reader_mod.CsvReader(Source(str(path)), CsvDialect(), chunk_rows=1000)
    it = iter(reader)
    next(it)
    assert reader._arrow is not None
    reader.close()
    assert reader._arrow is None and reader._body is None
    with pytest.raises(ValueError, match="closed"):
        next(it)


def test_the_native_read_ahead_is_bounded(tmp_path: Path) -> None:
    """Arrow would read 32 blocks ahead of the batches taken (about 30 MB more RSS than the
    Python path, whose reads wait for the interpreter): the native stream pauses after
    NATIVE_READ_AHEAD."""
    path = _write(tmp_path, b"a,b\n" + b"1,2\n" * 6_000_000)  # 24 blocks of 1 MB
    reader = _reader(path)
    body = reader._body
    assert isinstance(body, reader_mod._NativeBody)
    batches = reader._batches()
    next(batches)
    ahead = reader_mod.NATIVE_READ_AHEAD + 1  # the block that waits is counted
    deadline = time.monotonic() + 60
    while body._read - body._taken < ahead and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # it would read on now if it were not held (a false pass at worst)
    assert body._read - body._taken == ahead
    assert body._busy == 1  # one read waits
    reader.close()
    assert body._busy == 0  # and close() released it
    batches.close()


_EXIT_SCRIPT = """
import sys
from normcli.io.formats import CsvDialect
from normcli.io.reader import CsvReader
from normcli.io.source import Source
reader = CsvReader(Source(sys.argv[1]), CsvDialect())
chunks = iter(reader)
next(chunks)          # Arrow's read-ahead runs on
reader.close()
# the interpreter ends normally (the library case: no os._exit)
"""


@pytest.mark.slow
def test_the_interpreter_ends_after_close_mid_read(tmp_path: Path) -> None:
    """A library user closes a reader half-way and exits: the interpreter's shutdown used to
    meet Arrow's read-ahead calling back into Python (hang, or abort in PyGILState_Release)."""
    row = b"r0000001,0.6385496406022321,-0.41405897869865566,-0.2824060243366826\n"
    path = _write(tmp_path, b"id,a,b,c\n" + row * 1_000_000)  # 69 MB: still reading at exit
    procs = [subprocess.Popen([sys.executable, "-c", _EXIT_SCRIPT, str(path)], env=ENV,
                              stderr=subprocess.PIPE) for _ in range(4)]
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail("the interpreter hung at exit")
        assert proc.returncode == 0, err
        assert err == b""


def _parse_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "normcli-csv-parse"]


def test_a_regular_file_is_parsed_ahead_on_its_own_thread(tmp_path: Path) -> None:
    """Arrow parses a block when its batch is asked for: the batches of a regular file are
    taken on a thread of their own, at most PARSE_AHEAD ahead, so a command's thread does not
    wait for each parse."""
    path = _write(tmp_path, b"a,b\n" + b"1,2\n" * 6_000_000)  # 24 blocks of 1 MB
    reader = _reader(path)
    it = iter(reader)
    first = next(it)
    ahead = reader._ahead
    assert ahead is not None and ahead._thread.is_alive()
    deadline = time.monotonic() + 60
    while not ahead._queue.full() and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # it would parse on now if it were not held (a false pass at worst)
    assert ahead._queue.qsize() == reader_mod.PARSE_AHEAD
    rows = first.num_rows + sum(chunk.num_rows for chunk in it)
    assert rows == 6_000_000 and reader.finished
    reader.close()
    assert not _parse_threads()


def test_close_mid_read_stops_the_parse_thread(tmp_path: Path) -> None:
    path = _write(tmp_path, b"a,b\n" + b"1,2\n" * 2_000_000)
    reader = _reader(path)
    it = iter(reader)
    next(it)
    assert _parse_threads()
    reader.close()
    assert not _parse_threads()
    assert reader._ahead is None and reader._body is None
    with pytest.raises(ValueError, match="closed"):
        next(it)


def test_an_error_in_the_parse_thread_is_raised_with_its_line(tmp_path: Path) -> None:
    """Arrow's refusal happens on the parse thread; the consumer raises it, located."""
    path = _write(tmp_path, b"a,b\n" + b"1,2\n" * 1_000_000 + b"1,2,3\n" + b"1,2\n" * 10)
    reader = _reader(path)
    with pytest.raises(DataError) as info:
        _rows(reader)
    assert info.value.line == 1_000_002
    assert "expected 2 fields, found 3" in str(info.value)
    assert not _parse_threads()


def test_finished_counts_what_was_handed_out(tmp_path: Path) -> None:
    """The parse thread may reach the end long before the consumer: ``finished`` (which
    decides whether a typed second read pays) says what the consumer has taken."""
    path = _write(tmp_path, b"a,b\n" + b"1.5,2\n" * 3_000_000)
    reader = _reader(path)
    it = iter(reader)
    next(it)
    time.sleep(0.5)
    assert not reader.finished
    for _ in it:
        pass
    assert reader.finished
    reader.close()
