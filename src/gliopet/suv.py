"""The SUV factor: QIBA vendor-neutral rules, IBSI where QIBA is silent. Pure.

The factor multiplies a rescaled PET pixel value (``stored * RescaleSlope +
RescaleIntercept``, per slice) to give SUVbw in g/mL::

    SUVbw = C [Bq/mL] * body weight [g] / (injected activity decayed to the scan reference time [Bq])

Decision rules, in the order of the QIBA pseudo-code (QIBA SUV wiki,
"vendor-neutral pseudo-code"):

* ``Units`` (0054,1001)
  - ``BQML``: factor = weight_g / decayed dose.
  - ``CNTS`` (Philips): the private SUV scale factor (7053,1000) when present;
    otherwise the private activity-concentration scale factor (7053,1009)
    gives Bq/mL and the ``BQML`` rule follows.
  - ``GML``: the image already holds an SUV; ``SUVType`` (0054,1006) says
    which (IBSI). BW (or absent, with a warning) gives factor 1; LBM (James,
    120), LBMJAMES128, LBMJANMA and IBW are converted to SUVbw by weight /
    normaliser (:data:`SUV_TYPE_FORMULAS`); sex O takes the mean of the male
    and female factors, with a warning.
  - ``CM2ML``: SUVbsa images, converted by weight_g / BSA_cm2 (IBSI).
* ``CorrectedImage`` (0028,0051) of BQML and CNTS images lists ATTN, and DECY
  unless DecayCorrection is NONE; else the series is refused.
* ``DecayCorrection`` (0054,1102)
  - ``START``: the dose is decayed to the scan reference time: the series
    date/time, unless it is later than the earliest acquisition date/time
    (the series time was reset after the start); then the GE private scan
    date/time (0009,100D), else the reference time back-computed from each
    frame's timing (acquisition time - FrameReferenceTime + the time of the
    average count rate within the frame) when FrameReferenceTime and
    ActualFrameDuration are both > 0 (QIBA: 0 is "not given"), else the
    earliest acquisition date/time (QIBA fallback, with a warning).
  - ``ADMIN``: images are decay corrected to the administration time: no
    decay; an injection after the scan is still refused.
  - ``NONE``: each slice is decayed to the time of its own average count
    rate, acquisition time + t_avg(frame duration) (IBSI).
* Injection date/time: ``RadiopharmaceuticalStartDateTime`` (0018,1078), else
  ``RadiopharmaceuticalStartTime`` (0018,1072) on the ``SeriesDate``; an
  injection that would fall after the scan is taken on the previous day
  (scans that cross midnight), with a warning.
* A dose that is implausible in Bq but plausible in MBq is read as MBq, a
  weight over 1000 as grams, each with a warning (IBSI). A half-life that is a
  known one only in minutes is read as minutes (with a warning) when the
  series identifies that radionuclide, else refused. Missing or implausible weight, dose, half-life or time is an
  error naming the attribute, never a default.

Other SUV types (``factors``): SUL with the Janmahasatian lean body mass,
SUVbsa with the Du Bois body surface area (cm2/mL), SUVibw with the Devine ideal
body weight. Each equals the SUVbw factor times normaliser / weight.

References
----------
QIBA, "Standardized Uptake Value (SUV)", vendor-neutral pseudo-code (QIBA wiki).
IBSI, "Reference manual: standardised uptake value calculation".
DICOM PS3.3 C.8.9.1 PET Series Module; C.8.9.4 PET Image Module.
Janmahasatian S et al. Clin Pharmacokinet 2005;44:1051-65.
Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863-71.
Devine BJ. Drug Intell Clin Pharm 1974;8:650-5.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

import numpy as np

from . import decay as _decay
from .errors import SuvError

__all__ = [
    "Units",
    "DecayCorrection",
    "SuvType",
    "Sex",
    "SuvInput",
    "PetTiming",
    "SuvResult",
    "compute_suv",
    "suv_bw_factor",
    "lbm_janmahasatian_kg",
    "bsa_du_bois_m2",
    "ibw_devine_kg",
    "lbm_james_kg",
    "ibw_ibsi_kg",
    "identify_radionuclide",
    "duration_weighted_mean",
    "average_count_rate_time_s",
    "HALF_LIFE_S",
]

#: Physical half-lives in seconds (DDEP / NUBASE values used in the tests and docs).
HALF_LIFE_S = {"F-18": 6586.2, "Ga-68": 4062.6, "C-11": 1223.1, "Cu-64": 45720.0,
               "Zr-89": 282276.0, "O-15": 122.24, "N-13": 597.9}

# Plausibility limits. Outside them a value is refused, never clamped.
WEIGHT_KG_RANGE = (0.5, 400.0)
HEIGHT_M_RANGE = (0.3, 2.6)
DOSE_BQ_RANGE = (1.0e5, 5.0e10)        # 0.1 MBq .. 50 GBq
DOSE_AS_MBQ_RANGE = (0.1, 5.0e4)       # a value plausible only as MBq
HALF_LIFE_S_RANGE = (10.0, 1.0e7)      # O-15 (122 s) .. I-124/Zr-89 (days), with margin
MAX_DECAY_TIME_S = 14 * 24 * 3600.0     # two weeks after injection
#: A weight above this is in grams, not kg (IBSI): read as grams, with a warning.
WEIGHT_GRAMS_ABOVE = 1000.0
#: Relative difference within which a RadionuclideHalfLife value equals a known half-life.
HALF_LIFE_MATCH_RTOL = 0.01
#: Relative spread below which per-slice factors are reported as one number.
FACTOR_RTOL = 1e-9

INCH_M = 0.0254


class Units(str, enum.Enum):
    """PET (0054,1001) Units handled here."""

    BQML = "BQML"
    CNTS = "CNTS"
    GML = "GML"
    CM2ML = "CM2ML"


class DecayCorrection(str, enum.Enum):
    """PET (0054,1102) DecayCorrection."""

    START = "START"
    ADMIN = "ADMIN"
    NONE = "NONE"


class SuvType(str, enum.Enum):
    """(0054,1006) SUVType of images that already hold an SUV."""

    BW = "BW"
    LBM = "LBM"
    LBMJAMES128 = "LBMJAMES128"
    LBMJANMA = "LBMJANMA"
    BSA = "BSA"
    IBW = "IBW"


class Sex(str, enum.Enum):
    M = "M"
    F = "F"


@dataclass(frozen=True)
class SuvInput:
    """One input with its unit and the attribute (and file) it came from."""

    value: Any
    unit: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        return {"value": value, "unit": self.unit, "source": self.source}


@dataclass(frozen=True)
class PetTiming:
    """Per-slice timing of one PET series, in slice order along the normal.

    ``acquisition`` are the slices' acquisition date/times; the frame fields
    are ``None`` where the attribute is absent.
    """

    acquisition: tuple[datetime, ...]
    frame_reference_ms: tuple[float | None, ...] = ()
    frame_duration_ms: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class SuvResult:
    """The SUV factor(s) of one series and how they were obtained.

    ``factor`` holds one SUVbw factor per slice (slice order along the normal);
    ``factors`` maps each computable SUV type to its per-slice factors.
    """

    factor: tuple[float, ...]
    factors: dict[str, tuple[float, ...]]
    units: str
    suv_type: str
    inputs: dict[str, SuvInput]
    warnings: tuple[str, ...]
    decay_time_s: tuple[float, ...] | None
    reference_rule: str
    #: The formula that turned the pixel values into SUVbw (see :data:`REFERENCE_RULES` for the time).
    conversion: str = ""

    @property
    def uniform(self) -> bool:
        """True when every slice has the same factor."""
        return _uniform(self.factor)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``gliopet suv --json`` (DESIGN.md)."""
        return {
            "factor": _scalar_or_list(self.factor),
            "suv_type": self.suv_type,
            "factor_units": "g/mL per (rescaled pixel unit)",
            "factors": {name: _scalar_or_list(values) for name, values in self.factors.items()},
            "units": self.units,
            "inputs": {name: inp.as_dict() for name, inp in self.inputs.items()},
            "decay_time_s": None if self.decay_time_s is None else _scalar_or_list(self.decay_time_s),
            "reference_rule": self.reference_rule,
            "reference_rule_text": REFERENCE_RULES.get(
                self.reference_rule, "the image already holds an SUV (Units GML/CM2ML): no scan reference time"),
            "suv_type_conversion": self.conversion,
            "warnings": list(self.warnings),
        }


#: What each ``reference_rule`` means: the rule that fixed the scan reference time.
REFERENCE_RULES = {
    "series": "QIBA: DecayCorrection START, (0008,0021/0031) SeriesDate/Time (not after the earliest acquisition)",
    "ge_private": "QIBA: series time reset after the scan start; GE private (0009,100D) scan date/time",
    "frame_timing": "QIBA: series time reset; back-computed per slice as AcquisitionTime + t_avg(ActualFrameDuration) "
                    "- FrameReferenceTime (both > 0)",
    "earliest_acquisition": "QIBA: series time reset (or missing) without GE private time or frame timing > 0; "
                            "earliest (0008,0022/0032) AcquisitionDate/Time",
    "admin": "QIBA: DecayCorrection ADMIN, images decay corrected to the administration time (no decay)",
    "none_per_slice": "IBSI: DecayCorrection NONE, each slice at AcquisitionTime + t_avg(ActualFrameDuration)",
}


def _uniform(values: Sequence[float]) -> bool:
    first = values[0]
    return all(math.isclose(v, first, rel_tol=FACTOR_RTOL, abs_tol=0.0) for v in values)


def _scalar_or_list(values: Sequence[float]) -> float | list[float]:
    return float(values[0]) if _uniform(values) else [float(v) for v in values]


# --- elementary formulas -------------------------------------------------------------


def suv_bw_factor(*, weight_kg: float, injected_bq: float, decay_time_s: float,
                  half_life_s: float) -> float:
    """SUVbw factor: multiply Bq/mL by this to get g/mL (QIBA).

    ``weight_kg * 1000 / (injected_bq * 2 ** (-decay_time_s / half_life_s))``.

    >>> round(suv_bw_factor(weight_kg=70, injected_bq=200e6, decay_time_s=0, half_life_s=6586.2), 9)
    0.00035
    """
    return weight_kg * 1000.0 / _decay.decayed_activity_bq(injected_bq, elapsed_s=decay_time_s,
                                                            half_life_s=half_life_s)


def lbm_janmahasatian_kg(*, weight_kg: float, height_m: float, sex: str | Sex) -> float:
    """Lean body mass (Janmahasatian 2005), kg.

    Male ``9270 W / (6680 + 216 BMI)``, female ``9270 W / (8780 + 244 BMI)``,
    ``BMI = W / H**2`` with W in kg and H in m.
    """
    sex = Sex(sex)
    bmi = weight_kg / height_m**2
    if sex is Sex.M:
        return 9270.0 * weight_kg / (6680.0 + 216.0 * bmi)
    return 9270.0 * weight_kg / (8780.0 + 244.0 * bmi)


def bsa_du_bois_m2(*, weight_kg: float, height_m: float) -> float:
    """Body surface area (Du Bois 1916), m2: ``0.007184 W**0.425 (100 H)**0.725``."""
    return 0.007184 * weight_kg**0.425 * (100.0 * height_m) ** 0.725


def ibw_devine_kg(*, height_m: float, sex: str | Sex) -> float:
    """Ideal body weight (Devine 1974), kg: 50 (M) or 45.5 (F) + 2.3 kg per inch over 60 in."""
    sex = Sex(sex)
    base = 50.0 if sex is Sex.M else 45.5
    return base + 2.3 * (height_m / INCH_M - 60.0)


def lbm_james_kg(*, weight_kg: float, height_m: float, sex: str | Sex, male_coefficient: float = 120.0) -> float:
    """Lean body mass (James 1976) as DICOM's SUVType LBM defines it, kg.

    Male ``1.10 W - c (W / H)**2`` with ``c = 120`` (SUVType ``LBM``) or 128
    (``LBMJAMES128``), female ``1.07 W - 148 (W / H)**2``; W in kg, H in cm.

    >>> round(lbm_james_kg(weight_kg=70, height_m=1.75, sex="M"), 6)
    57.8
    """
    sex = Sex(sex)
    ratio = weight_kg / (100.0 * height_m)
    if sex is Sex.M:
        return 1.10 * weight_kg - male_coefficient * ratio**2
    return 1.07 * weight_kg - 148.0 * ratio**2


def ibw_ibsi_kg(*, height_m: float, sex: str | Sex) -> float:
    """Ideal body weight of SUVType IBW images (IBSI), kg: ``48.0 + 1.06 (H - 152)`` (M), ``45.5 + 0.91 (H - 152)`` (F), H in cm.

    >>> round(ibw_ibsi_kg(height_m=1.75, sex="M"), 6)
    72.38
    """
    sex = Sex(sex)
    height_cm = 100.0 * height_m
    if sex is Sex.M:
        return 48.0 + 1.06 * (height_cm - 152.0)
    return 45.5 + 0.91 * (height_cm - 152.0)


_ELEMENTS = {"fluorine": "F", "gallium": "Ga", "carbon": "C", "copper": "Cu", "zirconium": "Zr",
             "oxygen": "O", "nitrogen": "N"}
_NUCLIDE_TEXT = re.compile(r"\^?(\d{1,3})\^?\s*-?\s*([A-Za-z]{1,9})|([A-Za-z]{1,9})\s*-?\s*\^?(\d{1,3})\^?")


def identify_radionuclide(*texts: str | None) -> str | None:
    """The radionuclide of :data:`HALF_LIFE_S` named in ``texts`` (a code meaning such as
    ``^68^Gallium``, ``Ga-68``, ``18F``, ``68Ga-Pentixafor``), or None when none or several are named.

    >>> identify_radionuclide("^18^Fluorine")
    'F-18'
    >>> identify_radionuclide("68Ga-Pentixafor", None)
    'Ga-68'
    """
    found = set()
    for text in texts:
        for match in _NUCLIDE_TEXT.finditer(str(text or "")):
            mass, name = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
            symbol = _ELEMENTS.get(name.lower(), name[:1].upper() + name[1:].lower())
            if f"{symbol}-{int(mass)}" in HALF_LIFE_S:
                found.add(f"{symbol}-{int(mass)}")
    return found.pop() if len(found) == 1 else None


def duration_weighted_mean(frames: Sequence[np.ndarray], durations_s: Sequence[float]) -> np.ndarray:
    """Frames of a dynamic series summed into one static image: ``sum(d_i x F_i) / sum(d_i)``.

    Parameters
    ----------
    frames : sequence of (K, J, I) arrays
        The frames on one grid, each in SUV (or Bq/mL) decay corrected to one reference.
    durations_s : sequence of float
        Each frame's (0018,1242) ActualFrameDuration in s, > 0.

    Returns
    -------
    (K, J, I) float64 array

    Raises
    ------
    SuvError
        No frame, a duration that is not > 0, or frames on different grids.

    >>> duration_weighted_mean([np.full((1, 1, 1), 2.0), np.full((1, 1, 1), 5.0)], [300.0, 600.0]).item()
    4.0
    """
    if len(frames) == 0 or len(frames) != len(durations_s):
        raise SuvError(f"{len(frames)} frames and {len(durations_s)} durations: need one duration per frame")
    if not all(math.isfinite(d) and d > 0 for d in durations_s):
        raise SuvError(f"(0018,1242) ActualFrameDuration must be > 0 for every frame, got {list(durations_s)}")
    shape = np.shape(frames[0])
    total = np.zeros(shape, dtype=np.float64)
    for frame, duration in zip(frames, durations_s):
        if np.shape(frame) != shape:
            raise SuvError(f"frames of shapes {shape} and {np.shape(frame)} cannot be summed")
        total += float(duration) * np.asarray(frame, dtype=np.float64)
    return total / float(sum(durations_s))


def average_count_rate_time_s(*, frame_duration_s: float, half_life_s: float) -> float:
    """Time after frame start at which the decaying activity equals its frame average.

    :func:`gliopet.decay.average_count_rate_time_s` (IBSI), refused with the
    attribute's name for a frame duration that is not > 0.
    """
    if frame_duration_s <= 0:
        raise SuvError(f"(0018,1242) ActualFrameDuration must be > 0, got {frame_duration_s * 1000:g} ms")
    return _decay.average_count_rate_time_s(frame_duration_s=frame_duration_s, half_life_s=half_life_s)


def _require(value: Any, tag: str, purpose: str) -> Any:
    if value is None or value == "":
        raise SuvError(f"{tag} is missing; {purpose}")
    return value


def _check_range(value: float, bounds: tuple[float, float], tag: str, unit: str) -> None:
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise SuvError(f"{tag} value {value:g} {unit} is implausible (expected {low:g} to {high:g} {unit})")


# --- the steps of compute_suv ------------------------------------------------------------
#
# In the order of the module docstring's rules: units (and the body inputs), the
# decay correction's scan reference time, the injection time, the dose; then the
# CNTS scale factors. The SUV-image branch is _from_suv_image, below. compute_suv
# reads the dose and half-life before the scan reference time, which fixes the
# order of its errors and warnings.


@dataclass(frozen=True)
class _Body:
    """The checked body weight and the normaliser of each computable SUV type."""

    weight_kg: float
    normalisers: dict[str, float]


@dataclass(frozen=True)
class _DecayTimes:
    """Seconds from injection to each slice's scan reference time, and the rule that fixed it."""

    seconds: tuple[float, ...]
    rule: str


def _pixel_units(units: str | None, inputs: dict[str, SuvInput]) -> Units:
    """(0054,1001) Units, refused unless it is one the rules handle."""
    raw_units = _require(units, "(0054,1001) Units", "the SUV needs the pixel units")
    try:
        unit = Units(str(raw_units).strip().upper())
    except ValueError:
        raise SuvError(f"(0054,1001) Units value '{raw_units}' is not supported "
                       f"(expected one of {', '.join(u.value for u in Units)})") from None
    inputs["units"] = SuvInput(unit.value, "", "(0054,1001) Units")
    return unit


def _check_attenuation_corrected(corrected_image: Sequence[str] | None, unit: Units, decay_correction: str | None,
                                 inputs: dict[str, SuvInput], warnings: list[str]) -> None:
    """(0028,0051) CorrectedImage of BQML and CNTS images must list ATTN, and DECY unless DecayCorrection is NONE.

    Without DECY the pixel values are not decay corrected, which only the IBSI
    DecayCorrection NONE rule accounts for. Images that already hold an SUV
    (GML, CM2ML) get a warning when CorrectedImage is absent.
    """
    quantitative = unit in (Units.BQML, Units.CNTS)
    if corrected_image is None:
        if quantitative:
            raise SuvError(f"(0028,0051) CorrectedImage is missing; a {unit.value} SUV needs ATTN and DECY "
                           "(attenuation and decay correction) listed")
        warnings.append("(0028,0051) CorrectedImage is missing: attenuation correction cannot be confirmed")
        return
    flags = [str(f).strip().upper() for f in corrected_image]
    inputs["corrected_image"] = SuvInput(flags, "", "(0028,0051) CorrectedImage")
    if quantitative and "ATTN" not in flags:
        raise SuvError(f"(0028,0051) CorrectedImage {flags} lacks ATTN; SUV needs attenuation-corrected images")
    not_corrected = str(decay_correction or "").strip().upper() == DecayCorrection.NONE.value
    if quantitative and "DECY" not in flags and not not_corrected:
        raise SuvError(f"(0028,0051) CorrectedImage {flags} lacks DECY but (0054,1102) DecayCorrection is "
                       f"'{decay_correction}'; only DecayCorrection NONE describes images without decay correction")


def _body_inputs(weight_kg: float | None, height_m: float | None, sex: str | None,
                 inputs: dict[str, SuvInput], warnings: list[str]) -> _Body:
    """The required, plausible body weight, and the normalisers height and sex allow."""
    weight = _require(weight_kg, "(0010,1030) PatientWeight", "SUVbw needs body weight")
    weight = float(weight)
    source = "(0010,1030) PatientWeight"
    if weight > WEIGHT_GRAMS_ABOVE:  # IBSI: a weight over 1000 is in grams
        warnings.append(f"(0010,1030) PatientWeight {weight:g} is over {WEIGHT_GRAMS_ABOVE:g}: read as grams "
                        f"({weight / 1000.0:g} kg)")
        weight /= 1000.0
        source += " (read as grams)"
    _check_range(weight, WEIGHT_KG_RANGE, "(0010,1030) PatientWeight", "kg")
    inputs["weight"] = SuvInput(weight, "kg", source)
    if height_m is not None:
        inputs["height"] = SuvInput(float(height_m), "m", "(0010,1020) PatientSize")
    if sex is not None:
        inputs["sex"] = SuvInput(sex, "", "(0010,0040) PatientSex")
    normalisers = _body_normalisers(weight, None if height_m is None else float(height_m), sex, warnings)
    return _Body(weight_kg=weight, normalisers=normalisers)


def _body_normalisers(weight_kg: float, height_m: float | None, sex: str | None,
                      warnings: list[str]) -> dict[str, float]:
    """Normalisers in grams (or cm2 for BSA) for each SUV type that can be computed."""
    out = {"bw": weight_kg * 1000.0}
    if height_m is None:
        warnings.append("(0010,1020) PatientSize is missing: SUL, SUVbsa and SUVibw not computed")
        return out
    low, high = HEIGHT_M_RANGE
    if not (math.isfinite(height_m) and low <= height_m <= high):
        warnings.append(f"(0010,1020) PatientSize {height_m:g} m is implausible: SUL, SUVbsa and SUVibw "
                        "not computed")
        return out
    out["bsa"] = bsa_du_bois_m2(weight_kg=weight_kg, height_m=height_m) * 1.0e4  # cm2
    if sex in ("M", "F"):
        out["lbm_janmahasatian"] = lbm_janmahasatian_kg(weight_kg=weight_kg, height_m=height_m, sex=sex) * 1000.0
        out["ibw"] = ibw_devine_kg(height_m=height_m, sex=sex) * 1000.0
    elif sex == "O":  # IBSI: the mean of the male and female factors (a factor is linear in its normaliser)
        out["lbm_janmahasatian"] = sum(lbm_janmahasatian_kg(weight_kg=weight_kg, height_m=height_m, sex=s)
                                       for s in "MF") * 1000.0 / 2.0
        out["ibw"] = sum(ibw_devine_kg(height_m=height_m, sex=s) for s in "MF") * 1000.0 / 2.0
        warnings.append("(0010,0040) PatientSex is O (other): SUL and SUVibw are the mean of the male and "
                        "female factors (IBSI)")
    else:
        warnings.append("(0010,0040) PatientSex is not M, F or O: SUL and SUVibw not computed")
    return out


def _decay_correction_rule(decay_correction: str | None, inputs: dict[str, SuvInput]) -> DecayCorrection:
    """(0054,1102) DecayCorrection, refused unless START, ADMIN or NONE."""
    raw_dc = _require(decay_correction, "(0054,1102) DecayCorrection", "the SUV needs to know the decay reference")
    try:
        dc = DecayCorrection(str(raw_dc).strip().upper())
    except ValueError:
        raise SuvError(f"(0054,1102) DecayCorrection value '{raw_dc}' is not supported "
                       f"(expected START, ADMIN or NONE)") from None
    inputs["decay_correction"] = SuvInput(dc.value, "", "(0054,1102) DecayCorrection")
    return dc


def _decay_times(dc: DecayCorrection, *, n: int, timing: PetTiming, series_datetime: datetime | None,
                 ge_scan_datetime: datetime | None, start_datetime: datetime | None,
                 start_time: datetime | None, half_life_s: float, inputs: dict[str, SuvInput],
                 warnings: list[str]) -> _DecayTimes:
    """Scan reference time(s) per slice by the DecayCorrection rule, and the decay time from injection."""
    if dc is DecayCorrection.ADMIN:
        _check_admin_injection(n=n, timing=timing, series_datetime=series_datetime,
                               ge_scan_datetime=ge_scan_datetime, start_datetime=start_datetime,
                               start_time=start_time, half_life_s=half_life_s, inputs=inputs, warnings=warnings)
        inputs["scan_reference_datetime"] = SuvInput(None, "datetime",
                                                     "DecayCorrection ADMIN: corrected to the administration time")
        return _DecayTimes(seconds=tuple([0.0] * n), rule="admin")
    if dc is DecayCorrection.START:
        refs, rule = _start_reference_times(series_datetime=series_datetime, timing=timing,
                                            ge_scan_datetime=ge_scan_datetime, half_life_s=half_life_s,
                                            inputs=inputs, warnings=warnings)
    else:  # NONE: each slice at its own average-count-rate time
        refs = _per_slice_reference_times(timing=timing, n=n, half_life_s=half_life_s, inputs=inputs)
        rule = "none_per_slice"
    if len(refs) == 1 and n > 1:
        refs = refs * n
    injection = _injection_datetime(start_datetime=start_datetime, start_time=start_time,
                                    series_datetime=series_datetime, reference=min(refs),
                                    inputs=inputs, warnings=warnings)
    seconds = [_seconds(ref, injection) for ref in refs]
    _check_decay_times(seconds)
    return _DecayTimes(seconds=tuple(seconds), rule=rule)


def _check_admin_injection(*, n: int, timing: PetTiming, series_datetime: datetime | None,
                           ge_scan_datetime: datetime | None, start_datetime: datetime | None,
                           start_time: datetime | None, half_life_s: float, inputs: dict[str, SuvInput],
                           warnings: list[str]) -> None:
    """DecayCorrection ADMIN uses no decay time, yet an injection after the scan means a wrong date or time.

    When the injection and the scan are both dated, the scan time (by the START
    rules) is recorded as ``scan_datetime`` and the injection must precede it.
    """
    if start_datetime is None and (start_time is None or series_datetime is None):
        return
    if timing.acquisition:
        scratch: dict[str, SuvInput] = {}
        refs, _ = _start_reference_times(series_datetime=series_datetime, timing=timing,
                                         ge_scan_datetime=ge_scan_datetime, half_life_s=half_life_s,
                                         inputs=scratch, warnings=[])
        scan = SuvInput(min(refs), "datetime", scratch["scan_reference_datetime"].source)
    elif series_datetime is not None:
        scan = SuvInput(series_datetime, "datetime", "(0008,0021) SeriesDate + (0008,0031) SeriesTime")
    else:
        return
    inputs["scan_datetime"] = scan
    injection = _injection_datetime(start_datetime=start_datetime, start_time=start_time,
                                    series_datetime=series_datetime, reference=scan.value,
                                    inputs=inputs, warnings=warnings)
    _check_decay_times([_seconds(scan.value, injection)])


def _start_reference_times(*, series_datetime: datetime | None, timing: PetTiming,
                           ge_scan_datetime: datetime | None, half_life_s: float,
                           inputs: dict[str, SuvInput], warnings: list[str]) -> tuple[list[datetime], str]:
    """Scan reference time per slice for DecayCorrection START (QIBA, IBSI)."""
    if not timing.acquisition:
        raise SuvError("(0008,0032) AcquisitionTime is missing; needed to check the series reference time")
    earliest = min(timing.acquisition)
    n = len(timing.acquisition)
    if series_datetime is not None and series_datetime <= earliest:
        inputs["scan_reference_datetime"] = SuvInput(series_datetime, "datetime",
                                                     "(0008,0021) SeriesDate + (0008,0031) SeriesTime")
        return [series_datetime] * n, "series"
    if series_datetime is not None:
        warnings.append("series date/time is after the earliest acquisition date/time: "
                        "series time was reset after the scan start")
    else:
        warnings.append("(0008,0021) SeriesDate / (0008,0031) SeriesTime are missing: "
                        "the scan reference time is taken from the other timing attributes")
    if ge_scan_datetime is not None:
        inputs["scan_reference_datetime"] = SuvInput(ge_scan_datetime, "datetime",
                                                     "(0009,100D) GE private scan date/time [GEMS_PETD_01]")
        return [ge_scan_datetime] * n, "ge_private"
    # QIBA: back-compute only when FrameReferenceTime > 0 and ActualFrameDuration > 0 (0 is "not given").
    have_frames = (len(timing.frame_reference_ms) == n and len(timing.frame_duration_ms) == n
                   and all(v is not None and v > 0 for v in timing.frame_reference_ms)
                   and all(v is not None and v > 0 for v in timing.frame_duration_ms))
    if have_frames:
        refs = []
        for acq, frt_ms, dur_ms in zip(timing.acquisition, timing.frame_reference_ms, timing.frame_duration_ms):
            t_avg = average_count_rate_time_s(frame_duration_s=dur_ms / 1000.0, half_life_s=half_life_s)
            refs.append(acq + timedelta(seconds=t_avg - frt_ms / 1000.0))
        inputs["scan_reference_datetime"] = SuvInput(
            refs[0] if len(set(refs)) == 1 else [r.isoformat() for r in refs], "datetime",
            "back-computed: (0008,0032) AcquisitionTime - (0054,1300) FrameReferenceTime "
            "+ t_avg((0018,1242) ActualFrameDuration)")
        return refs, "frame_timing"
    warnings.append("no GE private scan time and no frame timing ((0054,1300) FrameReferenceTime and "
                    "(0018,1242) ActualFrameDuration both > 0): the earliest acquisition time is used "
                    "as the scan reference (QIBA fallback)")
    inputs["scan_reference_datetime"] = SuvInput(earliest, "datetime",
                                                 "earliest (0008,0022/0032) AcquisitionDate/Time")
    return [earliest] * n, "earliest_acquisition"


def _per_slice_reference_times(*, timing: PetTiming, n: int, half_life_s: float,
                               inputs: dict[str, SuvInput]) -> list[datetime]:
    """DecayCorrection NONE: each slice's acquisition time + t_avg of its frame duration (IBSI)."""
    if len(timing.acquisition) != n:
        raise SuvError("(0008,0032) AcquisitionTime is missing on some slices; "
                       "DecayCorrection NONE needs each slice's acquisition time")
    refs = []
    for acq, dur_ms in zip(timing.acquisition, timing.frame_duration_ms or [None] * n):
        if dur_ms is None:
            raise SuvError("(0018,1242) ActualFrameDuration is missing; "
                           "DecayCorrection NONE needs each frame's duration")
        t_avg = average_count_rate_time_s(frame_duration_s=dur_ms / 1000.0, half_life_s=half_life_s)
        refs.append(acq + timedelta(seconds=t_avg))
    inputs["scan_reference_datetime"] = SuvInput(
        [r.isoformat() for r in refs], "datetime",
        "(0008,0032) AcquisitionTime + t_avg((0018,1242) ActualFrameDuration), per slice")
    return refs


def _injection_datetime(*, start_datetime: datetime | None, start_time: datetime | None,
                        series_datetime: datetime | None, reference: datetime | None,
                        inputs: dict[str, SuvInput], warnings: list[str]) -> datetime:
    if start_datetime is not None:
        inputs["injection_datetime"] = SuvInput(start_datetime, "datetime",
                                                "(0018,1078) RadiopharmaceuticalStartDateTime")
        return start_datetime
    if start_time is None:
        raise SuvError("(0018,1078) RadiopharmaceuticalStartDateTime and (0018,1072) RadiopharmaceuticalStartTime "
                       "are missing; the decay correction needs the injection time")
    if series_datetime is None:
        raise SuvError("(0008,0021) SeriesDate is missing; needed to date (0018,1072) RadiopharmaceuticalStartTime")
    injection = datetime.combine(series_datetime.date(), start_time.time())
    source = "(0018,1072) RadiopharmaceuticalStartTime on (0008,0021) SeriesDate"
    if reference is not None and injection > reference:
        injection -= timedelta(days=1)
        source += ", previous day (scan crosses midnight)"
        warnings.append("injection time is later than the scan time on the series date: "
                        "taken on the previous day (scan crosses midnight)")
    inputs["injection_datetime"] = SuvInput(injection, "datetime", source)
    return injection


def _check_decay_times(decay_times: Sequence[float]) -> None:
    """The injection must precede every scan reference time, by at most :data:`MAX_DECAY_TIME_S`."""
    for t in decay_times:
        if t < 0:
            raise SuvError(f"(0018,1078) RadiopharmaceuticalStartDateTime is {-t:.0f} s after the scan "
                           "reference time; the injection must precede the scan")
        if t > MAX_DECAY_TIME_S:
            raise SuvError(f"(0018,1078) RadiopharmaceuticalStartDateTime is {t / 3600:.1f} h before the scan; "
                           "implausible")


def _injected_activity_bq(injected_bq: float | None, inputs: dict[str, SuvInput], warnings: list[str]) -> float:
    """(0018,1074) RadionuclideTotalDose in Bq; a value plausible only in MBq is read as MBq, with a warning."""
    dose = float(_require(injected_bq, "(0018,1074) RadionuclideTotalDose", "SUVbw needs the injected activity"))
    if DOSE_BQ_RANGE[0] <= dose <= DOSE_BQ_RANGE[1]:
        inputs["injected_activity"] = SuvInput(dose, "Bq", "(0018,1074) RadionuclideTotalDose")
    elif DOSE_AS_MBQ_RANGE[0] <= dose <= DOSE_AS_MBQ_RANGE[1]:
        warnings.append(f"(0018,1074) RadionuclideTotalDose {dose:g} is implausible in Bq: read as {dose:g} MBq")
        dose *= 1.0e6
        inputs["injected_activity"] = SuvInput(dose, "Bq", "(0018,1074) RadionuclideTotalDose (read as MBq)")
    else:
        raise SuvError(f"(0018,1074) RadionuclideTotalDose value {dose:g} Bq is implausible "
                       f"(expected {DOSE_BQ_RANGE[0]:g} to {DOSE_BQ_RANGE[1]:g} Bq)")
    return dose


def _known_half_life(seconds: float) -> str | None:
    """The radionuclide of :data:`HALF_LIFE_S` whose half-life is ``seconds`` (within :data:`HALF_LIFE_MATCH_RTOL`)."""
    for nuclide, known in HALF_LIFE_S.items():
        if math.isclose(seconds, known, rel_tol=HALF_LIFE_MATCH_RTOL):
            return nuclide
    return None


def _radionuclide_half_life_s(half_life_s: float | None, radionuclide: str | None,
                              inputs: dict[str, SuvInput], warnings: list[str]) -> float:
    """(0018,1075) RadionuclideHalfLife in s, required and plausible.

    A value that is a known half-life only when read in minutes (67.71 for
    68Ga) is read as minutes, with a warning, when the series identifies that
    radionuclide (``radionuclide``, from its code sequence or name); else it is
    refused (IBSI: units the value is plausible in).
    """
    half_life = float(_require(half_life_s, "(0018,1075) RadionuclideHalfLife", "the decay correction needs it"))
    source = "(0018,1075) RadionuclideHalfLife"
    in_minutes = _known_half_life(half_life * 60.0) if math.isfinite(half_life) else None
    if in_minutes is not None and _known_half_life(half_life) is None:
        if radionuclide != in_minutes:
            named = "is not identified" if radionuclide is None else f"is identified as {radionuclide}"
            raise SuvError(f"(0018,1075) RadionuclideHalfLife {half_life:g} s is plausible only in minutes "
                           f"({in_minutes}: {HALF_LIFE_S[in_minutes] / 60:.2f} min) and the radionuclide {named} "
                           "((0054,0300) RadionuclideCodeSequence); correct the value to seconds")
        warnings.append(f"(0018,1075) RadionuclideHalfLife {half_life:g} is {radionuclide}'s half-life in minutes: "
                        f"read as {half_life * 60:g} s")
        half_life *= 60.0
        source += f" (read as minutes: {radionuclide})"
    _check_range(half_life, HALF_LIFE_S_RANGE, "(0018,1075) RadionuclideHalfLife", "s")
    if radionuclide in HALF_LIFE_S and not math.isclose(half_life, HALF_LIFE_S[radionuclide],
                                                     rel_tol=HALF_LIFE_MATCH_RTOL):
        warnings.append(f"(0018,1075) RadionuclideHalfLife {half_life:g} s differs from {radionuclide}'s "
                        f"{HALF_LIFE_S[radionuclide]:g} s named by the series")
    inputs["half_life"] = SuvInput(half_life, "s", source)
    return half_life


def _suvbw_factors(unit: Units, *, weight_kg: float, decayed_bq: Sequence[float],
                   philips_suv_factor: Sequence[float | None] | None,
                   philips_activity_factor: Sequence[float | None] | None, n: int,
                   inputs: dict[str, SuvInput]) -> list[float]:
    """SUVbw factor per slice: weight_g / decayed dose, for CNTS (Philips) by the private scale factors."""
    bq_per_ml_scale = [1.0] * n
    if unit is Units.CNTS:
        suv_direct = _per_slice(philips_suv_factor, n)
        if suv_direct is not None and all(v not in (None, 0.0) for v in suv_direct):
            inputs["philips_suv_factor"] = SuvInput(_scalar_or_list(suv_direct), "g/mL per count",
                                                    "(7053,1000) Philips private SUV scale factor")
            return [float(v) for v in suv_direct]
        acf = _per_slice(philips_activity_factor, n)
        if acf is None or any(v in (None, 0.0) for v in acf):
            raise SuvError("(7053,1000) and (7053,1009) Philips private scale factors are missing; "
                           "CNTS images need one of them")
        inputs["philips_activity_factor"] = SuvInput(_scalar_or_list(acf), "Bq/mL per count",
                                                     "(7053,1009) Philips private activity concentration "
                                                     "scale factor")
        bq_per_ml_scale = [float(v) for v in acf]
    return [scale * weight_kg * 1000.0 / d for scale, d in zip(bq_per_ml_scale, decayed_bq)]


def compute_suv(*, units: str | None, decay_correction: str | None, corrected_image: Sequence[str] | None,
                weight_kg: float | None, height_m: float | None = None, sex: str | None = None,
                injected_bq: float | None = None, half_life_s: float | None = None,
                start_datetime: datetime | None = None, start_time: datetime | None = None,
                series_datetime: datetime | None = None, timing: PetTiming | None = None,
                ge_scan_datetime: datetime | None = None,
                philips_suv_factor: Sequence[float | None] | None = None,
                philips_activity_factor: Sequence[float | None] | None = None,
                suv_type: str | None = None, n_slices: int | None = None,
                radionuclide: str | None = None) -> SuvResult:
    """SUVbw factor per slice, and the other SUV types where computable.

    Parameters
    ----------
    units : str
        (0054,1001) Units: BQML, CNTS, GML or CM2ML.
    decay_correction : str
        (0054,1102) DecayCorrection: START, ADMIN or NONE.
    corrected_image : sequence of str or None
        (0028,0051) CorrectedImage; must contain ATTN when present.
    weight_kg, height_m, sex
        (0010,1030) PatientWeight, (0010,1020) PatientSize, (0010,0040) PatientSex.
    injected_bq : float
        (0018,1074) RadionuclideTotalDose in Bq (an MBq value is recognised, with a warning).
    half_life_s : float
        (0018,1075) RadionuclideHalfLife in s.
    start_datetime, start_time : datetime
        (0018,1078) RadiopharmaceuticalStartDateTime, or (0018,1072) StartTime
        (only its time of day is used).
    series_datetime : datetime
        (0008,0021) SeriesDate + (0008,0031) SeriesTime.
    timing : PetTiming
        Per-slice acquisition times and frame timing.
    ge_scan_datetime : datetime
        GE private (0009,100D) scan date/time, when present.
    philips_suv_factor, philips_activity_factor : sequence
        Per-slice Philips private (7053,1000) and (7053,1009), when present.
    suv_type : str
        (0054,1006) SUVType of GML/CM2ML images.
    n_slices : int
        Number of slices (defaults to the length of ``timing.acquisition``).
    radionuclide : str
        The radionuclide the series names (a key of :data:`HALF_LIFE_S`), if identified.

    Returns
    -------
    SuvResult

    Raises
    ------
    SuvError
        A missing or implausible input, naming the attribute.
    """
    warnings: list[str] = []
    inputs: dict[str, SuvInput] = {}
    timing = timing or PetTiming(acquisition=())
    n = n_slices or len(timing.acquisition) or 1

    unit = _pixel_units(units, inputs)
    _check_attenuation_corrected(corrected_image, unit, decay_correction, inputs, warnings)
    body = _body_inputs(weight_kg, height_m, sex, inputs, warnings)
    # Images that already hold an SUV need neither dose nor time.
    if unit in (Units.GML, Units.CM2ML):
        return _from_suv_image(unit=unit, suv_type=suv_type, weight_kg=body.weight_kg, height_m=height_m,
                               sex=sex, normalisers=body.normalisers, n=n,
                               inputs=inputs, warnings=warnings)

    dc = _decay_correction_rule(decay_correction, inputs)
    dose = _injected_activity_bq(injected_bq, inputs, warnings)
    half_life = _radionuclide_half_life_s(half_life_s, radionuclide, inputs, warnings)
    decay = _decay_times(dc, n=n, timing=timing, series_datetime=series_datetime,
                         ge_scan_datetime=ge_scan_datetime, start_datetime=start_datetime, start_time=start_time,
                         half_life_s=half_life, inputs=inputs, warnings=warnings)
    decayed = [_decay.decayed_activity_bq(dose, elapsed_s=t, half_life_s=half_life) for t in decay.seconds]
    bw = _suvbw_factors(unit, weight_kg=body.weight_kg, decayed_bq=decayed, philips_suv_factor=philips_suv_factor,
                        philips_activity_factor=philips_activity_factor, n=n, inputs=inputs)
    return _result(bw=bw, normalisers=body.normalisers, unit=unit, inputs=inputs, warnings=warnings,
                   decay_times=decay.seconds, rule=decay.rule, conversion=_CONVERSIONS[
                       "philips_suv_factor" if "philips_suv_factor" in inputs else
                       "philips_activity_factor" if "philips_activity_factor" in inputs else "bqml"])


def _per_slice(values: Sequence[float | None] | None, n: int) -> list[float | None] | None:
    if values is None or len(values) == 0:
        return None
    values = list(values)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ValueError(f"expected {n} per-slice values, got {len(values)}")
    return values


def _seconds(later: datetime, earlier: datetime) -> float:
    if (later.tzinfo is None) != (earlier.tzinfo is None):
        later, earlier = later.replace(tzinfo=None), earlier.replace(tzinfo=None)
    return (later - earlier).total_seconds()


#: How BQML and CNTS pixel values become SUVbw (QIBA).
_CONVERSIONS = {
    "bqml": "SUVbw = C [Bq/mL] x W [g] / injected activity decayed to the scan reference time [Bq] (QIBA)",
    "philips_activity_factor": "SUVbw = counts x (7053,1009) [Bq/mL per count] x W [g] / decayed injected "
                               "activity [Bq] (QIBA, Philips CNTS)",
    "philips_suv_factor": "SUVbw = counts x (7053,1000) Philips SUV scale factor (QIBA, Philips CNTS)",
}


def _result(*, bw: list[float], normalisers: dict[str, float], unit: Units, inputs: dict[str, SuvInput],
            warnings: list[str], decay_times: Sequence[float] | None, rule: str, conversion: str) -> SuvResult:
    weight_g = normalisers["bw"]
    factors = {name: tuple(f * norm / weight_g for f in bw) for name, norm in normalisers.items()}
    return SuvResult(factor=tuple(bw), factors=factors, units=unit.value, suv_type="BW", inputs=inputs,
                     warnings=tuple(warnings), decay_time_s=None if decay_times is None else tuple(decay_times),
                     reference_rule=rule, conversion=conversion)


#: The normaliser each stored SUVType divides by, as a formula (IBSI; DICOM PS3.3 C.8.9.1.1.4).
SUV_TYPE_FORMULAS = {
    SuvType.BW: "body weight W",
    SuvType.LBM: "LBM James (DICOM LBM): M 1.10 W - 120 (W/H)^2, F 1.07 W - 148 (W/H)^2, W kg, H cm",
    SuvType.LBMJAMES128: "LBM James 128: M 1.10 W - 128 (W/H)^2, F 1.07 W - 148 (W/H)^2, W kg, H cm",
    SuvType.LBMJANMA: "LBM Janmahasatian: M 9270 W / (6680 + 216 BMI), F 9270 W / (8780 + 244 BMI)",
    SuvType.BSA: "BSA Du Bois: 0.007184 W^0.425 H^0.725 (cm2), W kg, H cm",
    SuvType.IBW: "IBW (IBSI): M 48.0 + 1.06 (H - 152), F 45.5 + 0.91 (H - 152), H cm",
}


def _stored_type_normaliser(stored: SuvType, *, weight_kg: float, height_m: float, sex: str) -> float:
    """The normaliser of a stored SUV type in g (cm2 for BSA) for sex M or F."""
    if stored is SuvType.BW:
        return weight_kg * 1000.0
    if stored is SuvType.BSA:
        return bsa_du_bois_m2(weight_kg=weight_kg, height_m=height_m) * 1.0e4
    if stored is SuvType.LBMJANMA:
        return lbm_janmahasatian_kg(weight_kg=weight_kg, height_m=height_m, sex=sex) * 1000.0
    if stored is SuvType.IBW:
        return ibw_ibsi_kg(height_m=height_m, sex=sex) * 1000.0
    coefficient = 128.0 if stored is SuvType.LBMJAMES128 else 120.0
    return lbm_james_kg(weight_kg=weight_kg, height_m=height_m, sex=sex, male_coefficient=coefficient) * 1000.0


def _stored_suv_type(unit: Units, suv_type: str | None, inputs: dict[str, SuvInput],
                     warnings: list[str]) -> SuvType:
    """(0054,1006) SUVType of a GML / CM2ML image (BW or BSA when absent, with a warning)."""
    if suv_type is None or str(suv_type).strip() == "":
        stored = SuvType.BSA if unit is Units.CM2ML else SuvType.BW
        warnings.append(f"(0054,1006) SUVType is missing: {unit.value} read as SUV{stored.value.lower()}")
        return stored
    try:
        stored = SuvType(str(suv_type).strip().upper())
    except ValueError:
        raise SuvError(f"(0054,1006) SUVType value '{suv_type}' is not supported "
                       f"(expected one of {', '.join(t.value for t in SuvType)})") from None
    inputs["suv_type"] = SuvInput(stored.value, "", "(0054,1006) SUVType")
    if (unit is Units.CM2ML) != (stored is SuvType.BSA):
        raise SuvError(f"(0054,1006) SUVType {stored.value} does not match (0054,1001) Units {unit.value}")
    return stored


def _from_suv_image(*, unit: Units, suv_type: str | None, weight_kg: float, height_m: float | None,
                    sex: str | None, normalisers: dict[str, float], n: int, inputs: dict[str, SuvInput],
                    warnings: list[str]) -> SuvResult:
    """GML / CM2ML images: convert the stored SUV type to SUVbw, ``SUVbw = SUVtype x W / normaliser`` (IBSI).

    Sex O (other) takes the mean of the male and female factors, with a
    warning; a missing height (any type but BW) or sex (LBM and IBW types)
    is refused.
    """
    stored = _stored_suv_type(unit, suv_type, inputs, warnings)
    if stored is not SuvType.BW and (height_m is None or not HEIGHT_M_RANGE[0] <= height_m <= HEIGHT_M_RANGE[1]):
        raise SuvError(f"(0010,1020) PatientSize is missing or implausible; needed to convert SUVType "
                       f"{stored.value} images to SUVbw")
    sexes: tuple[str, ...] = ("M",)
    if stored not in (SuvType.BW, SuvType.BSA):
        if sex not in ("M", "F", "O"):
            raise SuvError(f"(0010,0040) PatientSex is missing or not M, F or O; needed to convert SUVType "
                           f"{stored.value} images to SUVbw")
        sexes = ("M", "F") if sex == "O" else (sex,)
    if len(sexes) == 2:
        warnings.append(f"(0010,0040) PatientSex is O (other): the SUVType {stored.value} conversion is the mean "
                        "of the male and female factors (IBSI)")
    weight_g = weight_kg * 1000.0
    factors = [weight_g / _stored_type_normaliser(stored, weight_kg=weight_kg, height_m=height_m or 0.0, sex=s)
               for s in sexes]
    factor = sum(factors) / len(factors)
    if not (math.isfinite(factor) and factor > 0):
        raise SuvError(f"(0010,1020) PatientSize / (0010,1030) PatientWeight give a non-positive "
                       f"{stored.value} normaliser; the SUVType cannot be converted to SUVbw")
    conversion = (f"SUVbw = SUV{stored.value.lower()} x W / normaliser, {SUV_TYPE_FORMULAS[stored]}"
                  + (" (mean of the male and female factors)" if len(sexes) == 2 else ""))
    if stored is SuvType.BW:
        conversion = "the image holds SUVbw: factor 1"
    return _result(bw=[factor] * n, normalisers=normalisers, unit=unit, inputs=inputs, warnings=warnings,
                   decay_times=None, rule=f"suv_image_{stored.value.lower()}", conversion=conversion)
