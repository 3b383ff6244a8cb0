"""Who the simulated patients are: :class:`PatientSpec` and the ways to make them.

A spec holds plain values only (JSON-able). :func:`patient_specs_like`
imitates a clinical table row by row (the study's Table 2 by default in the
CLI), :func:`random_patient_spec` draws one random patient. Every random
number comes from ``numpy.random.default_rng([seed, index])``
(:func:`seeded_rng`), so specs are reproducible.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from .protocol import FRAME_S
from .tracers import load_tracer

__all__ = ["BG_MAX_OVER_MEAN", "PatientSpec", "random_patient_spec", "read_like_csv", "patient_specs_like",
           "seeded_rng"]

#: Expected ratio of the maximum to the mean of the reconstructed white matter in a 25 mm circle
#: (noise and grey-matter partial volume); used only to aim background uptake at a target SUVmax.
BG_MAX_OVER_MEAN = 1.45

#: The study's injected activity (MBq): mean 154, SD 21, range 114.7 to 193.5.
_DOSE_MBQ = (154.0, 21.0, 114.7, 193.5)


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
    frame_s: float = FRAME_S
    referral: str = "staging"
    prior_surgery: str = "no"
    prior_chemotherapy: str = "no"
    prior_radiotherapy: str = "no"
    flavour: str = "siemens"
    with_mr: bool = False
    source_patient_id: str = ""
    lesion_radius_mm: float | None = None
    necrosis: bool | None = None


def seeded_rng(seed: int, index: int) -> np.random.Generator:
    """The random generator of draw ``index`` of cohort ``seed``: ``default_rng([seed mod 2**32, index])``."""
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
    rng = seeded_rng(seed, 10_000 + index)
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
    rng = seeded_rng(seed, 0)
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
        prng = seeded_rng(seed, i + 1)
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
