"""One simulated patient: phantom -> PET/CT (and MR) acquisition -> DICOM + ground truth.

:func:`simulate_patient` turns a :class:`~gliopet.simulate.specs.PatientSpec`
into a folder::

    SIM001/
      CT/IM000001.dcm ...            CT Image Storage (HU, intercept -1024)
      PET_60min/IM000001.dcm ...     PET Image Storage (Bq/mL, DecayCorrection START)
      PET_30min/ ...                 when the spec asks for a 30 min scan too
      MR_T1/ MR_T2/ MR_FLAIR/        when asked (separate study, own pose and frame of reference)
      ground_truth.json              lesion centre, mask, true values, pose, centrum semiovale
      lesion_mask.nii.gz             the lesion on the PET grid (NIfTI, RAS on disk)

in five named steps, each a function returning a small frozen dataclass:

1. :func:`~gliopet.simulate.sampling.sample_patient`: every random draw
   (pose, lesion, dates, CT noise, Poisson uniforms) -> ``SampledPatient``;
2. :func:`~gliopet.simulate.scan.acquire`: one PET scan's counts and OSEM
   reconstruction -> ``Acquisition``;
3. :func:`~gliopet.simulate.pilots.aim_pilots`: pilot acquisitions that set
   the uptake so the reconstruction shows the spec's targets -> ``Aim``;
4. :func:`write_scans`: the CT and each PET scan as DICOM -> ``WrittenScan``s;
5. :func:`~gliopet.simulate.truth.write_truth`: the ground truth, read at the
   true positions by code independent of :mod:`gliopet.measure`.

Every random number comes from ``numpy.random.default_rng([seed, 100000 +
index])``, every UID from ``deterministic_uid`` and every date from the seed:
the same seed writes byte-identical files.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import InputError
from ..volume import Volume
from .acquisition import Scanner
from .dicom_writer import PetSeriesInfo, write_ct_series, write_pet_series
from .grids import CT_GRID, PET_GRID
from .mr import write_mr
from .pilots import Aim, aim_pilots
from .protocol import RECONSTRUCTION_LABEL
from .sampling import SampledPatient, sample_patient
from .scan import SCANNER, Uptake, WrittenScan, acquire
from .specs import PatientSpec, seeded_rng
from .tissue_images import head_model
from .truth import write_truth

__all__ = ["simulate_patient", "write_scans", "write_ct"]

#: Offset of a patient's own random stream from the specs' (``seeded_rng(seed, OFFSET + index)``).
PATIENT_STREAM_OFFSET = 100_000


def write_ct(patient: SampledPatient, out_dir: Path) -> str:
    """The CT series (HU rounded to integers) in ``out_dir/CT``; returns its series UID."""
    ct_dir = out_dir / "CT"
    ct_dir.mkdir()
    series_uid = patient.uid("ct-series")
    write_ct_series(Volume(np.rint(patient.ct_hu), CT_GRID.affine), ct_dir, patient=patient.patient,
                    study=patient.study, series_uid=series_uid, series_number=2, acquisition=patient.timeline.ct)
    return series_uid


def _pet_series_info(patient: SampledPatient, scan: int, folder: str) -> PetSeriesInfo:
    spec, tracer = patient.spec, patient.tracer
    nuclide = tracer.nuclide
    t_min = spec.scan_times_min[scan]
    return PetSeriesInfo(
        series_uid=patient.uid("pet-series", folder), series_number=3 + scan,
        description=f"PET Brain {int(round(t_min))} min p.i. {RECONSTRUCTION_LABEL}",
        scan_start=patient.timeline.scans[scan], injection=patient.timeline.injection,
        frame_duration_s=spec.frame_s, injected_bq=spec.injected_bq, half_life_s=nuclide.half_life_s,
        radiopharmaceutical=tracer.radiopharmaceutical,
        nuclide_code=(nuclide.code_value, nuclide.code_scheme, nuclide.code_meaning),
        positron_fraction=nuclide.positron_fraction)


def write_scans(patient: SampledPatient, uptake: Uptake, out_dir: Path, *, scanner: Scanner = SCANNER,
                progress: tqdm | None = None) -> tuple[WrittenScan, ...]:
    """Acquire every PET scan of ``patient`` with ``uptake`` and write each as a DICOM series.

    Folders are ``PET_<minutes>min``; series numbers 3, 4, ... in scan order.
    """
    written = []
    for scan, t_min in enumerate(patient.spec.scan_times_min):
        acquisition = acquire(patient, scan=scan, uptake=uptake, scanner=scanner)
        folder = f"PET_{int(round(t_min))}min"
        pet_dir = out_dir / folder
        pet_dir.mkdir()
        series = _pet_series_info(patient, scan, folder)
        write_pet_series(Volume(acquisition.image_bq_per_ml, PET_GRID.affine), pet_dir, patient=patient.patient,
                         study=patient.study, series=series, flavour=patient.spec.flavour)
        written.append(WrittenScan(scan=scan, time_min=t_min, pet_folder=folder, series_uid=series.series_uid,
                                   acquisition=acquisition))
        if progress is not None:
            progress.update()
    return tuple(written)


def _empty_folder(out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise InputError(f"{out_dir}: patient folder is not empty")
    return out_dir


def simulate_patient(spec: PatientSpec, out_dir: str | Path, *, seed: int, scanner: Scanner = SCANNER,
                     progress: bool = False) -> dict[str, Any]:
    """Simulate one patient into ``out_dir`` (created; must not exist or be empty).

    Parameters
    ----------
    spec : PatientSpec
        Who the patient is and what the images should show.
    out_dir : path
        The patient's folder.
    seed : int
        Cohort seed; with ``spec.index`` it fixes every random draw, UID and date.

    Returns
    -------
    dict
        The ground truth, also written to ``out_dir/ground_truth.json``.

    Raises
    ------
    InputError
        ``out_dir`` exists and is not empty.
    """
    out_dir = _empty_folder(out_dir)
    rng = seeded_rng(seed, PATIENT_STREAM_OFFSET + spec.index)
    steps = tqdm(total=3 + len(spec.scan_times_min) + int(spec.with_mr), desc=spec.patient_id, unit="step",
                 file=sys.stderr, disable=not progress, leave=False)
    sampled = sample_patient(spec, seed=seed, rng=rng)
    ct_series_uid = write_ct(sampled, out_dir)
    steps.update()
    aim: Aim = aim_pilots(sampled, scanner=scanner)
    steps.update()
    scans = write_scans(sampled, aim.uptake, out_dir, scanner=scanner, progress=steps)
    lesion = replace(sampled.lesion, suv=float(round(float(aim.uptake.lesion_ref_suv), 6)))
    mr = None
    if spec.with_mr:
        mr = write_mr(spec, out_dir, head=head_model(), lesion=lesion, patient=sampled.patient,
                      timeline=sampled.timeline, head_scale=sampled.pose.scale, seed=seed, rng=rng)
        steps.update()
    truth = write_truth(sampled, aim=aim, lesion=lesion, scans=scans, ct_series_uid=ct_series_uid, mr=mr,
                        scanner=scanner, out_dir=out_dir)
    steps.update()
    steps.close()
    return truth
