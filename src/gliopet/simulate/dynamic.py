"""Dynamic FET PET of a simulated patient: a 0-40 min series framed as scanners do, with ground truth.

The lesion's uptake follows one of two literature shapes (Pöpperl G et al.
Eur J Nucl Med Mol Imaging 2007;34:1933; the Jülich FET kinetics group:
high-grade gliomas peak early, around 10-15 min p.i., then decline;
low-grade gliomas rise slightly and steadily):

- ``increasing``: ``SUV(t) = A (1 - exp(-t / rise))``;
- ``decreasing``: ``SUV(t) = A (1 - exp(-t / rise)) exp(-t / washout)``.

Normal tissues rise to the tracer table's values (``tracers.json``) as
``1 - exp(-t / TISSUE_RISE_MIN)``. These shapes and numbers are
representative, not fitted to patient data.

Each frame is acquired and reconstructed with the same counts model and OSEM
as a static scan (:mod:`gliopet.simulate.acquisition`), its own Poisson
draws, and written as one frame of a DICOM DYNAMIC series (DecayCorrection
START to the series start, the injection). The ground truth (time to peak,
late slope, pattern) is computed here from the phantom's own frame-mean
curves, with ``numpy.polyfit``; gliopet's measurement code is not used.

The true BTV (:func:`true_btv`, :func:`crescent_truth_mask`) follows the
measurement's definition for FET, implemented again here on the phantom (no
code shared with :mod:`gliopet.measure` or :mod:`gliopet.brain`): the
phantom's static image (the frame-duration-weighted mean of the noise-free
SUV maps of the frames inside 20-40 min p.i.); the background mean over the
crescent (the FET preset's background) built from the TRUE anatomy (the
phantom's intracranial mask, the template's mid-sagittal plane carried by the
pose, the lesion's true hemisphere, the phantom's lesion mask); the BTV the
voxels >= 1.6 x that mean, 26-connected to the lesion's hottest voxel, within
the intracranial mask. A voxel counts by its mixed (partial-volume) SUV: what
an ideal scanner with voxels of the PET grid would see.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from scipy import ndimage

from ..atomic import write_text
from ..volume import Volume
from .acquisition import reconstruct, simulate_sinograms
from .dicom_writer import PetSeriesInfo, write_pet_series
from .grids import PET_GRID
from .patient import PATIENT_STREAM_OFFSET, _empty_folder, write_ct
from .projector import CLINICAL_GEOMETRY, system_matrix
from .protocol import OSEM_ITERATIONS, OSEM_SUBSETS, POST_FILTER_FWHM_MM, RECONSTRUCTION_LABEL
from .sampling import SampledPatient, sample_patient
from .scan import SCANNER
from .specs import PatientSpec, seeded_rng
from .tissue_images import tissue_activity_suv
from .truth_rois import background_disk_truth

__all__ = ["FET_FRAMING_S", "TISSUE_RISE_MIN", "LesionCurve", "FET_LESION_CURVES", "frame_means",
           "truth_metrics", "simulate_dynamic_patient", "DYNAMIC_FOLDER", "TRUTH_SLOPE_WINDOW_MIN",
           "TRUTH_STATIC_WINDOW_MIN", "TRUTH_BTV_FACTOR", "TRUTH_TAC_ISOCONTOUR", "TRUTH_BRAIN_FRACTION",
           "TRUTH_CRESCENT", "true_btv", "crescent_truth_mask", "isocontour_truth_voi", "hot_lesion_voxels",
           "true_midsagittal_plane", "static_window_weights"]

#: 0-40 min, the issue's scanner framing cut at 40 min: 12 x 10 s, 3 x 30 s, 3 x 60 s, 2 x 150 s (to 11.5 min),
#: 1 x 210 s (to 15 min), 5 x 300 s (26 frames).
FET_FRAMING_S = (10.0,) * 12 + (30.0,) * 3 + (60.0,) * 3 + (150.0,) * 2 + (210.0,) + (300.0,) * 5
#: Normal tissues reach the tracer table's uptake with this time constant (min).
TISSUE_RISE_MIN = 1.5
#: The window of the true late slope (min p.i.), as the FET preset's.
TRUTH_SLOPE_WINDOW_MIN = (20.0, 40.0)
#: The static window (min p.i.) of the true BTV, as the FET preset's ``static_window_min``.
TRUTH_STATIC_WINDOW_MIN = (20.0, 40.0)
#: The TAC VOI of the truth at the scanner's resolution: this fraction of the maximum, as the measurement's
#: (gliopet.measure's TAC_ISOCONTOUR; tests/test_dynamic_simulated.py checks they agree).
TRUTH_TAC_ISOCONTOUR = 0.9
#: The BTV threshold factor, as the FET preset's ``btv_factor`` (1.6 x background mean).
TRUTH_BTV_FACTOR = 1.6
#: The phantom's intracranial mask: voxels at least this fraction grey + white matter + CSF (the
#: CT brain mask of the measurement is the inside of the skull, CSF included).
TRUTH_BRAIN_FRACTION = 0.5
#: The crescent's parameters (mm, degrees): the same numbers as gliopet.brain's CRESCENT_* and
#: BACKGROUND_LESION_MARGIN_MM (tests/test_dynamic_simulated.py checks they agree), written again here.
TRUTH_CRESCENT = {"depth_mm": 20.0, "half_angle_deg": 60.0, "thickness_mm": 12.0, "midline_margin_mm": 5.0,
                  "lesion_margin_mm": 5.0}
DYNAMIC_FOLDER = "PET_DYNAMIC"
_SAMPLES_PER_FRAME = 201


@dataclass(frozen=True)
class LesionCurve:
    """A lesion's SUV over time: ``A (1 - exp(-t / rise)) exp(-t / washout)`` (no washout: None)."""

    pattern: str
    amplitude_suv: float
    rise_min: float
    washout_min: float | None = None

    def suv(self, t_min: np.ndarray | float) -> np.ndarray:
        t = np.asarray(t_min, dtype=np.float64)
        out = self.amplitude_suv * (1.0 - np.exp(-t / self.rise_min))
        return out if self.washout_min is None else out * np.exp(-t / self.washout_min)

    def peak_min(self) -> float | None:
        """The continuous curve's maximum: ``rise ln(1 + washout / rise)``; None when it keeps rising."""
        if self.washout_min is None:
            return None
        return self.rise_min * math.log(1.0 + self.washout_min / self.rise_min)


#: Representative curves: an early peak (rise 4 min, washout 25 min: peak at 4 ln(1 + 25/4) = 7.9 min p.i.,
#: SUV 5.7, then 4.0 at 20 min and 1.8 at 40 min) and a steady rise (rise 20 min: SUV 2.7 at 20 min, 3.6 at
#: 40 min; steeper than many low-grade curves, so that its slope stands above the noise of 5-min frames).
FET_LESION_CURVES = {
    "decreasing": LesionCurve("decreasing", amplitude_suv=9.0, rise_min=4.0, washout_min=25.0),
    "increasing": LesionCurve("increasing", amplitude_suv=4.2, rise_min=20.0),
}


def frame_means(curve, starts_s: Sequence[float], durations_s: Sequence[float]) -> np.ndarray:
    """The mean of ``curve(t_min)`` over each frame (trapezoid rule, 201 points per frame)."""
    out = []
    for start, duration in zip(starts_s, durations_s):
        t = np.linspace(start, start + duration, _SAMPLES_PER_FRAME) / 60.0
        y = np.asarray(curve(t), dtype=np.float64)
        out.append(float(((y[1:] + y[:-1]) / 2.0).mean()))
    return np.asarray(out)


def truth_metrics(starts_s: Sequence[float], durations_s: Sequence[float], values: Sequence[float], *,
                  window_min: tuple[float, float] = TRUTH_SLOPE_WINDOW_MIN) -> dict[str, float]:
    """Time to peak (mid-time of the highest frame, min) and the least-squares slope (per hour) of
    the frames inside ``window_min``, by ``numpy.polyfit``."""
    starts = np.asarray(starts_s, dtype=np.float64) / 60.0
    durations = np.asarray(durations_s, dtype=np.float64) / 60.0
    mids = starts + durations / 2.0
    y = np.asarray(values, dtype=np.float64)
    inside = (starts >= window_min[0] - 1e-9) & (starts + durations <= window_min[1] + 1e-9)
    slope_per_min, intercept = np.polyfit(mids[inside], y[inside], 1)
    middle = slope_per_min * (window_min[0] + window_min[1]) / 2.0 + intercept
    return {"ttp_min": float(mids[int(np.argmax(y))]), "slope_per_h": float(slope_per_min * 60.0),
            "relative_slope_per_h": float(slope_per_min * 60.0 / middle)}


def static_window_weights(starts_s: Sequence[float], durations_s: Sequence[float], *,
                          window_min: tuple[float, float] = TRUTH_STATIC_WINDOW_MIN) -> np.ndarray:
    """Each frame's weight in the static image: its duration over the total of the frames that start
    and end inside ``window_min`` (1 s tolerance, as the reader's), 0 outside."""
    starts = np.asarray(starts_s, dtype=np.float64)
    durations = np.asarray(durations_s, dtype=np.float64)
    inside = (starts >= 60.0 * window_min[0] - 1.0) & (starts + durations <= 60.0 * window_min[1] + 1.0)
    if not inside.any():
        raise ValueError(f"no frame lies inside {window_min[0]:g}-{window_min[1]:g} min p.i.")
    weights = np.where(inside, durations, 0.0)
    return weights / weights.sum()


def true_btv(suv_kji: np.ndarray, *, seed_kji: tuple[int, int, int], background_mean: float, voxel_ml: float,
             factor: float = TRUTH_BTV_FACTOR, within: np.ndarray | None = None) -> dict[str, Any]:
    """The true BTV: the voxels with ``suv >= factor x background_mean`` (inside ``within``) 26-connected
    to ``seed_kji``, grown by geodesic reconstruction (``scipy.ndimage.binary_propagation``).

    A seed below the threshold gives 0 voxels. Returns ``volume_ml``, ``n_voxels``, ``threshold`` and
    ``mask`` (bool ``[k, j, i]``).

    Examples
    --------
    >>> a = np.zeros((3, 3, 3)); a[1, 1, 1] = 4.0; a[0, 0, 0] = 2.0; a[2, 2, 0] = 1.0
    >>> true_btv(a, seed_kji=(1, 1, 1), background_mean=1.0, voxel_ml=0.5)["n_voxels"]  # 4 and its corner 2
    2
    """
    suv = np.asarray(suv_kji, dtype=np.float64)
    threshold = float(factor) * float(background_mean)
    above = suv >= threshold
    if within is not None:
        above &= np.asarray(within, dtype=bool)
    seed = tuple(int(v) for v in seed_kji)
    region = np.zeros(suv.shape, dtype=bool)
    if above[seed]:
        region[seed] = True
        region = ndimage.binary_propagation(region, structure=np.ones((3, 3, 3), dtype=bool), mask=above)
    n = int(region.sum())
    return {"volume_ml": n * float(voxel_ml), "n_voxels": n, "threshold": threshold, "mask": region}


def true_midsagittal_plane(pose) -> tuple[np.ndarray, float]:
    """The template's mid-sagittal plane (template LPS x = 0) carried by the pose: ``(normal, offset_mm)``
    with ``normal . x = offset_mm`` on the plane, ``normal`` towards the patient's left (+x)."""
    m = pose.matrix()
    normal = m[:3, :3] @ np.array([1.0, 0.0, 0.0])
    normal = normal / np.linalg.norm(normal)
    return normal, float(normal @ m[:3, 3])  # the template origin lies on the plane


def crescent_truth_mask(brain_kji: np.ndarray, affine: np.ndarray, *, plane_normal, plane_offset_mm: float,
                        lesion_lps_mm, lesion_hemisphere: str, lesion_mask: np.ndarray | None = None,
                        params: dict[str, float] = TRUTH_CRESCENT) -> np.ndarray:
    """The crescent background region on the true anatomy (bool ``[k, j, i]``), after the measurement's
    definition (gliopet.brain.crescent_background_mask), written again.

    On each axial slice whose centre is within ``thickness_mm / 2`` of the lesion point's level: the
    voxels of ``brain_kji`` at most ``depth_mm`` deep (in-plane Euclidean distance to the nearest
    voxel outside the brain), at least ``midline_margin_mm`` on the contralateral side of the plane,
    whose in-plane direction from the slice's brain centroid is within ``half_angle_deg`` of the
    direction to the lesion point's mirror image, and at least ``lesion_margin_mm`` (in plane) from
    ``lesion_mask``.
    """
    brain = np.asarray(brain_kji, dtype=bool)
    affine = np.asarray(affine, dtype=np.float64)
    normal = np.asarray(plane_normal, dtype=np.float64)
    inverse = np.linalg.inv(affine)
    si, sj, sk = (float(np.linalg.norm(affine[:3, c])) for c in range(3))
    sign = -1.0 if lesion_hemisphere == "left" else 1.0  # + : towards the patient's left
    lesion = np.asarray(lesion_lps_mm, dtype=np.float64)
    mirror = lesion - 2.0 * (lesion @ normal - plane_offset_mm) * normal
    if sign * (mirror @ normal - plane_offset_mm) <= 0:
        mirror = mirror + sign * 30.0 * normal
    k0 = float((inverse[:3, :3] @ lesion + inverse[:3, 3])[2])
    mirror_i, mirror_j = (inverse[:3, :3] @ mirror + inverse[:3, 3])[:2]
    n_k, n_j, n_i = brain.shape
    jj, ii = np.mgrid[0:n_j, 0:n_i].astype(np.float64)
    cos_limit = math.cos(math.radians(params["half_angle_deg"]))
    out = np.zeros(brain.shape, dtype=bool)
    for k in range(n_k):
        if abs(k - k0) * sk > params["thickness_mm"] / 2.0 or not brain[k].any():
            continue
        xyz = (np.stack([ii, jj, np.full_like(ii, k)], axis=-1) @ affine[:3, :3].T) + affine[:3, 3]
        contralateral = sign * (xyz @ normal - plane_offset_mm) >= params["midline_margin_mm"]
        depth = ndimage.distance_transform_edt(brain[k], sampling=(sj, si))
        band = brain[k] & (depth <= params["depth_mm"]) & contralateral
        cj, ci = np.argwhere(brain[k]).mean(axis=0)
        target = np.array([(mirror_i - ci) * si, (mirror_j - cj) * sj])
        vx, vy = (ii - ci) * si, (jj - cj) * sj
        cosine = (vx * target[0] + vy * target[1]) / (np.hypot(vx, vy) * np.linalg.norm(target) + 1e-12)
        band &= cosine >= cos_limit
        if lesion_mask is not None and np.any(lesion_mask[k]):
            near = ndimage.distance_transform_edt(~np.asarray(lesion_mask[k], dtype=bool), sampling=(sj, si))
            band &= near >= params["lesion_margin_mm"]
        out[k] = band
    return out


def _btv_truth(patient: SampledPatient, static_suv: np.ndarray) -> dict[str, Any]:
    """The true background (crescent) mean and BTV on the phantom's static image (see the module text)."""
    f = patient.pet_fractions
    brain = (f["gm"] + f["wm"] + f["csf"]) >= TRUTH_BRAIN_FRACTION
    lesion_any = patient.pet_lesion.lesion_fraction > 0
    candidates = np.where(lesion_any, static_suv, -np.inf)
    seed = tuple(int(v) for v in np.unravel_index(int(np.argmax(candidates)), static_suv.shape))
    seed_lps = PET_GRID.affine[:3, :3] @ np.array(seed[::-1], dtype=np.float64) + PET_GRID.affine[:3, 3]
    normal, offset = true_midsagittal_plane(patient.pose)
    crescent = crescent_truth_mask(brain, PET_GRID.affine, plane_normal=normal, plane_offset_mm=offset,
                                   lesion_lps_mm=seed_lps, lesion_hemisphere=patient.spec.hemisphere,
                                   lesion_mask=patient.lesion_mask)
    background = float(np.asarray(static_suv, dtype=np.float64)[crescent].mean())
    voxel_ml = float(np.prod(PET_GRID.spacing_mm)) / 1000.0
    btv = true_btv(static_suv, seed_kji=seed, background_mean=background, voxel_ml=voxel_ml, within=brain)
    circle = background_disk_truth(static_suv, PET_GRID.affine,
                                   centre_lps_mm=patient.centrum_semiovale_lps_mm[patient.contralateral])
    region = btv["mask"]
    return {
        "btv_true_ml": round(btv["volume_ml"], 4), "btv_true_n_voxels": btv["n_voxels"],
        "btv_true_threshold_suv": round(btv["threshold"], 6),
        "btv_true_lesion_voxels": int((region & lesion_any).sum()),
        "btv_true_seed_lps_mm": [round(float(v), 3) for v in seed_lps],
        "btv_definition": (
            f"phantom static image (frame-duration-weighted mean of the noise-free SUV maps of the frames inside "
            f"{TRUTH_STATIC_WINDOW_MIN[0]:g}-{TRUTH_STATIC_WINDOW_MIN[1]:g} min p.i., on the PET grid, each voxel "
            f"its partial-volume mixed SUV); voxels >= {TRUTH_BTV_FACTOR:g} x background_true_suvmean, "
            "26-connected to the lesion's hottest voxel (the highest phantom voxel with viable-lesion fraction "
            f"> 0), within the phantom's intracranial mask (grey + white matter + CSF >= {TRUTH_BRAIN_FRACTION:g}); "
            "volume = count x voxel volume. As gliopet's BTV (connected to the lesion VOI's hottest voxel, "
            "limited to the brain mask), computed by the simulator, not by gliopet.measure"),
        "background_true_suvmean": round(background, 6),
        "background_true_n_voxels": int(crescent.sum()),
        "background_true_definition": (
            "mean of the phantom static image over the crescent built on the true anatomy (the intracranial "
            "mask above; the template's mid-sagittal plane carried by the pose; the lesion's true hemisphere; "
            "the lesion point = the BTV seed; the phantom's lesion mask for the margin): the FET preset's "
            f"background, parameters {TRUTH_CRESCENT}"),
        "background_circle_true_suvmean": round(circle.suvmean, 6),
        "background_circle_definition": "for comparison: the 25 mm circle at the true contralateral centrum "
                                        "semiovale on the phantom static image (gliopet.simulate.truth_rois)",
    }


def _tissue_suv(patient: SampledPatient, start_s: float, duration_s: float) -> dict[str, float]:
    """Each tissue's frame-mean SUV: the table's uptake times the rise."""
    t = np.linspace(start_s, start_s + duration_s, _SAMPLES_PER_FRAME) / 60.0
    rise = 1.0 - np.exp(-t / TISSUE_RISE_MIN)
    out = {}
    for tissue in patient.tracer.suv:
        y = np.array([patient.tracer.tissue_suv(v)[tissue] for v in t]) * rise
        out[tissue] = float(((y[1:] + y[:-1]) / 2.0).mean())
    return out


def _suv_to_bqml(patient: SampledPatient, start_s: float) -> float:
    """Bq/mL per SUV at ``start_s`` after the injection (the injected activity decayed, over the weight)."""
    spec = patient.spec
    return spec.injected_bq * 2.0 ** (-start_s / patient.tracer.nuclide.half_life_s) / (spec.weight_kg * 1000.0)


def _frame_image(patient: SampledPatient, suv_map: np.ndarray, *, start_s: float, duration_s: float,
                 rng: np.random.Generator | None, noise: bool = True) -> np.ndarray:
    """One frame acquired and reconstructed (Bq/mL at the frame start, as a static scan); ``noise=False``
    reconstructs the expected counts (no Poisson draw, ``rng`` unused)."""
    nuclide = patient.tracer.nuclide
    system = system_matrix(CLINICAL_GEOMETRY, n_subsets=OSEM_SUBSETS)
    slice_z_mm = PET_GRID.affine[2, 2] * np.arange(PET_GRID.shape[0]) + PET_GRID.affine[2, 3]
    activity = suv_map * _suv_to_bqml(patient, start_s)
    sino = simulate_sinograms(activity, patient.mu_per_cm, system=system, scanner=SCANNER, slice_z_mm=slice_z_mm,
                              slice_mm=PET_GRID.spacing_mm[2], frame_s=duration_s,
                              half_life_s=nuclide.half_life_s, positron_fraction=nuclide.positron_fraction,
                              positron_range_fwhm_mm=nuclide.positron_range_fwhm_mm, rng=rng, noise=noise)
    return reconstruct(sino, system=system, slice_mm=PET_GRID.spacing_mm[2], n_iterations=OSEM_ITERATIONS,
                       post_filter_fwhm_mm=POST_FILTER_FWHM_MM)


def _frame_suv(patient: SampledPatient, suv_map: np.ndarray, *, start_s: float, duration_s: float,
               rng: np.random.Generator | None, noise: bool = True) -> np.ndarray:
    """One frame acquired and reconstructed (:func:`_frame_image`), in SUV."""
    return _frame_image(patient, suv_map, start_s=start_s, duration_s=duration_s, rng=rng,
                        noise=noise) / _suv_to_bqml(patient, start_s)


def _suv_map(patient: SampledPatient, curve: LesionCurve, start_s: float, duration_s: float) -> np.ndarray:
    """The phantom's noise-free SUV over one frame: the tissues' and the lesion curve's frame means."""
    level = float(frame_means(curve.suv, [start_s], [duration_s])[0])
    return tissue_activity_suv(patient.pet_fractions, patient.pet_lesion, _tissue_suv(patient, start_s, duration_s),
                               level, level * patient.tracer.necrosis_relative)


def hot_lesion_voxels(patient: SampledPatient) -> np.ndarray:
    """The voxels of the ideal truth's lesion curve: the lesion's top 10 % of the phantom (lesion fraction x
    relative uptake >= 90 % of its maximum; the spatial profile is the same in every frame)."""
    lesion_part = patient.pet_lesion.lesion_fraction * patient.pet_lesion.lesion_relative_uptake
    return lesion_part >= 0.9 * lesion_part.max()


def isocontour_truth_voi(patient: SampledPatient, static_suv: np.ndarray, *,
                         fraction: float = TRUTH_TAC_ISOCONTOUR) -> dict[str, Any]:
    """The TAC VOI's definition on a reconstructed static image, by the simulator: the voxels >=
    ``fraction`` x its maximum among the phantom's lesion voxels, 26-connected to it (:func:`true_btv`)."""
    lesion_any = patient.pet_lesion.lesion_fraction > 0
    peak = tuple(int(v) for v in np.unravel_index(int(np.argmax(np.where(lesion_any, static_suv, -np.inf))),
                                                    static_suv.shape))
    return true_btv(static_suv, seed_kji=peak, background_mean=float(static_suv[peak]), factor=fraction,
                    voxel_ml=float(np.prod(PET_GRID.spacing_mm)) / 1000.0, within=lesion_any)


def _scanner_truth(patient: SampledPatient, suv_maps: dict[int, np.ndarray], *, starts: Sequence[float],
                   durations: Sequence[float], weights: np.ndarray, hot: np.ndarray) -> dict[str, Any]:
    """The truth at the scanner's resolution: the noise-free frames of the slope and static windows,
    acquired and reconstructed with the same OSEM (expected counts, no Poisson draw).

    On those images: the late slope over the measurement's TAC VOI definition (the voxels >=
    :data:`TRUTH_TAC_ISOCONTOUR` x the maximum of the noise-free static image among the phantom's lesion
    voxels, 26-connected to it, by :func:`true_btv`), and over the ideal truth's hot phantom voxels; the
    background over the true crescent and the BTV as the ideal truth's (:func:`_btv_truth`). What the
    measurement differs from it by is the frame noise and the measurement itself, not the resolution.
    """
    window = sorted(suv_maps)
    suvs = [_frame_suv(patient, suv_maps[index], start_s=starts[index], duration_s=durations[index], rng=None,
                       noise=False) for index in window]
    static = sum(weights[index] * suv for index, suv in zip(window, suvs))
    voi = isocontour_truth_voi(patient, static)
    timing = ([starts[i] for i in window], [durations[i] for i in window])
    curve = [float(suv[voi["mask"]].mean()) for suv in suvs]
    hot_curve = [float(suv[hot].mean()) for suv in suvs]
    btv = _btv_truth(patient, static)
    return {"slope_per_h": truth_metrics(*timing, curve)["slope_per_h"], "lesion_curve_suv": curve,
            "tac_voi_ml": voi["volume_ml"], "slope_hot_voxels_per_h": truth_metrics(*timing, hot_curve)["slope_per_h"],
            "btv_ml": btv["btv_true_ml"], "background_suvmean": btv["background_true_suvmean"],
            "btv_threshold_suv": btv["btv_true_threshold_suv"],
            "definition": ("the noise-free frames of the slope and static windows acquired and reconstructed with "
                           "the same OSEM and post-filter (expected counts, no Poisson draw), in SUV; the slope "
                           f"over the voxels >= {TRUTH_TAC_ISOCONTOUR:g} x the static image's maximum among the "
                           "phantom's lesion voxels, 26-connected to it (slope_hot_voxels_per_h: over the ideal "
                           "truth's hot voxels); background and BTV by the ideal truth's definitions")}


def _series_info(patient: SampledPatient, *, index: int, n_frames: int, start_s: float,
                 duration_s: float) -> PetSeriesInfo:
    nuclide, spec, injection = patient.tracer.nuclide, patient.spec, patient.timeline.injection
    return PetSeriesInfo(
        series_uid=patient.uid("pet-series", DYNAMIC_FOLDER), series_number=3,
        description=f"PET Brain dynamic 0-40 min {RECONSTRUCTION_LABEL}", scan_start=injection, injection=injection,
        frame_duration_s=duration_s, injected_bq=spec.injected_bq, half_life_s=nuclide.half_life_s,
        radiopharmaceutical=patient.tracer.radiopharmaceutical,
        nuclide_code=(nuclide.code_value, nuclide.code_scheme, nuclide.code_meaning),
        positron_fraction=nuclide.positron_fraction,
        dynamic_frame=(index, n_frames, injection + timedelta(seconds=start_s)))


def simulate_dynamic_patient(spec: PatientSpec, out_dir: str | Path, *, seed: int, pattern: str,
                             framing_s: Sequence[float] = FET_FRAMING_S,
                             scanner_truth: bool = False) -> dict[str, Any]:
    """A dynamic FET PET/CT of one patient: ``CT/``, ``PET_DYNAMIC/`` and ``ground_truth_dynamic.json``.

    Parameters
    ----------
    spec : PatientSpec
        The patient (pose, lesion place and size from the seed); its tracer is taken as FET.
    pattern : {'increasing', 'decreasing'}
        The lesion curve (:data:`FET_LESION_CURVES`).
    framing_s : durations (s)
        Consecutive frames from the injection.
    scanner_truth : bool
        Also the truth at the scanner's resolution (``scanner_truth`` in the result; the frames of the
        slope and static windows reconstructed once more without noise, :func:`_scanner_truth`).

    Returns
    -------
    dict
        The ground truth: frame timing, the phantom's frame-mean lesion curve (mean over the lesion
        voxels at >= 90 % of the phantom's lesion maximum) and its time to peak, slope and pattern;
        the true BTV (``btv_true_ml``) and background mean (``background_true_suvmean``) of the
        phantom's 20-40 min static image, with their definitions (``btv_definition``).
    """
    out_dir = _empty_folder(out_dir)
    spec = replace(spec, tracer="fet", scan_times_min=(0.0,))
    curve = FET_LESION_CURVES[pattern]
    rng = seeded_rng(seed, PATIENT_STREAM_OFFSET + spec.index)
    patient = sample_patient(spec, seed=seed, rng=rng)
    write_ct(patient, out_dir)
    (out_dir / DYNAMIC_FOLDER).mkdir()
    durations = [float(d) for d in framing_s]
    starts = list(np.concatenate([[0.0], np.cumsum(durations)[:-1]]))
    weights = static_window_weights(starts, durations)
    static_suv = np.zeros(PET_GRID.shape, dtype=np.float64)
    true_curve, hot, window_maps = [], hot_lesion_voxels(patient), {}
    in_slope_window = [start >= 60.0 * TRUTH_SLOPE_WINDOW_MIN[0] - 1e-6
                       and start + duration <= 60.0 * TRUTH_SLOPE_WINDOW_MIN[1] + 1e-6
                       for start, duration in zip(starts, durations)]
    for index, (start, duration) in enumerate(zip(starts, durations)):
        suv_map = _suv_map(patient, curve, start, duration)
        true_curve.append(float(suv_map[hot].mean()))
        if weights[index] > 0:
            static_suv += weights[index] * suv_map
        if scanner_truth and (weights[index] > 0 or in_slope_window[index]):
            window_maps[index] = suv_map
        image = _frame_image(patient, suv_map, start_s=start, duration_s=duration, rng=rng)
        # Decay corrected to the series start (the injection): x 2^(start / T1/2).
        image = image * 2.0 ** (start / patient.tracer.nuclide.half_life_s)
        write_pet_series(Volume(image, PET_GRID.affine), out_dir / DYNAMIC_FOLDER, patient=patient.patient,
                         study=patient.study, flavour=spec.flavour,
                         series=_series_info(patient, index=index, n_frames=len(durations), start_s=start,
                                             duration_s=duration))
    metrics = truth_metrics(starts, durations, true_curve)
    truth = {"patient_id": spec.patient_id, "pattern": pattern, "curve": vars(curve) | {"peak_min": curve.peak_min()},
             "frames": {"start_min_pi": [s / 60.0 for s in starts], "duration_min": [d / 60.0 for d in durations]},
             "lesion_curve_suv": true_curve, "lesion_curve_definition": "phantom SUV averaged over the lesion "
             "voxels at >= 90 % of the lesion's maximum, frame means", **metrics,
             "slope_window_min": list(TRUTH_SLOPE_WINDOW_MIN),
             "lesion_centre_lps_mm": [float(v) for v in patient.lesion_centre_lps_mm],
             "pose_rotation_deg": [float(v) for v in patient.pose.rotation_deg],
             "static_window_min": list(TRUTH_STATIC_WINDOW_MIN), **_btv_truth(patient, static_suv)}
    if scanner_truth:
        truth["scanner_truth"] = _scanner_truth(patient, window_maps, starts=starts, durations=durations,
                                                weights=weights, hot=hot)
    write_text(out_dir / "ground_truth_dynamic.json", json.dumps(truth, indent=2))
    return truth
