"""PET acquisition and reconstruction of a simulated head: counts, background, OSEM.

The acquisition model per slice (2-D after single-slice rebinning):

- the true activity (Bq/mL at frame start) is blurred by the scanner's
  resolution and the positron range (3-D Gaussian) and projected;
- multiplied by the attenuation factors ``exp(-integral mu)`` from the CT
  mu-map, by the counting factor ``kappa`` (mean sensitivity x counting
  time) and by the scanner's axial sensitivity profile at the slice (a 3-D
  scanner counts the centre of its field of view more efficiently than its
  ends);
- scatter is the attenuated trues smoothed heavily along the radial bins and
  the views, scaled to the scatter fraction; randoms are flat per slice,
  scaled to the randoms fraction; both form the smooth additive background;
- prompts are Poisson draws of trues + scatter + randoms.

Reconstruction: OSEM with the same projector, attenuation, ``kappa`` and the
(known) additive background, then a Gaussian post-filter. Because ``kappa``
holds the counting time of a decaying source, the image is the activity
concentration at frame start (DICOM DecayCorrection START).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from .osem import osem
from .projector import SystemMatrix
from .protocol import OSEM_ITERATIONS, POST_FILTER_FWHM_MM

__all__ = [
    "Scanner", "BIOGRAPH_6_TRUEV", "Sinograms", "counting_factor", "simulate_sinograms",
    "reconstruct", "gaussian_filter_fwhm", "poisson_from_uniforms", "FWHM_TO_SIGMA", "F18_POSITRON_FRACTION",
]

logger = logging.getLogger(__name__)

#: sigma = FWHM / (2 sqrt(2 ln 2)).
FWHM_TO_SIGMA = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
#: NEMA sensitivity is measured with F-18 (positron fraction 0.9673); other
#: nuclides scale by their positron fraction relative to it.
F18_POSITRON_FRACTION = 0.9673


@dataclass(frozen=True)
class Scanner:
    """A PET scanner model.

    Parameters
    ----------
    sensitivity_cps_per_kbq : float
        NEMA NU 2 sensitivity (F-18, counts per second per kBq of the whole
        700 mm line source). Only ``axial_fov_mm / 700`` of that source lies in
        the field of view, so activity inside the field of view is counted
        ``700 / axial_fov_mm`` times more efficiently (taken uniform axially).
    system_fwhm_mm : float
        Spatial resolution (FWHM, mm) without positron range.
    scatter_fraction, randoms_fraction : float
        Scatter / (trues + scatter) and randoms / prompts.
    n_rings, max_ring_difference : int
        Detector rings and the largest ring difference accepted in 3-D mode:
        they set the axial sensitivity profile (:meth:`axial_sensitivity`).
        The image planes are the ``2 n_rings - 1`` direct and cross planes,
        ``axial_fov_mm / (2 n_rings - 2)`` apart.
    """

    manufacturer_model: str = "Biograph 6 TrueV"
    sensitivity_cps_per_kbq: float = 8.1
    system_fwhm_mm: float = 4.5
    scatter_fraction: float = 0.32
    randoms_fraction: float = 0.15
    axial_fov_mm: float = 216.0
    nema_source_length_mm: float = 700.0
    n_rings: int = 55
    max_ring_difference: int = 38

    @property
    def in_fov_cps_per_bq(self) -> float:
        """F-18 counts per second per Bq inside the axial field of view."""
        return self.sensitivity_cps_per_kbq / 1000.0 * self.nema_source_length_mm / self.axial_fov_mm

    def axial_sensitivity(self, z_mm) -> np.ndarray:
        """Relative sensitivity at axial offsets ``z_mm`` from the centre of the field of view.

        Plane ``p`` (``0 .. 2N - 2`` for ``N`` rings; ``p = r1 + r2`` of the
        ring pairs it collects) is reached by the ring pairs whose difference
        has the parity of ``p`` and is at most ``min(p, 2N - 2 - p, D)``
        (``D`` the maximum ring difference), i.e. ``min(p, 2N - 2 - p, D) + 1``
        of them, the parity alternation of direct and cross planes averaged
        out. That is a trapezoid: rising linearly from the ends, flat where
        every accepted ring difference fits. It is normalised to a mean of 1
        over the planes, so that a line source through the whole field of
        view (NEMA NU 2) keeps :attr:`in_fov_cps_per_bq`; between planes it
        is interpolated linearly, outside the field of view it is 0.
        """
        last = 2 * self.n_rings - 2
        planes = np.arange(last + 1, dtype=np.float64)
        pairs = lambda p: np.minimum(np.minimum(p, last - p), self.max_ring_difference) + 1.0  # noqa: E731
        p = np.asarray(z_mm, dtype=np.float64) / (self.axial_fov_mm / last) + last / 2.0
        inside = (p >= 0.0) & (p <= last)
        return np.where(inside, pairs(np.clip(p, 0.0, last)), 0.0) / float(pairs(planes).mean())


#: The study's scanner. Sensitivity 8.1 cps/kBq and resolution about 4.5 mm
#: FWHM near the centre for the TrueV extended axial field of view (Jakoby BW et
#: al., IEEE Trans Nucl Sci 2009;56:633-9); brain scatter and randoms fractions
#: typical of 3-D LSO scanners.
BIOGRAPH_6_TRUEV = Scanner()


@dataclass(frozen=True)
class Sinograms:
    """Simulated sinograms ``(K, n_views, n_bins)`` of one frame."""

    prompts: np.ndarray
    multiplicative: np.ndarray
    additive: np.ndarray
    expected_trues: np.ndarray
    kappa: float
    axial_sensitivity: np.ndarray  # (K,) relative to the mean: kappa x this is each slice's factor


def counting_factor(*, scanner: Scanner, pixel_mm: float, slice_mm: float, bin_mm: float, n_views: int,
                    frame_s: float, half_life_s: float, positron_fraction: float) -> float:
    """Counts per unit projected line integral (per Bq/mL x mm) for one frame.

    A voxel of activity ``q`` Bq at frame start yields, unattenuated,
    ``S q (1 - exp(-lambda T)) / lambda`` true counts (``S`` in counts per
    second per Bq inside the field of view, for this nuclide). Its image value is ``q / V`` (V the voxel
    volume, mL) and the projector spreads it with total weight
    ``n_views p**2 / w``; ``kappa`` makes the two agree.
    """
    # The frame's decay integral, written out: it equals frame_s / gliopet.decay.frame_average_factor
    # but not to the last bit, and kappa sets every Poisson mean (seeded output stays byte-identical).
    lam = math.log(2.0) / half_life_s
    counting_time_s = (1.0 - math.exp(-lam * frame_s)) / lam
    s_cps_per_bq = scanner.in_fov_cps_per_bq * positron_fraction / F18_POSITRON_FRACTION
    voxel_ml = pixel_mm * pixel_mm * slice_mm / 1000.0
    return s_cps_per_bq * counting_time_s * voxel_ml / (n_views * pixel_mm ** 2 / bin_mm)


def gaussian_filter_fwhm(image: np.ndarray, *, fwhm_mm: float,
                         spacing_mm: tuple[float, float, float]) -> np.ndarray:
    """3-D Gaussian filter of ``image[k, j, i]`` with FWHM in mm; ``spacing_mm`` is (i, j, k)."""
    if fwhm_mm <= 0:
        return np.asarray(image, dtype=np.float32)
    sigma = [fwhm_mm * FWHM_TO_SIGMA / s for s in spacing_mm[::-1]]
    return ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), sigma=sigma, mode="constant",
                                   truncate=4.0)


def poisson_from_uniforms(uniforms: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Poisson draws by inversion of the CDF at given uniforms (common random numbers).

    The same uniforms with slightly different means give strongly correlated
    draws, which lets a pilot acquisition be rescaled without changing its
    noise pattern. Exact inversion (CDF summed term by term) for means up to
    ``_NORMAL_ABOVE``; above, the normal approximation with continuity
    correction (error far below the Poisson spread at such means).
    """
    u = np.asarray(uniforms, dtype=np.float64).ravel()
    mu = np.asarray(mean, dtype=np.float64).ravel()
    out = np.zeros(mu.shape, dtype=np.float64)
    big = mu > _NORMAL_ABOVE
    if big.any():
        out[big] = np.maximum(0.0, np.floor(mu[big] + np.sqrt(mu[big]) * special.ndtri(u[big]) + 0.5))
    idx = np.flatnonzero(~big & (mu > 0))
    term = np.exp(-mu[idx])
    cdf = term.copy()
    k = 0
    while idx.size:
        above = u[idx] > cdf
        idx, term, cdf = idx[above], term[above], cdf[above]
        k += 1
        out[idx] = k
        term = term * mu[idx] / k
        cdf = cdf + term
        if k > 10 * _NORMAL_ABOVE:  # rounding can leave cdf a hair below u: stop there
            break
    return out.reshape(np.shape(mean))


#: Means above this are drawn with the normal approximation in ``poisson_from_uniforms``.
_NORMAL_ABOVE = 400.0


def simulate_sinograms(activity_bq_per_ml: np.ndarray, mu_per_cm: np.ndarray, *, system: SystemMatrix,
                       scanner: Scanner, slice_z_mm, slice_mm: float, frame_s: float, half_life_s: float,
                       positron_fraction: float, positron_range_fwhm_mm: float,
                       rng: np.random.Generator | None = None, noise: bool = True,
                       uniforms: np.ndarray | None = None) -> Sinograms:
    """Simulate one frame of a slice-rebinned acquisition.

    Parameters
    ----------
    activity_bq_per_ml : (K, n, n) array
        True activity concentration at frame start, on the reconstruction grid.
    mu_per_cm : (K, n, n) array
        511 keV attenuation map on the same grid.
    slice_z_mm : (K,) array
        Axial position of each slice from the centre of the scanner's field
        of view (mm), for the axial sensitivity profile.
    noise : bool
        Poisson prompts (True) or the noise-free means (False).
    rng, uniforms
        Poisson draws from ``rng``, or by CDF inversion at ``uniforms``
        (shape of the sinograms) when given.
    """
    g = system.geometry
    spacing = (g.pixel_mm, g.pixel_mm, slice_mm)
    fwhm = math.hypot(scanner.system_fwhm_mm, positron_range_fwhm_mm)
    blurred = gaussian_filter_fwhm(activity_bq_per_ml, fwhm_mm=fwhm, spacing_mm=spacing)
    line_mu = system.forward(np.asarray(mu_per_cm, dtype=np.float32) / 10.0)  # 1/mm x mm
    attenuation = np.exp(-line_mu).astype(np.float32)
    kappa = counting_factor(scanner=scanner, pixel_mm=g.pixel_mm, slice_mm=slice_mm, bin_mm=g.bin_mm,
                            n_views=g.n_views, frame_s=frame_s, half_life_s=half_life_s,
                            positron_fraction=positron_fraction)
    axial = scanner.axial_sensitivity(slice_z_mm)
    if axial.shape != (activity_bq_per_ml.shape[0],):
        raise ValueError(f"slice_z_mm has shape {axial.shape}, expected one position per slice "
                         f"({activity_bq_per_ml.shape[0]})")
    multiplicative = (kappa * axial[:, None, None] * attenuation).astype(np.float32)
    trues = multiplicative * system.forward(blurred)
    # Scatter: a very smooth version of the trues (sigma 40 mm radially, 30 degrees in angle).
    sf = scanner.scatter_fraction
    smooth = ndimage.gaussian_filter(trues, sigma=(1.0, g.n_views / 6.0, 40.0 / g.bin_mm),
                                     mode=("nearest", "wrap", "constant"))
    per_slice_trues = trues.sum(axis=(1, 2), keepdims=True)
    per_slice_smooth = np.maximum(smooth.sum(axis=(1, 2), keepdims=True), 1e-30)
    scatter = smooth * (sf / (1.0 - sf)) * per_slice_trues / per_slice_smooth
    # Randoms: flat within each slice, the randoms fraction of that slice's prompts (so a slab of
    # slices is simulated exactly as the same slices of the whole volume).
    rf = scanner.randoms_fraction
    per_slice_randoms = (per_slice_trues + scatter.sum(axis=(1, 2), keepdims=True)) * rf / (1.0 - rf)
    randoms = np.broadcast_to(per_slice_randoms / (trues.shape[1] * trues.shape[2]), trues.shape)
    additive = (scatter + randoms).astype(np.float32)
    mean = trues + additive
    if not noise:
        prompts = mean.astype(np.float32)
    elif uniforms is not None:
        prompts = poisson_from_uniforms(uniforms, mean).astype(np.float32)
    else:
        prompts = rng.poisson(mean).astype(np.float32)
    logger.debug("frame: %.3g expected trues, %.3g prompts", float(trues.sum()), float(prompts.sum()))
    return Sinograms(prompts=prompts, multiplicative=multiplicative, additive=additive,
                     expected_trues=trues.astype(np.float32), kappa=kappa,
                     axial_sensitivity=axial)


def reconstruct(sinograms: Sinograms, *, system: SystemMatrix, slice_mm: float,
                n_iterations: int = OSEM_ITERATIONS, post_filter_fwhm_mm: float = POST_FILTER_FWHM_MM) -> np.ndarray:
    """OSEM (``system.n_subsets`` subsets) with attenuation correction, then a Gaussian filter.

    Returns the activity concentration (Bq/mL at frame start), ``(K, n, n)`` float32.
    """
    result = osem(sinograms.prompts, system=system, multiplicative=sinograms.multiplicative,
                  additive=sinograms.additive, n_iterations=n_iterations)
    g = system.geometry
    return gaussian_filter_fwhm(result.image, fwhm_mm=post_filter_fwhm_mm,
                                spacing_mm=(g.pixel_mm, g.pixel_mm, slice_mm))
