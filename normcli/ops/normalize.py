"""The ``normalize`` command: row norms, column norms and per-column scalers, streamed."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from .. import __version__
from ..columns import float_schema, reassemble
from ..errors import DataError, Rule, UsageError, refuse_unused
from ..io.arrays import empty_floats
from ..io.reader import Chunk
from ..io.writer import Destination, Outputs
from ..kernels import ColumnNorms, divide_columns, normalize_rows, parse_ord
from ..pipeline import Job
from ..reduce import LOCAL, StatsEngine
from ..scalers import ColumnStats, Scaler, load_params
from ..sinks import Sink


@dataclass(frozen=True)
class NormalizeOptions:
    norm: str | None = None  # default l2
    axis: str | None = None  # default rows; None: not given
    scale: str | None = None
    feature_range: tuple[float, float] | None = None  # default (0, 1), or the saved range
    clip: bool | None = None  # default False, or as saved
    columns: Sequence[str] | None = None
    exclude: Sequence[str] | None = None
    save_params: str | None = None
    params: str | dict[str, Any] | None = None  # a file, or its loaded JSON


def parse_range(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise UsageError(f"--range must be MIN,MAX (got {text!r})") from None
    return lo, hi


def check_range(feature_range: tuple[float, float] | None) -> None:
    if feature_range is None:
        return
    lo, hi = feature_range
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise UsageError(f"--range needs finite MIN < MAX (got {lo:g},{hi:g})")


def _norm_params(names: list[str], acc: ColumnNorms, ord_text: str) -> dict[str, Any]:
    norms = acc.norms()
    root = acc.root()
    return {
        "normcli": __version__,
        "kind": "norm",
        "norm": ord_text,
        "columns": {
            n: {"norm": float(norms[j]), "scale": float(acc.scale[j]), "root": float(root[j]),
                "count": int(acc.count[j])}
            for j, n in enumerate(names)
        },
    }


SCALERS = ("minmax", "zscore", "maxabs")


def _from_params(opts: NormalizeOptions, saved: dict[str, Any]) -> NormalizeOptions:
    """The options a parameters file implies: its kind names the scaler (or column norms), so
    ``--params p.json`` alone is enough; an option that contradicts the file is a usage error."""
    kind = saved.get("kind")
    where = opts.params if isinstance(opts.params, str) else "<params>"
    if kind in SCALERS:
        if opts.scale is not None and opts.scale != kind:
            raise UsageError(f"--scale {opts.scale}, but {where} holds {kind} parameters "
                             "(leave out --scale to apply them)")
        if opts.norm is not None:
            raise UsageError(f"--norm, but {where} holds {kind} parameters (leave out --norm)")
        return replace(opts, scale=kind)
    if kind == "norm":
        if opts.axis == "rows":
            raise UsageError(f"--axis rows, but {where} holds column norms (leave out --axis "
                             "to apply them)")
        if opts.scale is not None:
            raise UsageError(f"--scale {opts.scale}, but {where} holds column norms (leave out "
                             "--scale to apply them)")
        return replace(opts, axis="columns", norm=opts.norm or str(saved.get("norm", "l2")))
    raise DataError(f"not a normcli parameters file (unknown kind {kind!r})", source=where)


def unused_options(opts: NormalizeOptions) -> list[Rule]:
    """``(option, applies, message)``: ``--range`` and ``--clip`` are for ``--scale minmax``
    (the scale saved in ``--params`` included); given with any other, a usage error.
    ``--axis`` is for norms: a scaler works per column whatever the axis."""
    saved = f" (the parameters are for {opts.scale})" if opts.params and opts.scale else ""
    minmax = opts.scale == "minmax"
    return [("axis", opts.scale is None,
             f"--axis chooses rows or columns for --norm; --scale {opts.scale} scales each "
             f"column{saved}"),
            ("feature_range", minmax, f"--range applies to --scale minmax only{saved}"),
            ("clip", minmax, f"--clip/--no-clip applies to --scale minmax only{saved}")]


def given_options(opts: NormalizeOptions) -> set[str]:
    """The options of :func:`unused_options` that were given: their defaults are None."""
    return {name for name in ("axis", "feature_range", "clip")
            if getattr(opts, name) is not None}


def scaler_settings(kind: str, feature_range: tuple[float, float] | None,
                    clip: bool | None) -> tuple[tuple[float, float], bool]:
    """A scaler's ``(feature_range, clip)`` as the Python API's :meth:`normcli.Scaler.fit`
    takes them (None: not given; default ``(0, 1)``, no clipping), checked by the rules
    ``normalize`` applies: ``feature_range`` and ``clip`` are for ``minmax`` only."""
    check_scale(kind)
    opts = NormalizeOptions(scale=kind, feature_range=feature_range, clip=clip)
    refuse_unused(unused_options(opts), given_options(opts))
    rng = (0.0, 1.0) if feature_range is None else (float(feature_range[0]),
                                                     float(feature_range[1]))
    check_range(rng)
    return rng, bool(clip)


def check_scale(scale: str | None) -> None:
    if scale is not None and scale not in SCALERS:
        raise UsageError("--scale must be minmax, zscore or maxabs")


def column_stats(job: Job, indices: Sequence[int]) -> ColumnStats:
    """One pass: the scaler statistics of the columns at ``indices``."""
    return LOCAL.column_stats(job, indices)


def run(job: Job, sink: Sink, opts: NormalizeOptions, *,  # noqa: C901
        engine: StatsEngine | None = None) -> int:
    """Normalize ``job``'s input into ``sink``; returns the number of rows written.
    ``engine`` computes the statistics (default: one pass here)."""
    engine = engine or LOCAL
    check_range(opts.feature_range)
    if opts.axis not in (None, "rows", "columns"):
        raise UsageError("--axis must be rows or columns")
    if opts.scale is not None and opts.norm is not None:
        raise UsageError("give --norm or --scale, not both")
    saved: dict[str, Any] | None = None
    params_name = opts.params if isinstance(opts.params, str) else "<params>"
    if isinstance(opts.params, dict):
        saved = opts.params
    elif opts.params is not None:
        saved = load_params(opts.params)
    if saved is not None:
        opts = _from_params(opts, saved)
    refuse_unused(unused_options(opts), given_options(opts))
    opts = replace(opts, axis=opts.axis or "rows")
    norm_text = opts.norm or "l2"
    ord_ = parse_ord(norm_text, allow_special=False, minimum=1.0)
    if opts.save_params is not None and opts.scale is None and opts.axis == "rows":
        raise UsageError("--save-params needs --scale or --axis columns (row norms keep no "
                         "statistics)")
    if opts.params is not None and opts.scale is None and opts.axis == "rows":
        raise UsageError("--params needs --scale or --axis columns")

    columns = opts.columns
    if saved is not None and columns is None and opts.exclude is None:
        columns = list(saved["columns"])
        missing = [c for c in columns if c not in job.names]
        if missing:
            raise DataError(f"column {missing[0]!r} of the parameters is not in the input",
                            source=job.display)
    sel = job.select(columns, opts.exclude)
    job.numbers_only(sel.used)  # their text is not written: CSV parses them as it reads
    names = sel.used_names
    conv = job.converter(sel.used)
    schema = float_schema(job.reader.schema, sel.used)
    outputs = Outputs()  # the data and --save-params land together, or neither
    output = sink.open(job, schema)  # checks the destination before any pass
    outputs.adopt(output)
    params_dest = (
        Destination(opts.save_params, "json", input_path=job.input_path, group=outputs)
        if opts.save_params else None
    )

    # -- statistics: from --params, or a first pass -----------------------------------------
    transform: Any
    if opts.scale is not None:
        check_scale(opts.scale)
        if saved is not None:
            scaler = Scaler.from_json(saved, names, params_name)
            if opts.feature_range is not None:
                scaler.feature_range = opts.feature_range
            if opts.clip is not None:
                scaler.clip = opts.clip
            chunks = job.chunks()
        else:
            stats = engine.column_stats(job, sel.used)
            scaler = Scaler(opts.scale, names, stats, opts.feature_range or (0.0, 1.0),
                            bool(opts.clip))
            chunks = job.next_pass()
        transform = scaler.transform
        params_json = scaler.to_json() if opts.save_params else {}
    elif opts.axis == "columns":
        if saved is not None:
            if saved.get("kind") != "norm":
                raise DataError(f"the parameters are for {saved.get('kind')!r}, not column "
                                "norms", source=params_name)
            try:
                scale = np.array([float(saved["columns"][n]["scale"]) for n in names])
                root = np.array([float(saved["columns"][n]["root"]) for n in names])
            except KeyError as exc:
                raise DataError(f"no statistics for column {exc.args[0]!r}",
                                source=params_name) from exc
            p_saved = parse_ord(str(saved.get("norm", norm_text)), allow_special=False,
                                minimum=1.0)
            if p_saved != ord_:
                raise DataError(f"the parameters are for norm {saved.get('norm')}, not "
                                f"{norm_text}", source=params_name)
            params_json = saved

            def transform(X: np.ndarray) -> np.ndarray:
                return divide_columns(X, scale, root, ord_)

            chunks = job.chunks()
        else:
            acc = engine.column_norms(job, sel.used, ord_)
            params_json = _norm_params(names, acc, norm_text)
            transform = acc.divide
            chunks = job.next_pass()
    else:
        params_json = {}

        def transform(X: np.ndarray) -> np.ndarray:
            return normalize_rows(X, ord_, out=empty_floats(*X.shape))

        chunks = job.chunks()

    # -- the pass that writes --------------------------------------------------------------
    def one(chunk: Chunk) -> pa.RecordBatch:
        return reassemble(chunk.batch, sel.used, transform(conv.block(chunk)))

    with outputs:
        with output:
            rows = output.write_all(chunks, one)
        if params_dest is not None:
            with params_dest as fh:
                fh.write((json.dumps(params_json, indent=2, allow_nan=True) + "\n").encode())
    return rows
