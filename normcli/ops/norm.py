"""The ``norm`` command: the norm of each row or column, and distances, streamed.

``--ord`` has numpy.linalg.norm's meaning for vectors: ``p > 0`` gives ``(sum |x|^p)^(1/p)``,
``inf`` the largest |x|, ``-inf`` the smallest, ``0`` the count of non-zero values. Missing cells
are left out; a row with no present value has a missing norm.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..columns import float_schema, reassemble
from ..errors import Rule, UsageError
from ..io.arrays import strings, to_arrow
from ..io.reader import Chunk
from ..kernels import parse_ord, row_norms
from ..pipeline import Job
from ..reduce import LOCAL, StatsEngine
from ..sinks import Sink


@dataclass(frozen=True)
class NormOptions:
    ord: str = "2"
    axis: str = "rows"
    name: str = "norm"
    only: bool = False
    to: Sequence[float] | None = None
    to_columns: Sequence[str] | None = None
    columns: Sequence[str] | None = None
    exclude: Sequence[str] | None = None


def unused_options(opts: NormOptions) -> list[Rule]:
    """``(option, applies, message)``: the command line refuses an option given where it
    would be ignored."""
    return [("only", opts.axis != "columns",
             "--only writes the row norms alone; --axis columns writes column,norm already")]


def parse_point(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--to must be numbers separated by commas (got {text!r})") from None
    if not all(math.isfinite(v) for v in values):
        raise UsageError("--to values must be finite")
    return values


def run(job: Job, sink: Sink, opts: NormOptions, *,  # noqa: C901
        engine: StatsEngine | None = None) -> int:
    """Measure ``job``'s input into ``sink``; returns the number of rows written."""
    ord_ = parse_ord(opts.ord)
    if opts.axis not in ("rows", "columns"):
        raise UsageError("--axis must be rows or columns")
    if opts.to is not None and not all(math.isfinite(v) for v in opts.to):
        raise UsageError("--to values must be finite")
    if opts.to is not None and opts.to_columns is not None:
        raise UsageError("give --to or --to-columns, not both")
    if opts.axis == "columns" and (opts.to is not None or opts.to_columns is not None):
        raise UsageError("--to and --to-columns work with --axis rows")
    sel = job.select(opts.columns, opts.exclude, reserved=opts.to_columns or ())
    conv = job.converter(sel.used)
    other = None
    point = None
    if opts.to is not None:
        point = np.asarray(opts.to, dtype=np.float64)
        if len(point) != len(sel.used):
            raise UsageError(f"--to has {len(point)} values but {len(sel.used)} columns are used "
                             f"({', '.join(sel.used_names)})")
    if opts.to_columns is not None:
        other_sel = job.select(opts.to_columns, None, require=True, option="--to-columns")
        if len(other_sel.used) != len(sel.used):
            raise UsageError(f"--to-columns has {len(other_sel.used)} columns but --columns has "
                             f"{len(sel.used)}")
        other = job.converter(other_sel.used)

    if opts.axis == "columns" or opts.only:  # no input text is written: CSV parses the numbers
        job.numbers_only(sel.used + (other.indices if other is not None else []))
    if opts.axis == "columns":
        acc = (engine or LOCAL).column_norms(job, sel.used, ord_)
        schema = pa.schema([pa.field("column", pa.string()), pa.field(opts.name, pa.float64())])
        table = pa.RecordBatch.from_arrays(
            [strings(sel.used_names), to_arrow(acc.norms())], schema=schema
        )
        with sink.open(job, schema) as output:
            output.write(table)
        return len(sel.used)

    if not opts.only and opts.name in job.names:
        raise UsageError(f"the input already has a column {opts.name!r}; choose --name")
    typed = sink.typed(job)
    other_idx = other.indices if other is not None else []
    field = pa.field(opts.name, pa.float64())
    if opts.only:
        schema = pa.schema([field])
    elif typed:
        schema = float_schema(job.reader.schema, sel.used + other_idx, only_text=True)
        schema = schema.append(field)
    else:
        schema = job.reader.schema.append(field)

    def one(chunk: Chunk) -> pa.RecordBatch:
        X = conv.block(chunk)
        Xo = other.block(chunk) if other is not None else None
        diff = X - point[None, :] if point is not None else X - Xo if Xo is not None else X
        norms = to_arrow(row_norms(diff, ord_))
        if opts.only:
            return pa.RecordBatch.from_arrays([norms], schema=schema)
        base = chunk.batch
        if typed:
            base = reassemble(base, sel.used, X, only_text=True)
            if Xo is not None:
                base = reassemble(base, other_idx, Xo, only_text=True)
        return pa.RecordBatch.from_arrays([*base.columns, norms], schema=schema)

    with sink.open(job, schema) as output:
        return output.write_all(job.chunks(), one)
