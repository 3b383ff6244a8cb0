"""Simulated patients: head phantoms, PET/CT acquisition with OSEM, DICOM, cohorts."""

from .phantom import HeadModel, Lesion, build_head_model, random_lesion, sample_head, sample_lesion
from .physics import decay_factor, frame_decay_correction, hu_to_mu_511_per_cm
from .pose import HeadPose, random_pose
from .tracers import Nuclide, Tracer, load_tracer, tracer_names

__all__ = [
    "HeadModel", "Lesion", "build_head_model", "random_lesion", "sample_head", "sample_lesion",
    "decay_factor", "frame_decay_correction", "hu_to_mu_511_per_cm",
    "HeadPose", "random_pose",
    "Nuclide", "Tracer", "load_tracer", "tracer_names",
]
