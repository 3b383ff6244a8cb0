"""Simulated patients and cohorts: phantom -> PET/CT (and MR) acquisition -> DICOM + ground truth.

``simulate_patient`` turns a :class:`PatientSpec` into a folder::

    SIM001/
      CT/IM000001.dcm ...            CT Image Storage (HU, intercept -1024)
      PET_60min/IM000001.dcm ...     PET Image Storage (Bq/mL, DecayCorrection START)
      PET_30min/ ...                 when the spec asks for a 30 min scan too
      MR_T1/ MR_T2/ MR_FLAIR/        when asked (separate study, own pose and frame of reference)
      ground_truth.json              lesion centre, mask, true values, pose, centrum semiovale
      lesion_mask.nii.gz             the lesion on the PET grid (NIfTI, RAS on disk)

``simulate_cohort`` writes many such folders plus ``clinical.csv`` (DESIGN.md
schema) and ``ground_truth.csv``, into a temporary folder renamed at the end.
Every random number comes from ``numpy.random.default_rng([seed, index])``,
every UID from ``deterministic_uid`` and every date from the seed: the same
seed writes byte-identical files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from scipy import ndimage
from tqdm import tqdm

from ..errors import InputError
from ..measure import BACKGROUND_CIRCLE_DIAMETER_MM, circle_roi
from ..volume import Volume
from .acquisition import BIOGRAPH_6_TRUEV, Scanner, gaussian_filter_fwhm, reconstruct, simulate_sinograms
from .dicom_writer import PatientInfo, PetSeriesInfo, StudyInfo, deterministic_uid, write_ct_series, \
    write_mr_series, write_pet_series
from .grids import CT_GRID, MR_GRID, PET_GRID
from .phantom import TISSUE_HU, HeadModel, Lesion, build_head_model, centrum_semiovale_lps_mm, \
    random_lesion, sample_head, sample_lesion
from .physics import decay_factor, hu_to_mu_511_per_cm
from .pose import random_pose
from .projector import CLINICAL_GEOMETRY, system_matrix
from .tracers import load_tracer

__all__ = [
    "PatientSpec", "CohortResult", "random_patient_spec", "patient_specs_like", "read_like_csv",
    "simulate_patient", "simulate_cohort", "CLINICAL_COLUMNS", "GROUND_TRUTH_COLUMNS",
    "EFFECTIVE_OSEM_FWHM_MM", "BG_MAX_OVER_MEAN",
]

logger = logging.getLogger(__name__)

#: Columns of the clinical CSV (DESIGN.md schema).
CLINICAL_COLUMNS = ("patient_id", "sex", "age", "diagnosis", "who_grade", "referral", "prior_surgery",
                    "prior_chemotherapy", "prior_radiotherapy", "mri_date", "pet_date")
#: Columns of the cohort's ground_truth.csv (one row per PET scan).
GROUND_TRUTH_COLUMNS = (
    "patient_id", "source_patient_id", "scan_time_min", "pet_folder", "flavour", "visible", "hemisphere",
    "lobe", "lesion_x_mm", "lesion_y_mm", "lesion_z_mm", "lesion_volume_ml", "target_suvmax",
    "target_bg_suvmax", "target_tbr", "phantom_lesion_suvmax", "phantom_wm_suv", "recon_lesion_suvmax",
    "recon_bg_suvmax", "recon_tbr")

#: Resolution lost by OSEM at 2 iterations x 21 subsets on top of the system and filter blur
#: (mm FWHM, added in quadrature); used only to aim lesion uptake at a target SUVmax.
EFFECTIVE_OSEM_FWHM_MM = 3.0
#: Expected ratio of the maximum to the mean of the reconstructed white matter in a 25 mm circle
#: (noise and grey-matter partial volume); used only to aim background uptake at a target SUVmax.
BG_MAX_OVER_MEAN = 1.45
#: Slices added on each side of the pilot reconstruction's slab (12 mm: beyond 4 sigma of the
#: system blur and of the 5 mm post-filter).
_SLAB_MARGIN = 6
#: Pilot reconstructions used at most to aim the lesion and background at their targets, and the
#: relative agreement with the targets at which the pilots stop.
_PILOTS = 5
_AIM_TOLERANCE = 0.02
#: Largest factor of one background correction, and the smallest background scale (a fraction of
#: the tracer table's grey- and white-matter uptake).
_BG_STEP = 4.0
_MIN_BG_SCALE = 0.05
#: The study's injected activity (MBq): mean 154, SD 21, range 114.7 to 193.5.
_DOSE_MBQ = (154.0, 21.0, 114.7, 193.5)
#: Acquisition period of the study (August 2020 to July 2022).
_FIRST_DAY = datetime(2020, 8, 3)
_N_DAYS = 700
_SCANNER = BIOGRAPH_6_TRUEV


@dataclass(frozen=True)
class PatientSpec:
    """Everything that defines one simulated patient (plain values, JSON-able).

    ``target_suvmax`` is the lesion SUVmax the reconstruction should show at the
    reference time (60 min for Pentixafor); ``None`` makes a visually negative
    patient (a lesion with no uptake above white matter). ``target_bg_suvmax``
    is the contralateral background SUVmax aimed at.
    """

    index: int
    patient_id: str
    name: str
    sex: str
    age_years: int
    weight_kg: float
    height_m: float
    diagnosis: str
    who_grade: str
    injected_bq: float
    lobe: str
    hemisphere: str
    target_suvmax: float | None
    target_bg_suvmax: float
    tracer: str = "pentixafor"
    scan_times_min: tuple[float, ...] = (60.0,)
    frame_s: float = 600.0
    referral: str = "staging"
    prior_surgery: str = "no"
    prior_chemotherapy: str = "no"
    prior_radiotherapy: str = "no"
    flavour: str = "siemens"
    with_mr: bool = False
    source_patient_id: str = ""
    lesion_radius_mm: float | None = None
    necrosis: bool | None = None


@dataclass(frozen=True)
class CohortResult:
    """Where a cohort was written."""

    root: Path
    clinical_csv: Path
    ground_truth_csv: Path
    patients: tuple[Path, ...]


# ---- specs -------------------------------------------------------------------------------

def _rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, int(index)])


def _body(rng: np.random.Generator, sex: str, age: int) -> tuple[float, float]:
    if sex == "M":
        weight, height = rng.normal(80.0, 11.0), rng.normal(1.77, 0.07)
    else:
        weight, height = rng.normal(68.0, 10.0), rng.normal(1.64, 0.06)
    if age < 16:  # a child: scaled to about 40 kg, 1.45 m at 11 years
        weight, height = weight * 0.55, height * 0.86
    return round(float(np.clip(weight, 30.0, 130.0)), 1), round(float(np.clip(height, 1.2, 2.0)), 2)


def _dose_bq(rng: np.random.Generator) -> float:
    mean, sd, lo, hi = _DOSE_MBQ
    return round(float(np.clip(rng.normal(mean, sd), lo, hi)), 1) * 1e6


def random_patient_spec(seed: int, index: int, *, tracer: str = "pentixafor",
                        flavour: str = "siemens", with_mr: bool = False) -> PatientSpec:
    """A random but seeded patient ``index`` (1-based) with a visible lesion."""
    rng = _rng(seed, 10_000 + index)
    sex = "M" if rng.random() < 0.55 else "F"
    age = int(rng.integers(30, 76))
    weight, height = _body(rng, sex, age)
    grade = "IV" if rng.random() < 0.8 else "III"
    lobes = ("frontotemporal", "temporal", "parietal", "frontoparietal", "temporoparietal",
             "parieto-occipital")
    t = load_tracer(tracer)
    suvmax = float(rng.uniform(1.5, 6.0)) if tracer == "pentixafor" else t.lesion_default_suv
    bg = float(rng.uniform(0.06, 0.3)) if tracer == "pentixafor" else \
        t.tissue_suv(t.reference_time_min)["wm"] * BG_MAX_OVER_MEAN
    return PatientSpec(
        index=index, patient_id=f"SIM{index:03d}", name=f"SIM^PATIENT{index:03d}", sex=sex, age_years=age,
        weight_kg=weight, height_m=height, diagnosis="GBM" if grade == "IV" else "Anaplastic Astrocytoma",
        who_grade=grade, injected_bq=_dose_bq(rng), lobe=str(rng.choice(lobes)),
        hemisphere="right" if rng.random() < 0.5 else "left", target_suvmax=round(suvmax, 2),
        target_bg_suvmax=round(bg, 3), tracer=tracer, scan_times_min=(t.reference_time_min,),
        flavour=flavour, with_mr=with_mr)


def read_like_csv(path: str | Path) -> list[dict[str, str]]:
    """Rows of a cohort table to imitate (``patient_id, sex, age, diagnosis, who_grade``; optional
    ``suvmax``, ``tbr_max_to_bg_max``, ``visual``, ``note``).

    Raises
    ------
    InputError
        Naming the file, line and column at fault.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as UTF-8 CSV ({type(exc).__name__})") from None
    reader = csv.DictReader(io.StringIO(text))
    needed = ("patient_id", "sex", "age", "diagnosis", "who_grade")
    missing = [c for c in needed if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    rows = []
    for line, row in enumerate(reader, start=2):
        if row.get("sex") not in ("M", "F"):
            raise InputError(f"{path}: line {line}: sex must be M or F")
        if row.get("who_grade") not in ("II", "III", "IV"):
            raise InputError(f"{path}: line {line}: who_grade must be II, III or IV")
        try:
            age = int(row["age"])
            suv = float(row["suvmax"]) if row.get("suvmax") else None
            tbr = float(row["tbr_max_to_bg_max"]) if row.get("tbr_max_to_bg_max") else None
        except ValueError:
            raise InputError(f"{path}: line {line}: age, suvmax or tbr_max_to_bg_max is not a number") from None
        if not 0 < age < 120 or (suv is not None and suv <= 0) or (tbr is not None and tbr <= 0):
            raise InputError(f"{path}: line {line}: age, suvmax or tbr_max_to_bg_max out of range")
        rows.append(dict(row))
    if not rows:
        raise InputError(f"{path}: no patient rows")
    return rows


#: The study's lesion locations: 8 frontotemporal, 5 temporal, 7 parietal (parieto-occipital),
#: 5 frontoparietal, 2 temporoparietal, 2 parafalcine / diencephalic.
_STUDY_LOBES = (["frontotemporal"] * 8 + ["temporal"] * 5 + ["parietal"] * 4 + ["parieto-occipital"] * 3
                + ["frontoparietal"] * 5 + ["temporoparietal"] * 2 + ["parafalcine", "diencephalic"])
#: Locations the study's figures give (patient number -> (lobe, hemisphere)).
_STUDY_KNOWN = {"13": ("frontotemporal", "right"), "22": ("frontoparietal", "right"),
                "29": ("parieto-occipital", "right")}


def patient_specs_like(rows: Sequence[dict[str, str]], *, seed: int, flavours: Sequence[str] = ("siemens",),
                       with_mr: bool = False, tracer: str = "pentixafor") -> list[PatientSpec]:
    """Specs that reproduce a clinical table row by row (sex, age, diagnosis, grade, SUVmax, TBR).

    A row whose ``visual`` is ``negative`` or whose ``suvmax`` is empty gets a
    lesion without uptake. The contralateral background aimed at is
    ``suvmax / tbr_max_to_bg_max`` (the study's TBR definition); rows without it
    get the median of the others. Patient 13 of the study is also scanned at
    30 min, and so are two more positive patients chosen by the seed (the study
    scanned three patients at 30 min; with another ``tracer`` every patient has one scan at
    its reference time). The row with a ``note`` mentioning
    recurrence and four more seeded rows are referred for recurrence (the
    study: 5 of 29; all 5 after surgery, 4 after chemotherapy, 1 after radiotherapy).
    """
    rng = _rng(seed, 0)
    ref_time = load_tracer(tracer).reference_time_min
    n = len(rows)
    bgs = [float(r["suvmax"]) / float(r["tbr_max_to_bg_max"]) for r in rows
           if r.get("suvmax") and r.get("tbr_max_to_bg_max")]
    bg_default = float(np.median(bgs)) if bgs else 0.1
    positive = [i for i, r in enumerate(rows) if r.get("suvmax") and r.get("visual", "positive") != "negative"]
    ids = [str(r["patient_id"]) for r in rows]
    early = [ids.index("13")] if "13" in ids and ids.index("13") in positive else []
    others = [i for i in positive if i not in early]
    early += [int(i) for i in rng.choice(others, size=min(len(others), 3 - len(early)), replace=False)] \
        if others and len(early) < 3 else []
    recurrence = [i for i, r in enumerate(rows) if "recurrence" in (r.get("note") or "").lower()]
    rest = [i for i in range(n) if i not in recurrence]
    n_rec = max(0, min(len(rest), round(n * 5 / 29) - len(recurrence)))
    recurrence += [int(i) for i in rng.choice(rest, size=n_rec, replace=False)] if n_rec else []
    lobes = list(_STUDY_LOBES)
    for pid in _STUDY_KNOWN:
        if pid in ids and _STUDY_KNOWN[pid][0] in lobes:
            lobes.remove(_STUDY_KNOWN[pid][0])
    rng.shuffle(lobes)
    free_lobes = iter(lobes)
    specs = []
    for i, row in enumerate(rows):
        prng = _rng(seed, i + 1)
        index = i + 1
        sex, age = row["sex"], int(row["age"])
        weight, height = _body(prng, sex, age)
        suv = float(row["suvmax"]) if row.get("suvmax") else None
        visible = suv is not None and row.get("visual", "positive") != "negative"
        tbr = float(row["tbr_max_to_bg_max"]) if row.get("tbr_max_to_bg_max") else None
        bg = suv / tbr if (suv is not None and tbr) else bg_default
        pid = str(row["patient_id"])
        if pid in _STUDY_KNOWN:
            lobe, hemi = _STUDY_KNOWN[pid]
        else:
            lobe = next(free_lobes, "frontotemporal")
            hemi = "right" if prng.random() < 0.5 else "left"
        rec = i in recurrence
        rec_rank = sorted(recurrence).index(i) if rec else -1
        grade = row["who_grade"]
        specs.append(PatientSpec(
            index=index, patient_id=f"SIM{index:03d}", name=f"SIM^PATIENT{index:03d}", sex=sex, age_years=age,
            weight_kg=weight, height_m=height, diagnosis=row["diagnosis"], who_grade=grade,
            injected_bq=_dose_bq(prng), lobe=lobe, hemisphere=hemi,
            target_suvmax=suv if visible else None, target_bg_suvmax=round(bg, 4),
            tracer=tracer,
            scan_times_min=((30.0, 60.0) if i in early else (60.0,)) if tracer == "pentixafor"
            else (ref_time,),
            referral="recurrence" if rec else "staging",
            prior_surgery="yes" if rec else "no",
            prior_chemotherapy="yes" if rec and rec_rank < 4 else "no",
            prior_radiotherapy="yes" if rec and rec_rank == 0 else "no",
            flavour=flavours[i % len(flavours)], with_mr=with_mr, source_patient_id=pid,
            lesion_radius_mm=float(prng.uniform(13.0, 19.0)) if grade == "IV" else float(prng.uniform(9.0, 14.0)),
            necrosis=bool(prng.random() < 0.7) if grade == "IV" else False,
        ))
    return specs


# ---- one patient -------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _head_model() -> HeadModel:
    from ..io.template import load_mni152

    return build_head_model(load_mni152(2))


@lru_cache(maxsize=1)
def _ct_maps() -> dict[str, np.ndarray]:
    """Template maps the CT needs (interpolation is linear, so these combine before sampling):
    brain fraction, the brain's HU sum and the whole head's HU without a lesion."""
    f = _head_model().fractions
    brain = f["gm"] + f["wm"] + f["csf"]
    brain_hu = f["gm"] * TISSUE_HU["gm"] + f["wm"] * TISSUE_HU["wm"] + f["csf"] * TISSUE_HU["csf"]
    air = TISSUE_HU["air"]
    hu = air + sum(f[t] * (TISSUE_HU[t] - air) for t in ("gm", "wm", "csf", "skull", "scalp"))
    return {"brain": brain.astype(np.float32), "brain_hu": brain_hu.astype(np.float32),
            "hu": hu.astype(np.float32)}


def _ct_hu(maps: dict[str, np.ndarray], lesion_sample) -> np.ndarray:
    """HU on the CT grid: the head's HU with brain replaced by lesion, necrosis and oedema
    (same arithmetic as ``_hu_map``, rearranged for the pre-combined maps)."""
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = maps["brain"]
    total = les + nec + oed
    replaced = np.minimum(total, brain)
    keep_loss = np.where(brain > 0, replaced / np.maximum(brain, 1e-6), 0.0)
    scale = np.where(total > 0, replaced / np.maximum(total, 1e-6), 0.0)
    hu = maps["hu"] - keep_loss * maps["brain_hu"]
    hu += scale * (les * TISSUE_HU["lesion"] + nec * TISSUE_HU["necrosis"] + oed * TISSUE_HU["oedema"])
    return hu.astype(np.float32)


@dataclass(frozen=True)
class _Timeline:
    mri: datetime
    injection: datetime
    ct: datetime
    scans: tuple[datetime, ...]


def _timeline(spec: PatientSpec, rng: np.random.Generator) -> _Timeline:
    day = _FIRST_DAY + timedelta(days=int(rng.integers(0, _N_DAYS)))
    injection = day.replace(hour=8) + timedelta(minutes=int(rng.integers(30, 180)), seconds=int(rng.integers(0, 60)))
    scans = tuple(injection + timedelta(minutes=t, seconds=int(rng.integers(0, 240))) for t in spec.scan_times_min)
    ct = scans[0] - timedelta(minutes=2)
    mri = (day - timedelta(days=int(rng.integers(5, 15)))).replace(hour=14, minute=int(rng.integers(0, 60)))
    return _Timeline(mri=mri, injection=injection, ct=ct, scans=scans)


def _tissue_activity_suv(fractions: dict[str, np.ndarray], lesion_sample, suv: dict[str, float],
                         lesion_suv: float, necrosis_suv: float) -> np.ndarray:
    """SUV map: brain tissues replaced by lesion, necrosis and oedema where they are."""
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = fractions["gm"] + fractions["wm"] + fractions["csf"]
    replaced = np.minimum(les + nec + oed, brain)
    keep = np.where(brain > 0, 1.0 - replaced / np.maximum(brain, 1e-6), 0.0)
    out = keep * (fractions["gm"] * suv["gm"] + fractions["wm"] * suv["wm"] + fractions["csf"] * suv["csf"])
    scale = np.where(les + nec + oed > 0, replaced / np.maximum(les + nec + oed, 1e-6), 0.0)
    out += scale * (les * lesion_sample.lesion_relative_uptake * lesion_suv + nec * necrosis_suv + oed * suv["oedema"])
    out += fractions["skull"] * suv["skull"] + fractions["scalp"] * suv["scalp"]
    return out.astype(np.float32)


def _hu_map(fractions: dict[str, np.ndarray], lesion_sample) -> np.ndarray:
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = fractions["gm"] + fractions["wm"] + fractions["csf"]
    replaced = np.minimum(les + nec + oed, brain)
    keep = np.where(brain > 0, 1.0 - replaced / np.maximum(brain, 1e-6), 0.0)
    scale = np.where(les + nec + oed > 0, replaced / np.maximum(les + nec + oed, 1e-6), 0.0)
    hu = keep * (fractions["gm"] * TISSUE_HU["gm"] + fractions["wm"] * TISSUE_HU["wm"]
                 + fractions["csf"] * TISSUE_HU["csf"])
    hu += scale * (les * TISSUE_HU["lesion"] + nec * TISSUE_HU["necrosis"] + oed * TISSUE_HU["oedema"])
    hu += fractions["skull"] * TISSUE_HU["skull"] + fractions["scalp"] * TISSUE_HU["scalp"]
    tissue = np.clip(brain + fractions["skull"] + fractions["scalp"], 0.0, 1.0)
    return (hu + (1.0 - tissue) * TISSUE_HU["air"]).astype(np.float32)


def _next_bg_scale(tried: Sequence[tuple[float, float]], target: float) -> float:
    """The next background scale from the pilots so far: ``(scale, reconstructed SUVmax)`` pairs.

    Once pilots lie on both sides of the target, the next scale interpolates
    linearly between the closest two that bracket it (regula falsi: the noisy
    maximum is not smooth enough for an unguarded secant). Before that, the
    secant through the last two pilots is followed when it rises, and after
    one pilot the scale is multiplied by ``target / measured``. A step is kept
    within a factor :data:`_BG_STEP` of the last scale, and the scale at or
    above :data:`_MIN_BG_SCALE` (below it the white matter would hold almost
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
        return max(_MIN_BG_SCALE, nxt)
    step = target / measured
    if len(tried) >= 2:
        scale0, measured0 = tried[-2]
        if scale != scale0 and measured != measured0 and (measured - measured0) / (scale - scale0) > 0:
            step = (scale + (target - measured) * (scale - scale0) / (measured - measured0)) / scale
    return max(_MIN_BG_SCALE, scale * float(np.clip(step, 1.0 / _BG_STEP, _BG_STEP)))


def _effective_fwhm_mm(scanner: Scanner, positron_range_fwhm_mm: float, filter_fwhm_mm: float) -> float:
    return math.sqrt(scanner.system_fwhm_mm ** 2 + positron_range_fwhm_mm ** 2 + filter_fwhm_mm ** 2
                     + EFFECTIVE_OSEM_FWHM_MM ** 2)


def _background_suvmax(image: np.ndarray, affine: np.ndarray, centre_mm: np.ndarray) -> float:
    """SUVmax of the study's 25 mm background circle at ``centre_mm``, as gliopet measures it (resliced).

    The simulator aims each patient's reconstructed background at the study's
    value by this definition, so its ground truth is what ``gliopet measure``
    reads at the true centre. The level is kept within the image's slices.
    """
    volume = Volume(image, affine)
    i, j, k = volume.xyz_mm_to_ijk(centre_mm)
    k = float(np.clip(k, 0.0, image.shape[0] - 1.0))
    return circle_roi(volume, centre_ijk=(float(i), float(j), k), diameter_mm=BACKGROUND_CIRCLE_DIAMETER_MM,
                      resliced=True).suvmax


def _mr_images(fractions: dict[str, np.ndarray], lesion_sample, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """T1 (post-contrast), T2 and FLAIR intensities from tissue fractions (arbitrary units)."""
    contrast = {  # gm, wm, csf, skull, scalp, lesion, necrosis, oedema
        "T1": (0.55, 0.80, 0.15, 0.05, 0.70, 0.95, 0.20, 0.45),
        "T2": (0.60, 0.45, 1.00, 0.05, 0.55, 0.75, 0.95, 0.85),
        "FLAIR": (0.60, 0.45, 0.08, 0.05, 0.55, 0.80, 0.30, 0.95),
    }
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = fractions["gm"] + fractions["wm"] + fractions["csf"]
    replaced = np.minimum(les + nec + oed, brain)
    keep = np.where(brain > 0, 1.0 - replaced / np.maximum(brain, 1e-6), 0.0)
    scale = np.where(les + nec + oed > 0, replaced / np.maximum(les + nec + oed, 1e-6), 0.0)
    out = {}
    for name, (gm, wm, csf, skull, scalp, lesion, necrosis, oedema) in contrast.items():
        img = keep * (fractions["gm"] * gm + fractions["wm"] * wm + fractions["csf"] * csf)
        img += scale * (les * lesion + nec * necrosis + oed * oedema)
        img += fractions["skull"] * skull + fractions["scalp"] * scalp
        img = np.abs(img + rng.normal(0.0, 0.015, size=img.shape))  # magnitude noise
        out[name] = img.astype(np.float32)
    return out


def _json_dump(obj: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n", encoding="utf-8")
    tmp.replace(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime,)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _r(value: float, digits: int = 6) -> float:
    return float(round(float(value), digits))


def simulate_patient(spec: PatientSpec, out_dir: str | Path, *, seed: int, scanner: Scanner = _SCANNER,
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
    """
    from ..io.nifti import write_nifti

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise InputError(f"{out_dir}: patient folder is not empty")
    rng = _rng(seed, 100_000 + spec.index)
    tracer = load_tracer(spec.tracer)
    nuclide = tracer.nuclide
    head = _head_model()
    steps = tqdm(total=3 + len(spec.scan_times_min) + int(spec.with_mr), desc=spec.patient_id, unit="step",
                 file=sys.stderr, disable=not progress, leave=False)
    pose = random_pose(rng, pivot_lps_mm=head.pivot_lps_mm)
    lesion_suv_placeholder = 1.0
    lesion = random_lesion(rng, head, lobe=spec.lobe, hemisphere=spec.hemisphere, suv=lesion_suv_placeholder,
                           radius_mm=spec.lesion_radius_mm, necrosis=spec.necrosis,
                           necrosis_relative=tracer.necrosis_relative)
    timeline = _timeline(spec, rng)
    uid = lambda *parts: deterministic_uid(str(seed), spec.patient_id, *parts)  # noqa: E731
    patient = PatientInfo(name=spec.name, patient_id=spec.patient_id,
                          birth_date=(timeline.injection - timedelta(days=int(365.25 * spec.age_years)
                                                                     + int(rng.integers(1, 360)))).strftime("%Y%m%d"),
                          sex=spec.sex, age_years=spec.age_years, weight_kg=spec.weight_kg, height_m=spec.height_m)
    study = StudyInfo(study_uid=uid("petct-study"), frame_of_reference_uid=uid("petct-for"),
                      study_datetime=timeline.ct, accession_number=f"SIMA{spec.index:05d}",
                      study_id=f"{spec.index}", description="PET-CT^Brain")
    # Anatomy on the PET grid (for activity and attenuation) and the CT grid.
    pet_frac = sample_head(head, pose=pose, grid_affine=PET_GRID.affine, grid_shape=PET_GRID.shape)
    pet_les = sample_lesion(lesion, pose=pose, grid_affine=PET_GRID.affine, grid_shape=PET_GRID.shape)
    ct_maps = sample_head(head, pose=pose, grid_affine=CT_GRID.affine, grid_shape=CT_GRID.shape,
                          maps=_ct_maps(), cval={"hu": TISSUE_HU["air"]})
    ct_les = sample_lesion(lesion, pose=pose, grid_affine=CT_GRID.affine, grid_shape=CT_GRID.shape, subsamples=2)
    hu_ct = _ct_hu(ct_maps, ct_les) + rng.normal(0.0, 4.0, size=CT_GRID.shape).astype(np.float32)
    ct_dir = out_dir / "CT"
    ct_dir.mkdir()
    ct_series_uid = uid("ct-series")
    write_ct_series(Volume(np.rint(hu_ct), CT_GRID.affine), ct_dir, patient=patient, study=study,
                    series_uid=ct_series_uid, series_number=2, acquisition=timeline.ct)
    steps.update()
    # The attenuation map: the CT's tissue model on the PET grid, converted bilinearly to 511 keV.
    mu_per_cm = hu_to_mu_511_per_cm(_hu_map(pet_frac, pet_les)).astype(np.float32)
    # Background and lesion uptake aimed at the targets.
    ref = tracer.tissue_suv(tracer.reference_time_min)
    bg_scale = max(_MIN_BG_SCALE, spec.target_bg_suvmax / (BG_MAX_OVER_MEAN * ref["wm"]))
    fwhm = _effective_fwhm_mm(scanner, nuclide.positron_range_fwhm_mm, 5.0)
    unit = pet_les.lesion_fraction * pet_les.lesion_relative_uptake  # the viable lesion at SUV 1
    recovery = float(gaussian_filter_fwhm(unit, fwhm_mm=fwhm, spacing_mm=PET_GRID.spacing_mm).max())
    wm_ref = ref["wm"] * bg_scale
    if spec.target_suvmax is None:
        lesion_ref_suv = wm_ref  # visually negative: no uptake above white matter
    else:
        lesion_ref_suv = max(wm_ref, (spec.target_suvmax - wm_ref) / max(recovery, 1e-3) + wm_ref)
    system = system_matrix(CLINICAL_GEOMETRY, n_subsets=21)
    mask = (pet_les.lesion_fraction + pet_les.necrosis_fraction) >= 0.5
    mask_near = ndimage.binary_dilation(mask, iterations=3)
    lesion_centre_patient = pose.to_patient_mm(np.asarray(lesion.centre_lps_mm))
    cs = {h: pose.to_patient_mm(centrum_semiovale_lps_mm(h)) for h in ("left", "right")}
    contralateral = "left" if spec.hemisphere == "right" else "right"
    sino_shape = (PET_GRID.shape[0], system.geometry.n_views, system.geometry.n_bins)
    # The PET grid is centred on the scanner's field of view: slice k lies at z = affine (0, 0, k).
    slice_z_mm = PET_GRID.affine[2, 2] * np.arange(PET_GRID.shape[0]) + PET_GRID.affine[2, 3]
    uniforms = [rng.random(sino_shape) for _ in spec.scan_times_min]

    def acquire(t_min: float, start: datetime, lesion_ref: float, scale: float, u: np.ndarray,
                slab: slice = slice(None)):
        suv = tracer.tissue_suv(t_min)
        for tissue in ("gm", "wm", "csf", "oedema"):
            suv[tissue] *= scale
        lesion_t = max(suv["wm"], lesion_ref * tracer.lesion_factor(t_min)) \
            if spec.target_suvmax is not None else suv["wm"]
        suv_map = _tissue_activity_suv(pet_frac, pet_les, suv, lesion_t, lesion_t * tracer.necrosis_relative)
        elapsed_s = (start - timeline.injection).total_seconds()
        decayed_bq = spec.injected_bq * decay_factor(elapsed_s, half_life_s=nuclide.half_life_s)
        to_bqml = decayed_bq / (spec.weight_kg * 1000.0)
        sino = simulate_sinograms(suv_map[slab] * to_bqml, mu_per_cm[slab], system=system, scanner=scanner,
                                  slice_z_mm=slice_z_mm[slab], slice_mm=PET_GRID.spacing_mm[2], frame_s=spec.frame_s,
                                  half_life_s=nuclide.half_life_s, positron_fraction=nuclide.positron_fraction,
                                  positron_range_fwhm_mm=nuclide.positron_range_fwhm_mm, uniforms=u[slab])
        image = reconstruct(sino, system=system, slice_mm=PET_GRID.spacing_mm[2], n_iterations=2,
                            post_filter_fwhm_mm=5.0)
        recon_suv = image / to_bqml
        near = mask_near[slab]
        m = float(recon_suv[near].max()) if near.any() else float("nan")
        affine = PET_GRID.affine.copy()
        affine[:3, 3] += affine[:3, 2] * (slab.start or 0)
        b = _background_suvmax(recon_suv, affine, cs[contralateral])
        return suv, lesion_t, suv_map, decayed_bq, to_bqml, sino, image, m, b

    # Pilot acquisitions at the reference time with the same Poisson uniforms as the final one:
    # the noise pattern stays, and a few corrections bring the lesion SUVmax and the contralateral
    # background SUVmax to their targets: the lesion through its recovery, the background (whose
    # maximum is part uptake, part noise) by _next_bg_scale. Up to _PILOTS pilots, stopping once
    # both are within _AIM_TOLERANCE. The final acquisition takes the uptakes of the pilot that
    # came closest (least sum of the two relative misses: below the noise floor the background
    # cannot get closer and the lesion decides) and shows exactly that pilot's values: slices are
    # independent in the rebinned model apart from the axial blurs, so a pilot covers only the
    # slab holding the lesion and the background circle, with a margin of _SLAB_MARGIN slices, and
    # reproduces those slices of the whole volume.
    ref_scan = int(np.argmin([abs(t - tracer.reference_time_min) for t in spec.scan_times_min]))
    inv = np.linalg.inv(PET_GRID.affine)
    k_bg = float((inv[:3, :3] @ cs[contralateral] + inv[:3, 3])[2])
    k_lesion = np.flatnonzero(mask_near.any(axis=(1, 2)))
    k_lo = int(min(k_bg, k_lesion.min() if k_lesion.size else k_bg)) - _SLAB_MARGIN
    k_hi = int(np.ceil(max(k_bg, k_lesion.max() if k_lesion.size else k_bg))) + _SLAB_MARGIN + 1
    slab = slice(max(0, k_lo), min(PET_GRID.shape[0], k_hi))
    visible = spec.target_suvmax is not None
    tried: list[tuple[float, float]] = []  # (bg_scale, reconstructed background SUVmax)
    best: tuple[float, float, float] | None = None  # (sum of relative misses, bg_scale, lesion_ref_suv)
    for _ in range(_PILOTS):
        if not visible:
            lesion_ref_suv = ref["wm"] * bg_scale
        pilot = acquire(spec.scan_times_min[ref_scan], timeline.scans[ref_scan], lesion_ref_suv, bg_scale,
                        uniforms[ref_scan], slab)
        pilot_lesion, pilot_bg = pilot[7], pilot[8]
        if not (pilot_bg > 0 and np.isfinite(pilot_bg)):
            break
        bg_miss = abs(pilot_bg / spec.target_bg_suvmax - 1)
        lesion_miss = abs(pilot_lesion / spec.target_suvmax - 1) if visible else 0.0
        if best is None or bg_miss + lesion_miss < best[0]:
            best = (bg_miss + lesion_miss, bg_scale, lesion_ref_suv)
        if max(bg_miss, lesion_miss) <= _AIM_TOLERANCE:
            break
        tried.append((bg_scale, pilot_bg))
        bg_scale = _next_bg_scale(tried, spec.target_bg_suvmax)
        if visible:
            lesion_ref_suv = max(ref["wm"] * bg_scale,
                                 lesion_ref_suv + (spec.target_suvmax - pilot_lesion) / max(recovery, 0.2))
    if best is not None:
        _, bg_scale, lesion_ref_suv = best
    if not visible:
        lesion_ref_suv = ref["wm"] * bg_scale
    lesion = replace(lesion, suv=_r(lesion_ref_suv))
    scans = []
    for n_scan, (t_min, start) in enumerate(zip(spec.scan_times_min, timeline.scans)):
        suv, lesion_suv_t, suv_map, decayed_bq, to_bqml, sino, image, recon_lesion, recon_bg = acquire(
            t_min, start, lesion_ref_suv, bg_scale, uniforms[n_scan])
        factor = tracer.lesion_factor(t_min)
        folder = f"PET_{int(round(t_min))}min"
        pet_dir = out_dir / folder
        pet_dir.mkdir()
        series = PetSeriesInfo(
            series_uid=uid("pet-series", folder), series_number=3 + n_scan,
            description=f"PET Brain {int(round(t_min))} min p.i. OSEM2i21s G5", scan_start=start,
            injection=timeline.injection, frame_duration_s=spec.frame_s, injected_bq=spec.injected_bq,
            half_life_s=nuclide.half_life_s, radiopharmaceutical=tracer.radiopharmaceutical,
            nuclide_code=(nuclide.code_value, nuclide.code_scheme, nuclide.code_meaning),
            positron_fraction=nuclide.positron_fraction)
        write_pet_series(Volume(image, PET_GRID.affine), pet_dir, patient=patient, study=study, series=series,
                         flavour=spec.flavour)
        viable = pet_les.lesion_fraction > 0
        scans.append({
            "time_min": t_min, "pet_folder": folder, "series_uid": series.series_uid, "flavour": spec.flavour,
            "scan_start": start.isoformat(), "injection": timeline.injection.isoformat(),
            "frame_s": spec.frame_s, "injected_bq": spec.injected_bq, "decayed_dose_bq": _r(decayed_bq, 1),
            "bq_per_ml_per_suv": _r(to_bqml, 6), "prompts": int(sino.prompts.sum()),
            "expected_trues": _r(float(sino.expected_trues.sum()), 1),
            "phantom_suv": {"lesion_peak": _r(lesion_suv_t), "lesion_voxel_max": _r(float(suv_map[mask].max()))
                            if mask.any() else None,
                            "lesion_voxel_mean": _r(float(suv_map[mask].mean())) if mask.any() else None,
                            "necrosis": _r(lesion_suv_t * tracer.necrosis_relative),
                            **{t: _r(v) for t, v in suv.items()}},
            "target": {"suvmax": _r(spec.target_suvmax * factor) if spec.target_suvmax is not None else None,
                       "bg_suvmax": spec.target_bg_suvmax,
                       "tbr_max_to_bg_max": _r(spec.target_suvmax * factor / spec.target_bg_suvmax, 4)
                       if spec.target_suvmax is not None else None},
            "recon": {"lesion_suvmax": _r(recon_lesion), "bg_suvmax": _r(recon_bg),
                      "tbr_max_to_bg_max": _r(recon_lesion / recon_bg, 4) if recon_bg > 0 else None,
                      "note": "maximum voxel near the lesion mask and in the 25 mm circle at the "
                              "contralateral centrum semiovale, on the reconstructed SUV image"},
            "viable_lesion_voxels": int(viable.sum()),
        })
        steps.update()
    write_nifti(Volume(mask.astype(np.uint8), PET_GRID.affine), out_dir / "lesion_mask.nii.gz")
    mr = None
    if spec.with_mr:
        mr = _write_mr(spec, out_dir, head=head, lesion=lesion, patient=patient, timeline=timeline, seed=seed,
                       rng=rng)
        steps.update()
    truth = {
        "schema": "gliopet.simulate.ground_truth/1",
        "patient_id": spec.patient_id, "source_patient_id": spec.source_patient_id, "seed": seed,
        "spec": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(spec).items()},
        "coordinates": "DICOM patient LPS, mm, in the PET/CT frame of reference",
        "frame_of_reference_uid": study.frame_of_reference_uid, "study_uid": study.study_uid,
        "pose": pose.as_dict(),
        "lesion": {
            "visible": spec.target_suvmax is not None,
            "centre_lps_mm": [_r(v, 3) for v in lesion_centre_patient],
            "hemisphere": spec.hemisphere, "lobe": spec.lobe,
            "volume_ml": _r(float((pet_les.lesion_fraction + pet_les.necrosis_fraction).sum())
                            * np.prod(PET_GRID.spacing_mm) / 1000.0, 3),
            "oedema_volume_ml": _r(float(pet_les.oedema_fraction.sum()) * np.prod(PET_GRID.spacing_mm) / 1000.0, 3),
            "mask_file": "lesion_mask.nii.gz",
            "mask_definition": "viable lesion + necrotic core fraction >= 0.5 on the PET grid",
            "definition_template_space": lesion.as_dict(),
            "recovery_at_effective_fwhm": _r(recovery, 4), "effective_fwhm_mm": _r(fwhm, 3),
        },
        "centrum_semiovale": {h: {"centre_lps_mm": [_r(v, 3) for v in cs[h]],
                                  "contralateral": h == contralateral, "radius_mm": BACKGROUND_CIRCLE_DIAMETER_MM / 2.0}
                              for h in ("left", "right")},
        "ct": {"folder": "CT", "series_uid": ct_series_uid, "acquisition": timeline.ct.isoformat()},
        "scans": scans,
        "mr": mr,
        "scanner": asdict(scanner),
    }
    _json_dump(truth, out_dir / "ground_truth.json")
    steps.close()
    return truth


def _write_mr(spec: PatientSpec, out_dir: Path, *, head: HeadModel, lesion: Lesion, patient: PatientInfo,
              timeline: _Timeline, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """T1 (post-gadolinium), T2 and FLAIR of a separate MR study, with its own head pose."""
    uid = lambda *parts: deterministic_uid(str(seed), spec.patient_id, "mr", *parts)  # noqa: E731
    pose = random_pose(rng, pivot_lps_mm=head.pivot_lps_mm)
    study = StudyInfo(study_uid=uid("study"), frame_of_reference_uid=uid("for"), study_datetime=timeline.mri,
                      accession_number=f"SIMM{spec.index:05d}", study_id=f"{spec.index}01",
                      description="MR^Brain")
    frac = sample_head(head, pose=pose, grid_affine=MR_GRID.affine, grid_shape=MR_GRID.shape)
    les = sample_lesion(lesion, pose=pose, grid_affine=MR_GRID.affine, grid_shape=MR_GRID.shape, subsamples=2)
    images = _mr_images(frac, les, rng)
    params = {"T1": (1860.0, 4.38, None, "t1_fl2d_tra_post"), "T2": (660.0, 105.0, None, "t2_tse_tra"),
              "FLAIR": (9000.0, 100.0, 2500.0, "t2_tirm_tra_dark-fluid")}
    series = {}
    for number, (name, (tr, te, ti, desc)) in enumerate(params.items(), start=1):
        folder = out_dir / f"MR_{name}"
        folder.mkdir()
        series_uid = uid(name)
        write_mr_series(Volume(images[name], MR_GRID.affine), folder, patient=patient, study=study,
                        series_uid=series_uid, series_number=number, acquisition=timeline.mri, description=desc,
                        repetition_time_ms=tr, echo_time_ms=te, inversion_time_ms=ti)
        series[name] = {"folder": folder.name, "series_uid": series_uid}
    return {"study_uid": study.study_uid, "frame_of_reference_uid": study.frame_of_reference_uid,
            "date": timeline.mri.isoformat(), "pose": pose.as_dict(), "series": series,
            "lesion_centre_lps_mm": [_r(v, 3) for v in pose.to_patient_mm(np.asarray(lesion.centre_lps_mm))],
            "centrum_semiovale_lps_mm": {h: [_r(v, 3) for v in pose.to_patient_mm(centrum_semiovale_lps_mm(h))]
                                         for h in ("left", "right")},
            "coordinates": "DICOM patient LPS, mm, in the MR frame of reference"}


# ---- cohort ------------------------------------------------------------------------------

def _clinical_row(spec: PatientSpec, truth: dict[str, Any]) -> dict[str, str]:
    pet_date = truth["scans"][0]["scan_start"][:10]
    mri_date = truth["mr"]["date"][:10] if truth.get("mr") else ""
    if not mri_date:
        mri = datetime.fromisoformat(truth["scans"][0]["scan_start"]) - timedelta(days=7 + spec.index % 7)
        mri_date = mri.date().isoformat()
    return {"patient_id": spec.patient_id, "sex": spec.sex, "age": str(spec.age_years),
            "diagnosis": spec.diagnosis, "who_grade": spec.who_grade, "referral": spec.referral,
            "prior_surgery": spec.prior_surgery, "prior_chemotherapy": spec.prior_chemotherapy,
            "prior_radiotherapy": spec.prior_radiotherapy, "mri_date": mri_date, "pet_date": pet_date}


def _truth_rows(spec: PatientSpec, truth: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for scan in truth["scans"]:
        les = truth["lesion"]
        t = scan["target"]
        rows.append({
            "patient_id": spec.patient_id, "source_patient_id": spec.source_patient_id,
            "scan_time_min": f"{scan['time_min']:g}", "pet_folder": f"{spec.patient_id}/{scan['pet_folder']}",
            "flavour": scan["flavour"], "visible": "yes" if les["visible"] else "no",
            "hemisphere": les["hemisphere"], "lobe": les["lobe"],
            "lesion_x_mm": f"{les['centre_lps_mm'][0]:.3f}", "lesion_y_mm": f"{les['centre_lps_mm'][1]:.3f}",
            "lesion_z_mm": f"{les['centre_lps_mm'][2]:.3f}", "lesion_volume_ml": f"{les['volume_ml']:.3f}",
            "target_suvmax": "" if t["suvmax"] is None else f"{t['suvmax']:.4g}",
            "target_bg_suvmax": f"{t['bg_suvmax']:.4g}",
            "target_tbr": "" if t["tbr_max_to_bg_max"] is None else f"{t['tbr_max_to_bg_max']:.4g}",
            "phantom_lesion_suvmax": f"{scan['phantom_suv']['lesion_peak']:.4g}",
            "phantom_wm_suv": f"{scan['phantom_suv']['wm']:.4g}",
            "recon_lesion_suvmax": f"{scan['recon']['lesion_suvmax']:.4g}",
            "recon_bg_suvmax": f"{scan['recon']['bg_suvmax']:.4g}",
            "recon_tbr": "" if scan["recon"]["tbr_max_to_bg_max"] is None
            else f"{scan['recon']['tbr_max_to_bg_max']:.4g}",
        })
    return rows


def _write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(path)


def _run_one(args: tuple[PatientSpec, str, int]) -> dict[str, Any]:
    spec, folder, seed = args
    return simulate_patient(spec, folder, seed=seed)


def _prepare_output(out_dir: Path, overwrite: bool) -> Path:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise InputError(f"{out_dir}: exists and is not a folder")
        if any(out_dir.iterdir()) and not overwrite:
            raise InputError(f"{out_dir}: output folder is not empty (use --force to replace it)")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def _finish_output(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(old)
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old)


def simulate_cohort(specs: Sequence[PatientSpec], out_dir: str | Path, *, seed: int, workers: int = 1,
                    overwrite: bool = False, progress: bool = True) -> CohortResult:
    """Simulate every patient of ``specs`` into ``out_dir`` (one folder per patient).

    Written into a temporary sibling folder and renamed at the end, so an
    interrupted run leaves nothing half-written at ``out_dir``. Refuses a
    non-empty ``out_dir`` unless ``overwrite``.

    Parameters
    ----------
    specs : sequence of PatientSpec
        From :func:`patient_specs_like` or :func:`random_patient_spec`.
    out_dir : path
        Cohort folder (``clinical.csv``, ``ground_truth.csv``, ``cohort.json``, ``SIMnnn/``).
    seed : int
        The cohort seed (the specs should come from the same seed).
    workers : int
        Processes; results do not depend on it.
    """
    out_dir = Path(out_dir)
    ids = [s.patient_id for s in specs]
    if len(set(ids)) != len(ids):
        raise InputError("patient specs: patient_id values are not unique")
    tmp = _prepare_output(out_dir, overwrite)
    try:
        jobs = [(spec, str(tmp / spec.patient_id), seed) for spec in specs]
        bar = tqdm(total=len(jobs), desc="simulate", unit="patient", file=sys.stderr, disable=not progress)
        truths: list[dict[str, Any]] = []
        if workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for truth in pool.map(_run_one, jobs):
                    truths.append(truth)
                    bar.update()
        else:
            for job in jobs:
                truths.append(_run_one(job))
                bar.update()
        bar.close()
        _write_csv(tmp / "clinical.csv", CLINICAL_COLUMNS, (_clinical_row(s, t) for s, t in zip(specs, truths)))
        _write_csv(tmp / "ground_truth.csv", GROUND_TRUTH_COLUMNS,
                   (row for s, t in zip(specs, truths) for row in _truth_rows(s, t)))
        _json_dump({"schema": "gliopet.simulate.cohort/1", "seed": seed, "n_patients": len(specs),
                    "patients": [{"patient_id": s.patient_id, "folder": s.patient_id,
                                  "source_patient_id": s.source_patient_id} for s in specs]},
                   tmp / "cohort.json")
        _finish_output(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return CohortResult(root=out_dir, clinical_csv=out_dir / "clinical.csv",
                        ground_truth_csv=out_dir / "ground_truth.csv",
                        patients=tuple(out_dir / s.patient_id for s in specs))
