"""Where normcli's time goes: `normalize --norm l2` CSV -> CSV under pyinstrument.

usage: .venv/bin/python bench/profile.py [--quick] [--threads] [--snapshot REV]

Needs pyinstrument in the venv (`.venv/bin/pip install pyinstrument`; not a project
dependency). By default normcli's chunk pipeline runs on the main thread only (os.cpu_count
is reported as 1 to it), because the sampler follows only the thread it was started on; the
wall time of that sequential run is the sum of the stages. --threads keeps the worker threads
(then the worker stages show as waiting on futures). Writes bench/out/profile.html and
bench/out/profile.txt and prints a per-stage table (Markdown).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (the harness: data paths and generation)

# (file name, function name prefix) -> stage; the innermost matching frame wins.
STAGES: list[tuple[str, str, str]] = [
    ("reader.py", "", "CSV parsing (Arrow reader: tokenizing, chunking)"),
    ("columns.py", "column_kinds", "column type inference (first chunk)"),
    ("columns.py", "text_to_float", "string → float64"),
    ("columns.py", "_parse_or_none", "string → float64"),
    ("columns.py", "_first_bad", "string → float64"),
    ("columns.py", "Converter", "string → float64"),
    ("columns.py", "column", "string → float64"),
    ("columns.py", "block", "string → float64"),
    ("arrays.py", "float_values", "string → float64"),
    ("kernels.py", "", "kernel (row norms, divide)"),
    ("columns.py", "reassemble", "rebuilding the Arrow batch"),
    ("arrays.py", "to_arrow", "rebuilding the Arrow batch"),
    ("writer.py", "format", "float → text, CSV formatting"),
    ("writer.py", "_format", "float → text, CSV formatting"),
    ("writer.py", "encode", "float → text, CSV formatting"),
    ("writer.py", "put", "writing bytes to the file"),
    ("writer.py", "write", "writing bytes to the file"),
    ("writer.py", "commit", "writing bytes to the file"),
    ("writer.py", "close", "writing bytes to the file"),
]
IMPORTS = "start-up (imports, CLI parsing)"
OTHER = "Python overhead (pipeline, glue, waiting)"


def stage_of(frame, current: str) -> str:
    fname = os.path.basename(frame.file_path or "")
    func = frame.function or ""
    if func == "<module>" or "importlib" in (frame.file_path or ""):
        return IMPORTS if current == OTHER else current
    if "/normcli/" not in (frame.file_path or "").replace("\\", "/"):
        return current
    for f, prefix, stage in STAGES:
        if fname == f and func.startswith(prefix):
            return stage
    return current


def walk(frame, current: str, acc: dict[str, float]) -> None:
    stage = stage_of(frame, current)
    child_time = sum(c.time for c in frame.children)
    acc[stage] = acc.get(stage, 0.0) + max(frame.time - child_time, 0.0)
    for c in frame.children:
        walk(c, stage, acc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", action="store_true")
    ap.add_argument("--snapshot", metavar="REV",
                    help="profile normcli as committed at REV (as in run.py)")
    args = ap.parse_args()
    if args.snapshot:
        run.use_snapshot(args.snapshot)
        sys.path.insert(0, run.CHILD_CWD or "")
        print(f"normcli source: {run.SNAPSHOT}\n")
    from pyinstrument import Profiler

    run.prepare(args.quick) if not run.wide_paths(run.sizes(args.quick)["wide"])[0].exists() \
        else None
    src, _ = run.wide_paths(run.sizes(args.quick)["wide"])
    dst = run.OUT / "profile_out.csv"
    run.OUT.mkdir(parents=True, exist_ok=True)
    if not args.threads:
        os.cpu_count = lambda: 1  # normcli's ordered_map then maps on the calling thread
    prof = Profiler(interval=0.001)
    t0 = time.perf_counter()
    prof.start()
    from normcli.cli import main as cli_main

    try:
        cli_main(["normalize", "--norm", "l2", str(src), str(dst)])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    prof.stop()
    wall = time.perf_counter() - t0
    (run.OUT / "profile.html").write_text(prof.output_html())
    (run.OUT / "profile.txt").write_text(prof.output_text(unicode=True, show_all=False))
    acc: dict[str, float] = {}
    walk(prof.last_session.root_frame(), OTHER, acc)
    total = sum(acc.values())
    print(f"`normalize --norm l2` {src.name} → CSV, {'threads' if args.threads else 'one thread'}"
          f", wall {wall:.2f} s\n")
    print("| stage | s | share |")
    print("|---|---:|---:|")
    for stage, t in sorted(acc.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {t:.2f} | {t / total:.0%} |")


if __name__ == "__main__":
    main()
