"""Writing a file so that nothing half-written is ever left behind: one helper for all of gliopet.

Every output (reports, certificates, snapshots, CSVs, DICOM, NIfTI, JSON) is
written to a temporary name in the same folder and renamed onto its own name
only once it is complete (``os.replace`` is atomic on one file system). A
failure, an interruption or a full disk removes the temporary file and leaves
any earlier file of that name untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["SHARED_MODE", "replacing", "write_bytes", "write_text"]

#: Mode of written files: readable by others (``mkstemp`` alone gives 0600).
SHARED_MODE = 0o644


def _extension(name: str) -> str:
    """The extension a writer may look at (nibabel picks the format from ``.nii`` / ``.nii.gz``)."""
    return ".nii.gz" if name.endswith(".nii.gz") else Path(name).suffix


@contextmanager
def replacing(path: str | Path, *, mode: int = SHARED_MODE) -> Iterator[Path]:
    """A temporary path beside ``path``: renamed onto ``path`` when the block ends, removed if it raises.

    The temporary name keeps ``path``'s extension, for writers that choose
    the format by it.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "table.csv"
    >>> with replacing(target) as tmp:
    ...     _ = tmp.write_text("a,b\\n")
    >>> target.read_text()
    'a,b\\n'
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial" + _extension(path.name), dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes, *, mode: int = SHARED_MODE, sync: bool = False) -> Path:
    """Write ``data`` to ``path`` through :func:`replacing` (``sync``: flushed to disk before the rename)."""
    with replacing(path, mode=mode) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    return Path(path)


def write_text(path: str | Path, text: str, *, mode: int = SHARED_MODE, sync: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`replacing`."""
    return write_bytes(path, text.encode("utf-8"), mode=mode, sync=sync)
