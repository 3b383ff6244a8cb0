"""A case's PET (SUV) and CT as NIfTI bytes stripped of every identifier, for the viewer.

Only voxels and geometry leave the server: the NIfTI header's free-text fields
(``descrip``, ``aux_file``, ``intent_name``, ``db_name``) are empty, there are
no extensions, and the file is named by the case code alone. The PET is
float32 SUV (the value under the crosshair is the server's). The CT is served
as whole Hounsfield units (int16), on a grid coarsened in-plane (the mean of
each 2 x 2 block of voxels) when its slices hold clearly more voxels than the
PET's, to keep it small: it is the anatomy beneath the PET, not measured.
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

__all__ = ["CaseVolumes", "case_volumes", "coarsen_ct", "nifti_bytes", "CT_COARSEN_ABOVE"]

#: The CT is coarsened in-plane when its slices hold more than this many times the PET's voxels
#: (a 512 x 512 or 256 x 256 CT under a 168 x 168 PET is; a CT already at the PET's grid is not).
CT_COARSEN_ABOVE = 1.5


@dataclass(frozen=True)
class CaseVolumes:
    """The served volumes of one case (gzipped NIfTI-1)."""

    pet_nii_gz: bytes
    ct_nii_gz: bytes | None


def nifti_bytes(volume: Volume, dtype: type = np.float32) -> bytes:
    """``volume`` as a gzipped NIfTI-1 file (``dtype``, RAS) whose text fields are all empty."""
    array = np.asarray(volume.array)
    array = np.rint(array).astype(dtype) if np.issubdtype(dtype, np.integer) else array.astype(dtype)
    image = volume_to_nifti(Volume(array, volume.affine))
    header = image.header
    for field in ("descrip", "aux_file", "intent_name", "db_name"):
        header[field] = b""
    image.extra = {}
    raw = image.to_bytes()
    return gzip.compress(raw, compresslevel=1, mtime=0)


def coarsen_ct(ct: Volume, pet: Volume) -> Volume:
    """The CT as served: each 2 x 2 in-plane block averaged (a last odd row or column dropped) when its
    slices hold more than :data:`CT_COARSEN_ABOVE` times the PET's voxels; else the CT itself.

    A new voxel's centre is the mean of its four voxels' centres: index (i, j) maps to the old
    (2i + 0.5, 2j + 0.5).
    """
    k, j, i = ct.array.shape
    if j * i <= CT_COARSEN_ABOVE * pet.array.shape[1] * pet.array.shape[2]:
        return ct
    blocks = np.asarray(ct.array[:, : j - j % 2, : i - i % 2], dtype=np.float32)
    mean = blocks.reshape(k, j // 2, 2, i // 2, 2).mean(axis=(2, 4))
    scale = np.array([[2.0, 0, 0, 0.5], [0, 2.0, 0, 0.5], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    return Volume(mean, ct.affine @ scale)


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
        ct = coarsen_ct(read_ct(resolve_kept_path(cts[0].folder, base)), pet)
        ct_bytes = nifti_bytes(ct, np.int16)
    return CaseVolumes(nifti_bytes(pet), ct_bytes)
