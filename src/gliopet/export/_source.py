"""What an export is made from: one measured study, its PET (and CT), its record and its ROI masks.

Two ways in:

* :func:`study_from_record`: a study just measured (``gliopet measure --seg
  --sr``): the typed :class:`~gliopet.study.StudyRecord`; the masks are the
  measurement's own (:func:`gliopet.export._masks.masks_from_measurement`).
* :func:`stored_studies` then :func:`load_stored_study`: a study in the
  store, one :class:`StoredStudy` per measured PET time point (the primary,
  whose ROIs were placed on it, and each other time point ``gliopet analyze``
  measured with those ROIs, carried onto its own grid; each has its own
  record with the geometry on its own grid). The PET (and the CT) are read
  again from the stored series
  folders, and the ROI masks are rebuilt from the stored record's geometry
  (:func:`gliopet.export._masks.rebuild_masks`: the circles and the SUVpeak
  sphere exactly; the BTV regrown from the stored seed and threshold and
  accepted only when it has the stored voxel count, which makes it the same
  region). Where the record cannot give a ROI back (a crescent background,
  or a BTV that the brain mask had limited), the study is measured again
  through :func:`gliopet.study.measure_study_files` with the stored options
  (``auto`` is deterministic: ITK on one thread) and the new measurement is
  used only if its SUVmax, SUVpeak, background SUVmax and mean, BTV voxel
  count and ROI centres equal the stored ones; else an error. A time point
  other than the primary is measured again the way ``gliopet analyze``
  measured it: with the primary as the reference (its ROIs, registered onto
  this time point), and checked the same way against its own stored record.

The time points of a study are numbered 1, 2, ... in order of scan time
(:class:`TimePoint`, the BIDS ``run`` index); the primary's files keep the
plain ``sub-<s>_ses-<n>`` names, the others' add ``_run-<index>``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pydicom

from ..errors import DicomError, InputError, MeasurementError
from ..io.images import PetImage, read_ct
from ..volume import Volume
from ._files import subject_labels
from ._masks import CrescentNotRebuildable, RoiMasks, masks_from_measurement, rebuild_masks

logger = logging.getLogger(__name__)

__all__ = ["ExportStudy", "StoredStudy", "TimePoint", "study_from_record", "stored_studies", "load_stored_study",
           "pet_source_headers", "REMEASURE_REL_TOL"]

#: A re-measurement must give the stored values to this relative tolerance (the same code on the
#: same pixels; only the last bits of floating-point sums may differ).
REMEASURE_REL_TOL = 1e-9
#: ROI centres kept in the record are rounded to this many decimals (mm and voxel indices).
RECORD_CENTRE_DECIMALS = 3


@dataclass(frozen=True)
class TimePoint:
    """Which PET time point of its study an export is, and when it was scanned.

    Attributes
    ----------
    run : int
        1, 2, ... in order of scan time among the study's measured PET time
        points (the BIDS ``run`` index, BIDS 1.9 "Entities": repeated scans
        of one kind in one session).
    primary : bool
        The time point the ROIs were placed on (the other time points were
        measured with them).
    nominal_min : float or None
        The store's scan time of the measurement (min after injection, as
        ``gliopet analyze`` rounds it: the ``_30min`` columns).
    minutes_after_injection : float or None
        The PET's scan reference time minus the injection time (min), as its
        SUV factor dated them (:attr:`gliopet.io.images.PetImage.minutes_after_injection`).
    """

    run: int
    primary: bool
    nominal_min: float | None
    minutes_after_injection: float | None = None

    @property
    def entity(self) -> str:
        """The file-name entity: none for the primary, ``_run-<run>`` for another time point.

        Examples
        --------
        >>> TimePoint(run=1, primary=False, nominal_min=30.0).entity
        '_run-1'
        >>> TimePoint(run=2, primary=True, nominal_min=60.0).entity
        ''
        """
        return "" if self.primary else f"_run-{self.run}"

    @property
    def short(self) -> str:
        """``"30 min p.i."`` (nominal), or ``"run 1"`` when the scan is undated."""
        return f"run {self.run}" if self.nominal_min is None else f"{self.nominal_min:g} min p.i."


@dataclass(frozen=True)
class ExportStudy:
    """One measured study, ready to export.

    Attributes
    ----------
    pet : PetImage
        The PET in SUV (DICOM: its provenance lists the files in slice order).
    ct : Volume or None
    record : dict
        The measurement record (``gliopet measure --json`` keys; ``suv``, ``software``).
    masks : RoiMasks
        The ROIs on the PET grid.
    subject, session : str
        BIDS labels (letters and digits) the files are named by.
    name : str
        The PET folder or file, for messages.
    timepoint : TimePoint or None
        Which of the study's PET time points this is (a stored study); None
        for a study just measured (``gliopet measure``).
    """

    pet: PetImage
    ct: Volume | None
    record: dict[str, Any]
    masks: RoiMasks
    subject: str
    session: str
    name: str
    timepoint: TimePoint | None = None

    @property
    def stem(self) -> str:
        """``sub-<s>_ses-<n>``, and ``_run-<i>`` for a time point other than the primary."""
        entity = "" if self.timepoint is None else self.timepoint.entity
        return f"sub-{self.subject}_ses-{self.session}{entity}"


@dataclass(frozen=True)
class StoredStudy:
    """One measured PET time point of a stored study: folders (absolute), its record, labels.

    ``reference`` is the study's primary time point (None when this is it):
    its record holds the ROI options a re-measurement needs.
    """

    pet_folder: Path
    ct_folder: Path | None
    record: dict[str, Any]
    subject: str
    session: str
    study_folder: str
    timepoint: TimePoint | None = None
    reference: StoredStudy | None = None


def _require_dicom_pet(pet: PetImage) -> None:
    if pet.suv is None:
        raise InputError(f"{pet.path}: a NIfTI PET has no DICOM instances to reference; DICOM SEG and SR "
                         "exports need a DICOM PET")


def study_from_record(study, *, ct: str | Path | None = None, subject: str = "1", session: str = "1",
                      index: int | None = None) -> ExportStudy:
    """The export of a study just measured (a :class:`gliopet.study.StudyRecord`): its reference PET, or
    ``study.pets[index]`` (another time point, measured with the reference's ROIs carried onto its grid).

    The PET is read again (the same files give the same volume) for its
    geometry and file list; the masks are the measurement's own. With
    several PETs each export carries its :class:`TimePoint` (run: the place in
    scan-time order); a study of one PET carries none, as before.
    """
    from ..study import read_measured_pet

    index = study.reference if index is None else index
    measured = study.pets[index]
    frames = study.inputs.get("frames") if index == 0 else None  # a dynamic series' summed window (the first PET)
    pet = read_measured_pet(measured.path, suv_type=study.suv_type, frames=None if frames is None else tuple(frames))
    ct_volume = read_ct(ct) if ct is not None else None
    masks = masks_from_measurement(pet.volume, measured.measurement)
    timepoint = None if len(study.pets) == 1 else TimePoint(
        run=study.scan_order()[index], primary=index == study.reference, nominal_min=None,
        minutes_after_injection=measured.minutes_after_injection)
    return ExportStudy(pet=pet, ct=ct_volume, record=study.timepoint_record(index), masks=masks, subject=subject,
                       session=session, name=str(measured.path), timepoint=timepoint)


def stored_studies(db: str | None, patients: Sequence[str] = ()) -> list[StoredStudy]:
    """Every measured PET time point of every study of the store (of ``patients`` when given).

    Studies are ordered by patient, then by the primary PET's scan time
    (sessions 1, 2, ...); a study's time points by their scan time (runs 1,
    2, ..., :class:`TimePoint`).

    Raises
    ------
    InputError
        A given patient is not in the store; a selected study has no stored
        measurement (it failed, or was never measured), or a measurement
        without its PET series; the store has no study.
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from ..store import Patient, normalise_url, open_store, safe_url, store_base_dir

    url = normalise_url(db)
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not Path(parsed.database).is_file():
        raise InputError(f"--db {safe_url(url)}: no such store file; run gliopet analyze first")
    engine = open_store(db)
    source = safe_url(url)
    out: list[StoredStudy] = []
    try:
        base = store_base_dir(engine)
        with Session(engine) as session:
            known = list(session.scalars(sa.select(Patient).order_by(Patient.id)))
            wanted = set(patients)
            missing = wanted - {p.patient_id for p in known}
            if missing:
                raise InputError(f"--patient: {len(missing)} of the patients given are not in the store {source}")
            chosen = [p for p in known if not wanted or p.patient_id in wanted]
            labels = subject_labels(p.patient_id for p in chosen)
            for patient in chosen:
                studies = [_study_timepoints(study, labels[patient.patient_id], base, source)
                           for study in patient.studies]
                for index, (_, timepoints) in enumerate(sorted(studies, key=lambda s: s[0]), start=1):
                    out.extend(_in_session(t, str(index)) for t in timepoints)
    finally:
        engine.dispose()
    if not out:
        raise InputError(f"{source}: no measured study to export; run gliopet analyze first")
    return out


def _scan_datetime(record: dict[str, Any]) -> str:
    """The scan reference date and time the record's SUV used (ISO text; empty when undated)."""
    return str(record.get("suv", {}).get("inputs", {}).get("scan_reference_datetime", {}).get("value") or "")


def _in_session(stored: StoredStudy, session: str) -> StoredStudy:
    reference = None if stored.reference is None else dataclasses.replace(stored.reference, session=session)
    return dataclasses.replace(stored, session=session, reference=reference)


def _study_timepoints(study, subject: str, base, source: str) -> tuple[str, list[StoredStudy]]:
    """One stored study's time points (session not yet numbered) and the key that orders its session."""
    from ..paths import resolve_kept_path

    primary = [m for m in study.measurements if m.primary]
    if study.status != "done" or not primary:
        raise InputError(f"{source}: the study in {study.folder} has no stored measurement "
                         f"(status {study.status}); measure it again with gliopet analyze "
                         "--redo, or leave its patient out (--patient)")
    series = {s.series_uid: s for s in study.series}
    cts = [s for s in study.series if s.role == "ct"]
    ct_folder = resolve_kept_path(cts[0].folder, base) if cts else None
    rows = sorted(study.measurements, key=lambda m: (_scan_datetime(m.record), m.series_uid))
    for row in rows:
        if row.series_uid not in series:
            when = "its measurement" if row.primary else f"its measurement at {row.scan_time_min} min"
            raise InputError(f"{source}: the study in {study.folder} has no stored PET series for {when}")
    stored = [StoredStudy(pet_folder=resolve_kept_path(series[row.series_uid].folder, base), ct_folder=ct_folder,
                          record=dict(row.record), subject=subject, session="", study_folder=study.folder,
                          timepoint=TimePoint(run=run, primary=bool(row.primary), nominal_min=row.scan_time_min))
              for run, row in enumerate(rows, start=1)]
    reference = next(s for s in stored if s.timepoint.primary)
    stored = [s if s is reference else dataclasses.replace(s, reference=reference) for s in stored]
    return f"{_scan_datetime(primary[0].record)}\0{study.study_uid}", stored


def _values_agree(stored: dict[str, Any], again: dict[str, Any]) -> bool:
    keys = ("suvmax", "suvpeak", "bg_suvmax", "bg_suvmean")
    for k in keys:
        if stored.get(k) is None or again.get(k) is None:
            if stored.get(k) is not again.get(k):
                return False
        elif not math.isclose(float(stored[k]), float(again[k]), rel_tol=REMEASURE_REL_TOL):
            return False
    if int(stored["btv"]["n_voxels"]) != int(again["btv"]["n_voxels"]):
        return False
    tol = 10.0 ** -RECORD_CENTRE_DECIMALS
    return all(np.allclose(stored[roi]["centre_ijk"], again[roi]["centre_ijk"], atol=tol)
               for roi in ("lesion", "background"))


def _remeasured(stored: StoredStudy, pet: PetImage, ct: Volume | None) -> RoiMasks:
    """Measure the time point again (a non-primary one with the primary as the reference); checked, its masks."""
    from ..study import TracerPreset, measure_study_files

    primary = stored.reference if stored.reference is not None else stored
    inputs = primary.record.get("inputs", {})
    lesion, background = inputs.get("lesion", "auto"), inputs.get("background", "auto")
    if lesion not in ("auto",) and not Path(str(lesion)).exists() and "," not in str(lesion):
        raise MeasurementError(f"{stored.study_folder}: the record's lesion input is no longer available; its ROI "
                               "masks cannot be rebuilt")
    others = [] if stored.reference is None else [stored.pet_folder]
    # no primary_time_min: the first PET given, the primary, is the reference (as analyze chose it); the
    # tracer preset (with its overrides), summed window and BTV factor as recorded
    tracer, frames = inputs.get("tracer"), inputs.get("frames")
    study = measure_study_files(primary.pet_folder, ct=primary.ct_folder, lesion=str(lesion),
                                background=str(background), suv_type=primary.record.get("suv_type", "bw"),
                                timepoints=others, tracer=None if tracer is None else TracerPreset.from_dict(tracer),
                                frames=None if frames is None else tuple(frames), btv_factor=inputs.get("btv_factor"))
    again = study.pets[-1] if others else study.primary
    if not _values_agree(stored.record, again.to_dict()):
        which = "" if not others else f" of its PET {stored.pet_folder.name}"
        raise MeasurementError(f"{stored.study_folder}: measured again, the study does not give the stored "
                               f"values (SUVmax, SUVpeak, background, BTV){which}; analyse it again (gliopet "
                               "analyze --redo) before exporting")
    masks = masks_from_measurement(pet.volume, again.measurement)
    how = {"lesion": "rebuilt", "peak": "rebuilt", "background": "re-measured" if masks.background_kind ==
           "crescent" else "rebuilt", "btv": "re-measured"}
    return RoiMasks(lesion=masks.lesion, background=masks.background, peak=masks.peak, btv=masks.btv,
                    background_kind=masks.background_kind, how=how)


def load_stored_study(stored: StoredStudy, *, with_ct: bool = False) -> ExportStudy:
    """Read a stored time point's PET (and the study's CT) and make its ROI masks (rebuilt, else re-measured).

    Raises
    ------
    GliopetError
        The series cannot be read, or the ROIs cannot be given back (see the module's docstring).
    """
    from ..study import read_measured_pet

    suv_type = stored.record.get("suv_type", "bw")
    # a dynamic series was measured on its frames summed over the recorded window (the primary's inputs)
    frames = stored.record.get("inputs", {}).get("frames") if stored.reference is None else None
    pet = read_measured_pet(stored.pet_folder, suv_type=suv_type, frames=None if frames is None else tuple(frames))
    _require_dicom_pet(pet)
    ct = read_ct(stored.ct_folder) if with_ct and stored.ct_folder is not None else None
    try:
        masks = rebuild_masks(pet.volume, stored.record)
    except CrescentNotRebuildable:
        masks = None
    if masks is None:
        logger.info("%s: ROI masks of %s not rebuildable from the record; measuring again", stored.study_folder,
                    stored.pet_folder.name)
        masks = _remeasured(stored, pet, ct)
    timepoint = (None if stored.timepoint is None else
                 dataclasses.replace(stored.timepoint, minutes_after_injection=pet.minutes_after_injection))
    return ExportStudy(pet=pet, ct=ct, record=stored.record, masks=masks, subject=stored.subject,
                       session=stored.session, name=str(stored.pet_folder), timepoint=timepoint)


def pet_source_headers(pet: PetImage) -> list[pydicom.Dataset]:
    """The PET's DICOM headers (no pixels) in slice order ``k`` = 0, 1, ... (the volume's provenance).

    Raises
    ------
    DicomError
        The provenance does not list one single-frame file per slice.
    """
    _require_dicom_pet(pet)
    files = list(pet.volume.provenance.get("files", []))
    if len(files) != pet.volume.shape[0]:
        raise DicomError(f"{pet.path}: {len(files)} files for {pet.volume.shape[0]} slices; the export needs one "
                         "single-frame PET file per slice")
    return [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
