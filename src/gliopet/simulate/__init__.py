"""Simulated patients: head phantoms, PET/CT acquisition with OSEM, DICOM, cohorts.

The demo and the validations call :func:`patient_specs_like` (or
:func:`random_patient_spec`) and :func:`simulate_cohort`; see docs/simulation.md.
"""

from .acquisition import BIOGRAPH_6_TRUEV, Scanner, reconstruct, simulate_sinograms
from .cohort import (CohortResult, PatientSpec, patient_specs_like, random_patient_spec, read_like_csv,
                     simulate_cohort, simulate_patient)
from .dicom_writer import (Flavour, PatientInfo, PetSeriesInfo, StudyInfo, deterministic_uid, write_ct_series,
                           write_mr_series, write_pet_series)
from .osem import osem
from .phantom import HeadModel, Lesion, build_head_model, random_lesion, sample_head, sample_lesion
from .physics import hu_to_mu_511_per_cm
from .pose import HeadPose, random_pose
from .projector import ProjectorGeometry, system_matrix
from .tracers import Nuclide, Tracer, load_tracer, tracer_names

__all__ = [
    "PatientSpec", "CohortResult", "patient_specs_like", "random_patient_spec", "read_like_csv",
    "simulate_cohort", "simulate_patient",
    "Flavour", "PatientInfo", "PetSeriesInfo", "StudyInfo", "deterministic_uid",
    "write_pet_series", "write_ct_series", "write_mr_series",
    "BIOGRAPH_6_TRUEV", "Scanner", "simulate_sinograms", "reconstruct", "osem",
    "ProjectorGeometry", "system_matrix",
    "HeadModel", "Lesion", "build_head_model", "random_lesion", "sample_head", "sample_lesion",
    "hu_to_mu_511_per_cm",
    "HeadPose", "random_pose",
    "Nuclide", "Tracer", "load_tracer", "tracer_names",
]
