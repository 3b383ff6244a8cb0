"""Several PET time points of one patient (the study's 30 and 60 minute scans), measured with the same ROIs."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Sequence

import numpy as np

from ..errors import MeasurementError
from ..volume import Volume
from ._record import Measurement, measure_rois
from ._rois import RegionRoi
from ._study import measure_pet

logger = logging.getLogger(__name__)

__all__ = ["measure_timepoints"]


def measure_timepoints(pets: Sequence[Volume], *, ct: Volume | None = None, lesion: Any = "auto",
                       background: Any = "auto", reference: int = 0, register: bool = True, template=None,
                       names: Sequence[str] | None = None) -> list[Measurement]:
    """Measure every PET of one patient with the ROIs of the reference time point.

    The reference PET (``pets[reference]``, the one the CT belongs to) is
    measured by :func:`measure_pet`. Every other PET is registered rigidly to
    it (:func:`gliopet.brain.register_rigid`, mutual information; skipped
    with ``register=False`` when the scans share one frame of reference
    without movement), and the reference's lesion VOI, brain mask and
    background (circle centre, or crescent region) are carried onto that
    PET's own grid: the VOI and masks by nearest neighbour, the circle
    centre as a point. Each time point is then measured on its own voxels
    (no resampling of SUVs): the 1 cm circle on the hottest voxel of the
    carried VOI, the same background position, SUVpeak, BTV and TBRs.

    Returns
    -------
    list of Measurement
        In the order of ``pets``; ``extra["timepoint"]`` gives the index, the
        reference and the registration (rotation in degrees, metric, matrix).

    Raises
    ------
    MeasurementError
        Fewer than one PET, a reference index out of range, or a failed registration.
    """
    from ..brain import register_rigid
    from ..brain._register import resample_mask_to

    if not pets:
        raise MeasurementError("no PET time point to measure")
    if not 0 <= reference < len(pets):
        raise MeasurementError(f"reference time point {reference} is not one of 0..{len(pets) - 1}")
    names = list(names) if names is not None else [f"PET time point {i}" for i in range(len(pets))]
    ref_pet = pets[reference]
    ref = measure_pet(ref_pet, ct=ct, lesion=lesion, background=background, template=template,
                      pet_name=names[reference])
    out: list[Measurement] = []
    for index, pet in enumerate(pets):
        if index == reference:
            out.append(dataclasses.replace(ref, extra={**ref.extra, "timepoint": {
                "index": index, "reference": reference, "registration": None}}))
            continue
        if register:
            fit = register_rigid(pet, ref_pet, fixed_name=names[index], moving_name=names[reference])
            here_to_ref = fit.fixed_to_moving
            registration = {"rotation_deg": round(fit.rotation_deg(), 3), "metric": round(fit.metric, 5),
                            "timepoint_to_reference_lps": np.round(here_to_ref, 5).tolist()}
        else:
            here_to_ref = np.eye(4)
            registration = {"rotation_deg": 0.0, "metric": None, "timepoint_to_reference_lps": here_to_ref.tolist()}
        voi = resample_mask_to(ref.voi, ref_pet, pet, target_to_source=here_to_ref)
        if not voi.any():
            raise MeasurementError(f"{names[index]}: the lesion VOI of {names[reference]} falls outside this PET")
        brain = (None if ref.brain_mask is None
                 else resample_mask_to(ref.brain_mask, ref_pet, pet, target_to_source=here_to_ref))
        kwargs: dict[str, Any] = {}
        if isinstance(ref.background, RegionRoi):
            kwargs["background_mask"] = resample_mask_to(ref.background.mask, ref_pet, pet,
                                                         target_to_source=here_to_ref)
        else:
            ref_to_here = np.linalg.inv(here_to_ref)
            centre = ref_to_here[:3, :3] @ np.asarray(ref.background.centre_lps_mm) + ref_to_here[:3, 3]
            kwargs["background_centre_ijk"] = tuple(float(v) for v in pet.xyz_mm_to_ijk(centre))
            kwargs["background_diameter_mm"] = ref.background.diameter_mm
        m = measure_rois(pet, voi_mask=voi, lesion_method=ref.lesion.method,
                         background_method=ref.background.method, brain_mask=brain, **kwargs)
        out.append(dataclasses.replace(m, extra={**m.extra, "timepoint": {
            "index": index, "reference": reference, "registration": registration}}))
    return out
