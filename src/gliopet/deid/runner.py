"""De-identify a tree of files, file by file, in parallel processes, with a progress bar.

Each input file is read, checked, de-identified (:mod:`gliopet.deid.dataset`)
and written on its own: nothing holds a series. Output names are keyed digests
of the input's relative path (folders too), so the tree keeps its shape, the
names carry nothing from the input or from a DICOM value, and the same key
gives the same names. Each file is written with a new file meta (PS3.10 7.1,
the preamble zeroed) to a temporary name and renamed. The input tree is only
read. Files that cannot be made safe are quarantined: not written, and listed
with their reason in the report beside the key.

References
----------
DICOM PS3.10 7.1 (preamble, DICM prefix, File Meta Information); PS3.15 E.1.1.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import tempfile
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset, FileMetaDataset
from tqdm import tqdm

from ..atomic import replacing
from .._version import __version__
from ..errors import InputError
from .dataset import PatientPseudonym, deidentify_dataset, quarantine_reason
from .keyed import generated_name
from .keyfile import load_or_create_key, write_patient_map, write_quarantine_report

logger = logging.getLogger(__name__)

__all__ = ["DeidSummary", "FileOutcome", "deidentify_tree", "output_relative_path", "default_key_file",
           "IMPLEMENTATION_CLASS_UID", "IMPLEMENTATION_VERSION_NAME"]

#: gliopet's Implementation Class UID (PS3.7 D.3.3.2): the 2.25 UID of a name-based UUID (PS3.5 B.2).
IMPLEMENTATION_CLASS_UID = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'gliopet:deid').int}"
IMPLEMENTATION_VERSION_NAME = "GLIOPET_" + __version__.replace(".", "")[:8]
_PREAMBLE = b"\0" * 128
_DICM_AT = 128
_CHUNK = 8
NOT_DICOM = "not a DICOM file: no 'DICM' prefix at byte 128 (PS3.10 7.1)"


@dataclass(frozen=True)
class FileOutcome:
    """What became of one input file: its output (relative to OUT) or the reason it was quarantined."""

    relative: str
    output: str | None
    reason: str | None
    patient: PatientPseudonym | None


@dataclass(frozen=True)
class DeidSummary:
    """A run: files written, files quarantined, and where the key, map and report are."""

    written: int
    quarantined: tuple[FileOutcome, ...]
    out_dir: Path
    key_file: Path
    key_created: bool
    map_file: Path
    quarantine_report: Path


def default_key_file(out_dir: Path) -> Path:
    """The key's place when none is given: ``<OUT>.deid-key`` beside the output folder."""
    out = Path(os.path.abspath(out_dir))
    return out.with_name(out.name + ".deid-key")


def output_relative_path(key: bytes, relative: str) -> str:
    """The output path of the input file at ``relative`` (POSIX), every part a keyed digest."""
    parts = relative.split("/")
    names = [generated_name(key, "/".join(parts[:i + 1])) for i in range(len(parts) - 1)]
    names.append(generated_name(key, relative) + ".dcm")
    return "/".join(names)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_places(src: Path, dst: Path, key_file: Path) -> None:
    if not dst.exists():
        raise InputError(f"{dst}: output folder does not exist")
    if not dst.is_dir():
        raise InputError(f"{dst}: output is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=dst)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"{dst}: output folder is not writable ({exc.strerror})") from None
    src_r, dst_r, key_r = src.resolve(), dst.resolve(), key_file.resolve()
    if _inside(dst_r, src_r) or _inside(src_r, dst_r):
        raise InputError(f"{dst}: output folder and input {src} must not contain one another")
    if _inside(key_r, src_r) or _inside(key_r, dst_r):
        raise InputError(f"{key_file}: the key file must lie outside the input and the output folders")


def _input_files(src: Path) -> list[str]:
    """Every file under ``src`` (POSIX paths relative to it), sorted; symbolic links included, not followed."""
    if src.is_file():
        return [src.name]
    found = []
    for root, dirs, files in os.walk(src, followlinks=False):
        dirs.sort()
        base = Path(root).relative_to(src)
        found.extend((base / name).as_posix() for name in sorted(files))
        found.extend((base / name).as_posix() for name in dirs if (Path(root) / name).is_symlink())
    return sorted(found)


def _file_meta(ds: Dataset, transfer_syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _write(ds: Dataset, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)


def _read(path: Path) -> tuple[Dataset | None, str | None]:
    """The dataset, or the reason it is quarantined (never a value from the file)."""
    if path.is_symlink():
        return None, "symbolic link: not followed"
    try:
        with path.open("rb") as handle:
            head = handle.read(_DICM_AT + 4)
    except OSError as exc:
        return None, f"unreadable file ({exc.strerror})"
    if head[_DICM_AT:_DICM_AT + 4] != b"DICM":
        return None, NOT_DICOM
    try:
        ds = dcmread(path)
        transfer = ds.file_meta.get("TransferSyntaxUID")
        if not transfer or "SOPClassUID" not in ds or "SOPInstanceUID" not in ds:
            return None, "unreadable DICOM: (0002,0010) TransferSyntaxUID, (0008,0016) SOPClassUID or " \
                         "(0008,0018) SOPInstanceUID is missing"
    except Exception as exc:  # noqa: BLE001 - any damage means quarantine; the message may hold values
        return None, f"unreadable DICOM ({type(exc).__name__})"
    return ds, None


def _process(job: tuple[str, str, str, bytes]) -> FileOutcome:
    """Worker: one input file to one output file, or a quarantine reason."""
    path, relative, dst, key = job
    ds, reason = _read(Path(path))
    if ds is None:
        return FileOutcome(relative, None, reason, None)
    reason = quarantine_reason(ds)
    if reason is not None:
        return FileOutcome(relative, None, reason, None)
    transfer = str(ds.file_meta.TransferSyntaxUID)
    try:
        patient = deidentify_dataset(ds, key=key)
    except Exception as exc:  # noqa: BLE001 - damaged values surface while walking
        return FileOutcome(relative, None, f"unreadable DICOM attribute ({type(exc).__name__})", None)
    ds.file_meta = _file_meta(ds, transfer)
    ds.preamble = _PREAMBLE
    output = output_relative_path(key, relative)
    try:
        _write(ds, Path(dst) / output)
    except OSError as exc:
        raise InputError(f"{dst}: cannot write the output ({exc.strerror})") from None
    except Exception as exc:  # noqa: BLE001 - a value pydicom cannot encode
        return FileOutcome(relative, None, f"cannot be written as DICOM ({type(exc).__name__})", None)
    return FileOutcome(relative, output, None, patient)


def _outcomes(jobs: list[tuple[str, str, str, bytes]], *, workers: int, progress: bool):
    bar_options = dict(total=len(jobs), desc="deid", unit="file", file=sys.stderr, disable=not progress)
    if workers <= 1 or len(jobs) <= 1:
        with tqdm(**bar_options) as bar:
            for job in jobs:
                yield _process(job)
                bar.update()
        return
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = pool.map(_process, jobs, chunksize=_CHUNK)  # workers start before the bar's thread
        with tqdm(**bar_options) as bar:
            for outcome in results:
                yield outcome
                bar.update()


def deidentify_tree(src: str | Path, dst: str | Path, *, key_file: str | Path | None = None,
                    workers: int = 1, progress: bool = False) -> DeidSummary:
    """De-identify every file under ``src`` into the existing folder ``dst``.

    Parameters
    ----------
    src : path
        Input folder (or one file); only read.
    dst : path
        Existing, writable output folder outside ``src``.
    key_file : path, optional
        The secret key; created (mode 600) when absent. Default
        ``<dst>.deid-key`` beside ``dst``. The patient map and the quarantine
        report are written beside it.
    workers : int
        Processes.
    progress : bool
        A progress bar on stderr (counts only, no names).

    Raises
    ------
    InputError
        ``dst`` is missing, not a folder or not writable; ``src`` and ``dst``
        overlap; the key file is inside either or is not a key.
    """
    src, dst = Path(src), Path(dst)
    key_file = Path(key_file) if key_file is not None else default_key_file(dst)
    _check_places(src, dst, key_file)
    key, created = load_or_create_key(key_file)
    jobs = [(str(src / rel if src.is_dir() else src), rel, str(dst), key) for rel in _input_files(src)]
    patients: dict[str, tuple[str, int]] = {}
    quarantined: list[FileOutcome] = []
    written = 0
    for outcome in _outcomes(jobs, workers=workers, progress=progress):
        if outcome.output is None:
            quarantined.append(outcome)
            continue
        written += 1
        p = outcome.patient
        patients[p.original_id] = (p.pseudonym, p.shift_days)
    map_file = write_patient_map(key_file, patients)
    report = write_quarantine_report(key_file, [(q.relative, q.reason) for q in quarantined])
    logger.info("deid: %d written, %d quarantined", written, len(quarantined))
    return DeidSummary(written, tuple(quarantined), dst, key_file, created, map_file, report)
