"""The MNI152 template and its tissue maps, as shipped inside nilearn's wheel.

nilearn ships the ICBM 2009a symmetric T1 template and its grey- and white-matter
probability maps (``nilearn/datasets/data``, 1 mm); nothing is downloaded. CSF is
not shipped: it is approximated as the brain mask minus grey and white matter.
Volumes are returned in LPS (converted from RAS here, at the io boundary).

The files are read directly with nibabel rather than through
``nilearn.datasets``: importing that module and its on-the-fly resampling cost
several seconds per process, for a result that is a plain computation. Each
map is scaled to 0..1 by its maximum; the 2 mm grid keeps the 1 mm grid's
origin, so its voxels are the 1 mm voxels of even index (what nilearn's
``resolution=2`` gives, checked against nilearn in the tests); the brain mask
is the scaled T1 above :data:`BRAIN_MASK_THRESHOLD` (nilearn's default).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from ..errors import GliopetError
from ..volume import Volume
from .nifti import nifti_to_volume

__all__ = ["MniTemplate", "load_mni152", "template_files", "BRAIN_MASK_THRESHOLD"]

#: Scaled T1 intensity above which a voxel is brain (nilearn's ``load_mni152_brain_mask`` default).
BRAIN_MASK_THRESHOLD = 0.2

_FILES = {
    "t1": "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
    "gm": "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
    "wm": "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz",
}


@dataclass(frozen=True)
class MniTemplate:
    """MNI152 maps on one grid (LPS): T1 intensity, GM/WM/CSF probability, brain mask."""

    t1: Volume
    gm: Volume
    wm: Volume
    csf: Volume
    brain_mask: Volume


def template_files() -> dict[str, Path]:
    """Paths of the 1 mm template files inside the installed nilearn (no import of nilearn)."""
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise GliopetError("nilearn is not installed: the MNI152 template ships inside its wheel")
    data = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    files = {name: data / filename for name, filename in _FILES.items()}
    for name, path in files.items():
        if not path.is_file():
            raise GliopetError(f"{path}: MNI152 {name} map missing from the nilearn installation")
    return files


def _scaled_map(path: Path, step: int) -> nib.Nifti1Image:
    image = nib.load(str(path))
    data = np.asarray(image.dataobj, dtype=np.float32)
    data /= data.max()
    affine = image.affine.copy()
    if step > 1:
        data = np.ascontiguousarray(data[::step, ::step, ::step])
        affine[:3, :3] = affine[:3, :3] * step
    return nib.Nifti1Image(data, affine)


@lru_cache(maxsize=2)
def load_mni152(resolution_mm: int = 2) -> MniTemplate:
    """Load the template at 1 or 2 mm (cached: the files are read once per process)."""
    if resolution_mm not in (1, 2):
        raise ValueError(f"resolution_mm must be 1 or 2, got {resolution_mm}")
    files = template_files()
    prov = {"source": "nilearn MNI152 (ICBM 2009a sym)", "resolution_mm": resolution_mm}
    images = {name: _scaled_map(path, resolution_mm) for name, path in files.items()}
    t1 = nifti_to_volume(images["t1"], provenance={**prov, "map": "t1"})
    gm = nifti_to_volume(images["gm"], provenance={**prov, "map": "gm"})
    wm = nifti_to_volume(images["wm"], provenance={**prov, "map": "wm"})
    mask_array = (t1.array > BRAIN_MASK_THRESHOLD).astype(np.float32)
    csf_array = np.clip(mask_array - gm.array - wm.array, 0.0, 1.0).astype(np.float32)
    return MniTemplate(t1=t1, gm=gm, wm=wm, csf=t1.with_array(csf_array, map="csf"),
                       brain_mask=t1.with_array(mask_array, map="brain_mask"))
