"""The MR study of a simulated patient: T1 (post-gadolinium), T2 and FLAIR, with its own head pose.

A separate study (own UIDs, frame of reference and date before the PET) so
that registration of MR to PET/CT has something to do. It draws from the
patient's generator after the PET/CT (:mod:`gliopet.simulate.sampling`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..volume import Volume
from .dicom_writer import PatientInfo, StudyInfo, deterministic_uid, write_mr_series
from .grids import MR_GRID
from .phantom import HeadModel, Lesion, centrum_semiovale_lps_mm, sample_head, sample_lesion
from .pose import random_pose
from .sampling import HEMISPHERES, Timeline
from .tissue_images import mr_images

if TYPE_CHECKING:
    from .specs import PatientSpec

__all__ = ["write_mr", "MR_SEQUENCES"]

#: Per series: repetition time (ms), echo time (ms), inversion time (ms or None), description.
MR_SEQUENCES = {"T1": (1860.0, 4.38, None, "t1_fl2d_tra_post"), "T2": (660.0, 105.0, None, "t2_tse_tra"),
                "FLAIR": (9000.0, 100.0, 2500.0, "t2_tirm_tra_dark-fluid")}


def _r(value: float, digits: int = 3) -> float:
    return float(round(float(value), digits))


def write_mr(spec: PatientSpec, out_dir: Path, *, head: HeadModel, lesion: Lesion, patient: PatientInfo,
             timeline: Timeline, head_scale: float, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """T1 (post-gadolinium), T2 and FLAIR of a separate MR study, with its own head pose.

    The pose's rotation and translation are the MR session's own; its scale is ``head_scale``, the
    PET/CT pose's: the same patient's head has one size (a rigid registration then has an exact answer).
    """
    uid = lambda *parts: deterministic_uid(str(seed), spec.patient_id, "mr", *parts)  # noqa: E731
    # The scale drawn with the pose is set aside (the draw is kept, so the generator's stream is unchanged).
    pose = replace(random_pose(rng, pivot_lps_mm=head.pivot_lps_mm), scale=float(head_scale))
    study = StudyInfo(study_uid=uid("study"), frame_of_reference_uid=uid("for"), study_datetime=timeline.mri,
                      accession_number=f"SIMM{spec.index:05d}", study_id=f"{spec.index}01",
                      description="MR^Brain")
    frac = sample_head(head, pose=pose, grid_affine=MR_GRID.affine, grid_shape=MR_GRID.shape)
    les = sample_lesion(lesion, pose=pose, grid_affine=MR_GRID.affine, grid_shape=MR_GRID.shape, subsamples=2)
    images = mr_images(frac, les, rng)
    series = {}
    for number, (name, (tr, te, ti, desc)) in enumerate(MR_SEQUENCES.items(), start=1):
        folder = out_dir / f"MR_{name}"
        folder.mkdir()
        series_uid = uid(name)
        write_mr_series(Volume(images[name], MR_GRID.affine), folder, patient=patient, study=study,
                        series_uid=series_uid, series_number=number, acquisition=timeline.mri, description=desc,
                        repetition_time_ms=tr, echo_time_ms=te, inversion_time_ms=ti)
        series[name] = {"folder": folder.name, "series_uid": series_uid}
    return {"study_uid": study.study_uid, "frame_of_reference_uid": study.frame_of_reference_uid,
            "date": timeline.mri.isoformat(), "pose": pose.as_dict(), "series": series,
            "lesion_centre_lps_mm": [_r(v, 3) for v in pose.to_patient_mm(np.asarray(lesion.centre_lps_mm))],
            "centrum_semiovale_lps_mm": {h: [_r(v, 3) for v in pose.to_patient_mm(centrum_semiovale_lps_mm(h))]
                                         for h in HEMISPHERES},
            "coordinates": "DICOM patient LPS, mm, in the MR frame of reference"}
