"""How a file that keeps paths (the store, an analysis CSV) writes them, and how every reader resolves them.

A kept path is either absolute or relative to the folder of the file that
keeps it (the SQLite file, the CSV), so a folder holding both (the demo's
output) can be moved or opened from any working directory. One rule, one
module: whoever writes a path uses :func:`keep_path`, whoever reads one uses
:func:`resolve_kept_path`.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

__all__ = ["keep_path", "resolve_kept_path"]


def keep_path(path: str | Path, base_dir: str | Path | None) -> str:
    """``path`` as the keeper writes it: relative to ``base_dir`` when inside it, else absolute.

    Relative paths are written with ``/`` whatever the system. Without a
    ``base_dir`` (a server database has no folder) the path is absolute.

    Examples
    --------
    >>> keep_path("/data/demo/measurements/a.png", "/data/demo")
    'measurements/a.png'
    >>> keep_path("/elsewhere/a.png", "/data/demo")
    '/elsewhere/a.png'
    """
    absolute = Path(os.path.abspath(path))
    if base_dir is not None:
        base = Path(os.path.abspath(base_dir))
        if absolute.is_relative_to(base):
            return PurePosixPath(*absolute.relative_to(base).parts).as_posix()
    return str(absolute)


def resolve_kept_path(text: str, base_dir: str | Path | None) -> Path:
    """A kept path as an absolute path: relative ones are taken from ``base_dir``.

    Examples
    --------
    >>> str(resolve_kept_path("measurements/a.png", "/data/demo"))
    '/data/demo/measurements/a.png'
    >>> str(resolve_kept_path("/elsewhere/a.png", "/data/demo"))
    '/elsewhere/a.png'
    """
    path = Path(text)
    if path.is_absolute() or base_dir is None:
        return Path(os.path.abspath(path))
    return Path(os.path.abspath(Path(base_dir) / path))
