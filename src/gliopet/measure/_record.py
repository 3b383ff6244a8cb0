"""The Measurement record: one lesion, one background, every value the study reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..volume import Volume
from ._rois import (
    BACKGROUND_CIRCLE_DIAMETER_MM,
    LESION_CIRCLE_DIAMETER_MM,
    Btv,
    CircleRoi,
    PeakSphere,
    RegionRoi,
    Tbr,
    biological_tumour_volume,
    circle_roi,
    lesion_circle,
    region_roi,
    suv_peak,
    tumour_to_background,
)

__all__ = ["MEASURED_COLUMNS", "Measurement", "measure_rois", "judge_btv", "BTV_WARN_BRAIN_FRACTION",
           "BTV_WARN_ML"]

#: The measured columns (DESIGN.md "Measured columns added by analysis"): the keys of
#: :meth:`Measurement.to_dict` that the analysis CSV, the store and the statistics carry.
#: This is the one list; every other module imports it.
MEASURED_COLUMNS = ("suvmax", "suvmean_1cm", "suvpeak", "btv_ml", "bg_suvmax", "bg_suvmean",
                    "tbr_max_to_bg_max", "tbr_max_to_bg_mean", "tbr_mean_to_bg_mean")

#: A BTV larger than this fraction of the brain mask (or, without a brain
#: mask, larger than :data:`BTV_WARN_ML`) has grown into normal tissue: the
#: 1.6 x background threshold is then below normal grey-matter uptake or the
#: noise. The value is reported with a warning, not altered.
BTV_WARN_BRAIN_FRACTION = 0.10
BTV_WARN_ML = 250.0


@dataclass(frozen=True)
class Measurement:
    """Every value of one study's measurement, with where each ROI was placed.

    :meth:`to_dict` gives the ``gliopet measure --json`` object (DESIGN.md keys
    at the top level).
    """

    lesion: CircleRoi
    background: CircleRoi | RegionRoi
    peak: PeakSphere
    btv: Btv
    tbr: Tbr
    units: str = "g/mL"
    extra: dict[str, Any] = field(default_factory=dict)
    #: The lesion VOI and the brain mask used (bool, PET grid); not serialised.
    voi: np.ndarray | None = field(default=None, repr=False, compare=False)
    brain_mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: Whether the BTV's threshold separated the lesion from normal tissue: False when the BTV grew past
    #: :data:`BTV_WARN_BRAIN_FRACTION` of the brain mask (or :data:`BTV_WARN_ML` without one); None
    #: when not judged.
    btv_separates: bool | None = None

    @property
    def suvmax(self) -> float:
        return self.lesion.suvmax

    @property
    def suvmean_1cm(self) -> float:
        return self.lesion.suvmean

    def to_dict(self) -> dict[str, Any]:
        """Flat values first (the CSV's measured columns), then the ROI objects."""
        out: dict[str, Any] = {
            "suvmax": self.lesion.suvmax,
            "suvmean_1cm": self.lesion.suvmean,
            "suvpeak": self.peak.suvpeak,
            "btv_ml": self.btv.volume_ml,
            "btv_suvmean": self.btv.suvmean,
            "bg_suvmax": self.background.suvmax,
            "bg_suvmean": self.background.suvmean,
            "tbr_max_to_bg_max": self.tbr.max_to_bg_max,
            "tbr_max_to_bg_mean": self.tbr.max_to_bg_mean,
            "tbr_mean_to_bg_mean": self.tbr.mean_to_bg_mean,
            "units": {"suv": self.units, "btv": "mL", "tbr": "1", "positions": "LPS mm"},
            "lesion": self.lesion.to_dict(),
            "background": self.background.to_dict(),
            "suvpeak_sphere": {"centre_lps_mm": None if self.peak.centre_lps_mm is None
                               else [round(v, 3) for v in self.peak.centre_lps_mm],
                               "centre_ijk": None if self.peak.centre_ijk is None else list(self.peak.centre_ijk),
                               "volume_ml": round(self.peak.volume_ml, 4)},
            "btv": {"threshold": self.btv.threshold, "n_voxels": self.btv.n_voxels,
                    "separates": self.btv_separates},
        }
        out.update(self.extra)
        return out


def judge_btv(btv: Btv, *, voxel_ml: float, brain_mask: np.ndarray | None) -> tuple[bool, str | None]:
    """Whether the BTV's threshold separated the lesion from normal tissue, and the warning when not.

    It did not when the BTV is more than :data:`BTV_WARN_BRAIN_FRACTION` of the brain mask, or, without
    a brain mask, more than :data:`BTV_WARN_ML`.

    >>> import numpy as np
    >>> from gliopet.measure import Btv
    >>> brain = np.ones((10, 10, 10), bool)  # 1000 voxels of 1 mL
    >>> judge_btv(Btv(volume_ml=100.0, suvmean=2.0, n_voxels=100, threshold=0.5, mask=brain), voxel_ml=1.0,
    ...           brain_mask=brain)
    (True, None)
    >>> judge_btv(Btv(volume_ml=101.0, suvmean=2.0, n_voxels=101, threshold=0.5, mask=brain), voxel_ml=1.0,
    ...           brain_mask=brain)[0]
    False
    """
    if brain_mask is not None:
        brain_ml = float(np.count_nonzero(brain_mask)) * voxel_ml
        if btv.volume_ml > BTV_WARN_BRAIN_FRACTION * brain_ml:
            return False, (f"BTV {btv.volume_ml:.0f} mL is {100 * btv.volume_ml / brain_ml:.0f} % of the brain: its "
                           f"threshold (SUV {btv.threshold:.3g}) does not separate the lesion from normal brain")
    elif btv.volume_ml > BTV_WARN_ML:
        return False, (f"BTV {btv.volume_ml:.0f} mL (> {BTV_WARN_ML:g} mL) has grown beyond the lesion: its "
                       f"threshold (SUV {btv.threshold:.3g}) does not separate it from normal tissue (give --ct so "
                       "the BTV is limited to the brain)")
    return True, None


def measure_rois(pet: Volume, *, voi_mask: np.ndarray, background_centre_ijk: tuple[float, float, float] | None = None,
                 background_mask: np.ndarray | None = None,
                 lesion_method: str = "mask", background_method: str = "point",
                 brain_mask: np.ndarray | None = None,
                 lesion_diameter_mm: float = LESION_CIRCLE_DIAMETER_MM,
                 background_diameter_mm: float = BACKGROUND_CIRCLE_DIAMETER_MM) -> Measurement:
    """Measure a PET (SUV) volume with a lesion VOI and a background circle centre.

    The lesion circle is :func:`lesion_circle` of the VOI, SUVpeak is
    :func:`suv_peak` over the VOI, the background circle is :func:`circle_roi`
    at ``background_centre_ijk``, resliced at its level (``k`` may be
    fractional: the PET between two slices, linearly), the BTV grows from the
    lesion circle's centre (the VOI's hottest voxel) at 1.6 x background mean,
    limited to ``brain_mask`` when given, and the TBRs follow. With
    ``background_mask`` instead of a centre, the background is that region
    of whole voxels (:func:`region_roi`, e.g. the crescent).
    """
    lesion = lesion_circle(pet, voi_mask, diameter_mm=lesion_diameter_mm, method=lesion_method)
    if (background_centre_ijk is None) == (background_mask is None):
        raise ValueError("give exactly one of background_centre_ijk (a circle) and background_mask (a region)")
    if background_mask is not None:
        background = region_roi(pet, background_mask, method=background_method)
    else:
        background = circle_roi(pet, centre_ijk=background_centre_ijk, diameter_mm=background_diameter_mm,
                                method=background_method, resliced=True)
    peak = suv_peak(pet, voi_mask)
    seed = tuple(int(round(v)) for v in lesion.centre_ijk)
    btv = biological_tumour_volume(pet, seed_ijk=seed, bg_mean=background.suvmean, within=brain_mask)
    tbr = tumour_to_background(lesion_suvmax=lesion.suvmax, lesion_suvmean=lesion.suvmean,
                               bg_suvmax=background.suvmax, bg_suvmean=background.suvmean)
    warnings = [] if peak.warning is None else [peak.warning]
    separates, btv_warning = judge_btv(btv, voxel_ml=pet.voxel_volume_ml, brain_mask=brain_mask)
    if btv_warning:
        warnings.append(btv_warning)
    return Measurement(lesion=lesion, background=background, peak=peak, btv=btv, tbr=tbr,
                       extra={"warnings": warnings},
                       units=str(pet.provenance.get("units", "g/mL")), voi=np.asarray(voi_mask, bool),
                       brain_mask=None if brain_mask is None else np.asarray(brain_mask, bool),
                       btv_separates=separates)
