"""How far frame noise alone moves the late slope of a simulated dynamic FET patient.

The frames of the slope window (20-40 min p.i.) of one patient of
:func:`gliopet.simulate.dynamic.simulate_dynamic_patient` are acquired and
reconstructed again, ``draws`` times, each time with independent Poisson
counts (the same phantom, pose, counts model and OSEM), and once without
noise (the expected counts). On each draw the late slope is fitted
(:func:`~gliopet.simulate.dynamic.truth_metrics`, ``numpy.polyfit``) over two
VOIs, both drawn by the simulator's own code (none of :mod:`gliopet.measure`):

- ``oracle``: the TAC VOI's definition (the voxels >= 90 % of the maximum
  among the phantom's lesion voxels, 26-connected to it) on the NOISE-FREE
  static image, the same voxels in every draw: what a measurement that knew
  where the lesion's hot part is would get; only the frame noise inside a
  fixed VOI is left;
- ``isocontour``: the same definition on the draw's own noisy static image,
  as a measurement has to draw it.

What no measurement can beat is the oracle's spread: it shows whether a
target such as "slope within 10 % of the truth in every patient" can be met at
this scanner's resolution and counts, whatever the measurement does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .dynamic import (FET_FRAMING_S, FET_LESION_CURVES, TRUTH_SLOPE_WINDOW_MIN, _frame_suv, _suv_map,
                      hot_lesion_voxels, isocontour_truth_voi, truth_metrics)
from .patient import PATIENT_STREAM_OFFSET
from .sampling import sample_patient
from .specs import PatientSpec, seeded_rng

__all__ = ["NOISE_STREAM_OFFSET", "SlopeDraws", "slope_noise_draws"]

#: Random stream of the repeated draws (apart from the patient streams, so a draw never repeats a scan's noise).
NOISE_STREAM_OFFSET = 50_000


@dataclass(frozen=True)
class SlopeDraws:
    """The late slope (SUV/h) of one patient: the ideal truth, the noise-free reconstruction over the
    TAC VOI (``scanner``), and each noisy draw over the ``oracle`` and the ``isocontour`` VOI."""

    pattern: str
    ideal: float
    scanner: float
    oracle: tuple[float, ...]
    isocontour: tuple[float, ...]
    oracle_voi_ml: float
    isocontour_voi_ml: tuple[float, ...]

    def summary(self) -> dict[str, Any]:
        """Mean and sample SD of each VOI's slope error against the ideal truth and against ``scanner``
        (fractions), and the share of draws within 10 % of the ideal truth."""
        out: dict[str, Any] = {"pattern": self.pattern, "ideal": self.ideal, "scanner": self.scanner,
                               "scanner_error": self.scanner / self.ideal - 1.0, "draws": len(self.oracle),
                               "oracle_voi_ml": self.oracle_voi_ml}
        for name, slopes in (("oracle", self.oracle), ("isocontour", self.isocontour)):
            values = np.asarray(slopes, dtype=np.float64)
            out[name] = {"mean_error": float(values.mean() / self.ideal - 1.0),
                         "sd": float(values.std(ddof=1) / abs(self.ideal)) if len(values) > 1 else None,
                         "mean_error_vs_scanner": float(values.mean() / self.scanner - 1.0),
                         "within_10pc_of_ideal": float(np.mean(np.abs(values / self.ideal - 1.0) <= 0.10))}
        return out


def slope_noise_draws(spec: PatientSpec, *, seed: int, pattern: str, draws: int,
                      framing_s=FET_FRAMING_S, noise_seed: int = 0) -> SlopeDraws:
    """The slope window's frames of ``spec`` (as :func:`simulate_dynamic_patient` with ``seed``, ``pattern``
    and ``framing_s`` makes them) acquired again ``draws`` times with independent noise (stream
    ``noise_seed``), and once without; the slopes over the oracle and the isocontour VOI (module text)."""
    spec = replace(spec, tracer="fet", scan_times_min=(0.0,))
    curve = FET_LESION_CURVES[pattern]
    patient = sample_patient(spec, seed=seed, rng=seeded_rng(seed, PATIENT_STREAM_OFFSET + spec.index))
    durations = [float(d) for d in framing_s]
    starts = [float(v) for v in np.concatenate([[0.0], np.cumsum(durations)[:-1]])]
    window = [n for n, (s, d) in enumerate(zip(starts, durations))
              if s >= 60.0 * TRUTH_SLOPE_WINDOW_MIN[0] - 1e-6 and s + d <= 60.0 * TRUTH_SLOPE_WINDOW_MIN[1] + 1e-6]
    timing = ([starts[n] for n in window], [durations[n] for n in window])
    weights = np.asarray(timing[1]) / sum(timing[1])
    maps = [_suv_map(patient, curve, starts[n], durations[n]) for n in window]
    hot = hot_lesion_voxels(patient)
    ideal = truth_metrics(*timing, [float(m[hot].mean()) for m in maps])["slope_per_h"]

    def frames(rng: np.random.Generator | None) -> list[np.ndarray]:
        return [_frame_suv(patient, m, start_s=s, duration_s=d, rng=rng, noise=rng is not None)
                for m, s, d in zip(maps, *timing)]

    def slope(images: list[np.ndarray], voi: np.ndarray) -> float:
        return truth_metrics(*timing, [float(f[voi].mean()) for f in images])["slope_per_h"]

    clean = frames(None)
    oracle_voi = isocontour_truth_voi(patient, sum(w * f for w, f in zip(weights, clean)))
    oracle, isocontour, iso_ml = [], [], []
    for draw in range(draws):
        noisy = frames(seeded_rng(noise_seed, NOISE_STREAM_OFFSET + 1000 * spec.index + draw))
        voi = isocontour_truth_voi(patient, sum(w * f for w, f in zip(weights, noisy)))
        oracle.append(slope(noisy, oracle_voi["mask"]))
        isocontour.append(slope(noisy, voi["mask"]))
        iso_ml.append(voi["volume_ml"])
    return SlopeDraws(pattern=pattern, ideal=ideal, scanner=slope(clean, oracle_voi["mask"]), oracle=tuple(oracle),
                      isocontour=tuple(isocontour), oracle_voi_ml=oracle_voi["volume_ml"],
                      isocontour_voi_ml=tuple(iso_ml))
