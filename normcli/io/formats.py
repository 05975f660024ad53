"""File formats: which one a path means, and the options that override it."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError

COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}
_EXT_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
}
# Magic numbers for sniffing compressed standard input.
_MAGIC = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\x28\xb5\x2f\xfd", "zstd"))


def is_std(path: str) -> bool:
    return path == "-"


def split_compression(path: str) -> tuple[str, str | None]:
    """``data.csv.gz`` -> (``data.csv``, ``"gzip"``)."""
    lower = path.lower()
    for ext, codec in COMPRESSIONS.items():
        if lower.endswith(ext):
            return path[: -len(ext)], codec
    return path, None


def format_of(path: str) -> str | None:
    """The format a path's extension names, or None."""
    base, _ = split_compression(path)
    lower = base.lower()
    for ext, fmt in _EXT_FORMATS.items():
        if lower.endswith(ext):
            return fmt
    return None


def sniff_compression(prefix: bytes) -> str | None:
    for magic, codec in _MAGIC:
        if prefix.startswith(magic):
            return codec
    return None


@dataclass(frozen=True)
class CsvDialect:
    """How a delimited text file is laid out."""

    delimiter: str = ","
    header: bool = True


def resolve_input_format(path: str, override: str | None) -> str:
    if override:
        return override
    if is_std(path):
        return "csv"
    fmt = format_of(path)
    if fmt is None or fmt == "json":
        raise UsageError(
            f"{path}: cannot tell the input format from the extension; "
            "use --input-format csv|tsv|parquet"
        )
    return fmt


def resolve_output_format(path: str | None, override: str | None, default: str = "csv") -> str:
    if override:
        return override
    if path is None or is_std(path):
        return default
    fmt = format_of(path)
    if fmt is None:
        raise UsageError(
            f"{path}: cannot tell the output format from the extension; "
            "use --output-format csv|tsv|parquet|json"
        )
    return fmt


def default_delimiter(fmt: str) -> str:
    return "\t" if fmt == "tsv" else ","


def check_delimiter(value: str, option: str) -> str:
    if value in ("\\t", "tab", "TAB"):
        return "\t"
    if len(value) != 1 or value in ('"', "\n", "\r"):
        raise UsageError(f"{option} must be a single character other than a quote or newline")
    return value
