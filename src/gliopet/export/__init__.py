"""Standard exports of measurements: DICOM SEG, DICOM SR TID 1500, NIfTI as BIDS-PET derivative.

* :func:`export_store`: every measured study of a cohort store (``gliopet
  export seg|sr|nifti --db URL --out DIR``), each of its measured PET time
  points (the primary and the others), made from the stored records
  (:mod:`gliopet.export._source` says how the ROI masks are given back).
* :func:`export_study`: one study just measured (``gliopet measure --seg
  FILE --sr FILE``).
* :func:`read_measurement_report`: the measurements of a TID 1500 report.

Everything is written to a temporary name (or a hidden staging folder) and
renamed into place when complete.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from ..errors import InputError
from ._files import Staging, atomic_write_dataset, check_writable_file, subject_labels
from ._masks import ROI_NAMES, RoiMasks
from ._source import ExportStudy, TimePoint, load_stored_study, stored_studies, study_from_record
from .nifti import write_dataset_description, write_nifti_study
from .read import ReportedMeasurement, read_measurement_report
from .seg import build_seg, write_seg
from .sr import build_sr, write_sr

logger = logging.getLogger(__name__)

__all__ = ["EXPORT_KINDS", "export_store", "export_study", "ExportStudy", "TimePoint", "RoiMasks", "ROI_NAMES",
           "build_seg", "build_sr", "write_seg", "write_sr", "write_nifti_study", "read_measurement_report",
           "ReportedMeasurement", "subject_labels"]

#: What ``gliopet export`` makes.
EXPORT_KINDS = ("seg", "sr", "nifti")


def _kind(kind: str) -> str:
    value = kind.lower()
    if value not in EXPORT_KINDS:
        raise InputError(f"export kind {kind!r}: expected one of {', '.join(EXPORT_KINDS)}")
    return value


def export_store(db: str | None, outs: Mapping[str, str | Path], *, patients: Sequence[str] = ()) -> Iterator[str]:
    """Export every measured study of the store (of ``patients``) as each kind into its folder.

    Every measured PET time point of a study is exported: the primary (the
    one its ROIs were placed on) and each other time point ``gliopet
    analyze`` measured with those ROIs (carried onto its own grid), each with
    its own measurements, ROI masks on its own PET and references to its own
    PET series.

    Parameters
    ----------
    db : str
        The store (``--db``).
    outs : mapping
        Output folder per kind (``seg``, ``sr``, ``nifti``; case-insensitive).
        SEG and SR files of the primary time point are
        ``sub-<subject>_ses-<n>_seg.dcm`` / ``_sr.dcm``; those of another
        time point add the BIDS ``run`` entity, its place in scan-time order
        among the study's time points: ``sub-<subject>_ses-<n>_run-<i>_seg.dcm``
        (:class:`gliopet.export._source.TimePoint`). NIfTI is a BIDS tree
        (:mod:`gliopet.export.nifti`) named the same way.
    patients : sequence of str
        Clinical ``patient_id`` values (default: every patient with a study).

    Yields
    ------
    str
        One line per kind written (no patient identifier).

    Raises
    ------
    InputError
        An unwritable output folder, a patient not in the store, a selected
        study without a stored measurement: nothing is written.
    """
    kinds = {_kind(k): Path(v) for k, v in outs.items()}
    selected = stored_studies(db, patients)
    stagings: dict[str, Staging] = {}
    try:
        for kind, out in kinds.items():
            stagings[kind] = Staging(out)
        for stored in selected:
            study = load_stored_study(stored, with_ct="nifti" in kinds)
            seg = build_seg(study) if {"seg", "sr"} & kinds.keys() else None
            if "seg" in kinds:
                atomic_write_dataset(seg, stagings["seg"].path / f"{study.stem}_seg.dcm")
            if "sr" in kinds:
                write_sr(study, stagings["sr"].path / f"{study.stem}_sr.dcm", seg=seg)
            if "nifti" in kinds:
                write_nifti_study(study, stagings["nifti"].path)
        if "nifti" in kinds:
            write_dataset_description(stagings["nifti"].path)
    except BaseException:
        for staging in stagings.values():
            staging.discard()
        raise
    n_studies = len({(s.subject, s.session) for s in selected})
    counted = f"{n_studies} stud{'y' if n_studies == 1 else 'ies'}"
    if len(selected) != n_studies:
        counted += f" ({len(selected)} PET time points)"
    for kind, staging in stagings.items():
        written = staging.commit()
        yield f"export {kind}: {counted}, {len(written)} files in {kinds[kind]}"


def export_study(study_record, *, seg: str | Path | None = None, sr: str | Path | None = None,
                 ct: str | Path | None = None) -> list[Path]:
    """Write the SEG and/or the SR of a study just measured (a :class:`gliopet.study.StudyRecord`).

    The SR references the SEG, so an SR needs the SEG written beside it. The
    reference PET's files are ``seg`` and ``sr``; each other time point
    (``--timepoint``) gets its own beside them, named with its BIDS ``run``
    (its place in scan-time order): ``roi.dcm`` -> ``roi_run-2.dcm``.

    Raises
    ------
    InputError
        ``sr`` without ``seg``; an output that cannot be written (checked before anything is written).
    """
    if sr is not None and seg is None:
        raise InputError("--sr: the report references the ROIs' SEG; give --seg FILE too")
    runs = study_record.scan_order()
    indices = [study_record.reference] + [i for i in range(len(runs)) if i != study_record.reference]
    targets = []
    for index in indices:
        run = None if index == study_record.reference else runs[index]
        targets.append((index, *(None if path is None else _run_path(Path(path), run) for path in (seg, sr))))
    for _, seg_path, sr_path in targets:
        for path, option in ((seg_path, "--seg"), (sr_path, "--sr")):
            if path is not None:
                check_writable_file(path, option=option)
    datasets = []  # every time point built before any file is written: a refusal leaves nothing behind
    for index, seg_path, sr_path in targets:
        if seg_path is None:
            continue
        study = study_from_record(study_record, ct=ct, index=index)
        segmentation = build_seg(study)
        datasets.append((segmentation, seg_path))
        if sr_path is not None:
            datasets.append((build_sr(study, segmentation), sr_path))
    return [atomic_write_dataset(dataset, path) for dataset, path in datasets]


def _run_path(path: Path, run: int | None) -> Path:
    """``path`` for the reference (``run`` None); else ``<stem>_run-<run><suffix>`` beside it."""
    return path if run is None else path.with_name(f"{path.stem}_run-{run}{path.suffix}")
