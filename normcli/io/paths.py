"""What an ``INPUT`` or ``OUTPUT`` string names, without importing the dataset or URL layers
(imported only when they are needed: they cost start-up time)."""

from __future__ import annotations

import os
import re

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_MAGIC = re.compile(r"[*?[]")


def is_url(path: str | None) -> bool:
    return path is not None and bool(_URL.match(path))


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower()


def has_magic(path: str) -> bool:
    return bool(_MAGIC.search(path))


def is_dataset(path: str) -> bool:
    """Whether ``INPUT`` is read as a dataset: anything but one local file or ``-`` (a folder,
    a glob that is not itself a file's name, a URL)."""
    if path == "-":
        return False
    if is_url(path):
        return True
    if os.path.isdir(path):
        return True
    return has_magic(path) and not os.path.exists(path)


def is_directory_output(path: str | None) -> bool:
    """Whether ``OUTPUT`` is a folder of parts: it ends in ``/``, or names an existing folder
    (an object-store prefix holding objects)."""
    if path is None or path == "-":
        return False
    if path.endswith("/"):
        return True
    if is_url(path):
        if scheme_of(path) in ("http", "https"):
            return False
        from .remote import file_type

        return file_type(path) == "directory"
    return os.path.isdir(path)
