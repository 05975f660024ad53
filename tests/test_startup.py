"""Start-up: what the light commands and a short CSV run import (issue 13 item 3).

The times themselves are measured in bench/ (``bench/run.py --only startup,small_files``); these
tests keep the imports that decide them from coming back.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pac
import pytest

import normcli
from normcli import compute as pc


def _run(args: list[str], report: str) -> str:
    """Runs ``main(args)`` in a fresh interpreter; returns what ``report`` (an expression over
    ``sys.modules`` as ``mods``) printed."""
    code = ("import sys\nfrom normcli.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "mods = sys.modules\n"
            f"print('REPORT', {report}, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=os.environ,
                       text=True)
    assert p.returncode == 0, p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("REPORT ")]
    assert lines, p.stderr
    return lines[-1].removeprefix("REPORT ")


#: All that --version and --help of any command may load of normcli.
LIGHT = ["normcli", "normcli.cli", "normcli.errors", "normcli.io", "normcli.io.stdio",
         "normcli.options"]


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["normalize", "--help"],
                                  ["norm", "--help"], ["fit", "--help"], ["predict", "--help"]])
def test_help_and_version_load_only_the_command_line(args: list[str]) -> None:
    # numpy + pyarrow cost 0.1-0.2 s; the format registry and its modules import them
    report = _run(args, "sorted(m for m in mods if m.startswith('normcli') "
                        "or m in ('numpy', 'pyarrow', 'pandas'))")
    assert report == repr(LIGHT)


def test_format_names_of_the_options_are_the_registrys() -> None:
    from normcli import formats
    from normcli.options import READABLE_FORMATS, WRITABLE_FORMATS

    assert list(READABLE_FORMATS) == formats.readable()
    assert list(WRITABLE_FORMATS) == formats.writable()


@pytest.mark.parametrize("command, suffix", [
    (["normalize"], ".csv"),
    (["normalize", "--norm", "l1"], ".tsv"),
    (["normalize", "--scale", "zscore"], ".csv"),
    (["normalize", "--scale", "minmax"], ".json"),
    (["norm", "--ord", "2"], ".csv"),
])
def test_csv_runs_do_not_import_pyarrow_compute(tmp_path: Path, command: list[str],
                                               suffix: str) -> None:
    # pyarrow.compute builds a wrapper per compute function at import: 35-50 ms of a short run;
    # normcli.compute calls the same functions through pyarrow._compute
    src = tmp_path / "in.csv"
    # missing cells, text that needs quotes, an integral value and one Arrow spells itself
    src.write_text('id,a,b\n"x,1",1.5,NA\ny,3,4\n"z""",,1e-6\nw,-2,2.5\n')
    out = tmp_path / f"out{suffix}"
    report = _run([*command, str(src), str(out)],
                  "sorted(m for m in ('pyarrow.compute', 'numpy.ma') if m in mods)")
    assert report == "[]"  # numpy.ma (10 ms): np.unique and np.isin import it
    if command == ["normalize"]:  # the values, against math.hypot over the present cells
        with open(out, newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["id", "a", "b"]
        assert [r[0] for r in rows[1:]] == ["x,1", "y", 'z"', "w"]
        for line, (a, b) in zip(rows[1:], [(1.5, None), (3.0, 4.0), (None, 1e-6), (-2.0, 2.5)],
                                strict=True):
            n = math.hypot(*(v for v in (a, b) if v is not None))
            want = [None if v is None else v / n for v in (a, b)]
            got = [None if c == "" else float(c) for c in line[1:]]
            assert got == [v if v is None else pytest.approx(v, rel=1e-15) for v in want]


@pytest.mark.parametrize("command", [
    ["normalize", "{src}", "{tmp}/out.parquet"],
    ["fit", "-y", "b", "--penalty", "l1", "--alpha", "0.01", "--drop-missing", "{src}",
     "{tmp}/model.json"],
])
def test_parquet_and_fit_do_not_import_pyarrow_compute(tmp_path: Path,
                                                       command: list[str]) -> None:
    import pyarrow.parquet as pq

    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["x", "y", "z"], "a": [1.0, 3.0, None], "b": [2.0, 4.0, 5.0]}),
                   src)
    report = _run([a.format(src=src, tmp=tmp_path) for a in command],
                  "'pyarrow.compute' in mods")
    assert report == "False"
    if command[0] == "normalize":
        got = pq.read_table(tmp_path / "out.parquet").to_pydict()
        assert got["id"] == ["x", "y", "z"]
        assert got["a"] == [pytest.approx(1 / math.hypot(1, 2), rel=1e-15), 0.6, None]
        assert got["b"] == [pytest.approx(2 / math.hypot(1, 2), rel=1e-15), 0.8, 1.0]


def test_csv_folder_imports_neither_parquet_nor_compute(tmp_path: Path) -> None:
    # pyarrow.parquet (~50 ms) is for Parquet datasets only
    for year, rows in (("2025", "1,2\n"), ("2026", "3,4\n")):
        part = tmp_path / "in" / f"year={year}"
        part.mkdir(parents=True)
        (part / "p.csv").write_text("a,b\n" + rows)
    out = tmp_path / "out.csv"
    report = _run(["normalize", "--columns", "a,b", str(tmp_path / "in"), str(out)],
                  "sorted(m for m in ('pyarrow.parquet', 'pyarrow.compute', 'normcli.io.dataset') "
                  "if m in mods)")
    assert report == "['normcli.io.dataset']"
    lines = out.read_text().splitlines()
    assert lines[0] == "a,b,year"
    for line, (a, b, year) in zip(lines[1:], [(1.0, 2.0, "2025"), (3.0, 4.0, "2026")],
                                  strict=True):
        x, y, label = line.split(",")
        n = math.hypot(a, b)
        assert (float(x), float(y), label) == (pytest.approx(a / n, rel=1e-15),
                                               pytest.approx(b / n, rel=1e-15), year)


# -- normcli.compute against pyarrow.compute ---------------------------------------------------
TEXT = pa.array(["1.5", " 2 ", None, "x\"y", "", "1e-6", "-0"])
FLOATS = pa.array([1.5, None, -0.0, 1e300, float("nan"), 3.0])


def _same(a: object, b: object) -> None:
    assert type(a) is type(b)
    assert a.equals(b)  # type: ignore[attr-defined]


def test_cast_is_pyarrow_computes() -> None:
    _same(pc.cast(FLOATS, pa.string()), pac.cast(FLOATS, pa.string()))
    _same(pc.cast(pa.array(["1.5", None]), pa.float64()),
          pac.cast(pa.array(["1.5", None]), pa.float64()))
    big = pa.array([2**53 + 1, -3], pa.int64())
    with pytest.raises(pa.ArrowInvalid):
        pc.cast(big, pa.float64())
    _same(pc.cast(big, pa.float64(), safe=False), pac.cast(big, pa.float64(), safe=False))
    with pytest.raises(pa.ArrowInvalid):
        pc.cast(TEXT, pa.float64())
    _same(pc.cast(pc.cast(FLOATS, pa.string()), pa.large_binary()),
          pac.cast(pac.cast(FLOATS, pa.string()), pa.large_binary()))


def test_string_functions_are_pyarrow_computes() -> None:
    _same(pc.fill_null(TEXT, pa.scalar("", pa.string())), pac.fill_null(TEXT, ""))
    _same(pc.fill_null(pc.cast(TEXT, pa.binary()), pa.scalar("-")),
          pac.fill_null(pac.cast(TEXT, pa.binary()), pa.scalar("-")))
    _same(pc.fill_null(pa.array([True, None]), False), pac.fill_null(pa.array([True, None]), False))
    missing = pa.array(["", "NA"])
    _same(pc.is_in(TEXT, value_set=missing), pac.is_in(TEXT, value_set=missing))
    _same(pc.match_substring_regex(TEXT, r"^\s*[0-9.]+"),
          pac.match_substring_regex(TEXT, r"^\s*[0-9.]+"))
    _same(pc.replace_substring(TEXT, '"', '""'), pac.replace_substring(TEXT, '"', '""'))
    _same(pc.utf8_trim_whitespace(TEXT), pac.utf8_trim_whitespace(TEXT))
    raw = pac.cast(TEXT, pa.binary())
    _same(pc.binary_slice(raw, 1, -2), pac.binary_slice(raw, 1, -2))
    _same(pc.binary_slice(raw, 0, -1), pac.binary_slice(raw, 0, -1))
    sep = pa.scalar(",")
    _same(pc.binary_join_element_wise(TEXT, TEXT, sep),
          pac.binary_join_element_wise(TEXT, TEXT, sep))


def test_selection_functions_are_pyarrow_computes() -> None:
    mask = pa.array([True, False, None, True, False, True, False])
    _same(pc.filter(TEXT, mask), pac.filter(TEXT, mask))
    _same(pc.if_else(mask, TEXT, pa.scalar("-")), pac.if_else(mask, TEXT, pa.scalar("-")))
    repl = pa.array(["a", "b", "c"])
    flags = pa.array([True, False, False, True, False, True, False])
    _same(pc.replace_with_mask(TEXT, flags, repl), pac.replace_with_mask(TEXT, flags, repl))
    index = pa.array([3, 0, 0], pa.int64())
    _same(pc.take(TEXT, index), pac.take(TEXT, index))
    with pytest.raises(IndexError):
        pc.take(TEXT, pa.array([7], pa.int64()))
    _same(pc.min_max(FLOATS), pac.min_max(FLOATS))
    _same(pc.dictionary_encode(TEXT), pac.dictionary_encode(TEXT))


def test_other_names_come_from_pyarrow_compute() -> None:
    assert pc.sum(pa.array([1.5, 2.0])).as_py() == 3.5  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        pc.__wrapped__  # noqa: B018 - a dunder is not looked up in pyarrow.compute


# -- normcli --version without Click ------------------------------------------------------------
#: The console script as pip writes it for ``normcli = "normcli.__main__:run"``.
SCRIPT = "import sys\nfrom normcli.__main__ import run\nsys.exit(run())\n"
#: The same start, with the arguments always given to Click (its version option, as before).
CLICK = ("import sys\nimport normcli.__main__ as m\nm._version_only = lambda args: False\n"
         "m._help_only = lambda args: None\nsys.exit(m.run())\n")


def _start(code: str, args: list[str], *, stdout: object = subprocess.PIPE,
           env: dict[str, str] | None = None,
           importtime: bool = False) -> subprocess.CompletedProcess[bytes]:
    flags = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *flags, "-c", code, *args], stdout=stdout,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          env=env if env is not None else os.environ)


def _imported(stderr: bytes) -> set[str]:
    """The modules ``-X importtime`` listed."""
    names = set()
    for line in stderr.decode().splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


def test_version_imports_no_click() -> None:
    p = _start(SCRIPT, ["--version"], importtime=True)
    assert p.returncode == 0
    # what the interpreter's start imports here (an editable install's finder: typing, enum)
    before = _imported(_start("pass", [], importtime=True).stderr)
    mods = _imported(p.stderr) - before
    assert "normcli.__main__" in mods  # the listing is complete
    # Click (30-40 ms), typing (10-15 ms) and enum (7 ms, under signal) are not needed to
    # print one line
    assert not mods & {"click", "normcli.cli", "normcli.options", "typing", "enum", "signal",
                       "numpy", "pyarrow", "pandas"}
    assert {m for m in mods if m.startswith("normcli")} == {
        "normcli", "normcli.__main__", "normcli.errors", "normcli.io", "normcli.io.stdio"}


def test_version_prints_what_clicks_option_prints() -> None:
    fast = _start(SCRIPT, ["--version"])
    slow = _start(CLICK, ["--version"])
    assert (fast.returncode, fast.stdout, fast.stderr) == (0, slow.stdout, b"")
    assert (slow.returncode, slow.stderr) == (0, b"")
    assert fast.stdout == f"normcli, version {normcli.__version__}\n".encode()


@pytest.mark.parametrize("args", [["--version", "--debug"], ["--debug", "--version"],
                                  ["--version", "normalize"], ["normalize", "--version"],
                                  ["--version", "--version"], ["--versio"]])
def test_version_with_other_arguments_goes_through_click(args: list[str]) -> None:
    fast = _start(SCRIPT, args, importtime=True)
    assert "click" in _imported(fast.stderr)
    slow = _start(CLICK, args)
    assert fast.returncode == slow.returncode
    assert fast.stdout == slow.stdout
    lines = [ln for ln in fast.stderr.decode().splitlines() if not ln.startswith("import time")]
    assert "\n".join(lines) == slow.stderr.decode().rstrip("\n")
    if args == ["normalize", "--version"]:
        assert slow.returncode == 2  # no such option of normalize
    elif args != ["--versio"]:
        assert (slow.returncode, slow.stdout) == (0, f"normcli, version "
                                                     f"{normcli.__version__}\n".encode())


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["fit", "-h"]])
def test_version_and_help_with_shell_completion_asked_go_through_click(args: list[str]) -> None:
    env = dict(os.environ, _NORMCLI_COMPLETE="bash_source")
    fast = _start(SCRIPT, args, env=env)
    assert fast.returncode == 0
    assert fast.stdout.startswith(b"_normcli_completion() {")
    assert fast.stdout == _start(CLICK, args, env=env).stdout


def _closed_pipe() -> int:
    r, w = os.pipe()
    os.close(r)
    return w


@pytest.mark.parametrize("how", ["closed pipe", "full disk", "no stdout"])
@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_when_stdout_fails(how: str, args: list[str]) -> None:
    """The fast path fails as Click's does; a reader that went away is 141 for both (Click's
    own handler made it a silent 1)."""
    want = {"closed pipe": (141, b""),
            "full disk": (1, b"normcli: error: No space left on device\n"),
            "no stdout": (1, b"normcli: error: standard output is closed\n")}[how]
    got = []
    for code in (SCRIPT, CLICK):
        if how == "no stdout":
            p = subprocess.run(["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-c", code,
                                *args], stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        elif how == "full disk":
            if not os.path.exists("/dev/full"):
                pytest.skip("no /dev/full")
            with open("/dev/full", "wb") as full:
                p = _start(code, args, stdout=full)
        else:
            w = _closed_pipe()
            try:
                p = _start(code, args, stdout=w)
            finally:
                os.close(w)
        got.append((p.returncode, p.stderr))
    assert got == [want, want]


def _write_mo(path: Path, catalog: dict[str, str]) -> None:
    """A GNU gettext catalogue (the .mo format: a header, two tables of (length, offset))."""
    import struct

    keys = sorted(catalog)
    ids = b"".join(k.encode() + b"\0" for k in keys)
    strs = b"".join(catalog[k].encode() + b"\0" for k in keys)
    start = 7 * 4 + 16 * len(keys)
    offsets, pos = [], 0
    for k in keys:
        offsets.append((len(k.encode()), start + pos))
        pos += len(k.encode()) + 1
    trans, pos = [], 0
    for k in keys:
        trans.append((len(catalog[k].encode()), start + len(ids) + pos))
        pos += len(catalog[k].encode()) + 1
    head = struct.pack("<7I", 0x950412DE, 0, len(keys), 7 * 4, 7 * 4 + 8 * len(keys), 0, 0)
    table = b"".join(struct.pack("<2I", *o) for o in offsets + trans)
    path.parent.mkdir(parents=True)
    path.write_bytes(head + table + ids + strs)


def test_version_is_the_same_where_a_gettext_catalogue_exists(tmp_path: Path) -> None:
    """Click passes its default messages through gettext (the default domain, Python's locale
    folder); the command line gives the version message itself, so that both paths print the
    same line whatever catalogue is installed."""
    _write_mo(tmp_path / "share" / "locale" / "xx" / "LC_MESSAGES" / "messages.mo",
              {"%(prog)s, version %(version)s": "%(prog)s Version %(version)s (xx)"})
    env = dict(os.environ, LANGUAGE="xx")
    prefix = f"import sys\nsys.base_prefix = {str(tmp_path)!r}\n"
    fast = _start(prefix + SCRIPT, ["--version"], env=env, importtime=True)
    slow = _start(prefix + CLICK, ["--version"], env=env)
    assert not _imported(fast.stderr) & {"click", "gettext"}
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout) == (
        0, f"normcli, version {normcli.__version__}\n".encode())
    # the catalogue works: Click's own default message is translated
    check = "from click.decorators import _\nprint(_('%(prog)s, version %(version)s'))\n"
    p = _start(prefix + check, [], env=env)
    assert p.stdout == b"%(prog)s Version %(version)s (xx)\n"


# -- normcli --help without Click ----------------------------------------------------------------
def test_kept_help_texts_are_clicks_rendering() -> None:
    """normcli/_helptext.py holds what Click renders now, for every command, at each width kept
    (regenerate with ``cog -r normcli/_helptext.py``)."""
    from normcli import _helptext
    from normcli.cli import CONTEXT, HELP_WIDTHS, cli, render_help

    assert _helptext.MAX_WIDTH == CONTEXT["max_content_width"]
    want = {(c, w) for c in ["", *cli.commands] for w in HELP_WIDTHS}
    assert set(_helptext.TEXTS) == want
    for command, width in sorted(want):
        assert _helptext.TEXTS[command, width] == render_help(command, width), (command, width)


def _env(columns: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = columns
    return env


#: COLUMNS, and whether the help is then printed without Click (a pipe: 80 columns if unset).
WIDTHS = [(None, True), ("80", True), ("100", True), ("250", True), ("60", False),
          ("90", False), ("abc", True), ("0", True), ("-5", True)]


@pytest.mark.parametrize("columns, kept", WIDTHS)
@pytest.mark.parametrize("args", [["--help"], ["-h"], ["normalize", "--help"], ["norm", "-h"],
                                  ["fit", "--help"], ["predict", "--help"]])
def test_help_prints_what_click_prints(args: list[str], columns: str | None, kept: bool) -> None:
    fast = _start(SCRIPT, args, env=_env(columns), importtime=True)
    slow = _start(CLICK, args, env=_env(columns))
    assert (slow.returncode, slow.stderr) == (0, b"")
    assert slow.stdout.startswith(b"Usage: normcli ")
    assert (fast.returncode, fast.stdout) == (0, slow.stdout)
    assert ("click" not in _imported(fast.stderr)) == kept


@pytest.mark.parametrize("args", [["--help", "--help"], ["--debug", "--help"],
                                  ["fit", "--help", "x"], ["fit", "x", "--help"],
                                  ["nosuch", "--help"], ["--help", "fit"], ["fit", "--hel"]])
def test_help_with_other_arguments_goes_through_click(args: list[str]) -> None:
    fast = _start(SCRIPT, args, env=_env(None), importtime=True)
    slow = _start(CLICK, args, env=_env(None))
    assert "click" in _imported(fast.stderr)
    lines = [ln for ln in fast.stderr.decode().splitlines() if not ln.startswith("import time")]
    assert (fast.returncode, fast.stdout, "\n".join(lines)) == (
        slow.returncode, slow.stdout, slow.stderr.decode().rstrip("\n"))


@pytest.mark.parametrize("columns, kept", [(120, True), (100, True), (80, True), (90, False),
                                           (40, False)])
def test_help_on_a_terminal_is_as_wide_as_clicks(columns: int, kept: bool) -> None:
    """On a terminal Click takes its width (at most 100 here); the kept texts serve 80 and
    100 columns or more, any other width is Click's own rendering."""
    import fcntl
    import pty
    import struct
    import termios

    got = []
    for code in (SCRIPT, CLICK):
        leader, follower = pty.openpty()
        try:
            fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
            attrs = termios.tcgetattr(follower)
            attrs[1] &= ~termios.OPOST  # no "\r\n" for "\n"
            termios.tcsetattr(follower, termios.TCSANOW, attrs)
            p = subprocess.Popen([sys.executable, "-X", "importtime", "-c", code, "fit", "-h"],
                                 stdout=follower, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, env=_env(None))
            os.close(follower)
            out = b""
            while True:
                try:
                    chunk = os.read(leader, 1 << 16)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            _, err = p.communicate()
            got.append((p.wait(), out, "click" in _imported(err)))
        finally:
            os.close(leader)
    (fast_rc, fast_out, fast_click), (slow_rc, slow_out, _) = got
    assert (fast_rc, fast_out) == (slow_rc, slow_out) == (0, slow_out)
    from normcli.cli import render_help

    assert slow_out == render_help("fit", max(min(columns, 100) - 2, 50)).encode()
    assert fast_click != kept


def test_help_where_a_gettext_catalogue_exists_is_clicks(tmp_path: Path) -> None:
    """Click's headings go through gettext: where a catalogue could translate them, Click
    renders the help (translated), not the kept English text."""
    _write_mo(tmp_path / "share" / "locale" / "xx" / "LC_MESSAGES" / "messages.mo",
              {"Usage:": "Aufruf:", "Options": "Optionen"})
    env = dict(_env(None), LANGUAGE="xx")
    prefix = f"import sys\nsys.base_prefix = {str(tmp_path)!r}\n"
    fast = _start(prefix + SCRIPT, ["--help"], env=env, importtime=True)
    slow = _start(prefix + CLICK, ["--help"], env=env)
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout)
    assert slow.stdout.startswith(b"Aufruf: normcli ") and b"\nOptionen:\n" in slow.stdout
    assert "click" in _imported(fast.stderr)
