"""Benchmark harness of normcli against polars, DuckDB and pandas + scikit-learn.

usage: .venv/bin/python bench/run.py [--quick] [--repeat N] [--only JOB[,JOB...]] [--write-docs]

Generates its data once (fixed seed) into bench/data/, runs every tool of a job as a separate
process, interleaved (A, B, C, A, B, C, ...), and measures each run's wall-clock time
(time.perf_counter around subprocess.run) and the child's peak RSS (GNU /usr/bin/time -f %M,
falling back to psutil polling of the process tree when /usr/bin/time is missing). The outputs
of the first round are checked against an independent reference before any number is reported.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
OUT = BENCH / "out"
PEERS = BENCH / "peers"
DOCS = ROOT / "docs" / "benchmarks.md"
PY = sys.executable
GNU_TIME = "/usr/bin/time"
#: The children run in BENCH_VENV (made by :func:`use_bench_venv`), not in this venv: an
#: editable install (`pip install -e`) adds a finder that every start of this venv's Python
#: runs from a .pth file (~15 ms: pathlib, urllib, re), which an installed normcli, and the
#: peers, do not pay.
BENCH_VENV = OUT / "venv"
#: The Python of the children (every tool, the peers too).
CHILD_PY = PY
#: Environment of the children. Python may cache bytecode (as an installed package has it):
#: PYTHONDONTWRITEBYTECODE would have normcli's modules compiled again at every start, which no
#: user pays. No PYTHONPATH: the bench venv's .pth file says where normcli comes from.
CHILD_ENV: dict[str, str] | None = {
    k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
CHILD_CWD: str | None = None
#: The floors of a CSV job in this stack: pyarrow reading the file and nothing else, with the
#: streaming reader normcli uses (Arrow parses its blocks one after another) ...
STREAM_READ = ("import sys, pyarrow.csv as c\n"
               "for b in c.open_csv(sys.argv[1], c.ReadOptions(block_size=1 << 20)): pass")
#: ... and with the reader that parses blocks on all cores but holds the whole table.
WHOLE_READ = "import sys, pyarrow.csv as c; c.read_csv(sys.argv[1])"
#: How normcli is started: the bench venv's console script.
NORMCLI_CMD: list[str] = [str(Path(PY).parent / "normcli")]
SEED = 20240601
CHECK_ROWS = 2000
TOL = 1e-12

# ----------------------------------------------------------------------------- data


def sizes(quick: bool) -> dict[str, int]:
    s = {"wide": 1_000_000, "reg": 300_000, "small": 100_000, "large": 10_000_000}
    if quick:
        s = {k: v // 10 for k, v in s.items()}
    return s


#: Files of the cron-like job (each SMALL_ROWS rows); --small-files changes the count.
SMALL_FILES = 1000
SMALL_ROWS = 100


def wide_paths(n: int) -> tuple[Path, Path]:
    return DATA / f"wide_{n}.csv", DATA / f"wide_{n}.parquet"


def reg_paths(n: int) -> tuple[Path, Path]:
    return DATA / f"reg_{n}x50.csv", DATA / f"reg_{n}x50.parquet"


def _write_both(df, csv_path: Path, pq_path: Path, parquet: bool) -> None:
    tmp = csv_path.with_suffix(".csv.tmp")
    df.write_csv(tmp)  # floats as shortest round-trip text
    tmp.replace(csv_path)
    if parquet:
        tmp = pq_path.with_suffix(".parquet.tmp")
        df.write_parquet(tmp, row_group_size=100_000)
        tmp.replace(pq_path)


def gen_wide(n: int, parquet: bool = True) -> None:
    """n rows: a text id column then 20 standard-normal float columns c01..c20."""
    import numpy as np
    import polars as pl

    csv_path, pq_path = wide_paths(n)
    if csv_path.exists() and (pq_path.exists() or not parquet):
        return
    rng = np.random.default_rng([SEED, n])
    X = rng.standard_normal((n, 20))
    ids = pl.int_range(0, n, eager=True).cast(pl.Utf8).str.zfill(8)
    df = pl.DataFrame({"id": "r" + ids}).with_columns(
        [pl.Series(f"c{j + 1:02d}", X[:, j]) for j in range(20)]
    )
    _write_both(df, csv_path, pq_path, parquet)


def gen_reg(n: int) -> None:
    """n rows of 50 standard-normal features x01..x50 and y = 3 + X beta + N(0, 0.5^2),
    beta sparse (10 non-zero entries in +-[0.5, 3])."""
    import numpy as np
    import polars as pl

    csv_path, pq_path = reg_paths(n)
    if csv_path.exists() and pq_path.exists():
        return
    rng = np.random.default_rng([SEED, n, 50])
    X = rng.standard_normal((n, 50))
    beta = np.zeros(50)
    support = rng.choice(50, size=10, replace=False)
    beta[support] = rng.uniform(0.5, 3.0, size=10) * rng.choice([-1.0, 1.0], size=10)
    y = 3.0 + X @ beta + 0.5 * rng.standard_normal(n)
    cols = {f"x{j + 1:02d}": X[:, j] for j in range(50)}
    cols["y"] = y
    df = pl.DataFrame(cols)
    _write_both(df, csv_path, pq_path, True)
    (DATA / f"reg_{n}x50.beta.json").write_text(
        json.dumps({"intercept": 3.0, "beta": {f"x{j + 1:02d}": beta[j] for j in range(50)}})
    )


def tiny_path() -> Path:
    return DATA / "tiny.csv"


def small_dir() -> Path:
    return DATA / f"small_files_{SMALL_FILES}"


def gen_tiny() -> None:
    """A 3-row CSV (the start-up job) and SMALL_FILES CSVs of SMALL_ROWS rows (the cron job):
    a text id and 5 standard-normal floats c01..c05, shortest round-trip text."""
    import numpy as np

    if not tiny_path().exists():
        tiny_path().write_text("id,c01,c02,c03\nr0,1.5,-2,0.25\nr1,3,4,0\nr2,-1e-3,7,2.5\n")
    folder = small_dir()
    if (folder / "done").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([SEED, SMALL_FILES])
    for i in range(SMALL_FILES):
        X = rng.standard_normal((SMALL_ROWS, 5))
        lines = ["id,c01,c02,c03,c04,c05"]
        lines += [f"r{i:04d}_{r:03d}," + ",".join(repr(float(v)) for v in X[r])
                  for r in range(SMALL_ROWS)]
        (folder / f"f{i:04d}.csv").write_text("\n".join(lines) + "\n")
    (folder / "done").write_text("")


def prepare(quick: bool, want_large: bool = True) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    s = sizes(quick)
    t0 = time.perf_counter()
    gen_wide(s["wide"])
    gen_reg(s["reg"])
    gen_wide(s["small"], parquet=True)
    gen_tiny()
    if want_large:
        gen_wide(s["large"], parquet=False)
    # warm the page cache so the first timed run does not pay for the disk
    for p in sorted(DATA.glob("*")):
        if p.is_file() and (want_large or p.stat().st_size < 2**30):
            with open(p, "rb") as fh:
                while fh.read(1 << 24):
                    pass
    print(f"# data ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


# ----------------------------------------------------------------------------- running


@dataclass
class Tool:
    name: str
    argv: list[str]
    output: Path
    check: Callable[[Path], str] | None = None  # returns "" when fine, else a reason


@dataclass
class Job:
    key: str
    title: str
    description: str
    tools: list[Tool]
    rows: int
    ratios_to: str = "normcli"  # the tool every ratio is taken against
    repeat: int | None = None  # rounds regardless of --repeat (start-up: 20; long jobs: 1)
    per: str = "µs per row"  # the per-unit column: "µs per row", "ms per run", "ms per file"
    setup: Callable[[], None] | None = None  # run once before the first round


@dataclass
class Result:
    wall: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the child
    check: str = "not checked"


def run_once(argv: list[str]) -> tuple[float, float, float]:
    """Wall-clock seconds, peak RSS (MB) and CPU seconds (user + system) of one child."""
    if shutil.which(GNU_TIME) or os.path.exists(GNU_TIME):
        with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as fh:
            rss_file = fh.name
        try:
            t0 = time.perf_counter()
            proc = subprocess.run(
                [GNU_TIME, "-f", "%M %U %S", "-o", rss_file, *argv],
                env=CHILD_ENV,
                cwd=CHILD_CWD,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            wall = time.perf_counter() - t0
            text = Path(rss_file).read_text().strip().splitlines()
        finally:
            os.unlink(rss_file)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode()[-2000:]}")
        rss_kb, user, system = text[-1].split()
        return wall, int(rss_kb) / 1024.0, float(user) + float(system)
    return _run_psutil(argv)


def _run_psutil(argv: list[str]) -> tuple[float, float, float]:
    import psutil

    peak = 0
    cpu = 0.0
    t0 = time.perf_counter()
    proc = psutil.Popen(argv, env=CHILD_ENV, cwd=CHILD_CWD, stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE)
    done = threading.Event()

    def poll() -> None:
        nonlocal peak, cpu
        while not done.is_set():
            try:
                t = proc.cpu_times()
                cpu = max(cpu, t.user + t.system + t.children_user + t.children_system)
                rss = proc.memory_info().rss
                for ch in proc.children(recursive=True):
                    rss += ch.memory_info().rss
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.005)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {err.decode()[-2000:]}")
    return wall, peak / 2**20, cpu


def rss_method() -> str:
    if os.path.exists(GNU_TIME):
        return "GNU `/usr/bin/time -f %M` (the child's maximum resident set size)"
    return "psutil polling of the child's process tree every 5 ms"


def run_job(job: Job, repeat: int) -> dict[str, Result]:
    results = {t.name: Result() for t in job.tools}
    if job.setup is not None:
        job.setup()
    repeat = job.repeat or repeat
    for rnd in range(repeat):
        for tool in job.tools:
            tool.output.parent.mkdir(parents=True, exist_ok=True)
            if tool.output.exists():
                tool.output.unlink()
            # Flush the previous run's dirty pages first, so no tool pays for another's
            # writeback (normcli fsyncs its output before the atomic rename; the peers don't).
            os.sync()
            wall, rss, cpu = run_once(tool.argv)
            r = results[tool.name]
            r.wall.append(wall)
            r.rss_mb.append(rss)
            r.cpu.append(cpu)
            print(
                f"# {job.key} round {rnd + 1}/{repeat} {tool.name:<28} {wall:8.2f} s "
                f"{rss:8.1f} MB {cpu:8.2f} s CPU",
                file=sys.stderr,
                flush=True,
            )
            if rnd == 0:
                if tool.check is None:
                    r.check = "n/a"
                else:
                    try:
                        reason = tool.check(tool.output)
                    except Exception as exc:  # noqa: BLE001 - a crash in a check fails it
                        reason = f"check crashed: {exc!r}"
                    r.check = "ok" if not reason else f"WRONG: {reason}"
                    if reason:
                        print(f"# CHECK FAILED {job.key} {tool.name}: {reason}", file=sys.stderr)
    return results


# ----------------------------------------------------------------------------- checks


def _head_csv(path: Path, n: int) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rd = csv.reader(fh)
        header = next(rd)
        rows = []
        for row in rd:
            rows.append(row)
            if len(row) and len(rows) >= n:
                break
    return header, rows


def _count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    nl = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            nl += chunk.count(b"\n")
    return nl - 1  # header


def _head_table(path: Path, n: int) -> tuple[list[str], list[list[object]]]:
    """First n rows as (header, rows); CSV cells are text, Parquet cells Python values."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        batch = next(pf.iter_batches(batch_size=n))
        cols = batch.schema.names
        data = batch.to_pydict()
        return cols, [[data[c][i] for c in cols] for i in range(batch.num_rows)]
    header, rows = _head_csv(path, n)
    return header, [list(r) for r in rows]


def _input_head(path: Path, n: int) -> tuple[list[str], list[list[str]]]:
    return _head_csv(path.with_suffix(".csv"), n)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOL * max(1.0, abs(b))


def _compare(
    out: Path, header: list[str], ids: list[str], ref: list[list[float]], nrows: int
) -> str:
    """Compare an output's first rows with the reference (id column exact, floats 1e-12)."""
    oh, orows = _head_table(out, len(ref))
    if oh[: len(header)] != header:
        return f"header {oh[:5]}... != {header[:5]}..."
    if len(orows) < len(ref):
        return f"only {len(orows)} rows"
    for i, (row, want_id, want) in enumerate(zip(orows, ids, ref, strict=False)):
        if str(row[0]) != want_id:
            return f"row {i + 1}: id {row[0]!r} != {want_id!r}"
        for j, w in enumerate(want):
            got = float(row[1 + j])
            if not _close(got, w):
                return f"row {i + 1} col {header[1 + j]}: {got!r} != {w!r}"
    got_n = _count_rows(out)
    if got_n != nrows:
        return f"{got_n} rows, expected {nrows}"
    return ""


def lazy(factory: Callable[..., Callable[[Path], str]], *args: object) -> Callable[[Path], str]:
    """A checker built on first use (so listing the jobs needs no data)."""
    built: list[Callable[[Path], str]] = []

    def check(out: Path) -> str:
        if not built:
            built.append(factory(*args))
        return built[0](out)

    return check


def l2_checker(src_csv: Path, nrows: int) -> Callable[[Path], str]:
    header, rows = _head_csv(src_csv, CHECK_ROWS)
    ids = [r[0] for r in rows]
    ref = []
    for r in rows:
        v = [float(x) for x in r[1:]]
        nrm = math.hypot(*v)
        ref.append([x / nrm for x in v])
    return lambda out: _compare(out, header, ids, ref, nrows)


def zscore_checker(src_csv: Path, src_pq: Path, nrows: int) -> Callable[[Path], str]:
    import pyarrow.parquet as pq

    header, rows = _head_csv(src_csv, CHECK_ROWS)
    ids = [r[0] for r in rows]
    tab = pq.read_table(src_pq, columns=header[1:])
    stats = []
    for c in header[1:]:
        x = tab.column(c).to_numpy()
        m = math.fsum(x) / len(x)
        s = math.sqrt(math.fsum((x - m) ** 2) / len(x))
        stats.append((m, s))
    del tab
    ref = [[(float(x) - m) / s for x, (m, s) in zip(r[1:], stats, strict=True)] for r in rows]
    return lambda out: _compare(out, header, ids, ref, nrows)


def norm_checker(src_csv: Path, nrows: int) -> Callable[[Path], str]:
    header, rows = _head_csv(src_csv, CHECK_ROWS)

    def check(out: Path) -> str:
        oh, orows = _head_csv(out, CHECK_ROWS)
        if oh != header + ["norm"]:
            return f"header {oh[-3:]}"
        for i, (o, r) in enumerate(zip(orows, rows, strict=False)):
            if o[:-1] != r:
                return f"row {i + 1}: passthrough differs"
            want = math.hypot(*(float(x) for x in r[1:]))
            if not _close(float(o[-1]), want):
                return f"row {i + 1}: norm {o[-1]} != {want!r}"
        got_n = _count_rows(out)
        return "" if got_n == nrows else f"{got_n} rows, expected {nrows}"

    return check


def json_checker(src_csv: Path, nrows: int) -> Callable[[Path], str]:
    """normcli's JSON rows (one object a line): the first rows against the reference."""
    header, rows = _head_csv(src_csv, CHECK_ROWS)

    def check(out: Path) -> str:
        got = []
        n = 0
        with open(out, encoding="utf-8") as fh:
            assert fh.readline() == "[\n"
            for line in fh:
                line = line.rstrip("\n").rstrip(",")
                if line == "]":
                    break
                n += 1
                if len(got) < len(rows):
                    got.append(json.loads(line))
        for i, (obj, r) in enumerate(zip(got, rows, strict=True)):
            if list(obj) != header or obj["id"] != r[0]:
                return f"row {i + 1}: keys or id differ"
            v = [float(x) for x in r[1:]]
            nrm = math.hypot(*v)
            for name, x in zip(header[1:], v, strict=True):
                if not _close(obj[name], x / nrm):
                    return f"row {i + 1} {name}: {obj[name]!r} != {x / nrm!r}"
        return "" if n == nrows else f"{n} rows, expected {nrows}"

    return check


def fit_checker(beta_file: Path) -> Callable[[Path], str]:
    """LassoCV's default KFold folds differ from normcli's seeded folds, so the chosen alpha
    may differ a little: each tool's coefficients must be within 0.05 of the true beta
    (noise 0.5, n = 300k); the report adds both alphas and the largest coefficient gap."""
    truth = json.loads(beta_file.read_text())

    def check(out: Path) -> str:
        rep = json.loads(out.read_text())
        coefs = rep["coefficients"]
        worst = max(abs(coefs[k] - v) for k, v in truth["beta"].items())
        if worst > 0.05:  # noise 0.5, n = 300k: OLS error ~0.001; shrinkage at alpha_min small
            return f"max |coef - true beta| = {worst:.3g}"
        FIT_COEFS[out] = coefs
        return ""

    return check


FIT_COEFS: dict[Path, dict[str, float]] = {}


# ----------------------------------------------------------------------------- jobs


def build_jobs(quick: bool) -> list[Job]:
    s = sizes(quick)
    wcsv, wpq = wide_paths(s["wide"])
    scsv, _ = wide_paths(s["small"])
    lcsv, _ = wide_paths(s["large"])
    rcsv, rpq = reg_paths(s["reg"])
    nw = s["wide"]

    def peer(script: str, *args: object) -> list[str]:
        return [CHILD_PY, str(PEERS / script), *map(str, args)]

    def nc(*args: object) -> list[str]:
        return [*NORMCLI_CMD, *map(str, args)]

    jobs: list[Job] = []
    chk = lazy(l2_checker, wcsv, nw)
    o = OUT / "csv_l2"
    jobs.append(
        Job(
            "csv_l2",
            f"normalize --norm l2, CSV -> CSV ({nw:,} rows x 20 floats + text id)",
            "Row-wise L2 normalization of the 20 float columns; the id passes through.",
            [
                Tool("normcli", nc("normalize", "--norm", "l2", wcsv, o / "normcli.csv"),
                     o / "normcli.csv", chk),
                Tool("polars", peer("polars_normalize.py", "l2", wcsv, o / "polars.csv"),
                     o / "polars.csv", chk),
                Tool("duckdb", peer("duckdb_normalize.py", "l2", wcsv, o / "duckdb.csv"),
                     o / "duckdb.csv", chk),
                Tool("pandas+sklearn", peer("sklearn_normalize.py", "l2", wcsv, o / "sk.csv"),
                     o / "sk.csv", chk),
                # What the stack's reader alone costs: no output, nothing computed.
                Tool("floor: pyarrow streaming read (one parse thread, as normcli)",
                     [CHILD_PY, "-c", STREAM_READ, wcsv], o / "none"),
                Tool("floor: pyarrow read_csv (all cores, whole file in memory)",
                     [CHILD_PY, "-c", WHOLE_READ, wcsv], o / "none"),
            ],
            nw,
        )
    )
    o = OUT / "pq_l2"
    jobs.append(
        Job(
            "pq_l2",
            f"normalize --norm l2, Parquet -> Parquet ({nw:,} rows)",
            "The same job on the Parquet copy of the same data.",
            [
                Tool("normcli", nc("normalize", "--norm", "l2", wpq, o / "normcli.parquet"),
                     o / "normcli.parquet", chk),
                Tool("polars", peer("polars_normalize.py", "l2", wpq, o / "polars.parquet"),
                     o / "polars.parquet", chk),
                Tool("duckdb", peer("duckdb_normalize.py", "l2", wpq, o / "duckdb.parquet"),
                     o / "duckdb.parquet", chk),
                Tool("pandas+sklearn",
                     peer("sklearn_normalize.py", "l2", wpq, o / "sk.parquet"),
                     o / "sk.parquet", chk),
            ],
            nw,
        )
    )
    o = OUT / "pq_l2_small"
    _, spq = wide_paths(s["small"])
    schk = lazy(l2_checker, wide_paths(s["small"])[0], s["small"])
    jobs.append(
        Job(
            "pq_l2_small",
            f"normalize --norm l2, Parquet -> Parquet ({s['small']:,} rows)",
            "The same on a 10x smaller file, where start-up weighs more.",
            [
                Tool("normcli", nc("normalize", "--norm", "l2", spq, o / "normcli.parquet"),
                     o / "normcli.parquet", schk),
                Tool("polars", peer("polars_normalize.py", "l2", spq, o / "polars.parquet"),
                     o / "polars.parquet", schk),
                Tool("duckdb", peer("duckdb_normalize.py", "l2", spq, o / "duckdb.parquet"),
                     o / "duckdb.parquet", schk),
            ],
            s["small"],
        )
    )
    o = OUT / "csv_zscore"
    zchk = lazy(zscore_checker, wcsv, wpq, nw)
    jobs.append(
        Job(
            "csv_zscore",
            f"normalize --scale zscore (two passes), CSV -> CSV ({nw:,} rows)",
            "Per-column z-score (population std, as StandardScaler): one pass for the "
            "statistics, one to write. `normcli l2` is the one-pass run for the ratio.",
            [
                Tool("normcli", nc("normalize", "--scale", "zscore", wcsv, o / "normcli.csv"),
                     o / "normcli.csv", zchk),
                Tool("normcli l2 (one pass)",
                     nc("normalize", "--norm", "l2", wcsv, o / "normcli_l2.csv"),
                     o / "normcli_l2.csv", chk),
                Tool("polars", peer("polars_normalize.py", "zscore", wcsv, o / "polars.csv"),
                     o / "polars.csv", zchk),
                Tool("duckdb", peer("duckdb_normalize.py", "zscore", wcsv, o / "duckdb.csv"),
                     o / "duckdb.csv", zchk),
            ],
            nw,
        )
    )
    o = OUT / "norm"
    jobs.append(
        Job(
            "norm",
            f"norm --ord 2 vs normalize --norm l2, CSV -> CSV ({nw:,} rows)",
            "`norm` appends each row's L2 norm; `normalize` rewrites the 20 columns.",
            [
                Tool("normcli norm --ord 2", nc("norm", "--ord", "2", wcsv, o / "norm.csv"),
                     o / "norm.csv", lazy(norm_checker, wcsv, nw)),
                Tool("normcli",
                     nc("normalize", "--norm", "l2", wcsv, o / "normalize.csv"),
                     o / "normalize.csv", chk),
            ],
            nw,
        )
    )
    # Peak RSS of every command at its default settings, from 100k to 10M rows (CSV; fit also
    # from Parquet in fit_pq): streaming means it must not grow with the row count.
    o = OUT / "rss"
    ns, nw_, nl = s["small"], s["wide"], s["large"]
    model = o / "model.json"

    def fit_model() -> None:
        model.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([*nc("fit", "-y", "c01", wide_paths(ns)[0], model)], env=CHILD_ENV,
                       cwd=CHILD_CWD, check=True, stdout=subprocess.DEVNULL)

    rss_tools = []
    for n in (ns, nw_, nl):
        src = wide_paths(n)[0]
        rss_tools += [
            Tool(f"normalize l2 {n:,}", nc("normalize", src, o / f"l2_{n}.csv"),
                 o / f"l2_{n}.csv", lazy(l2_checker, src, n)),
            Tool(f"normalize zscore {n:,}",
                 nc("normalize", "--scale", "zscore", src, o / f"z_{n}.csv"),
                 o / f"z_{n}.csv", None),
            Tool(f"norm {n:,}", nc("norm", src, o / f"norm_{n}.csv"), o / f"norm_{n}.csv",
                 lazy(norm_checker, src, n)),
            Tool(f"fit -y c01 {n:,}", nc("fit", "-y", "c01", src, o / f"fit_{n}.json"),
                 o / f"fit_{n}.json", None),
            Tool(f"predict {n:,}", nc("predict", "--model", model, src, o / f"pred_{n}.csv"),
                 o / f"pred_{n}.csv", None),
        ]
    jobs.append(
        Job(
            "rss",
            f"peak RSS of every command, {ns:,} / {nw_:,} / {nl:,} rows (CSV, default settings)",
            "Streaming means peak memory must not grow with the row count. One round (the "
            "RSS of a run hardly varies); `fit` is the default ridge fit of c01 on the other "
            "columns, `predict` applies a model fitted on the smallest file.",
            rss_tools,
            nl,
            ratios_to=f"normalize l2 {ns:,}",
            repeat=1,
            setup=fit_model,
        )
    )
    # JSON rows against CSV rows, same job.
    o = OUT / "json"
    jobs.append(
        Job(
            "json",
            f"normalize --norm l2, CSV -> JSON vs CSV -> CSV ({nw:,} rows)",
            "`--output-format json` writes one object a row; it should cost at most 1.5x the "
            "CSV output.",
            [
                Tool("normcli csv", nc("normalize", wcsv, o / "out.csv"), o / "out.csv", chk),
                Tool("normcli json", nc("normalize", wcsv, o / "out.json"), o / "out.json",
                     lazy(json_checker, wcsv, nw)),
            ],
            nw,
            ratios_to="normcli csv",
        )
    )
    # Start-up: what a call costs before any data.
    o = OUT / "startup"
    tiny = tiny_path()
    startup_tools = [
        Tool("python -c pass", [CHILD_PY, "-c", "pass"], o / "none"),
        Tool("python -c 'import numpy, pyarrow.csv'",
             [CHILD_PY, "-c", "import numpy, pyarrow.csv"],
             o / "none"),
        # normcli sets this before numpy is imported (see normcli/__main__.py): OpenBLAS then
        # starts no thread pool, which makes `import numpy` cheaper
        Tool("python -c 'import numpy, pyarrow.csv' (1 BLAS thread)",
             ["env", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", CHILD_PY, "-c",
              "import numpy, pyarrow.csv"],
             o / "none"),
        Tool("normcli --version", nc("--version"), o / "none"),
        Tool("normcli --help", nc("--help"), o / "none"),
        Tool("normcli normalize (3 rows)", nc("normalize", tiny, o / "normcli.csv"),
             o / "normcli.csv", lazy(l2_checker, tiny, 3)),
        Tool("polars (3 rows)", peer("polars_normalize.py", "l2", tiny, o / "polars.csv"),
             o / "polars.csv", lazy(l2_checker, tiny, 3)),
        Tool("duckdb (3 rows)", peer("duckdb_normalize.py", "l2", tiny, o / "duckdb.csv"),
             o / "duckdb.csv", lazy(l2_checker, tiny, 3)),
    ]
    if shutil.which("mlr"):
        startup_tools.append(
            Tool("miller (3 rows)", ["sh", str(PEERS / "mlr_normalize.sh"), str(tiny),
                                     str(o / "mlr.csv")],
                 o / "mlr.csv", lazy(l2_checker, tiny, 3)))
    jobs.append(
        Job(
            "startup",
            "start-up: --version, --help and a 3-row normalize (median of 20 runs)",
            "Every call pays this; `python -c 'import numpy, pyarrow.csv'` is the floor of "
            "any run that reads data with them.",
            startup_tools,
            1,
            ratios_to="normcli normalize (3 rows)",
            repeat=20,
            per="ms per run",
        )
    )
    # The cron case: one call per small file.
    o = OUT / "small_files"
    folder = small_dir()

    def loop(cmd: str, name: str) -> list[str]:
        out = o / name
        return ["sh", "-c", f'mkdir -p "{out}" && for f in "{folder}"/f*.csv; do '
                f'{cmd} "$f" "{out}/$(basename "$f")" || exit 1; done']

    q = " ".join(f"'{a}'" for a in NORMCLI_CMD)
    first = folder / "f0000.csv"
    small_tools = [
        Tool("normcli", loop(f"{q} normalize", "normcli"), o / "normcli" / "f0000.csv",
             lazy(l2_checker, first, SMALL_ROWS)),
        Tool("polars", loop(f"'{CHILD_PY}' '{PEERS / 'polars_normalize.py'}' l2", "polars"),
             o / "polars" / "f0000.csv", lazy(l2_checker, first, SMALL_ROWS)),
        Tool("duckdb", loop(f"'{CHILD_PY}' '{PEERS / 'duckdb_normalize.py'}' l2", "duckdb"),
             o / "duckdb" / "f0000.csv", lazy(l2_checker, first, SMALL_ROWS)),
    ]
    if shutil.which("mlr"):
        small_tools.append(
            Tool("miller", loop(f"sh '{PEERS / 'mlr_normalize.sh'}'", "mlr"),
                 o / "mlr" / "f0000.csv",
                 lazy(l2_checker, first, SMALL_ROWS)))
    jobs.append(
        Job(
            "small_files",
            f"{SMALL_FILES:,} calls, one per small CSV ({SMALL_ROWS} rows x 5 floats + id)",
            "The cron / pipeline case: a shell loop calls the tool once per file.",
            small_tools,
            SMALL_FILES,
            repeat=1,
            per="ms per file",
        )
    )
    beta = DATA / f"reg_{s['reg']}x50.beta.json"
    for key, src, label in (("fit_csv", rcsv, "CSV"), ("fit_pq", rpq, "Parquet")):
        o = OUT / key
        fchk = lazy(fit_checker, beta)
        jobs.append(
            Job(
                key,
                f"fit -y y --penalty l1 --cv 5, {label} ({s['reg']:,} rows x 50 features)",
                "Lasso with alpha chosen by 5-fold CV over the default 100-alpha grid.",
                [
                    Tool("normcli",
                         nc("fit", "-y", "y", "--penalty", "l1", "--cv", "5", src,
                            o / "normcli.json"),
                         o / "normcli.json", fchk),
                    Tool("pandas+LassoCV",
                         peer("sklearn_lassocv.py", "y", src, o / "sk.json"),
                         o / "sk.json", fchk),
                    *([Tool("floor: pyarrow read_csv (all cores, whole file in memory)",
                            [CHILD_PY, "-c", WHOLE_READ, src], o / "none")]
                      if label == "CSV" else []),
                ],
                s["reg"],
            )
        )
    return jobs


# ----------------------------------------------------------------------------- report


def machine() -> list[tuple[str, str]]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        m = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        if m:
            ram = f"{int(m.group(1)) / 2**20:.1f} GiB"
    except OSError:
        pass
    vers = []
    for pkg in ("normcli", "numpy", "pyarrow", "pandas", "polars", "duckdb", "scikit-learn",
                "psutil"):
        try:
            vers.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            vers.append(f"{pkg} -")
    try:
        aff = len(os.sched_getaffinity(0))
    except AttributeError:
        aff = os.cpu_count() or 0
    return [
        ("CPU", cpu),
        ("cores", f"{os.cpu_count()} logical ({aff} usable)"),
        ("RAM", ram),
        ("OS", f"{platform.system()} {platform.release()} {platform.machine()}"),
        ("Python", platform.python_version()),
        ("libraries", ", ".join(vers)),
        ("peak RSS", rss_method()),
    ]


SNAPSHOT: str | None = None


def use_bench_venv(src: Path) -> None:
    """Make the children run in BENCH_VENV, importing normcli from ``src``.

    A virtual environment of the same base Python (`python -m venv --without-pip`) whose
    site-packages holds only a .pth file listing this venv's site-packages (numpy, pyarrow,
    click, the peers' libraries) and ``src``, and a console script `bin/normcli` as pip writes
    one for `[project.scripts]`. Paths listed in a .pth file are added to sys.path without
    running the .pth files found there, so the editable install's finder never runs: normcli
    and every peer start as they would from a regular (wheel) install.
    """
    global CHILD_PY, NORMCLI_CMD
    py = BENCH_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([PY, "-m", "venv", "--without-pip", str(BENCH_VENV)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(BENCH_VENV),
                                                    "platbase": str(BENCH_VENV)}))
    shared = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    (site / "normcli-bench.pth").write_text("\n".join([*shared, str(src)]) + "\n")
    script = BENCH_VENV / "bin" / "normcli"
    script.write_text(f"#!{py}\nimport sys\nfrom normcli.__main__ import run\n"
                      "if __name__ == '__main__':\n    sys.exit(run())\n")
    script.chmod(0o755)
    CHILD_PY = str(py)
    NORMCLI_CMD = [str(script)]


def use_snapshot(rev: str) -> None:
    """Export normcli/ at ``rev`` and have every normcli run import it from there."""
    global SNAPSHOT
    full = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", rev + "^{commit}"],
                          capture_output=True, text=True, check=True).stdout.strip()
    dest = OUT / f"snapshot-{full[:12]}"
    if not (dest / "normcli" / "__init__.py").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", full, "normcli"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    use_bench_venv(dest)
    SNAPSHOT = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s", full],
                              capture_output=True, text=True, check=True).stdout.strip()


def source_state() -> str:
    """The normcli commit benchmarked, with the files that differ from it."""
    if SNAPSHOT is not None:
        return f"{SNAPSHOT} (exported snapshot)"
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h %s"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--",
                                "normcli", "pyproject.toml"],
                               capture_output=True, text=True, check=True).stdout.split("\n")
        dirty = [ln[3:] for ln in dirty if ln.strip()]
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else "")


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def render(
    jobs: list[Job], res: dict[str, dict[str, Result]], repeat: int, quick: bool,
    total: float, meta: dict[str, str], job_meta: dict[str, dict[str, object]],
) -> str:
    lines: list[str] = []
    add = lines.append
    add(f"Run: `{'--quick ' if quick else ''}--repeat {repeat}`, "
        f"{meta.get('when', '?')}, total {total / 60:.1f} min.")
    add("")
    add("| machine | |")
    add("|---|---|")
    for k, v in machine():
        add(f"| {k} | {v} |")
    src0, src1 = meta.get("source_start", "?"), meta.get("source_end", "?")
    add(f"| normcli source | {src0} |")
    if src1 != src0:
        add(f"| **warning** | the source changed during the run; at the end: {src1} |")
    add(f"| load average (1, 5, 15 min) | start {meta.get('load_start', '?')}, "
        f"end {meta.get('load_end', '?')} |")
    add("")
    for job in jobs:
        if job.key not in res:
            continue
        r = res[job.key]
        add(f"### `{job.key}`: {job.title}")
        add("")
        add(job.description)
        jm = job_meta.get(job.key)
        if jm:
            add(f"Measured {jm.get('when')}, {jm.get('repeat')} rounds in {jm.get('seconds')} s, "
                f"load average {jm.get('load_start')} → {jm.get('load_end')}"
                + (f"; normcli source {jm.get('source')}." if jm.get("source") != meta.get(
                    "source_start") else "."))
        add("")
        base = med(r[job.ratios_to].wall)
        add(f"| tool | median s | min s | time / {job.ratios_to} | {job.ratios_to} / time "
            f"| {job.per} | CPU s (median) | peak RSS MB (median) | check |")
        add("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for t in job.tools:
            x = r[t.name]
            m = med(x.wall)
            nrows = _rows_of(t, job)
            add(
                f"| {t.name} | {fmt_s(m)} | {fmt_s(min(x.wall))} | {m / base:.2f}× | "
                f"{base / m:.2f}× | {per_unit(job, m, nrows)} | {fmt_s(med(x.cpu))} | "
                f"{med(x.rss_mb):.0f} | {x.check} |"
            )
        add("")
        if job.key.startswith("fit") and len(FIT_COEFS) and all(
            t.output in FIT_COEFS for t in job.tools
        ):
            a, b = (FIT_COEFS[t.output] for t in job.tools)
            d = max(abs(a[k] - b[k]) for k in a)
            alphas = []
            for t in job.tools:
                rep = json.loads(t.output.read_text())
                alphas.append(rep.get("alpha"))
            add(f"Chosen alpha: normcli {alphas[0]:.4g}, LassoCV {alphas[1]:.4g} (different "
                f"fold assignments); max |coefficient difference| {d:.2g}.")
            add("")
    add("### Targets")
    add("")
    add("| target | measured | met? |")
    add("|---|---|---|")
    for name, measured, ok in targets(jobs, res):
        add(f"| {name} | {measured} | {'yes' if ok else '**no**'} |")
    add("")
    return "\n".join(lines)


def per_unit(job: Job, seconds: float, count: int) -> str:
    scale = 1e6 if job.per.startswith("µs") else 1e3
    return f"{seconds / count * scale:.2f}" if seconds / count * scale < 1000 else \
        f"{seconds / count * scale:.0f}"


def _rows_of(tool: Tool, job: Job) -> int:
    m = re.search(r" (\d{1,3}(?:,\d{3})+)$", tool.name)
    return int(m.group(1).replace(",", "")) if m else job.rows


def rss_targets(r: dict[str, Result]) -> list[tuple[str, str, bool]]:
    """Per command: peak RSS from the smallest to the largest file within 15%."""
    out = []
    for cmd in ("normalize l2", "normalize zscore", "norm", "fit -y c01", "predict"):
        runs = [(int(n.rsplit(" ", 1)[1].replace(",", "")), med(x.rss_mb))
                for n, x in r.items() if n.rsplit(" ", 1)[0] == cmd]
        if len(runs) >= 2:
            runs.sort()
            q = runs[-1][1] / runs[0][1]
            out.append((f"peak RSS flat {runs[0][0]:,}→{runs[-1][0]:,} rows ({cmd}, within 15%)",
                        " → ".join(f"{v:.0f}" for _, v in runs) + f" MB ({q:.2f}×)",
                        q <= 1.15))
    return out


def targets(jobs: list[Job], res: dict[str, dict[str, Result]]) -> list[tuple[str, str, bool]]:
    """The targets of issue 13 (and the earlier ones still kept), as measured in this run."""
    out: list[tuple[str, str, bool]] = []

    def m(job: str, tool: str) -> float:
        return med(res[job][tool].wall)

    if "csv_l2" in res:
        q = m("csv_l2", "normcli") / m("csv_l2", "polars")
        out.append(("normalize CSV→CSV ≤ 1.2× polars", f"{q:.2f}× polars", q <= 1.2))
        q = m("csv_l2", "normcli") / m("csv_l2", "duckdb")
        out.append(("normalize CSV→CSV ≤ 0.7× DuckDB", f"{q:.2f}× DuckDB", q <= 0.7))
    for key in ("pq_l2", "pq_l2_small"):
        if key in res:
            q = m(key, "normcli") / m(key, "polars")
            rows = next(j.rows for j in jobs if j.key == key)
            out.append((f"normalize Parquet→Parquet ≤ 1.1× polars ({rows:,} rows)",
                        f"{q:.2f}× polars", q <= 1.1))
    if "startup" in res:
        for tool, limit in (("normcli --version", 0.060), ("normcli --help", 0.060),
                            ("normcli normalize (3 rows)", 0.150)):
            t = m("startup", tool)
            out.append((f"`{tool.removeprefix('normcli ')}` ≤ {limit * 1000:.0f} ms (median)",
                        f"{t * 1000:.0f} ms", t <= limit))
    if "csv_zscore" in res:
        q = m("csv_zscore", "normcli") / m("csv_zscore", "normcli l2 (one pass)")
        out.append(("two-pass zscore ≤ 2× one-pass l2", f"{q:.2f}×", q <= 2.0))
    peaks = [(max(r.rss_mb), f"{key}: {name}") for key in res for name, r in res[key].items()
             if name.startswith("normcli") or key == "rss"]
    peaks = [p for p in peaks if "python" not in p[1]]
    if peaks:
        top, where = max(peaks)
        out.append(("normcli peak RSS < 250 MB, every command", f"max {top:.0f} MB ({where})",
                    top < 250))
    if "rss" in res:
        out += rss_targets(res["rss"])
    if "json" in res:
        q = m("json", "normcli json") / m("json", "normcli csv")
        out.append(("JSON rows ≤ 1.5× CSV rows", f"{q:.2f}×", q <= 1.5))
    if "fit_csv" in res:
        q = m("fit_csv", "normcli") / m("fit_csv", "pandas+LassoCV")
        out.append(("fit l1 cv5 from CSV ≤ 0.3× pandas+LassoCV", f"{q:.2f}×", q <= 0.3))
    if "fit_pq" in res:
        q = m("fit_pq", "pandas+LassoCV") / m("fit_pq", "normcli")
        out.append(("fit l1 cv5 from Parquet ≥ 4× faster than pandas+LassoCV",
                    f"{q:.2f}× faster", q >= 4.0))
    return out


START = "<!-- results:start (generated by bench/run.py --write-docs) -->"
END = "<!-- results:end -->"

DOC_TEMPLATE = f"""# Benchmarks

{START}
{END}
"""


def write_docs(body: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else DOC_TEMPLATE
    if START not in text or END not in text:
        text = text.rstrip() + "\n\n" + START + "\n" + END + "\n"
    pre, rest = text.split(START, 1)
    _, post = rest.split(END, 1)
    DOCS.write_text(pre + START + "\n" + body.strip() + "\n" + END + post)


# ----------------------------------------------------------------------------- main


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10x smaller data (smoke run)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds per job")
    ap.add_argument("--only", default="", help="comma-separated job keys to run")
    ap.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    ap.add_argument("--prepare-only", action="store_true", help="only generate the data")
    ap.add_argument("--list", action="store_true", help="list the jobs and exit")
    ap.add_argument("--from-json", type=Path, help="re-render a saved results file")
    ap.add_argument("--snapshot", metavar="REV",
                    help="benchmark normcli as committed at REV (exported with git archive "
                         "into bench/out/), immune to edits of the working tree")
    ap.add_argument("--merge", action="store_true",
                    help="with --only: replace those jobs in the saved results, report all")
    ap.add_argument("--small-files", type=int, default=None,
                    help=f"files of the small_files job (default {SMALL_FILES}, --quick 100)")
    return ap


def main() -> None:
    global SMALL_FILES
    ap = parser()
    args = ap.parse_args()
    SMALL_FILES = args.small_files or (100 if args.quick else SMALL_FILES)

    t0 = time.perf_counter()
    if args.list:
        for j in build_jobs(args.quick):
            print(f"{j.key:12} {j.title}")
        return
    wanted = [k for k in args.only.split(",") if k]
    prepare(args.quick, want_large=not wanted or "rss" in wanted)
    if args.prepare_only:
        return
    if args.snapshot:
        use_snapshot(args.snapshot)
    else:
        use_bench_venv(ROOT)
    jobs = build_jobs(args.quick)
    wanted = [k for k in args.only.split(",") if k]
    unknown = set(wanted) - {j.key for j in jobs}
    if unknown:
        ap.error(f"unknown job(s): {', '.join(sorted(unknown))}")
    if wanted:
        jobs = [j for j in jobs if j.key in wanted]

    res: dict[str, dict[str, Result]] = {}
    total, repeat = 0.0, args.repeat
    job_meta: dict[str, dict[str, object]] = {}
    meta = {"when": time.strftime("%Y-%m-%d %H:%M %Z"), "source_start": source_state(),
            "load_start": load()}
    saved_file = OUT / f"results{'-quick' if args.quick else ''}.json"
    if args.from_json or (wanted and args.merge and saved_file.exists()):
        saved = json.loads((args.from_json or saved_file).read_text())
        for key, tools in saved["results"].items():
            res[key] = {n: Result(**v) for n, v in tools.items()}
        job_meta = saved.get("job_meta", {})
        total = saved.get("total_s", 0.0)
        repeat = saved.get("repeat", repeat)
        meta = saved.get("meta", meta)
    if not args.from_json:
        for job in jobs:
            jm: dict[str, object] = {"when": time.strftime("%Y-%m-%d %H:%M %Z"),
                                     "source": source_state(), "load_start": load(),
                                     "repeat": job.repeat or args.repeat}
            t1 = time.perf_counter()
            res[job.key] = run_job(job, args.repeat)
            jm.update(load_end=load(), seconds=round(time.perf_counter() - t1, 1))
            job_meta[job.key] = jm
        if not (wanted and args.merge):
            total = time.perf_counter() - t0
            meta.update(source_end=source_state(), load_end=load())
        OUT.mkdir(parents=True, exist_ok=True)
        saved_file.write_text(json.dumps({
            "repeat": repeat, "quick": args.quick, "total_s": total, "meta": meta,
            "job_meta": job_meta,
            "results": {k: {n: vars(r) for n, r in v.items()} for k, v in res.items()},
        }, indent=1))
    report(args, res, repeat, total, meta, job_meta)


def report(args: argparse.Namespace, res: dict[str, dict[str, Result]], repeat: int,
           total: float, meta: dict[str, str], job_meta: dict[str, dict[str, object]]) -> None:
    jobs = [j for j in build_jobs(args.quick) if j.key in res]
    for job in jobs:
        if job.key.startswith("fit"):
            for t in job.tools:
                if t.output.exists() and t.check and t.output not in FIT_COEFS:
                    t.check(t.output)
    body = render(jobs, res, repeat, args.quick, total, meta, job_meta)
    print(body)
    if args.write_docs:
        write_docs(body)
        print(f"# wrote {DOCS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
