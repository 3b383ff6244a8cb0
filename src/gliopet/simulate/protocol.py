"""The founding study's acquisition and reconstruction protocol, named once for the simulator.

The study (68Ga-Pentixafor PET/CT, Siemens Biograph 6 TrueV): one 10-minute
bed 60 min after injection, reconstructed with OSEM, 2 iterations x 21
subsets, and a 5 mm FWHM Gaussian post-filter (DESIGN.md, "Simulation"). The
acquisition, the reconstruction, the pilot reconstructions and the DICOM
headers all take these values from here.
"""

from __future__ import annotations

__all__ = ["OSEM_ITERATIONS", "OSEM_SUBSETS", "POST_FILTER_FWHM_MM", "FRAME_S", "RECONSTRUCTION_LABEL"]

#: OSEM iterations (the study: 2).
OSEM_ITERATIONS = 2
#: OSEM subsets (the study: 21).
OSEM_SUBSETS = 21
#: Gaussian post-filter after OSEM, full width at half maximum (mm; the study: 5 mm).
POST_FILTER_FWHM_MM = 5.0
#: Duration of the one bed position (s; the study: 10 minutes).
FRAME_S = 600.0
#: How a series description names the reconstruction: ``OSEM2i21s G5``.
RECONSTRUCTION_LABEL = f"OSEM{OSEM_ITERATIONS}i{OSEM_SUBSETS}s G{POST_FILTER_FWHM_MM:g}"
