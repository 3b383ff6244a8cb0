"""NIfTI in and out through nibabel, converting RAS <-> LPS at this boundary only.

nibabel gives ``data[i, j, k]`` and an affine from ``(i, j, k, 1)`` to RAS mm.
gliopet's :class:`~gliopet.volume.Volume` holds ``array[k, j, i]`` and an affine
to LPS mm, so reading transposes the array and flips the first two world axes:
``affine_lps = diag(-1, -1, 1, 1) @ affine_ras``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np

from ..atomic import replacing
from ..errors import GliopetError
from ..volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["read_nifti", "write_nifti", "nifti_to_volume", "volume_to_nifti", "RAS_TO_LPS"]

#: Flips x and y: RAS <-> LPS (its own inverse).
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


class NiftiError(GliopetError):
    """A NIfTI file cannot be used."""


def nifti_to_volume(image: nib.spatialimages.SpatialImage, *, provenance: dict | None = None,
                    dtype: type = np.float32) -> Volume:
    """Convert a nibabel image (RAS) to a :class:`Volume` (LPS, ``[k, j, i]``)."""
    data = np.asanyarray(image.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise NiftiError(f"NIfTI image must be 3-D, got shape {data.shape}")
    if np.issubdtype(data.dtype, np.floating) or dtype is not None:
        data = np.asarray(data, dtype=dtype)
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    affine = RAS_TO_LPS @ np.asarray(image.affine, dtype=np.float64)
    return Volume(array, affine, provenance or {})


def volume_to_nifti(volume: Volume) -> nib.Nifti1Image:
    """Convert a :class:`Volume` to a NIfTI-1 image (RAS), world positions preserved."""
    data = np.ascontiguousarray(np.asarray(volume.array).transpose(2, 1, 0))
    affine = RAS_TO_LPS @ volume.affine
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm", "sec")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    return image


def read_nifti(path: str | Path, *, dtype: type = np.float32) -> Volume:
    """Read a ``.nii`` / ``.nii.gz`` file into a :class:`Volume` in LPS.

    Raises
    ------
    NiftiError
        The file is missing, not NIfTI, or not 3-D.
    """
    path = Path(path)
    try:
        image = nib.load(str(path))
    except FileNotFoundError:
        raise NiftiError(f"{path}: no such file") from None
    except Exception as exc:  # nibabel raises many types for unreadable files
        raise NiftiError(f"{path}: not a readable NIfTI file ({type(exc).__name__})") from None
    try:
        return nifti_to_volume(image, provenance={"files": [str(path)], "format": "nifti"},
                               dtype=dtype)
    except NiftiError as exc:
        raise NiftiError(f"{path}: {exc}") from None


def write_nifti(volume: Volume, path: str | Path) -> Path:
    """Write ``volume`` to ``path`` (NIfTI-1, RAS); written to a temporary file then renamed."""
    path = Path(path)
    with replacing(path) as tmp:
        nib.save(volume_to_nifti(volume), str(tmp))
    return path
