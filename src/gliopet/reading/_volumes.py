"""A case's PET (SUV) and CT as NIfTI bytes stripped of every identifier, for the viewer.

Only voxels and geometry leave the server: the NIfTI header's free-text fields
(``descrip``, ``aux_file``, ``intent_name``, ``db_name``) are empty, there are
no extensions, and the file is named by the case code alone. The CT is
served on a grid coarsened in-plane (every second row and column) when it is
much finer than the PET, to keep it small.
"""

from __future__ import annotations

import gzip
import logging
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..errors import InputError
from ..io.images import read_ct, read_pet
from ..io.nifti import volume_to_nifti
from ..paths import resolve_kept_path
from ..store import STUDY_DONE, store_base_dir
from ..store._models import MeasurementRow, ReadingCase, Series, Study
from ..volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["CaseVolumes", "case_volumes", "nifti_bytes", "CT_COARSEN_ABOVE"]

#: The CT is coarsened in-plane when its slices hold more than this many times the PET's voxels.
CT_COARSEN_ABOVE = 4.0


@dataclass(frozen=True)
class CaseVolumes:
    """The served volumes of one case (gzipped NIfTI-1) and the PET as read (for checks)."""

    pet_nii_gz: bytes
    ct_nii_gz: bytes | None
    pet: Volume


def nifti_bytes(volume: Volume) -> bytes:
    """``volume`` as a gzipped NIfTI-1 file (float32, RAS) whose text fields are all empty."""
    image = volume_to_nifti(Volume(np.asarray(volume.array, dtype=np.float32), volume.affine))
    header = image.header
    for field in ("descrip", "aux_file", "intent_name", "db_name"):
        header[field] = b""
    image.extra = {}
    raw = image.to_bytes()
    return gzip.compress(raw, compresslevel=1, mtime=0)


def _coarsen(ct: Volume, pet: Volume) -> Volume:
    if ct.array.shape[1] * ct.array.shape[2] <= CT_COARSEN_ABOVE * pet.array.shape[1] * pet.array.shape[2]:
        return ct
    affine = ct.affine @ np.diag([2.0, 2.0, 1.0, 1.0])
    return Volume(np.ascontiguousarray(ct.array[:, ::2, ::2]), affine)


def case_volumes(engine: Engine, code: str) -> CaseVolumes:
    """Read the case's primary PET (SUV) and its CT from the store's kept folders.

    Raises
    ------
    InputError
        No such case, or its study is no longer stored as measured.
    """
    base = store_base_dir(engine)
    with Session(engine) as session:
        case = session.scalar(sa.select(ReadingCase).where(ReadingCase.code == code))
        if case is None:
            raise InputError("no such case")
        study = session.scalar(sa.select(Study).where(Study.patient_pk == case.patient_pk,
                                                      Study.study_uid == case.study_uid,
                                                      Study.status == STUDY_DONE))
        if study is None:
            raise InputError(f"case {code}: its study is not stored as measured")
        series = list(session.scalars(sa.select(Series).where(Series.study_pk == study.id).order_by(Series.id)))
        primary = session.scalar(sa.select(MeasurementRow.series_uid).where(MeasurementRow.study_pk == study.id,
                                                                            MeasurementRow.primary))
    pets = [s for s in series if s.role == "pet"]
    pet_series = next((s for s in pets if s.series_uid == primary), pets[0] if pets else None)
    if pet_series is None:
        raise InputError(f"case {code}: no PET series stored")
    pet = read_pet(resolve_kept_path(pet_series.folder, base)).volume
    cts = [s for s in series if s.role == "ct"]
    ct_bytes = None
    if cts:
        ct = _coarsen(read_ct(resolve_kept_path(cts[0].folder, base)), pet)
        ct_bytes = nifti_bytes(ct)
    return CaseVolumes(nifti_bytes(pet), ct_bytes, pet)
