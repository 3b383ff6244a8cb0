"""The MNI152 template and its tissue maps, as shipped inside nilearn's wheel.

nilearn ships the ICBM 2009a symmetric T1 template and its grey- and white-matter
probability maps (``nilearn/datasets/data``); nothing is downloaded. CSF is not
shipped: it is approximated as the brain mask minus grey and white matter.
Volumes are returned in LPS (converted from RAS here, at the io boundary).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..volume import Volume
from .nifti import nifti_to_volume

__all__ = ["MniTemplate", "load_mni152"]


@dataclass(frozen=True)
class MniTemplate:
    """MNI152 maps on one grid (LPS): T1 intensity, GM/WM/CSF probability, brain mask."""

    t1: Volume
    gm: Volume
    wm: Volume
    csf: Volume
    brain_mask: Volume


@lru_cache(maxsize=2)
def load_mni152(resolution_mm: int = 2) -> MniTemplate:
    """Load the template at 1 or 2 mm (cached: the files are read once per process)."""
    from nilearn import datasets

    if resolution_mm not in (1, 2):
        raise ValueError(f"resolution_mm must be 1 or 2, got {resolution_mm}")
    prov = {"source": "nilearn MNI152 (ICBM 2009a sym)", "resolution_mm": resolution_mm}
    t1 = nifti_to_volume(datasets.load_mni152_template(resolution=resolution_mm),
                         provenance={**prov, "map": "t1"})
    gm = nifti_to_volume(datasets.load_mni152_gm_template(resolution=resolution_mm),
                         provenance={**prov, "map": "gm"})
    wm = nifti_to_volume(datasets.load_mni152_wm_template(resolution=resolution_mm),
                         provenance={**prov, "map": "wm"})
    mask = nifti_to_volume(datasets.load_mni152_brain_mask(resolution=resolution_mm),
                           provenance={**prov, "map": "brain_mask"})
    mask_array = (mask.array > 0.5).astype(np.float32)
    csf_array = np.clip(mask_array - gm.array - wm.array, 0.0, 1.0).astype(np.float32)
    return MniTemplate(t1=t1, gm=gm, wm=wm, csf=mask.with_array(csf_array, map="csf"),
                       brain_mask=mask.with_array(mask_array))
