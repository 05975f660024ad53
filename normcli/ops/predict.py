"""The ``predict`` command: append the predictions of a model that ``fit`` wrote as JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .. import sidefiles
from ..columns import check_numbers, float_schema, reassemble, repeated_message
from ..errors import DataError, UsageError
from ..io.arrays import strings, to_arrow
from ..io.reader import Chunk
from ..pipeline import Job, Output, OutputSpec
from ..sinks import Sink


@dataclass(frozen=True)
class Model:
    features: list[str]
    coef: np.ndarray
    intercept: float
    #: The whole report as read (checked against the schema): the side file is read once.
    raw: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, path: str) -> Model:
        return cls.from_dict(sidefiles.read_json(path, _WHAT), path)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<model>") -> Model:
        """A model from the JSON that ``fit`` writes, already parsed."""
        path = source
        sidefiles.validate(data, sidefiles.MODEL_SCHEMA, path, _WHAT)
        try:
            coefs = data["coefficients"]
            features = [str(k) for k in coefs]
            coef = np.array([float(coefs[k]) for k in coefs], dtype=np.float64)
            intercept = float(data.get("intercept") or 0.0)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataError("not a model written by 'normcli fit' (no coefficients)",
                            source=path) from exc
        if not (np.isfinite(coef).all() and math.isfinite(intercept)):
            raise DataError("the model has non-finite coefficients", source=path)
        return cls(features, coef, intercept, data)


_WHAT = "model written by 'normcli fit'"


def _check_no_columns(columns: Sequence[str] | None, exclude: Sequence[str] | None) -> None:
    if columns is not None or exclude is not None:
        raise UsageError("predict takes its features from the model; drop --columns and "
                         "--exclude")


def run(job: Job, sink: Sink, model: Model | str, name: str = "prediction", *,
        columns: Sequence[str] | None = None, exclude: Sequence[str] | None = None) -> int:
    """Append ``model``'s predictions (a :class:`Model`, or the path of its JSON) to ``job``'s
    rows into ``sink``; returns the number of rows written."""
    _check_no_columns(columns, exclude)
    if isinstance(model, str):
        model = Model.load(model)
    for feature in model.features:
        if feature not in job.names:
            raise DataError(f"the model's feature {feature!r} is not in the input",
                            source=job.display)
        if job.names.count(feature) > 1:
            raise DataError(repeated_message(job.names, feature) + "; the model's feature "
                            "cannot be told apart: rename the columns", source=job.display)
    if name in job.names:
        raise UsageError(f"the input already has a column {name!r}; choose --name")
    indices = [job.names.index(f) for f in model.features]
    for i in indices:
        if job.first is not None and job.first.num_rows:
            check_numbers(job.reader, job.kinds, i, "the model's feature", usage=False)
    job.note_used(indices)
    conv = job.converter(indices)
    typed = sink.typed(job)
    schema = float_schema(job.reader.schema, indices, only_text=True) if typed else (
        job.reader.schema)
    schema = schema.append(pa.field(name, pa.float64()))

    def one(chunk: Chunk) -> pa.RecordBatch:
        X = conv.block(chunk)
        pred = X @ model.coef + model.intercept if X.shape[1] else np.full(
            chunk.num_rows, model.intercept)
        base = reassemble(chunk.batch, indices, X, only_text=True) if typed else chunk.batch
        return pa.RecordBatch.from_arrays([*base.columns, to_arrow(pred)], schema=schema)

    with sink.open(job, schema) as output:
        return output.write_all(job.chunks(), one)


def run_selected(job: Job, out: OutputSpec, model_path: str, *,
                 columns: Sequence[str] | None = None,
                 exclude: Sequence[str] | None = None) -> int:
    """``predict --selected``: the model's non-zero features as ``feature,coefficient,
    entry_alpha`` (selection order for l1/elastic net, else input order); returns the rows.

    INPUT is only checked to hold every selected feature, so the list names columns the data
    has."""
    _check_no_columns(columns, exclude)
    model = Model.load(model_path)
    order = model.raw.get("selection_order") or []  # its form is checked by the schema
    entry = {str(e["feature"]): float(e["alpha"]) for e in order}
    coef = dict(zip(model.features, model.coef.tolist(), strict=True))
    selected = [f for f in model.features if coef[f] != 0.0]
    ranked = [f for f in entry if f in selected]
    names = ranked + [f for f in selected if f not in entry]
    for feature in names:
        if feature not in job.names:
            raise DataError(f"the model's feature {feature!r} is not in the input",
                            source=job.display)
    schema = pa.schema([pa.field("feature", pa.string()), pa.field("coefficient", pa.float64()),
                        pa.field("entry_alpha", pa.float64())])
    batch = pa.RecordBatch.from_arrays(
        [strings(names), to_arrow(np.array([coef[f] for f in names], dtype=np.float64)),
         to_arrow(np.array([entry.get(f, math.nan) for f in names], dtype=np.float64))],
        schema=schema)
    with Output(job, out, schema) as output:
        output.write(batch)
    return len(names)
