"""Step 5 of a simulated patient: write the ground truth (``ground_truth.json``, ``lesion_mask.nii.gz``).

The truth has three layers for each PET scan:

- ``target``: what the spec asked the reconstruction to show (the study's
  table);
- ``phantom_suv``: the phantom's own noise-free SUV: each tissue's uptake,
  the lesion's peak, and the study's circles read on the phantom's
  (partial-volume sampled, unblurred) SUV map: what a perfect scanner would
  show, so the gap to ``recon`` is the physics (resolution, noise);
- ``recon``: the reconstructed image (SUV), read at the TRUE positions (the
  lesion mask the simulator drew, the contralateral centrum semiovale centre
  carried through the true pose).

Every circle here is computed by :mod:`gliopet.simulate.truth_rois`, an
implementation of the study's ROI definitions that shares no code with
:mod:`gliopet.measure`, so a validation of the measurement against this truth
checks the measurement's arithmetic as well as its placement. Nothing here
imports :mod:`gliopet.measure`.

:func:`truth_rows` flattens a patient's truth into ``ground_truth.csv`` rows
(:data:`GROUND_TRUTH_COLUMNS`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..atomic import write_text
from ..jsonable import json_default
from ..volume import Volume
from .acquisition import Scanner
from .grids import PET_GRID
from .pilots import Aim
from .phantom import Lesion
from .sampling import HEMISPHERES, SampledPatient
from .scan import WrittenScan
from .truth_rois import STUDY_BACKGROUND_DIAMETER_MM, DiskTruth, background_disk_truth, lesion_disk_truth

__all__ = ["GROUND_TRUTH_COLUMNS", "TRUTH_SCHEMA", "scan_truth", "write_truth", "truth_rows", "json_dump"]

TRUTH_SCHEMA = "gliopet.simulate.ground_truth/1"
#: Columns of the cohort's ground_truth.csv (one row per PET scan). ``recon_*`` are read on the
#: reconstruction, ``phantom_*`` on the phantom, both by :mod:`gliopet.simulate.truth_rois`
#: (``recon_lesion_suvmax``: the highest voxel within 3 voxels of the lesion mask).
GROUND_TRUTH_COLUMNS = (
    "patient_id", "source_patient_id", "scan_time_min", "pet_folder", "flavour", "visible", "hemisphere",
    "lobe", "lesion_x_mm", "lesion_y_mm", "lesion_z_mm", "lesion_volume_ml", "target_suvmax",
    "target_bg_suvmax", "target_tbr", "phantom_lesion_suvmax", "phantom_wm_suv", "recon_lesion_suvmax",
    "recon_bg_suvmax", "recon_tbr", "recon_bg_suvmean", "recon_lesion_circle_suvmax", "recon_lesion_suvmean_1cm",
    "phantom_bg_suvmax", "phantom_bg_suvmean", "phantom_lesion_circle_suvmax", "phantom_lesion_suvmean_1cm")

_RECON_NOTE = ("on the reconstructed SUV image, at the true positions, by gliopet.simulate.truth_rois (no code "
               "shared with gliopet.measure): lesion_suvmax, the highest voxel within 3 voxels of the lesion "
               "mask; bg_suvmax and bg_suvmean, the 25 mm circle at the contralateral centrum semiovale on the "
               "axial plane through its centre (linear between slices; SUVmax of the bilinear interpolant); "
               "lesion_circle, the 1 cm circle on the slice of the mask's hottest voxel, centred on it")
_PHANTOM_NOTE = ("bg_suvmax, bg_suvmean and lesion_circle: the same circles on the phantom's noise-free SUV map "
                 "(partial-volume sampled on the PET grid, not blurred)")


def _r(value: float, digits: int = 6) -> float:
    return float(round(float(value), digits))


def _circle(truth: DiskTruth | None) -> dict[str, Any] | None:
    if truth is None:
        return None
    return {"suvmax": _r(truth.suvmax), "suvmean": _r(truth.suvmean),
            "centre_ijk": [_r(v, 3) for v in truth.centre_ijk], "diameter_mm": truth.diameter_mm}


def _phantom_suv(patient: SampledPatient, written: WrittenScan) -> dict[str, Any]:
    acq, mask = written.acquisition, patient.lesion_mask
    centre = patient.centrum_semiovale_lps_mm[patient.contralateral]
    bg = background_disk_truth(acq.suv_map, PET_GRID.affine, centre_lps_mm=centre)
    return {"lesion_peak": _r(acq.lesion_suv),
            "lesion_voxel_max": _r(float(acq.suv_map[mask].max())) if mask.any() else None,
            "lesion_voxel_mean": _r(float(acq.suv_map[mask].mean())) if mask.any() else None,
            "necrosis": _r(acq.lesion_suv * patient.tracer.necrosis_relative),
            **{t: _r(v) for t, v in acq.tissue_suv.items()},
            "bg_suvmax": _r(bg.suvmax), "bg_suvmean": _r(bg.suvmean),
            "lesion_circle": _circle(lesion_disk_truth(acq.suv_map, PET_GRID.affine, mask)),
            "note": _PHANTOM_NOTE}


def _recon(patient: SampledPatient, written: WrittenScan) -> dict[str, Any]:
    image_suv = written.acquisition.image_suv
    near = patient.lesion_near
    lesion = float(image_suv[near].max()) if near.any() else float("nan")
    centre = patient.centrum_semiovale_lps_mm[patient.contralateral]
    bg = background_disk_truth(image_suv, PET_GRID.affine, centre_lps_mm=centre)
    return {"lesion_suvmax": _r(lesion), "bg_suvmax": _r(bg.suvmax), "bg_suvmean": _r(bg.suvmean),
            "tbr_max_to_bg_max": _r(lesion / bg.suvmax, 4) if bg.suvmax > 0 else None,
            "lesion_circle": _circle(lesion_disk_truth(image_suv, PET_GRID.affine, patient.lesion_mask)),
            "note": _RECON_NOTE}


def scan_truth(patient: SampledPatient, written: WrittenScan) -> dict[str, Any]:
    """One entry of ``ground_truth.json``'s ``scans``: timing, counts, target, phantom and reconstruction."""
    spec, acq = patient.spec, written.acquisition
    factor = patient.tracer.lesion_factor(written.time_min)
    target = spec.target_suvmax
    return {
        "time_min": written.time_min, "pet_folder": written.pet_folder, "series_uid": written.series_uid,
        "flavour": spec.flavour, "scan_start": patient.timeline.scans[written.scan].isoformat(),
        "injection": patient.timeline.injection.isoformat(), "frame_s": spec.frame_s,
        "injected_bq": spec.injected_bq, "decayed_dose_bq": _r(acq.decayed_bq, 1),
        "bq_per_ml_per_suv": _r(acq.bq_per_ml_per_suv, 6), "prompts": int(acq.sinograms.prompts.sum()),
        "expected_trues": _r(float(acq.sinograms.expected_trues.sum()), 1),
        "phantom_suv": _phantom_suv(patient, written),
        "target": {"suvmax": _r(target * factor) if target is not None else None,
                   "bg_suvmax": spec.target_bg_suvmax,
                   "tbr_max_to_bg_max": _r(target * factor / spec.target_bg_suvmax, 4) if target is not None
                   else None},
        "recon": _recon(patient, written),
        "viable_lesion_voxels": int((patient.pet_lesion.lesion_fraction > 0).sum()),
    }


def _lesion(patient: SampledPatient, aim: Aim, lesion: Lesion) -> dict[str, Any]:
    spec, les = patient.spec, patient.pet_lesion
    voxel_ml = float(np.prod(PET_GRID.spacing_mm)) / 1000.0
    return {
        "visible": spec.target_suvmax is not None,
        "centre_lps_mm": [_r(v, 3) for v in patient.lesion_centre_lps_mm],
        "hemisphere": spec.hemisphere, "lobe": spec.lobe,
        "volume_ml": _r(float((les.lesion_fraction + les.necrosis_fraction).sum()) * voxel_ml, 3),
        "oedema_volume_ml": _r(float(les.oedema_fraction.sum()) * voxel_ml, 3),
        "mask_file": "lesion_mask.nii.gz",
        "mask_definition": "viable lesion + necrotic core fraction >= 0.5 on the PET grid",
        "definition_template_space": lesion.as_dict(),
        "recovery_at_effective_fwhm": _r(aim.recovery, 4), "effective_fwhm_mm": _r(aim.effective_fwhm_mm, 3),
    }


def write_truth(patient: SampledPatient, *, aim: Aim, lesion: Lesion, scans: Sequence[WrittenScan],
                ct_series_uid: str, mr: dict[str, Any] | None, scanner: Scanner, out_dir: Path) -> dict[str, Any]:
    """Write ``lesion_mask.nii.gz`` and ``ground_truth.json`` into ``out_dir``; return the truth.

    Parameters
    ----------
    patient : SampledPatient
    aim : Aim
        The pilots' result.
    lesion : Lesion
        The lesion's template-space definition with its aimed uptake.
    scans : sequence of WrittenScan
    ct_series_uid : str
    mr : dict or None
        The MR study's record (:func:`gliopet.simulate.mr.write_mr`).
    """
    from ..io.nifti import write_nifti

    spec, study = patient.spec, patient.study
    write_nifti(Volume(patient.lesion_mask.astype(np.uint8), PET_GRID.affine), out_dir / "lesion_mask.nii.gz")
    truth = {
        "schema": TRUTH_SCHEMA,
        "patient_id": spec.patient_id, "source_patient_id": spec.source_patient_id, "seed": patient.seed,
        "spec": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(spec).items()},
        "coordinates": "DICOM patient LPS, mm, in the PET/CT frame of reference",
        "frame_of_reference_uid": study.frame_of_reference_uid, "study_uid": study.study_uid,
        "pose": patient.pose.as_dict(),
        "lesion": _lesion(patient, aim, lesion),
        "centrum_semiovale": {h: {"centre_lps_mm": [_r(v, 3) for v in patient.centrum_semiovale_lps_mm[h]],
                                  "contralateral": h == patient.contralateral,
                                  "radius_mm": STUDY_BACKGROUND_DIAMETER_MM / 2.0}
                              for h in HEMISPHERES},
        "ct": {"folder": "CT", "series_uid": ct_series_uid, "acquisition": patient.timeline.ct.isoformat()},
        "scans": [scan_truth(patient, written) for written in scans],
        "mr": mr,
        "scanner": asdict(scanner),
    }
    json_dump(truth, out_dir / "ground_truth.json")
    return truth


def json_dump(obj: Any, path: Path) -> None:
    """Write ``obj`` as indented, key-sorted JSON, through a temporary name."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=json_default) + "\n")


def _g4(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def truth_rows(truth: dict[str, Any]) -> list[dict[str, str]]:
    """``ground_truth.csv`` rows (:data:`GROUND_TRUTH_COLUMNS`) of one patient's truth, one per PET scan."""
    rows = []
    les = truth["lesion"]
    for scan in truth["scans"]:
        t, phantom, recon = scan["target"], scan["phantom_suv"], scan["recon"]
        recon_circle, phantom_circle = recon["lesion_circle"] or {}, phantom["lesion_circle"] or {}
        rows.append({
            "patient_id": truth["patient_id"], "source_patient_id": truth["source_patient_id"],
            "scan_time_min": f"{scan['time_min']:g}", "pet_folder": f"{truth['patient_id']}/{scan['pet_folder']}",
            "flavour": scan["flavour"], "visible": "yes" if les["visible"] else "no",
            "hemisphere": les["hemisphere"], "lobe": les["lobe"],
            "lesion_x_mm": f"{les['centre_lps_mm'][0]:.3f}", "lesion_y_mm": f"{les['centre_lps_mm'][1]:.3f}",
            "lesion_z_mm": f"{les['centre_lps_mm'][2]:.3f}", "lesion_volume_ml": f"{les['volume_ml']:.3f}",
            "target_suvmax": _g4(t["suvmax"]), "target_bg_suvmax": _g4(t["bg_suvmax"]),
            "target_tbr": _g4(t["tbr_max_to_bg_max"]),
            "phantom_lesion_suvmax": _g4(phantom["lesion_peak"]), "phantom_wm_suv": _g4(phantom["wm"]),
            "recon_lesion_suvmax": _g4(recon["lesion_suvmax"]), "recon_bg_suvmax": _g4(recon["bg_suvmax"]),
            "recon_tbr": _g4(recon["tbr_max_to_bg_max"]), "recon_bg_suvmean": _g4(recon["bg_suvmean"]),
            "recon_lesion_circle_suvmax": _g4(recon_circle.get("suvmax")),
            "recon_lesion_suvmean_1cm": _g4(recon_circle.get("suvmean")),
            "phantom_bg_suvmax": _g4(phantom["bg_suvmax"]), "phantom_bg_suvmean": _g4(phantom["bg_suvmean"]),
            "phantom_lesion_circle_suvmax": _g4(phantom_circle.get("suvmax")),
            "phantom_lesion_suvmean_1cm": _g4(phantom_circle.get("suvmean")),
        })
    return rows
