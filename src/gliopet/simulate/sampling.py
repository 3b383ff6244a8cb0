"""Step 1 of a simulated patient: sample the patient (pose, lesion, dates, anatomy on each grid, noise).

:func:`sample_patient` makes every random draw of a patient's PET/CT, in a
fixed order from the patient's generator (pose, lesion, timeline, birth date,
CT noise, the Poisson uniforms of each PET scan), so that the later steps
(acquisition, pilots, DICOM, truth) are deterministic functions of what it
returns. The MR study (:mod:`gliopet.simulate.mr`) draws from the same
generator afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Mapping

import numpy as np
from scipy import ndimage

from .dicom_writer import PatientInfo, StudyInfo, deterministic_uid
from .grids import CT_GRID, PET_GRID
from .phantom import TISSUE_HU, Lesion, LesionSample, centrum_semiovale_lps_mm, random_lesion, sample_head, \
    sample_lesion
from .physics import hu_to_mu_511_per_cm
from .pose import HeadPose, random_pose
from .projector import CLINICAL_GEOMETRY
from .tissue_images import ct_hu, ct_maps, head_model, hu_map
from .tracers import Tracer, load_tracer

if TYPE_CHECKING:
    from .specs import PatientSpec

__all__ = ["Timeline", "SampledPatient", "sample_patient", "HEMISPHERES", "LESION_MASK_FRACTION",
           "LESION_NEAR_VOXELS"]

#: Acquisition period of the study (August 2020 to July 2022).
_FIRST_DAY = datetime(2020, 8, 3)
_N_DAYS = 700
#: CT noise (HU, standard deviation per voxel).
_CT_NOISE_HU = 4.0
#: The lesion VOI on the PET grid: voxels at least this fraction viable lesion or necrotic core.
LESION_MASK_FRACTION = 0.5
#: Voxels (26-connected dilations) around the lesion VOI searched for the lesion's hottest voxel.
LESION_NEAR_VOXELS = 3
HEMISPHERES = ("left", "right")


@dataclass(frozen=True)
class Timeline:
    """A patient's dates: MRI, injection, CT and the start of each PET scan."""

    mri: datetime
    injection: datetime
    ct: datetime
    scans: tuple[datetime, ...]


@dataclass(frozen=True)
class SampledPatient:
    """Everything random about one patient's PET/CT, and the anatomy sampled on the PET and CT grids.

    ``lesion`` carries a placeholder uptake (the pilots set it); arrays are
    ``[k, j, i]`` on the PET grid unless named ``ct_``; positions are LPS mm
    in the PET/CT frame of reference.
    """

    seed: int
    spec: PatientSpec
    tracer: Tracer
    pose: HeadPose
    lesion: Lesion
    timeline: Timeline
    patient: PatientInfo
    study: StudyInfo
    pet_fractions: Mapping[str, np.ndarray]
    pet_lesion: LesionSample
    ct_hu: np.ndarray  # float32 with noise; the series stores it rounded
    mu_per_cm: np.ndarray  # 511 keV attenuation on the PET grid
    lesion_mask: np.ndarray  # bool: the lesion VOI (written as lesion_mask.nii.gz)
    lesion_near: np.ndarray  # bool: the VOI dilated by LESION_NEAR_VOXELS
    lesion_centre_lps_mm: np.ndarray
    centrum_semiovale_lps_mm: Mapping[str, np.ndarray]  # per hemisphere
    contralateral: str
    uniforms: tuple[np.ndarray, ...]  # per scan: the Poisson draws' uniforms, sinogram shape

    def uid(self, *parts: str) -> str:
        """A UID of this patient's PET/CT: ``deterministic_uid`` of the seed, the patient and ``parts``."""
        return deterministic_uid(str(self.seed), self.spec.patient_id, *parts)


def _timeline(spec: PatientSpec, rng: np.random.Generator) -> Timeline:
    day = _FIRST_DAY + timedelta(days=int(rng.integers(0, _N_DAYS)))
    injection = day.replace(hour=8) + timedelta(minutes=int(rng.integers(30, 180)), seconds=int(rng.integers(0, 60)))
    scans = tuple(injection + timedelta(minutes=t, seconds=int(rng.integers(0, 240))) for t in spec.scan_times_min)
    ct = scans[0] - timedelta(minutes=2)
    mri = (day - timedelta(days=int(rng.integers(5, 15)))).replace(hour=14, minute=int(rng.integers(0, 60)))
    return Timeline(mri=mri, injection=injection, ct=ct, scans=scans)


def sample_patient(spec: PatientSpec, *, seed: int, rng: np.random.Generator) -> SampledPatient:
    """Draw one patient's pose, lesion, dates, CT noise and Poisson uniforms from ``rng``, in that order.

    Parameters
    ----------
    spec : PatientSpec
    seed : int
        Cohort seed (for the UIDs).
    rng : numpy.random.Generator
        The patient's generator; the MR study continues drawing from it.
    """
    tracer = load_tracer(spec.tracer)
    head = head_model()
    pose = random_pose(rng, pivot_lps_mm=head.pivot_lps_mm)
    lesion = random_lesion(rng, head, lobe=spec.lobe, hemisphere=spec.hemisphere, suv=1.0,
                           radius_mm=spec.lesion_radius_mm, necrosis=spec.necrosis,
                           necrosis_relative=tracer.necrosis_relative)
    timeline = _timeline(spec, rng)
    uid = lambda *parts: deterministic_uid(str(seed), spec.patient_id, *parts)  # noqa: E731
    birth = timeline.injection - timedelta(days=int(365.25 * spec.age_years) + int(rng.integers(1, 360)))
    patient = PatientInfo(name=spec.name, patient_id=spec.patient_id, birth_date=birth.strftime("%Y%m%d"),
                          sex=spec.sex, age_years=spec.age_years, weight_kg=spec.weight_kg, height_m=spec.height_m)
    study = StudyInfo(study_uid=uid("petct-study"), frame_of_reference_uid=uid("petct-for"),
                      study_datetime=timeline.ct, accession_number=f"SIMA{spec.index:05d}",
                      study_id=f"{spec.index}", description="PET-CT^Brain")
    pet_frac = sample_head(head, pose=pose, grid_affine=PET_GRID.affine, grid_shape=PET_GRID.shape)
    pet_les = sample_lesion(lesion, pose=pose, grid_affine=PET_GRID.affine, grid_shape=PET_GRID.shape)
    ct_frac = sample_head(head, pose=pose, grid_affine=CT_GRID.affine, grid_shape=CT_GRID.shape,
                          maps=ct_maps(), cval={"hu": TISSUE_HU["air"]})
    ct_les = sample_lesion(lesion, pose=pose, grid_affine=CT_GRID.affine, grid_shape=CT_GRID.shape, subsamples=2)
    hu_ct = ct_hu(ct_frac, ct_les) + rng.normal(0.0, _CT_NOISE_HU, size=CT_GRID.shape).astype(np.float32)
    # The attenuation map: the CT's tissue model on the PET grid, converted bilinearly to 511 keV.
    mu_per_cm = hu_to_mu_511_per_cm(hu_map(pet_frac, pet_les)).astype(np.float32)
    mask = (pet_les.lesion_fraction + pet_les.necrosis_fraction) >= LESION_MASK_FRACTION
    sino_shape = (PET_GRID.shape[0], CLINICAL_GEOMETRY.n_views, CLINICAL_GEOMETRY.n_bins)
    uniforms = tuple(rng.random(sino_shape) for _ in spec.scan_times_min)
    return SampledPatient(
        seed=seed, spec=spec, tracer=tracer, pose=pose, lesion=lesion, timeline=timeline, patient=patient,
        study=study, pet_fractions=pet_frac, pet_lesion=pet_les, ct_hu=hu_ct, mu_per_cm=mu_per_cm,
        lesion_mask=mask, lesion_near=ndimage.binary_dilation(mask, iterations=LESION_NEAR_VOXELS),
        lesion_centre_lps_mm=pose.to_patient_mm(np.asarray(lesion.centre_lps_mm)),
        centrum_semiovale_lps_mm={h: pose.to_patient_mm(centrum_semiovale_lps_mm(h)) for h in HEMISPHERES},
        contralateral="left" if spec.hemisphere == "right" else "right", uniforms=uniforms)
