"""Step 3 of a simulated patient: aim the pilots (uptake that makes the reconstruction show the targets).

Pilot acquisitions at the reference time with the same Poisson uniforms as
the final one (common random numbers: the noise pattern stays) read the
lesion's SUVmax and the contralateral background's SUVmax and correct the
uptakes: the lesion through its resolution recovery, the background (whose
maximum is part uptake, part noise) by :func:`next_bg_scale`. Up to
:data:`PILOTS` pilots, stopping once both are within :data:`AIM_TOLERANCE`.
The final acquisition takes the uptakes of the pilot that came closest (least
sum of the two relative misses: below the noise floor the background cannot
get closer and the lesion decides) and shows exactly that pilot's values:
slices are independent in the rebinned model apart from the axial blurs, so a
pilot covers only the slab holding the lesion and the background circle,
with a margin of :data:`SLAB_MARGIN` slices, and reproduces those slices of
the whole volume.

The pilots read the background as ``gliopet measure`` will (its own
:func:`gliopet.measure.circle_roi` at the true centre), since they aim at
what a measurement reads. The ground truth is not taken from here: it comes
from :mod:`gliopet.simulate.truth_rois`, which shares no code with
:mod:`gliopet.measure`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..measure import BACKGROUND_CIRCLE_DIAMETER_MM, circle_roi
from ..volume import Volume
from .acquisition import Scanner, gaussian_filter_fwhm
from .grids import PET_GRID
from .protocol import POST_FILTER_FWHM_MM
from .sampling import SampledPatient
from .specs import BG_MAX_OVER_MEAN
from .scan import SCANNER, Acquisition, Uptake, acquire

__all__ = ["EFFECTIVE_OSEM_FWHM_MM", "BG_MAX_OVER_MEAN", "SLAB_MARGIN", "PILOTS", "AIM_TOLERANCE",
           "BG_STEP", "MIN_BG_SCALE", "Aim", "aim_pilots", "next_bg_scale", "effective_fwhm_mm",
           "background_suvmax_as_measured"]

#: Resolution lost by OSEM at 2 iterations x 21 subsets on top of the system and filter blur
#: (mm FWHM, added in quadrature); used only to aim lesion uptake at a target SUVmax.
EFFECTIVE_OSEM_FWHM_MM = 3.0
#: Slices added on each side of the pilot reconstruction's slab (12 mm: beyond 4 sigma of the
#: system blur and of the 5 mm post-filter).
SLAB_MARGIN = 6
#: Pilot reconstructions used at most to aim the lesion and background at their targets, and the
#: relative agreement with the targets at which the pilots stop.
PILOTS = 5
AIM_TOLERANCE = 0.02
#: Largest factor of one background correction, and the smallest background scale (a fraction of
#: the tracer table's grey- and white-matter uptake).
BG_STEP = 4.0
MIN_BG_SCALE = 0.05
#: The lesion's recovery is not taken below this in a lesion correction.
_MIN_RECOVERY = 0.2


@dataclass(frozen=True)
class Aim:
    """What the pilots settled on: the uptake, and the analytic recovery it started from."""

    uptake: Uptake
    recovery: float  # peak of the viable lesion at SUV 1 blurred by the effective resolution
    effective_fwhm_mm: float
    pilots: int  # pilot reconstructions run


@dataclass(frozen=True)
class _Reading:
    """A pilot's reading of its reconstruction."""

    lesion_suvmax: float  # the highest voxel near the lesion VOI
    bg_suvmax: float  # the background circle at the true centre, as gliopet.measure reads it


def next_bg_scale(tried: Sequence[tuple[float, float]], target: float) -> float:
    """The next background scale from the pilots so far: ``(scale, reconstructed SUVmax)`` pairs.

    Once pilots lie on both sides of the target, the next scale interpolates
    linearly between the closest two that bracket it (regula falsi: the noisy
    maximum is not smooth enough for an unguarded secant). Before that, the
    secant through the last two pilots is followed when it rises, and after
    one pilot the scale is multiplied by ``target / measured``. A step is kept
    within a factor :data:`BG_STEP` of the last scale, and the scale at or
    above :data:`MIN_BG_SCALE` (below it the white matter would hold almost
    no tracer and only the image noise would be left).
    """
    scale, measured = tried[-1]
    below = [(s, m) for s, m in tried if m < target]
    above = [(s, m) for s, m in tried if m > target]
    if below and above:
        s_lo, m_lo = max(below)
        s_hi, m_hi = min(above)
        nxt = (s_lo + (target - m_lo) * (s_hi - s_lo) / (m_hi - m_lo) if s_lo < s_hi
               else math.sqrt(s_lo * s_hi))  # not monotonic here: split the difference
        return max(MIN_BG_SCALE, nxt)
    step = target / measured
    if len(tried) >= 2:
        scale0, measured0 = tried[-2]
        if scale != scale0 and measured != measured0 and (measured - measured0) / (scale - scale0) > 0:
            step = (scale + (target - measured) * (scale - scale0) / (measured - measured0)) / scale
    return max(MIN_BG_SCALE, scale * float(np.clip(step, 1.0 / BG_STEP, BG_STEP)))


def effective_fwhm_mm(scanner: Scanner, positron_range_fwhm_mm: float, filter_fwhm_mm: float) -> float:
    """The reconstruction's resolution for aiming: system, positron range, post-filter and
    :data:`EFFECTIVE_OSEM_FWHM_MM` added in quadrature (mm FWHM)."""
    return math.sqrt(scanner.system_fwhm_mm ** 2 + positron_range_fwhm_mm ** 2 + filter_fwhm_mm ** 2
                     + EFFECTIVE_OSEM_FWHM_MM ** 2)


def background_suvmax_as_measured(image_suv: np.ndarray, affine: np.ndarray, centre_lps_mm: np.ndarray) -> float:
    """SUVmax of the study's 25 mm background circle at ``centre_lps_mm``, as gliopet measures it (resliced).

    The pilots aim each patient's reconstructed background at the study's
    value by this reading. The level is kept within the image's slices.
    """
    volume = Volume(image_suv, affine)
    i, j, k = volume.xyz_mm_to_ijk(centre_lps_mm)
    k = float(np.clip(k, 0.0, image_suv.shape[0] - 1.0))
    return circle_roi(volume, centre_ijk=(float(i), float(j), k), diameter_mm=BACKGROUND_CIRCLE_DIAMETER_MM,
                      resliced=True).suvmax


def _pilot_slab(patient: SampledPatient) -> slice:
    """The slices holding the lesion's surroundings and the background level, with :data:`SLAB_MARGIN`."""
    inv = np.linalg.inv(PET_GRID.affine)
    k_bg = float((inv[:3, :3] @ patient.centrum_semiovale_lps_mm[patient.contralateral] + inv[:3, 3])[2])
    k_lesion = np.flatnonzero(patient.lesion_near.any(axis=(1, 2)))
    k_lo = int(min(k_bg, k_lesion.min() if k_lesion.size else k_bg)) - SLAB_MARGIN
    k_hi = int(np.ceil(max(k_bg, k_lesion.max() if k_lesion.size else k_bg))) + SLAB_MARGIN + 1
    return slice(max(0, k_lo), min(PET_GRID.shape[0], k_hi))


def _read_pilot(patient: SampledPatient, pilot: Acquisition, slab: slice) -> _Reading:
    image_suv = pilot.image_suv
    near = patient.lesion_near[slab]
    lesion = float(image_suv[near].max()) if near.any() else float("nan")
    affine = PET_GRID.affine.copy()
    affine[:3, 3] += affine[:3, 2] * (slab.start or 0)
    bg = background_suvmax_as_measured(image_suv, affine, patient.centrum_semiovale_lps_mm[patient.contralateral])
    return _Reading(lesion_suvmax=lesion, bg_suvmax=bg)


def _first_aim(patient: SampledPatient, scanner: Scanner) -> Aim:
    """The uptake before any pilot: background from the tracer table, lesion from its analytic recovery."""
    spec, tracer = patient.spec, patient.tracer
    ref = tracer.tissue_suv(tracer.reference_time_min)
    bg_scale = max(MIN_BG_SCALE, spec.target_bg_suvmax / (BG_MAX_OVER_MEAN * ref["wm"]))
    fwhm = effective_fwhm_mm(scanner, tracer.nuclide.positron_range_fwhm_mm, POST_FILTER_FWHM_MM)
    unit = patient.pet_lesion.lesion_fraction * patient.pet_lesion.lesion_relative_uptake  # viable lesion, SUV 1
    recovery = float(gaussian_filter_fwhm(unit, fwhm_mm=fwhm, spacing_mm=PET_GRID.spacing_mm).max())
    wm_ref = ref["wm"] * bg_scale
    if spec.target_suvmax is None:
        lesion_ref_suv = wm_ref  # visually negative: no uptake above white matter
    else:
        lesion_ref_suv = max(wm_ref, (spec.target_suvmax - wm_ref) / max(recovery, 1e-3) + wm_ref)
    return Aim(uptake=Uptake(lesion_ref_suv=lesion_ref_suv, bg_scale=bg_scale), recovery=recovery,
               effective_fwhm_mm=fwhm, pilots=0)


def aim_pilots(patient: SampledPatient, *, scanner: Scanner = SCANNER) -> Aim:
    """Pilot acquisitions that bring the lesion and background SUVmax to the spec's targets.

    Returns
    -------
    Aim
        The uptake of the pilot that came closest (see the module's docstring).
    """
    spec, tracer = patient.spec, patient.tracer
    wm_ref_per_scale = tracer.tissue_suv(tracer.reference_time_min)["wm"]
    first = _first_aim(patient, scanner)
    lesion_ref_suv, bg_scale = first.uptake.lesion_ref_suv, first.uptake.bg_scale
    ref_scan = int(np.argmin([abs(t - tracer.reference_time_min) for t in spec.scan_times_min]))
    slab = _pilot_slab(patient)
    visible = spec.target_suvmax is not None
    tried: list[tuple[float, float]] = []  # (bg_scale, reconstructed background SUVmax)
    best: tuple[float, float, float] | None = None  # (sum of relative misses, bg_scale, lesion_ref_suv)
    n_pilots = 0
    for _ in range(PILOTS):
        if not visible:
            lesion_ref_suv = wm_ref_per_scale * bg_scale
        pilot = acquire(patient, scan=ref_scan, uptake=Uptake(lesion_ref_suv, bg_scale), scanner=scanner, slab=slab)
        reading = _read_pilot(patient, pilot, slab)
        n_pilots += 1
        if not (reading.bg_suvmax > 0 and np.isfinite(reading.bg_suvmax)):
            break
        bg_miss = abs(reading.bg_suvmax / spec.target_bg_suvmax - 1)
        lesion_miss = abs(reading.lesion_suvmax / spec.target_suvmax - 1) if visible else 0.0
        if best is None or bg_miss + lesion_miss < best[0]:
            best = (bg_miss + lesion_miss, bg_scale, lesion_ref_suv)
        if max(bg_miss, lesion_miss) <= AIM_TOLERANCE:
            break
        tried.append((bg_scale, reading.bg_suvmax))
        bg_scale = next_bg_scale(tried, spec.target_bg_suvmax)
        if visible:
            step = (spec.target_suvmax - reading.lesion_suvmax) / max(first.recovery, _MIN_RECOVERY)
            lesion_ref_suv = max(wm_ref_per_scale * bg_scale, lesion_ref_suv + step)
    if best is not None:
        _, bg_scale, lesion_ref_suv = best
    if not visible:
        lesion_ref_suv = wm_ref_per_scale * bg_scale
    return Aim(uptake=Uptake(lesion_ref_suv=lesion_ref_suv, bg_scale=bg_scale), recovery=first.recovery,
               effective_fwhm_mm=first.effective_fwhm_mm, pilots=n_pilots)
