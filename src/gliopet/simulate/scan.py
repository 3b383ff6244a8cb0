"""Step 2 of a simulated patient: acquire one PET scan (activity, counts, OSEM) of a sampled patient.

:func:`acquire` is deterministic: the patient's anatomy and Poisson uniforms
come from :func:`~gliopet.simulate.sampling.sample_patient`, the uptake from
the pilots (:mod:`gliopet.simulate.pilots`). A pilot acquires only a slab of
slices; the scans written as DICOM acquire the whole field of view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..decay import decayed_activity_bq
from .acquisition import BIOGRAPH_6_TRUEV, Scanner, Sinograms, reconstruct, simulate_sinograms
from .grids import PET_GRID
from .projector import CLINICAL_GEOMETRY, system_matrix
from .protocol import OSEM_ITERATIONS, OSEM_SUBSETS, POST_FILTER_FWHM_MM
from .sampling import SampledPatient
from .tissue_images import tissue_activity_suv

__all__ = ["Uptake", "Acquisition", "WrittenScan", "acquire", "SCANNER", "BRAIN_TISSUES_SCALED"]

#: The study's scanner.
SCANNER = BIOGRAPH_6_TRUEV
#: Tissues whose tracer-table uptake the background scale multiplies.
BRAIN_TISSUES_SCALED = ("gm", "wm", "csf", "oedema")


@dataclass(frozen=True)
class Uptake:
    """The uptake the pilots settle on.

    ``lesion_ref_suv``: the lesion's SUV at the tracer's reference time (the
    peak of its heterogeneous profile); ``bg_scale``: the factor on the tracer
    table's grey matter, white matter, CSF and oedema uptake.
    """

    lesion_ref_suv: float
    bg_scale: float


@dataclass(frozen=True)
class Acquisition:
    """One acquired and reconstructed PET scan (or a pilot's slab of it).

    ``suv_map`` is the phantom's noise-free SUV, ``image_bq_per_ml`` the
    reconstruction (Bq/mL at scan start), both ``[k, j, i]`` on the PET grid
    (or the slab's slices).
    """

    tissue_suv: dict[str, float]  # phantom SUV per tissue at this scan
    lesion_suv: float  # the lesion's peak SUV at this scan
    suv_map: np.ndarray
    decayed_bq: float  # injected activity decayed to scan start
    bq_per_ml_per_suv: float
    sinograms: Sinograms
    image_bq_per_ml: np.ndarray

    @property
    def image_suv(self) -> np.ndarray:
        """The reconstruction in SUV (g/mL)."""
        return self.image_bq_per_ml / self.bq_per_ml_per_suv


def acquire(patient: SampledPatient, *, scan: int, uptake: Uptake, scanner: Scanner = SCANNER,
            slab: slice = slice(None)) -> Acquisition:
    """Simulate and reconstruct scan number ``scan`` of ``patient`` with ``uptake``.

    Parameters
    ----------
    patient : SampledPatient
    scan : int
        Index into ``patient.spec.scan_times_min`` (and the timeline's scan starts).
    uptake : Uptake
    slab : slice
        Slices of the PET grid to acquire (a pilot's slab; all by default).

    Returns
    -------
    Acquisition
        Reconstructed with OSEM (:data:`~gliopet.simulate.protocol.OSEM_ITERATIONS` x
        :data:`~gliopet.simulate.protocol.OSEM_SUBSETS`) and the
        :data:`~gliopet.simulate.protocol.POST_FILTER_FWHM_MM` Gaussian.
    """
    spec, tracer = patient.spec, patient.tracer
    nuclide = tracer.nuclide
    t_min = spec.scan_times_min[scan]
    suv = tracer.tissue_suv(t_min)
    for tissue in BRAIN_TISSUES_SCALED:
        suv[tissue] *= uptake.bg_scale
    lesion_t = max(suv["wm"], uptake.lesion_ref_suv * tracer.lesion_factor(t_min)) \
        if spec.target_suvmax is not None else suv["wm"]
    suv_map = tissue_activity_suv(patient.pet_fractions, patient.pet_lesion, suv, lesion_t,
                                  lesion_t * tracer.necrosis_relative)
    start: datetime = patient.timeline.scans[scan]
    elapsed_s = (start - patient.timeline.injection).total_seconds()
    decayed_bq = decayed_activity_bq(spec.injected_bq, elapsed_s=elapsed_s, half_life_s=nuclide.half_life_s)
    to_bqml = decayed_bq / (spec.weight_kg * 1000.0)
    system = system_matrix(CLINICAL_GEOMETRY, n_subsets=OSEM_SUBSETS)
    # The PET grid is centred on the scanner's field of view: slice k lies at z = affine (0, 0, k).
    slice_z_mm = PET_GRID.affine[2, 2] * np.arange(PET_GRID.shape[0]) + PET_GRID.affine[2, 3]
    sino = simulate_sinograms(suv_map[slab] * to_bqml, patient.mu_per_cm[slab], system=system, scanner=scanner,
                              slice_z_mm=slice_z_mm[slab], slice_mm=PET_GRID.spacing_mm[2], frame_s=spec.frame_s,
                              half_life_s=nuclide.half_life_s, positron_fraction=nuclide.positron_fraction,
                              positron_range_fwhm_mm=nuclide.positron_range_fwhm_mm,
                              uniforms=patient.uniforms[scan][slab])
    image = reconstruct(sino, system=system, slice_mm=PET_GRID.spacing_mm[2], n_iterations=OSEM_ITERATIONS,
                        post_filter_fwhm_mm=POST_FILTER_FWHM_MM)
    return Acquisition(tissue_suv=suv, lesion_suv=lesion_t, suv_map=suv_map, decayed_bq=decayed_bq,
                       bq_per_ml_per_suv=to_bqml, sinograms=sino, image_bq_per_ml=image)


@dataclass(frozen=True)
class WrittenScan:
    """A PET scan written as a DICOM series: where, and the acquisition it holds."""

    scan: int  # index into the spec's scan times
    time_min: float
    pet_folder: str  # folder name inside the patient's folder
    series_uid: str
    acquisition: Acquisition
