"""Anatomical head phantoms on the MNI152 template, with lesions.

The template (nilearn's MNI152 2009a, brain only) gives grey matter, white
matter and CSF fractions. Around the brain the head is completed by distance
bands measured outward from the (closed) brain surface: a CSF layer, the skull
and the scalp. Lesions are analytic: an ellipsoid with a smooth random
irregularity of its surface, heterogeneous uptake (plane waves), an optional
necrotic core and a shell of perilesional oedema. Everything is defined in
template space and sampled onto any scanner grid through a :class:`HeadPose`,
with partial-volume averaging (sub-voxel sampling) for the lesion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .pose import HeadPose

__all__ = [
    "HeadModel", "Lesion", "build_head_model", "sample_head", "sample_lesion", "random_lesion",
    "LOBE_CENTRES_RAS_MM", "CENTRUM_SEMIOVALE_RAS_MM", "TISSUE_HU", "HEAD_TISSUES",
    "CSF_LAYER_MM", "SKULL_OUTER_MM", "SCALP_OUTER_MM",
]

logger = logging.getLogger(__name__)

#: Tissue maps of the head model (fractions of each voxel).
HEAD_TISSUES = ("gm", "wm", "csf", "skull", "scalp")

#: Distance bands outward from the brain surface (mm): CSF up to CSF_LAYER_MM,
#: then skull up to SKULL_OUTER_MM, then scalp up to SCALP_OUTER_MM.
CSF_LAYER_MM = 2.0
SKULL_OUTER_MM = 9.0
SCALP_OUTER_MM = 14.0
#: Closing radius (mm) that smooths the brain surface before the distance bands.
_CLOSING_MM = 6.0

#: CT numbers (HU) of the phantom tissues (typical non-contrast head CT values).
TISSUE_HU = MappingProxyType({
    "air": -1000.0, "gm": 40.0, "wm": 28.0, "csf": 8.0, "skull": 1000.0, "scalp": 30.0,
    "lesion": 38.0, "necrosis": 18.0, "oedema": 18.0,
})

#: Lobe centres in MNI space (RAS mm, right hemisphere; the left mirrors x).
LOBE_CENTRES_RAS_MM = MappingProxyType({
    "frontal": (30.0, 35.0, 25.0),
    "temporal": (44.0, -15.0, -10.0),
    "parietal": (34.0, -50.0, 38.0),
    "occipital": (24.0, -80.0, 10.0),
    "frontotemporal": (38.0, 15.0, 2.0),
    "frontoparietal": (32.0, -15.0, 45.0),
    "temporoparietal": (44.0, -40.0, 16.0),
    "parieto-occipital": (28.0, -66.0, 30.0),
    "parafalcine": (10.0, -10.0, 45.0),
    "diencephalic": (12.0, -16.0, 4.0),
})

#: Centre of the centrum semiovale in each hemisphere (MNI RAS mm, right; left mirrors x):
#: deep white matter above the lateral ventricles (template WM fraction > 0.99 there).
CENTRUM_SEMIOVALE_RAS_MM = (26.0, -10.0, 32.0)


def ras_to_lps(xyz: tuple[float, float, float]) -> np.ndarray:
    """MNI RAS mm to LPS mm (x and y change sign)."""
    return np.array([-xyz[0], -xyz[1], xyz[2]], dtype=np.float64)


def lobe_centre_lps_mm(lobe: str, hemisphere: str) -> np.ndarray:
    """Template LPS mm of a named lobe in the ``left`` or ``right`` hemisphere."""
    if lobe not in LOBE_CENTRES_RAS_MM:
        raise InputError(f"lobe {lobe!r} unknown; choose one of {', '.join(LOBE_CENTRES_RAS_MM)}")
    if hemisphere not in ("left", "right"):
        raise InputError(f"hemisphere {hemisphere!r} unknown; choose left or right")
    x, y, z = LOBE_CENTRES_RAS_MM[lobe]
    return ras_to_lps((x if hemisphere == "right" else -x, y, z))


def centrum_semiovale_lps_mm(hemisphere: str) -> np.ndarray:
    """Template LPS mm of the centrum semiovale centre in one hemisphere."""
    x, y, z = CENTRUM_SEMIOVALE_RAS_MM
    return ras_to_lps((x if hemisphere == "right" else -x, y, z))


@dataclass(frozen=True)
class HeadModel:
    """Tissue fractions of the template head (template LPS grid)."""

    affine: np.ndarray
    fractions: Mapping[str, np.ndarray]
    brain_depth_mm: np.ndarray  # distance (mm) from inside the brain to its surface; 0 outside
    t1: np.ndarray
    pivot_lps_mm: tuple[float, float, float]
    #: (k, j, i) index bounds [lo, hi) of the voxels where any tissue is present.
    head_box_kji: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None


def build_head_model(template) -> HeadModel:
    """Complete the template brain into a head: CSF layer, skull and scalp.

    Parameters
    ----------
    template : gliopet.io.template.MniTemplate
        The MNI152 maps (``load_mni152(2)``).

    Returns
    -------
    HeadModel
        Fractions ``gm, wm, csf, skull, scalp`` summing to at most 1 per voxel
        (the rest is air), on the template grid, padded so the scalp fits.
    """
    spacing = np.array(template.brain_mask.spacing_mm)[::-1]  # (k, j, i)
    pad_mm = SCALP_OUTER_MM + 4.0
    pad = int(np.ceil(pad_mm / spacing.min()))
    brain = np.pad(template.brain_mask.array > 0.5, pad)
    gm = np.pad(np.clip(template.gm.array, 0, 1), pad)
    wm = np.pad(np.clip(template.wm.array, 0, 1), pad)
    csf = np.pad(np.clip(template.csf.array, 0, 1), pad)
    t1 = np.pad(template.t1.array.astype(np.float32), pad)
    # Inside the brain the three tissues fill the voxel.
    total = gm + wm + csf
    inside = brain & (total > 0)
    scale = np.where(inside, 1.0 / np.maximum(total, 1e-6), 0.0)
    gm, wm, csf = (np.where(inside, m * scale, 0.0) for m in (gm, wm, csf))
    csf = np.where(brain & ~inside, 1.0, csf)
    radius = int(round(_CLOSING_MM / spacing.min()))
    ball = _ball(radius)
    closed = ndimage.binary_fill_holes(ndimage.binary_closing(brain, structure=ball, iterations=1))
    outside_mm = ndimage.distance_transform_edt(~closed, sampling=spacing)
    band_csf = (~brain) & (outside_mm <= CSF_LAYER_MM)
    skull = (outside_mm > CSF_LAYER_MM) & (outside_mm <= SKULL_OUTER_MM)
    scalp = (outside_mm > SKULL_OUTER_MM) & (outside_mm <= SCALP_OUTER_MM)
    csf = np.where(band_csf, 1.0, csf)
    depth = ndimage.distance_transform_edt(brain, sampling=spacing)
    affine = template.brain_mask.affine.copy()
    affine[:3, 3] -= affine[:3, :3] @ np.array([pad, pad, pad], dtype=np.float64)
    idx = np.argwhere(brain)[:, ::-1]
    pivot = idx.mean(axis=0) @ affine[:3, :3].T + affine[:3, 3]
    fractions = {"gm": gm, "wm": wm, "csf": csf, "skull": skull, "scalp": scalp}
    fractions = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in fractions.items()}
    present = np.argwhere(scalp | skull | brain)
    box = (tuple(int(v) for v in present.min(axis=0)), tuple(int(v) + 1 for v in present.max(axis=0)))
    return HeadModel(affine=affine, fractions=MappingProxyType(fractions),
                     brain_depth_mm=depth.astype(np.float32), t1=t1,
                     pivot_lps_mm=tuple(float(v) for v in pivot), head_box_kji=box)


def _ball(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None, None] ** 2 + r[None, :, None] ** 2 + r[None, None, :] ** 2) <= radius ** 2


def sample_head(model: HeadModel, *, pose: HeadPose, grid_affine: np.ndarray,
                grid_shape: tuple[int, int, int], include_t1: bool = False,
                maps: Mapping[str, np.ndarray] | None = None, cval: Mapping[str, float] | None = None
                ) -> dict[str, np.ndarray]:
    """Tissue fractions of the posed head on a scanner grid (trilinear interpolation).

    Returns a dict of ``(K, J, I)`` float32 arrays: ``gm, wm, csf, skull, scalp``
    (and ``t1`` when asked), each 0 outside the template; or the given
    template-grid ``maps`` instead (``cval`` gives their value outside).
    """
    # grid ijk -> patient mm -> template mm -> template ijk, as one affine; arrays are [k, j, i],
    # so the matrix is reversed on both sides for scipy's (k, j, i) index order.
    to_template_ijk = np.linalg.inv(model.affine) @ np.linalg.inv(pose.matrix()) @ grid_affine
    matrix = to_template_ijk[:3, :3][::-1, ::-1]
    offset = to_template_ijk[:3, 3][::-1]
    if maps is None:
        maps = dict(model.fractions)
        if include_t1:
            maps["t1"] = model.t1
    cval = cval or {}
    shape = tuple(int(n) for n in grid_shape)
    # Only the grid's box around the posed template grid is interpolated; outside it is cval.
    lo, hi = _template_box(model, np.linalg.inv(to_template_ijk), shape)
    out = {}
    for name, arr in maps.items():
        fill = float(cval.get(name, 0.0))
        full = np.full(shape, fill, dtype=np.float32)
        if np.all(hi > lo):
            full[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = ndimage.affine_transform(
                arr, matrix, offset=offset + matrix @ lo, output_shape=tuple(int(n) for n in hi - lo),
                order=1, mode="constant", cval=fill, output=np.float32)
        out[name] = full
    return out


def _template_box(model: HeadModel, template_ijk_to_grid_ijk: np.ndarray,
                  shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(k, j, i) bounds of the grid voxels that can see the template's head (one voxel margin)."""
    if model.head_box_kji is not None:
        (k0, j0, i0), (k1, j1, i1) = model.head_box_kji
    else:
        (k0, j0, i0), (k1, j1, i1) = (0, 0, 0), model.t1.shape
    corners = np.array([[a, b, c] for a in (i0 - 1.0, i1) for b in (j0 - 1.0, j1) for c in (k0 - 1.0, k1)])
    ijk = corners @ template_ijk_to_grid_ijk[:3, :3].T + template_ijk_to_grid_ijk[:3, 3]
    kji_lo = np.floor(ijk.min(axis=0))[::-1] - 1
    kji_hi = np.ceil(ijk.max(axis=0))[::-1] + 2
    lo = np.clip(kji_lo, 0, shape).astype(int)
    hi = np.clip(kji_hi, 0, shape).astype(int)
    return lo, hi


@dataclass(frozen=True)
class Lesion:
    """An analytic lesion in template space.

    The surface is ``rho = 1`` with ``rho = |D^-1 (p - c)| / (1 + g(u))``: an
    ellipsoid of semi-axes ``radii_mm`` whose radius is modulated along unit
    direction ``u`` by ``g(u) = sum a_m cos(n_m * angle(u, v_m) + phi_m)``.
    Uptake inside is ``suv x h(p)`` with ``h`` in ``[1 - heterogeneity, 1]``
    (three plane waves), except the necrotic core ``rho <= necrosis_fraction``
    at ``suv x necrosis_relative``; oedema lies where ``0 < (rho - 1) x
    mean radius <= oedema_mm``.
    """

    centre_lps_mm: tuple[float, float, float]
    radii_mm: tuple[float, float, float]
    lobe: str
    hemisphere: str
    suv: float
    heterogeneity: float = 0.3
    necrosis_fraction: float = 0.0
    necrosis_relative: float = 0.2
    oedema_mm: float = 0.0
    shape_directions: tuple[tuple[float, float, float], ...] = ()
    shape_amplitudes: tuple[float, ...] = ()
    shape_orders: tuple[int, ...] = ()
    shape_phases: tuple[float, ...] = ()
    wave_vectors_per_mm: tuple[tuple[float, float, float], ...] = ()
    wave_phases: tuple[float, ...] = ()

    @property
    def extent_mm(self) -> float:
        """Radius (mm) of a sphere that holds the lesion and its oedema."""
        return max(self.radii_mm) * (1.0 + float(np.sum(np.abs(self.shape_amplitudes)))) + self.oedema_mm + 1.0

    def as_dict(self) -> dict:
        """Plain values for the ground-truth JSON (template-space definition)."""
        out = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[name] = value
        return out

    def rho(self, points_mm: np.ndarray) -> np.ndarray:
        """Normalised radius of template points ``(..., 3)``: <= 1 inside the lesion."""
        d = np.asarray(points_mm, dtype=np.float64) - np.asarray(self.centre_lps_mm)
        r_ell = np.linalg.norm(d / np.asarray(self.radii_mm), axis=-1)
        norm = np.linalg.norm(d, axis=-1)
        u = d / np.maximum(norm, 1e-9)[..., None]
        g = np.zeros(d.shape[:-1])
        for v, a, n, phi in zip(self.shape_directions, self.shape_amplitudes, self.shape_orders,
                                self.shape_phases):
            angle = np.arccos(np.clip(u @ np.asarray(v), -1.0, 1.0))
            g += a * np.cos(n * angle + phi)
        return r_ell / (1.0 + g)

    def uptake_profile(self, points_mm: np.ndarray) -> np.ndarray:
        """Relative uptake ``h`` in ``[1 - heterogeneity, 1]`` at template points."""
        d = np.asarray(points_mm, dtype=np.float64) - np.asarray(self.centre_lps_mm)
        if not self.wave_vectors_per_mm:
            return np.ones(d.shape[:-1])
        w = np.zeros(d.shape[:-1])
        for kvec, phi in zip(self.wave_vectors_per_mm, self.wave_phases):
            w += np.cos(d @ np.asarray(kvec) + phi)
        w = (w / len(self.wave_phases) + 1.0) / 2.0  # in [0, 1]
        return 1.0 - self.heterogeneity * (1.0 - w)


def random_lesion(rng: np.random.Generator, model: HeadModel, *, lobe: str, hemisphere: str, suv: float,
                  radius_mm: float | None = None, necrosis: bool | None = None,
                  oedema_mm: float | None = None, necrosis_relative: float = 0.2) -> Lesion:
    """A random irregular lesion near a named lobe centre, kept inside the brain.

    The centre is jittered by up to 8 mm around the lobe centre and moved
    towards the deepest candidate so that the lesion (plus 2 mm) lies inside
    the brain mask.
    """
    base = lobe_centre_lps_mm(lobe, hemisphere)
    radius = float(rng.uniform(9.0, 18.0)) if radius_mm is None else float(radius_mm)
    radii = tuple(float(radius * f) for f in rng.uniform(0.8, 1.2, size=3))
    candidates = base + rng.uniform(-8.0, 8.0, size=(24, 3))
    inv = np.linalg.inv(model.affine)
    ijk = np.rint(candidates @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    ijk = np.clip(ijk, 0, np.array(model.brain_depth_mm.shape)[::-1] - 1)
    depth = model.brain_depth_mm[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    best = int(np.argmax(depth))
    centre = candidates[best]
    max_radius = max(2.0, float(depth[best]) - 2.0)
    if max(radii) * 1.15 > max_radius:
        shrink = max_radius / (max(radii) * 1.15)
        radii = tuple(r * shrink for r in radii)
    n_shape = 4
    directions = rng.normal(size=(n_shape, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    amplitudes = rng.uniform(0.02, 0.06, size=n_shape)
    orders = rng.integers(2, 4, size=n_shape)
    phases = rng.uniform(0, 2 * np.pi, size=n_shape)
    waves = rng.normal(size=(3, 3))
    waves = waves / np.linalg.norm(waves, axis=1, keepdims=True) * (2 * np.pi / rng.uniform(12.0, 25.0, size=(3, 1)))
    wave_phases = rng.uniform(0, 2 * np.pi, size=3)
    has_necrosis = bool(rng.random() < 0.5) if necrosis is None else necrosis
    return Lesion(
        centre_lps_mm=tuple(round(float(v), 4) for v in centre),
        radii_mm=tuple(round(float(v), 4) for v in radii),
        lobe=lobe, hemisphere=hemisphere, suv=float(suv),
        heterogeneity=round(float(rng.uniform(0.2, 0.4)), 4),
        necrosis_fraction=round(float(rng.uniform(0.3, 0.5)), 4) if has_necrosis else 0.0,
        necrosis_relative=float(necrosis_relative),
        oedema_mm=round(float(rng.uniform(3.0, 8.0)), 4) if oedema_mm is None else float(oedema_mm),
        shape_directions=tuple(tuple(round(float(x), 6) for x in v) for v in directions),
        shape_amplitudes=tuple(round(float(a), 6) for a in amplitudes),
        shape_orders=tuple(int(n) for n in orders),
        shape_phases=tuple(round(float(p), 6) for p in phases),
        wave_vectors_per_mm=tuple(tuple(round(float(x), 6) for x in v) for v in waves),
        wave_phases=tuple(round(float(p), 6) for p in wave_phases),
    )


@dataclass(frozen=True)
class LesionSample:
    """A lesion sampled onto a grid (partial-volume fractions and mean relative uptake)."""

    lesion_fraction: np.ndarray      # (K, J, I) fraction of each voxel inside the viable lesion
    necrosis_fraction: np.ndarray    # fraction inside the necrotic core
    oedema_fraction: np.ndarray      # fraction inside the oedema shell
    lesion_relative_uptake: np.ndarray  # voxel mean of h over the viable-lesion sub-samples (0 where none)
    extra: Mapping[str, float] = field(default_factory=dict)


def sample_lesion(lesion: Lesion, *, pose: HeadPose, grid_affine: np.ndarray,
                  grid_shape: tuple[int, int, int], subsamples: int = 3) -> LesionSample:
    """Sample a lesion onto a grid with ``subsamples**3`` points per voxel (partial volume)."""
    shape = tuple(int(n) for n in grid_shape)
    frac_l = np.zeros(shape, np.float32)
    frac_n = np.zeros(shape, np.float32)
    frac_o = np.zeros(shape, np.float32)
    rel = np.zeros(shape, np.float32)
    centre_patient = pose.to_patient_mm(np.asarray(lesion.centre_lps_mm))
    ext = lesion.extent_mm * pose.scale + 2.0
    inv_grid = np.linalg.inv(grid_affine)
    corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * ext + centre_patient
    ijk = corners @ inv_grid[:3, :3].T + inv_grid[:3, 3]
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, np.array(shape)[::-1] - 1)
    hi = np.clip(np.ceil(ijk.max(axis=0)).astype(int) + 1, 0, np.array(shape)[::-1])
    if np.any(hi <= lo):
        return LesionSample(frac_l, frac_n, frac_o, rel)
    s = subsamples
    offsets = (np.arange(s) + 0.5) / s - 0.5
    box = [np.arange(lo[a], hi[a], dtype=np.float64) for a in range(3)]  # i, j, k ranges
    kk, jj, ii, ok, oj, oi = np.meshgrid(box[2], box[1], box[0], offsets, offsets, offsets, indexing="ij")
    ijk_sub = np.stack([ii + oi, jj + oj, kk + ok], axis=-1)
    patient = ijk_sub @ grid_affine[:3, :3].T + grid_affine[:3, 3]
    to_template = np.linalg.inv(pose.matrix())
    template_pts = patient @ to_template[:3, :3].T + to_template[:3, 3]
    rho = lesion.rho(template_pts)
    h = lesion.uptake_profile(template_pts)
    mean_radius = float(np.mean(lesion.radii_mm))
    viable = (rho <= 1.0) & (rho > lesion.necrosis_fraction)
    necrotic = rho <= lesion.necrosis_fraction
    oedema = (rho > 1.0) & ((rho - 1.0) * mean_radius <= lesion.oedema_mm)
    n = float(s ** 3)
    axes = (3, 4, 5)
    fl = viable.sum(axis=axes) / n
    sl = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    frac_l[sl] = fl
    frac_n[sl] = necrotic.sum(axis=axes) / n
    frac_o[sl] = oedema.sum(axis=axes) / n
    hsum = np.where(viable, h, 0.0).sum(axis=axes)
    rel[sl] = np.where(fl > 0, hsum / np.maximum(viable.sum(axis=axes), 1), 0.0)
    return LesionSample(frac_l, frac_n, frac_o, rel)
