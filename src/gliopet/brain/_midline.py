"""The mid-sagittal plane, by the symmetry of the head."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

from ..errors import MeasurementError
from ..volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["MidsagittalPlane", "midsagittal_plane", "plane_from_template_fit"]

#: The scored region: the mask grown by this margin (skull and scalp count too).
SYMMETRY_MARGIN_MM = 8.0
#: Spacing of the points on which symmetry is scored.
SYMMETRY_SAMPLE_MM = 4.0
#: The image is smoothed before scoring so the score is smooth in the plane's parameters.
SYMMETRY_SMOOTH_MM = 4.0
#: Intensities are clipped to these percentiles of the sampled values, so a hot
#: lesion (PET) or metal (CT) cannot dominate the correlation.
SYMMETRY_CLIP_PERCENTILES = (1.0, 95.0)
#: Largest correction of the initial plane accepted (tilt in degrees, shift in mm).
MAX_TILT_CORRECTION_DEG = 20.0
MAX_SHIFT_CORRECTION_MM = 20.0
#: Fixed seed for the random subset of scoring points.
SYMMETRY_SEED = 20240602
SYMMETRY_MAX_POINTS = 15000
#: Nelder-Mead's first steps: tilt about two axes (degrees) and shift (mm).
SIMPLEX_STEPS = (6.0, 6.0, 5.0)


@dataclass(frozen=True)
class MidsagittalPlane:
    """The plane ``normal . x = offset_mm`` (LPS mm), ``normal`` a unit vector pointing to the patient's left.

    ``signed_distance_mm(x) > 0``: the patient's left hemisphere; ``< 0``: the right.
    ``symmetry`` is the correlation between the image and its mirror image
    about the plane (1 = perfectly symmetric).
    """

    normal: tuple[float, float, float]
    offset_mm: float
    symmetry: float

    def signed_distance_mm(self, xyz_lps_mm) -> np.ndarray:
        xyz = np.asarray(xyz_lps_mm, dtype=np.float64)
        return xyz @ np.asarray(self.normal) - self.offset_mm

    def side(self, xyz_lps_mm) -> str:
        """``"left"`` or ``"right"`` (the patient's) of one point."""
        return "left" if float(self.signed_distance_mm(xyz_lps_mm)) > 0 else "right"

    def to_dict(self) -> dict:
        return {"normal": [round(v, 5) for v in self.normal], "offset_mm": round(self.offset_mm, 3),
                "symmetry": round(self.symmetry, 4)}


def _oriented(normal: np.ndarray, offset: float) -> tuple[np.ndarray, float]:
    norm = np.linalg.norm(normal)
    normal, offset = normal / norm, offset / norm
    if normal[0] < 0:  # LPS +x is the patient's left
        normal, offset = -normal, -offset
    return normal, float(offset)


def plane_from_template_fit(patient_to_mni: np.ndarray) -> MidsagittalPlane:
    """The patient-space image of the template's mid-sagittal plane (MNI x = 0).

    A patient point p lies on it when ``(A p)_x = 0``, i.e.
    ``A[0, :3] . p = -A[0, 3]``.
    """
    a = np.asarray(patient_to_mni, dtype=np.float64)
    normal, offset = _oriented(a[0, :3].copy(), -a[0, 3])
    return MidsagittalPlane(normal=tuple(float(v) for v in normal), offset_mm=offset, symmetry=float("nan"))


def _basis(normal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.array([0.0, 0.0, 1.0]) if abs(normal[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(normal, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(normal, u)


def midsagittal_plane(image: Volume, *, mask: np.ndarray, initial: MidsagittalPlane | None = None) -> MidsagittalPlane:
    """Refine the mid-sagittal plane by maximising the head's mirror symmetry.

    Points inside ``mask`` (dilated by 8 mm, so the skull and scalp count too),
    on a :data:`SYMMETRY_SAMPLE_MM` lattice, are reflected about a candidate
    plane, ``x' = x - 2 (n.x - d) n``; the score is the Pearson correlation of
    the smoothed, percentile-clipped image at ``x`` and at ``x'``. Nelder-Mead
    maximises it over two tilt angles and the offset, starting from
    ``initial`` (e.g. :func:`plane_from_template_fit`) or from the mask's
    centroid and the image's left-right axis. A lesion breaks symmetry in a
    small part of the head only, and clipping caps its weight.

    Raises
    ------
    MeasurementError
        The mask is empty, or the optimum moved implausibly far from the start.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != image.shape or not mask.any():
        raise MeasurementError("mid-sagittal plane: the brain mask is empty or not on the image grid")
    if min(image.spacing_mm) < SYMMETRY_SAMPLE_MM - 1e-6:
        image, mask = _on_coarse_grid(image, mask)
    samples = _symmetry_samples(image, mask)
    planes = _starting_plane(initial, samples.xyz_mm)
    # from a template-fit start one descent suffices; from scratch, restart twice
    starts = [[0.0, 0.0, 0.0]] if initial is not None else [[0.0, 0.0, 0.0], [4.0, 4.0, 3.0], [-4.0, -4.0, -3.0]]
    best = _most_symmetric(planes, samples, starts)
    a, b, shift = best.x
    if max(abs(a), abs(b)) > MAX_TILT_CORRECTION_DEG or abs(shift) > MAX_SHIFT_CORRECTION_MM:
        raise MeasurementError(f"mid-sagittal plane: symmetry search moved the plane implausibly "
                               f"(tilt {a:.1f}/{b:.1f} deg, shift {shift:.1f} mm)")
    normal, offset = _oriented(*planes.plane(best.x))
    logger.debug("mid-sagittal plane: normal %s offset %.1f symmetry %.3f", normal, offset, -best.fun)
    return MidsagittalPlane(normal=tuple(float(v) for v in normal), offset_mm=offset, symmetry=-float(best.fun))


def _on_coarse_grid(image: Volume, mask: np.ndarray) -> tuple[Volume, np.ndarray]:
    """``image`` and ``mask`` resampled to a :data:`SYMMETRY_SAMPLE_MM` isotropic grid.

    Smoothing, distances and sampling there cost about 1/8 of a 2 mm grid's.
    """
    from ._sitk import isotropic_grid, resample_to

    coarse = isotropic_grid(image, SYMMETRY_SAMPLE_MM)
    mask = resample_to(image.with_array(mask.astype(np.float32)), coarse) > 0.5
    image = coarse.with_array(resample_to(image, coarse, default=float(np.min(image.array))))
    if not mask.any():
        raise MeasurementError("mid-sagittal plane: the brain mask is empty on the coarse grid")
    return image, mask


@dataclass(frozen=True)
class _SymmetrySamples:
    """The scoring points (LPS mm, ``(N, 3)``), the image values there, and the image they are read from."""

    values: np.ndarray  # smoothed, percentile-clipped image [k, j, i]
    xyz_mm: np.ndarray
    here: np.ndarray
    lps_to_ijk: np.ndarray  # 4x4


def _symmetry_samples(image: Volume, mask: np.ndarray) -> _SymmetrySamples:
    """Points on a :data:`SYMMETRY_SAMPLE_MM` lattice within :data:`SYMMETRY_MARGIN_MM` of ``mask``.

    At most :data:`SYMMETRY_MAX_POINTS` (a seeded random subset); the image is
    smoothed by :data:`SYMMETRY_SMOOTH_MM` FWHM and clipped to
    :data:`SYMMETRY_CLIP_PERCENTILES` of its values at the points.
    """
    spacing = np.array(image.spacing_mm)  # i, j, k
    sigma = [SYMMETRY_SMOOTH_MM / 2.3548 / s for s in spacing[::-1]]
    values = ndimage.gaussian_filter(np.nan_to_num(np.asarray(image.array, dtype=np.float32)), sigma)
    region = ndimage.distance_transform_edt(~mask, sampling=tuple(spacing[::-1])) <= SYMMETRY_MARGIN_MM
    stride = [max(int(round(SYMMETRY_SAMPLE_MM / s)), 1) for s in spacing[::-1]]
    sub = np.zeros_like(region)
    sub[::stride[0], ::stride[1], ::stride[2]] = True
    kji = np.argwhere(region & sub)
    if len(kji) > SYMMETRY_MAX_POINTS:
        rng = np.random.default_rng(SYMMETRY_SEED)
        kji = kji[np.sort(rng.choice(len(kji), SYMMETRY_MAX_POINTS, replace=False))]
    lo, hi = np.percentile(values[tuple(kji.T)], SYMMETRY_CLIP_PERCENTILES)
    values = np.clip(values, lo, hi)
    xyz = image.ijk_to_xyz_mm(kji[:, ::-1].astype(np.float64))
    here = values[tuple(kji.T)].astype(np.float64)
    return _SymmetrySamples(values=values, xyz_mm=xyz, here=here, lps_to_ijk=np.linalg.inv(image.affine))


@dataclass(frozen=True)
class _TiltedPlanes:
    """The planes searched: ``normal`` tilted by two angles (degrees) towards ``u`` and ``v``, ``offset_mm`` shifted."""

    normal: np.ndarray
    offset_mm: float
    u: np.ndarray
    v: np.ndarray

    def plane(self, params: np.ndarray) -> tuple[np.ndarray, float]:
        """Unit normal and offset (mm) of the plane ``params = (tilt_u_deg, tilt_v_deg, shift_mm)``."""
        a, b, shift = params
        normal = self.normal + np.tan(np.radians(a)) * self.u + np.tan(np.radians(b)) * self.v
        normal /= np.linalg.norm(normal)
        return normal, self.offset_mm + shift


def _starting_plane(initial: MidsagittalPlane | None, xyz_mm: np.ndarray) -> _TiltedPlanes:
    """Planes about ``initial``, or about the left-right axis through the points' centroid."""
    if initial is None:
        centroid = xyz_mm.mean(axis=0)
        n0 = np.array([1.0, 0.0, 0.0])
        d0 = float(n0 @ centroid)
    else:
        n0 = np.asarray(initial.normal, dtype=np.float64)
        d0 = initial.offset_mm
    u, v = _basis(n0)
    return _TiltedPlanes(normal=n0, offset_mm=d0, u=u, v=v)


def _mirror_cost(params: np.ndarray, planes: _TiltedPlanes, samples: _SymmetrySamples) -> float:
    """Minus the correlation of the image at the points and at their mirror images about the plane."""
    normal, offset = planes.plane(params)
    xyz = samples.xyz_mm
    mirrored = xyz - 2.0 * (xyz @ normal - offset)[:, None] * normal[None, :]
    ijk = mirrored @ samples.lps_to_ijk[:3, :3].T + samples.lps_to_ijk[:3, 3]
    there = ndimage.map_coordinates(samples.values, ijk[:, ::-1].T, order=1, mode="nearest")
    return -float(np.corrcoef(samples.here, there)[0, 1])


def _most_symmetric(planes: _TiltedPlanes, samples: _SymmetrySamples,
                    starts: list[list[float]]) -> optimize.OptimizeResult:
    """The best of Nelder-Mead descents of :func:`_mirror_cost` from each start (simplex :data:`SIMPLEX_STEPS`)."""
    best = None
    for start in starts:
        simplex = np.array(start) + np.vstack([np.zeros(3), np.diag(SIMPLEX_STEPS)])
        res = optimize.minimize(_mirror_cost, np.array(start), args=(planes, samples), method="Nelder-Mead",
                                options={"xatol": 0.05, "fatol": 1e-6, "maxiter": 300,
                                         "initial_simplex": simplex})
        if best is None or res.fun < best.fun:
            best = res
    return best
