"""File formats: which one a path means, and the options that override it.

The formats themselves (extensions, readers, writers) are registered in :mod:`normcli.formats`.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

from ..errors import UsageError

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}
# Magic numbers for sniffing compressed standard input. bzip2's "BZh" is text too (a CSV
# header may start so): it counts with the block size (1-9) and the magic of a first block
# or of the end of the stream after it.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))
_BZIP2 = re.compile(rb"BZh[1-9](?:\x31\x41\x59\x26\x53\x59|\x17\x72\x45\x38\x50\x90)")
#: Suffix of each codec's files.
SUFFIXES = {"gzip": ".gz", "bz2": ".bz2", "zstd": ".zst"}


def is_std(path: str) -> bool:
    return path == "-"


def is_stream_path(path: str) -> bool:
    """Whether ``path`` is read like standard input: ``-``, or anything but a regular file or a
    block device (a FIFO, ``/dev/stdin`` on a pipe, ``<(...)``, a character device, a socket)."""
    if is_std(path):
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISBLK(mode) or stat.S_ISDIR(mode))


def split_compression(path: str) -> tuple[str, str | None]:
    """``data.csv.gz`` -> (``data.csv``, ``"gzip"``)."""
    lower = path.lower()
    for ext, codec in COMPRESSIONS.items():
        if lower.endswith(ext):
            return path[: -len(ext)], codec
    return path, None


def format_of(path: str) -> str | None:
    """The format a path's extension names, or None."""
    from .. import formats

    base, _ = split_compression(path)
    fmt = formats.by_extension(base)
    return None if fmt is None else fmt.name


def sniff_compression(prefix: bytes) -> str | None:
    for magic, codec in _MAGIC:
        if prefix.startswith(magic):
            return codec
    if _BZIP2.match(prefix):
        return "bz2"
    return None


def sniff_length(head: bytes) -> int:
    """How many first bytes :func:`sniff_compression` needs, given ``head`` (4, or 10 to tell
    bzip2 from text that starts with "BZh")."""
    return 10 if head[:3] == b"BZh" and head[3:4].isdigit() else 4


@dataclass(frozen=True)
class CsvDialect:
    """How a delimited text file is laid out."""

    delimiter: str = ","
    header: bool = True


def resolve_input_format(path: str, override: str | None) -> str:
    from .. import formats

    names = formats.readable()
    if override:
        if override not in names:
            raise UsageError(f"unknown input format {override!r} ({', '.join(names)})")
        return override
    if is_std(path):
        return "csv"
    fmt = format_of(path)
    if fmt is None and is_stream_path(path):
        return "csv"  # a pipe without a name (<(...), /dev/stdin) is CSV, as standard input
    if fmt is None or fmt not in names:
        raise UsageError(
            f"{path}: cannot tell the input format from the extension; "
            f"use --input-format {'|'.join(names)}"
        )
    return fmt


def refuse_compressed_output(path: str, option: str = "") -> None:
    """Output is never compressed: a name ending in ``.gz``, ``.bz2`` or ``.zst`` would hold
    plain text, so it is a usage error that says what to do instead."""
    base, codec = split_compression(path)
    if codec is not None:
        where = f"{option} {path}" if option else path
        raise UsageError(f"{where}: normcli does not compress its output; name the file "
                         f"{os.path.basename(base)} and compress it afterwards (or write to "
                         "standard output and pipe it through a compressor)")


def resolve_output_format(path: str | None, override: str | None, default: str = "csv") -> str:
    from .. import formats

    names = formats.writable()
    if path is not None and not is_std(path):
        refuse_compressed_output(path)
    if override:
        if override not in names:
            raise UsageError(f"unknown output format {override!r} ({', '.join(names)})")
        return override
    if path is None or is_std(path):
        return default
    fmt = format_of(path)
    if fmt is None or fmt not in names:
        raise UsageError(
            f"{path}: cannot tell the output format from the extension; "
            f"use --output-format {'|'.join(names)}"
        )
    return fmt


def is_binary(fmt: str) -> bool:
    """Whether ``fmt`` is a binary format (never written to a terminal)."""
    from .. import formats

    found = formats.get(fmt)
    return found is not None and found.binary


def keeps_text(fmt: str) -> bool:
    """Whether output in ``fmt`` keeps the input's text of numbers (CSV, TSV)."""
    from .. import formats

    found = formats.get(fmt)
    return found is not None and found.keeps_text


def default_delimiter(fmt: str) -> str:
    from .. import formats

    found = formats.get(fmt)
    return (found.delimiter if found is not None else None) or ","


def check_delimiter(value: str, option: str) -> str:
    if value in ("\\t", "tab", "TAB"):
        return "\t"
    if len(value) != 1 or value in ('"', "\n", "\r"):
        raise UsageError(f"{option} must be a single character other than a quote or newline")
    if not value.isascii():
        raise UsageError(f"{option} must be an ASCII character (got {value!r})")
    if option == "--output-delimiter" and (value.isdigit() or value in ".eE+-"):
        raise UsageError(f"{option} {value!r} would make numbers unreadable (a digit, '.', "
                         "'e', 'E', '+' and '-' occur in numbers)")
    return value
