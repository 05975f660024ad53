"""The Dask engine against the local engine and against Dask written by hand.

usage: python bench/dask_bench.py [--rows N] [--parts P] [--features F] [--repeat R]
                                  [--data DIR] [--write-docs]

Data: P Parquet parts (default 16), N rows (default 4,000,000) of F float64 features (default
20) and a target ``y``, fixed seed, written once into DIR (default bench/data/dask-<N>x<F>).

Jobs, each timed by wall clock (best of R, runs interleaved):

* ``normalize --scale zscore DIR/ OUT/`` and ``fit -y y --penalty l1 --cv 5 DIR/ model.json``
  - ``local``: the local engine (one process, its reader threads);
  - ``dask``: ``--engine dask --scheduler ADDR`` on a 2-worker ``LocalCluster`` (1 thread per
    worker) started once by this script, so cluster start-up is not counted (it is reported on
    its own: the CLI without ``--scheduler`` pays it on every run);
  - ``hand``: the same job written with ``dask.dataframe`` the way a user would (dask-ml is not
    installed here: the z-score is ``(ddf - ddf.mean()) / ddf.std(ddof=0)`` written with
    ``to_parquet``; the lasso CV assigns folds with ``da.random``, computes the K fold Gram
    matrices with ``dask.array`` in one graph and runs scikit-learn's ``lasso_path`` on them).
* The Dask engine's task count and the bytes of results the client fetched, from the engine
  itself (:data:`normcli.engines.dask_engine.LAST_RUN`), per unit.

The outputs are checked before any time is reported: the two engines' parts byte for byte, the
hand-written z-score to 1e-9, the fit's coefficients to 1e-9 relative.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOCS = ROOT / "docs" / "benchmarks.md"
PY = sys.executable
SEED = 20261128


def make_data(folder: Path, rows: int, parts: int, features: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    done = folder / "_done"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    w = rng.normal(size=features) * (rng.random(features) < 0.5)
    per = rows // parts
    for i in range(parts):
        n = per if i < parts - 1 else rows - per * (parts - 1)
        X = rng.normal(size=(n, features)) * rng.uniform(0.5, 5, features) + rng.normal(
            size=features) * 10
        y = X @ w + rng.normal(size=n)
        cols = {f"x{j:02d}": X[:, j] for j in range(features)}
        cols["y"] = y
        pq.write_table(pa.table(cols), folder / f"part-{i:03d}.parquet")
    done.write_text("")
    return folder


def run(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ,
                                                                 "PYTHONPATH": str(ROOT)})
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr}")
    return elapsed


def normcli(*args: str) -> list[str]:
    return [PY, "-m", "normcli", *args]


# -- by hand --------------------------------------------------------------------------------
def hand_zscore(data: Path, out: Path, address: str) -> None:
    import dask.dataframe as dd
    from distributed import Client

    with Client(address) as client:  # noqa: F841 - the default client of the computation
        ddf = dd.read_parquet(str(data))
        ((ddf - ddf.mean()) / ddf.std(ddof=0)).to_parquet(str(out), write_index=False)


def hand_lasso_cv(data: Path, address: str, k: int = 5) -> np.ndarray:
    import dask.array as da
    import dask.dataframe as dd
    from distributed import Client
    from sklearn.linear_model import lasso_path

    with Client(address) as client:  # noqa: F841
        ddf = dd.read_parquet(str(data))
        Z = ddf.to_dask_array(lengths=True)
        ones = da.ones((Z.shape[0], 1), chunks=(Z.chunks[0], 1))
        Z1 = da.concatenate([Z, ones], axis=1)
        fold = da.random.RandomState(0).randint(0, k, size=Z.shape[0], chunks=Z.chunks[0])
        grams = [(Z1 * (fold == f)[:, None]).T @ Z1 for f in range(k)]
        G = np.stack(da.compute(*grams))
    p = G.shape[1] - 2
    total = G.sum(axis=0)

    def centered(S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        n = S[-1, -1]
        mean = S[-1, :-1] / n
        C = S[:-1, :-1] - n * np.outer(mean, mean)
        return C[:p, :p], C[:p, p], mean, n

    C, c, _, n = centered(total)
    alpha_max = np.abs(c).max() / n
    alphas = np.geomspace(alpha_max, alpha_max * 1e-3, 100)
    mse = np.zeros((k, alphas.size))
    for f in range(k):
        Ct, ct, mt, nt = centered(total - G[f])
        _, coefs, _ = lasso_path(np.zeros((1, p), order="F"), np.zeros(1), alphas=alphas,
                                 precompute=np.ascontiguousarray(Ct / nt),
                                 Xy=np.ascontiguousarray(ct / nt),
                                 check_input=False)
        Cv, cv, mv, nv = centered(G[f])
        for i in range(alphas.size):
            b = coefs[:, i]
            b0 = mt[p] - mt[:p] @ b
            # validation MSE from the fold's statistics
            resid_mean = mv[p] - b0 - mv[:p] @ b
            Cfull = np.block([[Cv, cv[:, None]], [cv[None, :], G[f][p, p] - nv * mv[p] ** 2]])
            a = np.concatenate([-b, [1.0]])
            mse[f, i] = (a @ Cfull @ a + nv * resid_mean ** 2) / nv
    best = alphas[int(np.argmin(mse.mean(axis=0)))]
    _, coefs, _ = lasso_path(np.zeros((1, p), order="F"), np.zeros(1), alphas=[best],
                             precompute=np.ascontiguousarray(C / n),
                             Xy=np.ascontiguousarray(c / n), check_input=False)
    return coefs[:, 0]


# -- main ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4_000_000)
    ap.add_argument("--parts", type=int, default=16)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--write-docs", action="store_true")
    a = ap.parse_args()
    data = make_data(a.data or BENCH / "data" / f"dask-{a.rows}x{a.features}", a.rows, a.parts,
                     a.features)
    work = BENCH / "out" / "dask"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    import distributed

    # the scheduler (in this process) and the workers import normcli from this checkout
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None,
                                       silence_logs=logging.CRITICAL)
    startup = time.perf_counter() - t0
    addr = cluster.scheduler_address
    eng = ["--engine", "dask", "--scheduler", addr]
    jobs: dict[str, dict[str, Callable[[int], float]]] = {
        "normalize --scale zscore": {
            "local": lambda r: run(normcli("normalize", "--scale", "zscore", f"{data}/",
                                           f"{work}/zl{r}/")),
            "dask": lambda r: run(normcli("normalize", "--scale", "zscore", *eng, f"{data}/",
                                          f"{work}/zd{r}/")),
            "hand": lambda r: _timed(lambda: hand_zscore(data, work / f"zh{r}", addr)),
        },
        "fit --penalty l1 --cv 5": {
            "local": lambda r: run(normcli("fit", "-y", "y", "--penalty", "l1", "--cv", "5",
                                           f"{data}/", f"{work}/ml{r}.json")),
            "dask": lambda r: run(normcli("fit", "-y", "y", "--penalty", "l1", "--cv", "5",
                                          *eng, f"{data}/", f"{work}/md{r}.json")),
            "hand": lambda r: _timed(lambda: hand_lasso_cv(data, addr)),
        },
    }
    times: dict[str, dict[str, list[float]]] = {j: {t: [] for t in tools}
                                                for j, tools in jobs.items()}
    for r in range(a.repeat):
        for job, tools in jobs.items():
            for tool, fn in tools.items():
                times[job][tool].append(fn(r))
    check(work, data)
    stats = engine_stats(data, addr, work)
    cluster.close()
    report = render(a, times, stats, startup)
    print(report)
    if a.write_docs:
        write_docs(report)


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def check(work: Path, data: Path) -> None:
    import pyarrow.parquet as pq

    for name in sorted(os.listdir(work / "zl0")):
        assert (work / "zl0" / name).read_bytes() == (work / "zd0" / name).read_bytes(), name
    local = pq.read_table(work / "zl0").to_pandas().to_numpy()
    names = sorted(os.listdir(work / "zh0"), key=lambda n: int(n.split(".")[1]))  # part.N
    hand = np.vstack([pq.read_table(work / "zh0" / n).to_pandas().to_numpy() for n in names])
    np.testing.assert_allclose(hand, local, rtol=1e-9, atol=1e-9)
    ml = json.loads((work / "ml0.json").read_text())
    md = json.loads((work / "md0.json").read_text())
    np.testing.assert_allclose(list(md["coefficients"].values()),
                               list(ml["coefficients"].values()), rtol=1e-12, atol=1e-300)


def engine_stats(data: Path, addr: str, work: Path) -> dict[str, dict[str, int]]:
    """Tasks and bytes fetched by the client, from the engine, for both jobs."""
    from distributed import Client

    import normcli.dask as nd
    from normcli.engines.dask_engine import LAST_RUN

    out = {}
    with Client(addr) as client:
        nd.normalize(str(data), work / "stats-z", scale="zscore", client=client)
        out["normalize --scale zscore"] = dict(LAST_RUN)
        nd.fit(str(data), target="y", penalty="l1", cv=5, client=client)
        out["fit --penalty l1 --cv 5"] = dict(LAST_RUN)
    return out


def render(a: argparse.Namespace, times: dict[str, dict[str, list[float]]],
           stats: dict[str, dict[str, int]], startup: float) -> str:
    lines = [
        "## Dask engine (`--engine dask`)",
        "",
        f"`python bench/dask_bench.py --rows {a.rows} --parts {a.parts} --features "
        f"{a.features} --repeat {a.repeat}`: {a.parts} Parquet parts, {a.rows:,} rows x "
        f"{a.features} float64 features + `y`; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. Best of {a.repeat} wall-clock seconds, runs "
        "interleaved; `dask` is `--engine dask --scheduler ADDR` on a 2-worker LocalCluster "
        f"(1 thread each) started once ({startup:.1f} s to start, not counted); `hand` is "
        "`dask.dataframe`/`dask.array` code as a user would write it (dask-ml is not installed).",
        "",
        "| job | local | dask | dask / local | hand-written dask | tasks | bytes to client "
        "| bytes per file's statistics |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for job, tools in times.items():
        best = {t: min(v) for t, v in tools.items()}
        st = stats.get(job, {})
        tasks = st.get("tasks", 0)
        nbytes = st.get("gathered_bytes", 0)
        lines.append(f"| `{job}` | {best['local']:.2f} | {best['dask']:.2f} | "
                     f"{best['dask'] / best['local']:.2f}x | {best['hand']:.2f} | {tasks} | "
                     f"{nbytes:,} | {st.get('leaf_bytes', 0):,} |")
    lines += [
        "",
        "Tasks: one per file for each pass (statistics, then parts; `fit --cv` first counts "
        "each file's rows, from the Parquet metadata), plus files - 1 merges. Bytes to client: "
        "the pickled results the client fetched (the merged statistics; the row count of each "
        "file or part). A file's statistics (the last column) have the merged statistics' "
        "size: O(p) for the scalers, O(K p^2) for `fit`, whatever the rows; they travel "
        "between workers along the merge tree, never to the client.",
        "",
    ]
    return "\n".join(lines)


def write_docs(report: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    start = text.find("## Dask engine")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + report + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + report
    DOCS.write_text(text)


if __name__ == "__main__":
    main()
