"""Side inputs in JSON (``predict --model``, ``normalize --params``): read with bounds, checked
against a schema before use.

A side file is read in 1 MB pieces up to :data:`MAX_BYTES` (so ``--model /dev/zero`` fails at
once, and a signal ends the read), must be UTF-8 JSON without repeated keys, and must match its
JSON Schema (checked with ``jsonschema``, imported only when a side file is read). NaN is not a
JSON number: the schemas' ``number`` leaves it out; Infinity is allowed only where a statistic can
be infinite. Every failure is one :class:`~normcli.errors.DataError` naming the file and what is
wrong (an unreadable file is a usage error, as a missing input file is).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from .errors import DataError, UsageError

#: The largest side file read (bytes).
MAX_BYTES = 64 << 20
_PIECE = 1 << 20
_MAX_FLOAT = sys.float_info.max

FINITE: dict[str, Any] = {"type": "number", "minimum": -_MAX_FLOAT, "maximum": _MAX_FLOAT}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_NONNEGATIVE: dict[str, Any] = {"type": "number", "minimum": 0}

MODEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["coefficients", "intercept"],
    "properties": {
        "kind": {"const": "linear_model"},
        "coefficients": {"type": "object", "additionalProperties": FINITE},
        "intercept": FINITE,
        "selection_order": {
            "type": ["array", "null"],
            "items": {"type": "object", "required": ["feature", "alpha"],
                      "properties": {"feature": {"type": "string"}, "alpha": FINITE}},
        },
    },
}

_SCALER_COLUMN: dict[str, Any] = {
    "type": "object",
    "required": ["count", "scale", "mean_scaled", "m2_scaled", "min", "max"],
    "properties": {
        "count": _COUNT,
        "scale": {"type": "number", "minimum": 0, "maximum": _MAX_FLOAT},
        "min": {"type": ["number", "null"]},
        "max": {"type": ["number", "null"]},
    },
}
_ZSCORE_COLUMN: dict[str, Any] = {
    "properties": {
        "mean_scaled": FINITE,
        "m2_scaled": {"type": "number", "minimum": 0, "maximum": _MAX_FLOAT},
    },
}
_NORM_COLUMN: dict[str, Any] = {
    "type": "object",
    "required": ["scale", "root"],
    "properties": {
        "scale": _NONNEGATIVE, "root": _NONNEGATIVE, "count": _COUNT, "norm": _NONNEGATIVE,
    },
}


def _columns(column: dict[str, Any]) -> dict[str, Any]:
    return {"properties": {"columns": {"additionalProperties": column}}}


PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["kind", "columns"],
    "properties": {
        "kind": {"enum": ["minmax", "zscore", "maxabs", "norm"]},
        "columns": {"type": "object"},
        "range": {"type": "array", "prefixItems": [FINITE, FINITE], "minItems": 2,
                  "maxItems": 2},
        "clip": {"type": "boolean"},
        "norm": {"type": ["string", "number"]},
    },
    "allOf": [
        {"if": {"properties": {"kind": {"const": "norm"}}},
         "then": _columns(_NORM_COLUMN), "else": _columns(_SCALER_COLUMN)},
        {"if": {"properties": {"kind": {"const": "zscore"}}}, "then": _columns(_ZSCORE_COLUMN)},
    ],
}


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def read_json(path: str, what: str) -> Any:
    """The JSON value in the file ``path`` (at most :data:`MAX_BYTES`)."""
    try:
        # Unbuffered: each read returns what one read(2) gives, so a signal that arrives
        # between reads is acted on (a buffered read of a FIFO would wait on for a full piece).
        with open(path, "rb", buffering=0) as fh:
            data = bytearray()
            while piece := fh.read(_PIECE):
                data += piece
                if len(data) > MAX_BYTES:
                    raise DataError(f"larger than {MAX_BYTES >> 20} MB; not a {what}",
                                    source=path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                        source=path) from None
    try:
        return json.loads(text, object_pairs_hook=_no_repeats)
    except json.JSONDecodeError as exc:
        raise DataError(f"not JSON: {exc.msg} (column {exc.colno})", source=path,
                        line=exc.lineno) from None
    except RecursionError:
        raise DataError(f"not a {what}: JSON nested too deeply", source=path) from None
    except ValueError as exc:  # a repeated key, an integer of thousands of digits
        raise DataError(f"not a {what}: {exc}", source=path) from None


def _is_number(checker: Any, instance: Any) -> bool:
    return (isinstance(instance, int | float) and not isinstance(instance, bool)
            and not (isinstance(instance, float) and math.isnan(instance)))


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path)
    value = error.instance
    if isinstance(value, float) and math.isnan(value):
        message = "NaN is not a number"
    elif isinstance(value, float) and math.isinf(value):
        message = "an infinite value is not allowed here"
    else:
        message = " ".join(error.message.split())
        if len(message) > 160:
            message = message[:160] + "..."
    return f"at {where}: {message}" if where else message


def validate(data: Any, schema: dict[str, Any], path: str, what: str) -> None:
    """Raise a one-line :class:`DataError` if ``data`` does not match ``schema`` (naming up to
    three of the problems)."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine("number", _is_number)
    validator = validators.extend(Draft202012Validator, type_checker=checker)(schema)
    errors = list(validator.iter_errors(data))
    if not errors:
        return
    shown = "; ".join(_describe(e) for e in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    raise DataError(f"not a {what}: {shown}{more}", source=path)


def load(path: str, schema: dict[str, Any], what: str) -> Any:
    """Read and check a side file."""
    data = read_json(path, what)
    validate(data, schema, path, what)
    return data
