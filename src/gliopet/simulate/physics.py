"""Physics of the acquisition: CT-to-511-keV attenuation.

Pure functions on plain values and arrays. Radioactive decay is gliopet's one
decay law, :mod:`gliopet.decay`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
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
