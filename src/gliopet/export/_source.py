"""What an export is made from: one measured study, its PET (and CT), its record and its ROI masks.

Two ways in:

* :func:`study_from_record`: a study just measured (``gliopet measure --seg
  --sr``): the typed :class:`~gliopet.study.StudyRecord`; the masks are the
  measurement's own (:func:`gliopet.export._masks.masks_from_measurement`).
* :func:`stored_studies` then :func:`load_stored_study`: a study in the
  store. The PET (and the CT) are read again from the stored series
  folders, and the ROI masks are rebuilt from the stored record's geometry
  (:func:`gliopet.export._masks.rebuild_masks`: the circles and the SUVpeak
  sphere exactly; the BTV regrown from the stored seed and threshold and
  accepted only when it has the stored voxel count, which makes it the same
  region). Where the record cannot give a ROI back (a crescent background,
  or a BTV that the brain mask had limited), the study is measured again
  through :func:`gliopet.study.measure_study_files` with the stored options
  (``auto`` is deterministic: ITK on one thread) and the new measurement is
  used only if its SUVmax, SUVpeak, background SUVmax and mean, BTV voxel
  count and ROI centres equal the stored ones; else an error.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pydicom

from ..errors import DicomError, InputError, MeasurementError
from ..io.images import PetImage, read_ct, read_pet
from ..volume import Volume
from ._files import subject_labels
from ._masks import CrescentNotRebuildable, RoiMasks, masks_from_measurement, rebuild_masks

logger = logging.getLogger(__name__)

__all__ = ["ExportStudy", "StoredStudy", "study_from_record", "stored_studies", "load_stored_study",
           "pet_source_headers", "REMEASURE_REL_TOL"]

#: A re-measurement must give the stored values to this relative tolerance (the same code on the
#: same pixels; only the last bits of floating-point sums may differ).
REMEASURE_REL_TOL = 1e-9
#: ROI centres kept in the record are rounded to this many decimals (mm and voxel indices).
RECORD_CENTRE_DECIMALS = 3


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
    """

    pet: PetImage
    ct: Volume | None
    record: dict[str, Any]
    masks: RoiMasks
    subject: str
    session: str
    name: str

    @property
    def stem(self) -> str:
        return f"sub-{self.subject}_ses-{self.session}"


@dataclass(frozen=True)
class StoredStudy:
    """A stored study's pointers: folders (absolute), the primary measurement's record, labels."""

    pet_folder: Path
    ct_folder: Path | None
    record: dict[str, Any]
    subject: str
    session: str
    study_folder: str


def _require_dicom_pet(pet: PetImage) -> None:
    if pet.suv is None:
        raise InputError(f"{pet.path}: a NIfTI PET has no DICOM instances to reference; DICOM SEG and SR "
                         "exports need a DICOM PET")


def study_from_record(study, *, ct: str | Path | None = None, subject: str = "1", session: str = "1") -> ExportStudy:
    """The export of a study just measured (a :class:`gliopet.study.StudyRecord`).

    The PET is read again (the same files give the same volume) for its
    geometry and file list; the masks are the measurement's own.
    """
    primary = study.primary
    pet = read_pet(primary.path, suv_type=study.suv_type)
    ct_volume = read_ct(ct) if ct is not None else None
    masks = masks_from_measurement(pet.volume, primary.measurement)
    return ExportStudy(pet=pet, ct=ct_volume, record=study.to_dict(), masks=masks, subject=subject,
                       session=session, name=str(primary.path))


def stored_studies(db: str | None, patients: Sequence[str] = ()) -> list[StoredStudy]:
    """Every study of the store (of ``patients`` when given) with its primary measurement.

    Raises
    ------
    InputError
        A given patient is not in the store; a selected study has no stored
        measurement (it failed, or was never measured); the store has no study.
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from ..paths import resolve_kept_path
    from ..store import MeasurementRow, Patient, normalise_url, open_store, safe_url, store_base_dir

    url = normalise_url(db)
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:" \
            and not Path(parsed.database).is_file():
        raise InputError(f"--db {safe_url(url)}: no such store file; run gliopet analyze first")
    engine = open_store(db)
    source = safe_url(url)
    try:
        base = store_base_dir(engine)
        with Session(engine) as session:
            query = sa.select(Patient).order_by(Patient.id)
            known = list(session.scalars(query))
            wanted = set(patients)
            missing = wanted - {p.patient_id for p in known}
            if missing:
                raise InputError(f"--patient: {len(missing)} of the patients given are not in the store {source}")
            chosen = [p for p in known if not wanted or p.patient_id in wanted]
            labels = subject_labels(p.patient_id for p in chosen)
            out: list[StoredStudy] = []
            for patient in chosen:
                studies: list[tuple[str, StoredStudy]] = []
                for study in patient.studies:
                    primary = [m for m in study.measurements if m.primary]
                    if study.status != "done" or not primary:
                        raise InputError(f"{source}: the study in {study.folder} has no stored measurement "
                                         f"(status {study.status}); measure it again with gliopet analyze "
                                         "--redo, or leave its patient out (--patient)")
                    row: MeasurementRow = primary[0]
                    series = {s.series_uid: s for s in study.series}
                    pet = series.get(row.series_uid)
                    cts = [s for s in study.series if s.role == "ct"]
                    if pet is None:
                        raise InputError(f"{source}: the study in {study.folder} has no stored PET series for "
                                         "its measurement")
                    when = str(row.record.get("suv", {}).get("inputs", {}).get("scan_reference_datetime", {})
                               .get("value") or "")
                    studies.append((f"{when}\0{study.study_uid}", StoredStudy(
                        pet_folder=resolve_kept_path(pet.folder, base),
                        ct_folder=resolve_kept_path(cts[0].folder, base) if cts else None,
                        record=dict(row.record), subject=labels[patient.patient_id], session="",
                        study_folder=study.folder)))
                for index, (_, stored) in enumerate(sorted(studies, key=lambda s: s[0]), start=1):
                    out.append(StoredStudy(**{**stored.__dict__, "session": str(index)}))
    finally:
        engine.dispose()
    if not out:
        raise InputError(f"{source}: no measured study to export; run gliopet analyze first")
    return out


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
    from ..study import measure_study_files

    inputs = stored.record.get("inputs", {})
    lesion, background = inputs.get("lesion", "auto"), inputs.get("background", "auto")
    if lesion not in ("auto",) and not Path(str(lesion)).exists() and "," not in str(lesion):
        raise MeasurementError(f"{stored.study_folder}: the record's lesion input is no longer available; its ROI "
                               "masks cannot be rebuilt")
    again = measure_study_files(stored.pet_folder, ct=stored.ct_folder, lesion=str(lesion),
                                background=str(background), suv_type=stored.record.get("suv_type", "bw"))
    if not _values_agree(stored.record, again.to_dict()):
        raise MeasurementError(f"{stored.study_folder}: measured again, the study does not give the stored "
                               "values (SUVmax, SUVpeak, background, BTV); analyse it again (gliopet analyze "
                               "--redo) before exporting")
    masks = masks_from_measurement(pet.volume, again.measurement)
    how = {"lesion": "rebuilt", "peak": "rebuilt", "background": "re-measured" if masks.background_kind ==
           "crescent" else "rebuilt", "btv": "re-measured"}
    return RoiMasks(lesion=masks.lesion, background=masks.background, peak=masks.peak, btv=masks.btv,
                    background_kind=masks.background_kind, how=how)


def load_stored_study(stored: StoredStudy, *, with_ct: bool = False) -> ExportStudy:
    """Read a stored study's PET (and CT) and make its ROI masks (rebuilt, else re-measured and checked).

    Raises
    ------
    GliopetError
        The series cannot be read, or the ROIs cannot be given back (see the module's docstring).
    """
    suv_type = stored.record.get("suv_type", "bw")
    pet = read_pet(stored.pet_folder, suv_type=suv_type)
    _require_dicom_pet(pet)
    ct = read_ct(stored.ct_folder) if with_ct and stored.ct_folder is not None else None
    try:
        masks = rebuild_masks(pet.volume, stored.record)
    except CrescentNotRebuildable:
        masks = None
    if masks is None:
        logger.info("%s: ROI masks not rebuildable from the record; measuring again", stored.study_folder)
        masks = _remeasured(stored, pet, ct)
    return ExportStudy(pet=pet, ct=ct, record=stored.record, masks=masks, subject=stored.subject,
                       session=stored.session, name=str(stored.pet_folder))


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
