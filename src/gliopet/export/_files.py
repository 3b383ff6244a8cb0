"""Where exports are written: safe names, a staging folder, atomic moves.

No path is ever built from a DICOM value: file names come from the subject
and session labels (:func:`subject_labels`), which are built from the store's
clinical ``patient_id`` reduced to letters and digits. Everything is written
into a hidden staging folder inside the output folder first and moved into
place only when every study has been written (:class:`Staging`), so a
failure leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from ..atomic import replacing
from ..errors import InputError

__all__ = ["subject_labels", "Staging", "atomic_write_dataset", "check_writable_file"]

#: BIDS labels are alphanumeric (BIDS 1.9 "Entities": a label is [a-zA-Z0-9]+).
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")
#: Hex digits of SHA-256 in a label made from a digest (when the clinical ID does not give one).
DIGEST_LABEL_CHARS = 12


def subject_labels(patient_ids: Iterable[str]) -> dict[str, str]:
    """A BIDS subject label per clinical ``patient_id``: its letters and digits.

    The clinical CSV's ``patient_id`` is the study's own key (the one its
    tables use; DESIGN.md "Clinical CSV"), so the export names subjects by it,
    reduced to ``[A-Za-z0-9]``. Where that leaves nothing, or two patients
    would share a label, the label is ``x`` + the first
    :data:`DIGEST_LABEL_CHARS` hex digits of SHA-256 of the ID instead.

    Examples
    --------
    >>> subject_labels(["SIM001", "P-02"])
    {'SIM001': 'SIM001', 'P-02': 'P02'}
    """
    ids = list(dict.fromkeys(patient_ids))
    plain = {pid: _NOT_ALNUM.sub("", pid) for pid in ids}
    counts: dict[str, int] = {}
    for label in plain.values():
        counts[label] = counts.get(label, 0) + 1
    return {pid: label if label and counts[label] == 1
            else "x" + hashlib.sha256(pid.encode()).hexdigest()[:DIGEST_LABEL_CHARS]
            for pid, label in plain.items()}


class Staging:
    """A hidden folder inside ``out`` to write into; :meth:`commit` moves its files into ``out``.

    Raises
    ------
    InputError
        ``out`` cannot be created or written to.
    """

    def __init__(self, out: str | Path, *, option: str = "--out") -> None:
        self.out = Path(out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=".gliopet-export-", dir=self.out))
        except OSError as exc:
            raise InputError(f"{option} {self.out}: cannot create or write the output folder "
                             f"({type(exc).__name__})") from None

    def commit(self) -> list[Path]:
        """Move every staged file to the same place under ``out`` (replacing one there); the paths."""
        moved: list[Path] = []
        for root, _, files in os.walk(self.path):
            for name in sorted(files):
                source = Path(root) / name
                target = self.out / source.relative_to(self.path)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
                moved.append(target)
        self.discard()
        return sorted(moved)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def check_writable_file(path: str | Path, *, option: str) -> Path:
    """``path``'s folder exists and takes a new file (checked by creating and removing one), and ``path`` is
    not a folder.

    Raises
    ------
    InputError
        It does not, or ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent if str(path.parent) else ".", prefix=f".{path.name}.",
                                         suffix=".check"):
            pass
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot write there ({type(exc).__name__})") from None
    return path


def atomic_write_dataset(dataset, path: str | Path) -> Path:
    """Save a pydicom dataset to a temporary name beside ``path``, then rename it to ``path``."""
    path = Path(path)
    with replacing(path) as tmp:
        dataset.save_as(tmp, enforce_file_format=True)
    return path
