"""The Arrow compute functions normcli calls, without importing :mod:`pyarrow.compute`.

``import pyarrow.compute`` builds a Python wrapper, with its docstring parsed and rewritten,
for each of Arrow's several hundred compute functions: 35-50 ms, a quarter of what a short run
(a 3-row CSV ``normalize``) costs. The functions themselves live in ``pyarrow._compute``
(``call_function`` and the options classes), which loads in a few milliseconds. This module
calls them there, with the same names, arguments and results as their :mod:`pyarrow.compute`
counterparts, so a module uses it as ``from normcli import compute as pc``.

Array *methods* that compute (``Array.cast``, ``.fill_null``, ``.take``, ``.filter``,
``.sum``, ``.unique``, ``.dictionary_encode``, ``.is_null``, ...) import
:mod:`pyarrow.compute` themselves: call the functions here instead (``pc.cast(arr, t)``, not
``arr.cast(t)``). ``tests/test_startup.py`` checks that a CSV ``normalize`` does not import it.

A name not defined here is looked up in :mod:`pyarrow.compute` (imported then), so that a call
added elsewhere keeps working; add it here when it is on a path that must start fast.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyarrow import _compute as _c

call_function = _c.call_function


def cast(arr: Any, target_type: pa.DataType, safe: bool = True) -> Any:
    """``pyarrow.compute.cast`` (and ``Array.cast``): ``safe=False`` allows truncation and
    overflow."""
    options = _c.CastOptions.safe(target_type) if safe else _c.CastOptions.unsafe(target_type)
    return _c.call_function("cast", [arr], options)


def fill_null(values: Any, fill_value: Any) -> Any:
    """``pyarrow.compute.fill_null``: ``coalesce`` with a fill value of the values' type."""
    if not isinstance(fill_value, (pa.Array, pa.ChunkedArray, pa.Scalar)):
        fill_value = pa.scalar(fill_value, type=values.type)
    elif values.type != fill_value.type:
        fill_value = pa.scalar(fill_value.as_py(), type=values.type)
    return _c.call_function("coalesce", [values, fill_value])


def is_in(values: Any, value_set: Any, skip_nulls: bool = False) -> Any:
    return _c.call_function("is_in", [values],
                            _c.SetLookupOptions(value_set, skip_nulls=skip_nulls))


def match_substring_regex(strings: Any, pattern: str, ignore_case: bool = False) -> Any:
    return _c.call_function("match_substring_regex", [strings],
                            _c.MatchSubstringOptions(pattern, ignore_case=ignore_case))


def replace_substring(strings: Any, pattern: str, replacement: str) -> Any:
    return _c.call_function("replace_substring", [strings],
                            _c.ReplaceSubstringOptions(pattern, replacement))


def utf8_trim_whitespace(strings: Any) -> Any:
    return _c.call_function("utf8_trim_whitespace", [strings])


def binary_slice(strings: Any, start: int, stop: int | None = None, step: int = 1) -> Any:
    return _c.call_function("binary_slice", [strings], _c.SliceOptions(start, stop, step))


def binary_join_element_wise(*strings: Any) -> Any:
    """Joins the arguments but the last with the last (the separator); a null anywhere gives
    null, as ``pyarrow.compute``'s default ``null_handling="emit_null"``."""
    return _c.call_function("binary_join_element_wise", list(strings))


def if_else(cond: Any, left: Any, right: Any) -> Any:
    return _c.call_function("if_else", [cond, left, right])


def replace_with_mask(values: Any, mask: Any, replacements: Any) -> Any:
    return _c.call_function("replace_with_mask", [values, mask, replacements])


def filter(values: Any, selection_filter: Any) -> Any:
    """Keeps the values where the filter is true (a null drops the value)."""
    return _c.call_function("filter", [values, selection_filter])


def take(data: Any, indices: Any) -> Any:
    return _c.call_function("take", [data, indices], _c.TakeOptions(boundscheck=True))


def min_max(values: Any) -> Any:
    """The ``{"min", "max"}`` struct scalar of the non-null values."""
    return _c.call_function("min_max", [values])


def dictionary_encode(values: Any) -> Any:
    """Nulls stay null (``null_encoding="mask"``)."""
    return _c.call_function("dictionary_encode", [values], _c.DictionaryEncodeOptions("mask"))


def count_distinct(values: Any, mode: str = "only_valid") -> Any:
    """The number of distinct values (``mode="all"``: null counts as one)."""
    return _c.call_function("count_distinct", [values], _c.CountOptions(mode))


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import pyarrow.compute

    return getattr(pyarrow.compute, name)
