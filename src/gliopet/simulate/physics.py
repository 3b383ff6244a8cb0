"""Physics of the acquisition: radioactive decay and CT-to-511-keV attenuation.

Pure functions on plain values and arrays.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "decay_factor",
    "frame_decay_correction",
    "hu_to_mu_511_per_cm",
    "MU_WATER_511_PER_CM",
    "MU_BONE_511_PER_CM",
    "HU_BONE",
]

#: Linear attenuation coefficient of water at 511 keV (1/cm).
MU_WATER_511_PER_CM = 0.096
#: Cortical bone at 511 keV: ICRU Report 44 cortical bone (1.92 g/cm3) x
#: mu/rho(511 keV) = 0.0897 cm2/g gives 0.172 /cm.
MU_BONE_511_PER_CM = 0.172
#: CT number taken for that cortical bone at 120-130 kVp. The bone segment's slope,
#: (0.172 - 0.096) / 1400 = 5.4e-5 /cm per HU, is close to published 130 kVp
#: bilinear slopes (Carney et al. 2006).
HU_BONE = 1400.0


def decay_factor(elapsed_s: float | np.ndarray, *, half_life_s: float) -> float | np.ndarray:
    """Fraction of activity left after ``elapsed_s``: ``2 ** (-elapsed_s / half_life_s)``.

    Examples
    --------
    >>> round(decay_factor(4062.6, half_life_s=4062.6), 12)
    0.5
    """
    if isinstance(elapsed_s, np.ndarray):
        return np.power(2.0, -elapsed_s.astype(np.float64) / half_life_s)
    return 2.0 ** (-float(elapsed_s) / half_life_s)


def frame_decay_correction(frame_s: float, *, half_life_s: float) -> float:
    """Factor from the frame-average activity to the activity at frame start.

    Counts in a frame of length T from activity A0 at its start are
    ``A0 (1 - exp(-lambda T)) / lambda``; dividing by T gives the frame-average
    activity, so the factor is ``lambda T / (1 - exp(-lambda T))``
    (DICOM PS3.3 C.8.9.4, DecayCorrection START).

    Examples
    --------
    >>> round(frame_decay_correction(600.0, half_life_s=4062.6), 6)
    1.052058
    """
    lam = math.log(2.0) / half_life_s
    return lam * frame_s / (1.0 - math.exp(-lam * frame_s))


def hu_to_mu_511_per_cm(hu: np.ndarray | float) -> np.ndarray:
    """Bilinear CT number to 511 keV linear attenuation coefficient (1/cm).

    ``mu = 0.096 (1 + HU/1000)`` for HU <= 0 (air-water mixtures) and
    ``mu = 0.096 + HU (mu_bone - 0.096) / HU_bone`` above (water-bone
    mixtures); negative results (below air) are clipped to 0.

    References
    ----------
    Kinahan PE et al. Attenuation correction for a combined 3D PET/CT scanner.
    Med Phys 1998;25:2046-53. Carney JPJ et al. Method for transforming CT images
    for attenuation correction in PET/CT imaging. Med Phys 2006;33:976-83.

    Examples
    --------
    >>> float(hu_to_mu_511_per_cm(0.0))
    0.096
    >>> float(hu_to_mu_511_per_cm(-1000.0))
    0.0
    """
    hu = np.asarray(hu, dtype=np.float64)
    low = MU_WATER_511_PER_CM * (1.0 + hu / 1000.0)
    high = MU_WATER_511_PER_CM + hu * (MU_BONE_511_PER_CM - MU_WATER_511_PER_CM) / HU_BONE
    return np.clip(np.where(hu <= 0.0, low, high), 0.0, None)
