"""One study, from its files to the typed measurement record: the layer every path goes through.

``gliopet measure``, ``gliopet analyze`` (and so ``gliopet demo``) call
:func:`measure_study_files`; nothing else assembles a measurement record.

1. The ``--lesion`` / ``--background`` option text is parsed once, into a
   :class:`~gliopet.measure.LesionSpec` and a
   :class:`~gliopet.measure.BackgroundSpec` (:func:`parse_lesion_option`,
   :func:`parse_background_option`).
2. The images are read through :mod:`gliopet.io` (the PET in SUV with its
   typed factor report, the CT, an MRI, a lesion mask).
3. The pure core measures: :func:`gliopet.measure.measure_pet`, or
   :func:`gliopet.measure.measure_timepoints` when the study has several PET
   time points (the others measured with the reference's ROIs).
4. The result is one typed :class:`StudyRecord`; :meth:`StudyRecord.to_dict`
   is the ``gliopet measure --json`` object (DESIGN.md keys).
5. The snapshot (PNG of both ROIs over PET/CT, the registered MRI beneath)
   is drawn when asked for.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._version import __version__
from .errors import InputError
from .io.images import PetImage, is_nifti, read_ct, read_mri, read_pet, read_seg_mask
from .response import COMPARED_VALUES, load_response_rules, response_category, value_changes
from .measure import (BTV_THRESHOLD_FACTOR, BackgroundMethod, BackgroundSpec, LesionMethod, LesionSpec, Measurement,
                      biological_tumour_volume, judge_btv, measure_pet, measure_timepoints, mri_mask_to_pet,
                      register_mri)
from .volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["SUV_TYPES", "PetMeasurement", "StudyRecord", "parse_point", "parse_lesion_option",
           "parse_background_option", "measure_study_files", "reference_index", "format_record",
           "TracerPreset", "load_tracer_preset", "tracer_preset_names", "COMPARED_VALUES", "load_response_rules",
           "response_category", "compare_study_files", "read_measured_pet"]

#: The SUV normalisations a DICOM PET can be measured in (``--suv-type``).
SUV_TYPES = ("bw", "lbm_janmahasatian", "bsa", "ibw")


def parse_point(text: str, *, option: str) -> tuple[float, float, float] | None:
    """``"X,Y,Z"`` (LPS mm) as three floats; None when ``text`` does not look like numbers.

    Raises
    ------
    InputError
        Three numbers of which one is not finite.
    """
    parts = text.split(",")
    if len(parts) != 3:
        return None
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"{option} {text!r}: coordinates must be finite numbers (LPS mm)")
    return values  # type: ignore[return-value]


def parse_lesion_option(text: str) -> LesionSpec:
    """``--lesion auto | X,Y,Z | MASK`` (a NIfTI or DICOM SEG file) as a typed spec.

    Raises
    ------
    InputError
        Neither ``auto``, a point nor an existing mask file; an unreadable mask.
    """
    if text == LesionMethod.AUTO.value:
        return LesionSpec(LesionMethod.AUTO)
    point = parse_point(text, option="--lesion")
    if point is not None:
        return LesionSpec(LesionMethod.POINT, point_lps_mm=point)
    path = Path(text)
    if not path.exists():
        raise InputError(f"--lesion {text!r}: not 'auto', not X,Y,Z (LPS mm) and no such mask file")
    if is_nifti(path):
        from .io.nifti import read_nifti

        mask = read_nifti(path)
    else:
        mask = read_seg_mask(path, option="--lesion")
    return LesionSpec(LesionMethod.MASK, mask=mask, name=str(path))


def parse_background_option(text: str) -> BackgroundSpec:
    """``--background auto | crescent | X,Y,Z`` as a typed spec.

    Raises
    ------
    InputError
        Anything else.
    """
    if text in (BackgroundMethod.AUTO.value, BackgroundMethod.CRESCENT.value):
        return BackgroundSpec(BackgroundMethod(text))
    point = parse_point(text, option="--background")
    if point is None:
        raise InputError(f"--background {text!r}: expected auto, crescent or X,Y,Z (LPS mm)")
    return BackgroundSpec(BackgroundMethod.POINT, point_lps_mm=point)


_PRESETS = "presets.json"


@dataclass(frozen=True)
class TracerPreset:
    """How one tracer is measured (``--tracer``): from ``data/tracers/presets.json``, each value with its source.

    Attributes
    ----------
    static_window_min : (float, float)
        The static image's window, minutes after injection (a dynamic series' frames in it are summed).
    background : str
        ``crescent`` or ``auto`` (the 25 mm circle).
    btv_factor : float
        BTV threshold: voxels >= ``btv_factor`` x background mean.
    dynamic : dict
        ``tac_isocontour``, ``slope_window_min``, ``pattern_plateau_relative_slope_per_h`` (empty: no TACs).
    sources : dict
        Per value: ``ref`` and ``verified`` (checked against the cited text when entered).
    """

    name: str
    radiopharmaceutical: str
    static_window_min: tuple[float, float]
    background: str
    btv_factor: float
    dynamic: dict[str, Any]
    sources: dict[str, Any]

    def with_overrides(self, **values: Any) -> TracerPreset:
        """The preset with the non-None ``values`` replacing its own (``dynamic`` keys merged)."""
        dyn = {**self.dynamic, **{k: v for k, v in values.pop("dynamic", {}).items() if v is not None}}
        fields = {k: v for k, v in values.items() if v is not None}
        return dataclasses.replace(self, dynamic=dyn, **fields)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TracerPreset:
        """The preset a record kept (``inputs.tracer``, :meth:`to_dict`), its overrides applied.

        Examples
        --------
        >>> fet = load_tracer_preset("fet").with_overrides(btv_factor=1.8)
        >>> TracerPreset.from_dict(fet.to_dict(["btv_factor"])) == fet
        True
        """
        start, end = (float(v) for v in data["static_window_min"])
        return cls(name=data["name"], radiopharmaceutical=data["radiopharmaceutical"], static_window_min=(start, end),
                   background=data["background"], btv_factor=float(data["btv_factor"]),
                   dynamic=dict(data.get("dynamic") or {}), sources=dict(data.get("sources") or {}))

    def to_dict(self, overridden: Sequence[str] = ()) -> dict[str, Any]:
        return {"name": self.name, "radiopharmaceutical": self.radiopharmaceutical,
                "static_window_min": list(self.static_window_min), "background": self.background,
                "btv_factor": self.btv_factor, "dynamic": dict(self.dynamic), "overridden": sorted(overridden),
                "sources": self.sources}


def _preset_table() -> dict[str, Any]:
    import json
    from importlib import resources

    return json.loads(resources.files("gliopet").joinpath("data", "tracers", _PRESETS).read_text(encoding="utf-8"))


def tracer_preset_names() -> tuple[str, ...]:
    """The tracers with a measurement preset."""
    return tuple(sorted(_preset_table()["presets"]))


def load_tracer_preset(name: str) -> TracerPreset:
    """The measurement preset of ``name`` (``fet``, ``fdopa``, ``met``, ``pentixafor``).

    Raises
    ------
    InputError
        A tracer without a preset (the valid names listed).
    """
    presets = _preset_table()["presets"]
    key = name.lower()
    if key not in presets:
        raise InputError(f"--tracer {name!r}: no preset in {_PRESETS}; choose one of {', '.join(sorted(presets))}")
    entry = presets[key]
    start, end = (float(v) for v in entry["static_window_min"])
    return TracerPreset(name=key, radiopharmaceutical=entry["radiopharmaceutical"], static_window_min=(start, end),
                        background=entry["background"], btv_factor=float(entry["btv_factor"]),
                        dynamic=dict(entry.get("dynamic", {})), sources=dict(entry["sources"]))


@dataclass(frozen=True)
class PetMeasurement:
    """One PET time point: its image's SUV report and timing, and its measurement."""

    path: str
    suv: dict[str, Any]
    minutes_after_injection: float | None
    measurement: Measurement

    def to_dict(self) -> dict[str, Any]:
        return {**self.measurement.to_dict(), "suv": dict(self.suv)}


@dataclass(frozen=True)
class StudyRecord:
    """Everything measured on one study, typed; :meth:`to_dict` is the ``measure --json`` object.

    Attributes
    ----------
    pets : tuple of PetMeasurement
        Every PET time point, in the order given; ``pets[reference]`` carries
        the ROIs (placed on it), the others are measured with them.
    reference : int
        Index of the reference time point.
    suv_type, inputs
        The SUV normalisation and what was given (paths, ROI options).
    mri_registration : dict, optional
        The MRI's rigid fit to the PET/CT, when an MRI was used.
    snapshot : str, optional
        The PNG drawn, as given.
    input_sha256 : dict
        SHA-256 of each image's pixel data, by the path given (PETs and CT).
    """

    pets: tuple[PetMeasurement, ...]
    reference: int
    suv_type: str
    inputs: dict[str, Any]
    mri_registration: dict[str, Any] | None = None
    snapshot: str | None = None
    input_sha256: dict[str, str] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=lambda: {"name": "gliopet", "version": __version__})
    #: TACs, time to peak, late slope and pattern of a dynamic series (``--tracer`` with a dynamic section).
    dynamic: dict[str, Any] | None = None

    @property
    def primary(self) -> PetMeasurement:
        return self.pets[self.reference]

    @property
    def measurement(self) -> Measurement:
        return self.primary.measurement

    def timepoint_record(self, index: int) -> dict[str, Any]:
        """The record of PET ``index``: :meth:`to_dict` for the reference; for another time point its own
        measurement and SUV report, with the study's SUV type, software and ``reference_pet`` (the store's
        row of that time point, and its export)."""
        if index == self.reference:
            return self.to_dict()
        return {**self.pets[index].to_dict(), "suv_type": self.suv_type, "software": dict(self.software),
                "reference_pet": self.primary.path}

    def scan_order(self) -> list[int]:
        """Each PET's place (1, 2, ...) in scan-time order; undated PETs after the dated ones, in the order given.

        Examples
        --------
        >>> from types import SimpleNamespace as N
        >>> StudyRecord(pets=tuple(N(minutes_after_injection=m) for m in (61.0, 31.0, None)), reference=0,
        ...             suv_type="bw", inputs={}).scan_order()
        [2, 1, 3]
        """
        minutes = [p.minutes_after_injection for p in self.pets]
        ranked = sorted(range(len(minutes)), key=lambda i: (minutes[i] is None, minutes[i] or 0.0, i))
        return [ranked.index(i) + 1 for i in range(len(minutes))]

    def to_dict(self) -> dict[str, Any]:
        """The reference's measurement at the top level, the other time points under ``timepoints``."""
        record = self.measurement.to_dict()
        record["pet"] = self.primary.path  # the PET measured here (inputs.pet is the first one given)
        if self.mri_registration is not None:
            record["mri_registration"] = self.mri_registration
        others = [p for i, p in enumerate(self.pets) if i != self.reference]
        if others:
            record["timepoints"] = [{"pet": p.path, **p.to_dict()} for p in others]
        record["suv_type"] = self.suv_type
        record["suv"] = dict(self.primary.suv)
        record["inputs"] = dict(self.inputs)
        record["software"] = dict(self.software)
        if self.dynamic is not None:
            record["dynamic"] = dict(self.dynamic)
        if self.snapshot is not None:
            record["snapshot"] = self.snapshot
        return record


def reference_index(minutes: Sequence[float | None], primary_time_min: float | None) -> int:
    """The time point nearest ``primary_time_min`` (the first on a tie); 0 without a target.

    Examples
    --------
    >>> reference_index([31.0, 61.5], 60.0)
    1
    >>> reference_index([None, 60.0], None)
    0
    """
    if primary_time_min is None:
        return 0
    return min(range(len(minutes)), key=lambda i: (
        abs(minutes[i] - primary_time_min) if minutes[i] is not None else math.inf, i))


def parse_frames_option(text: str | tuple[float, float]) -> tuple[float, float]:
    """``--frames START-END`` (minutes after injection) as two floats.

    >>> parse_frames_option("20-40")
    (20.0, 40.0)
    """
    if isinstance(text, tuple):
        return float(text[0]), float(text[1])
    parts = str(text).split("-")
    try:
        start, end = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--frames {text!r}: expected START-END in minutes after injection, e.g. 20-40") from None
    if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
        raise InputError(f"--frames {text!r}: expected 0 <= START < END (minutes after injection)")
    return start, end


def read_measured_pet(pet: str | Path, *, suv_type: str, frames: str | tuple[float, float] | None,
                      dynamic: _DynamicSeries | None = None) -> PetImage:
    """The PET a study measures: as :func:`read_pet`, or the frames of a dynamic series summed (``--frames``;
    ``dynamic``: the series' headers when already read). A record's ``inputs.frames`` gives the same image
    again."""
    if frames is None:
        return read_pet(pet, suv_type=suv_type)
    if is_nifti(pet):
        raise InputError(f"--frames: {pet} is NIfTI; frames are summed from a DICOM DYNAMIC or GATED series")
    from .io.suv_inputs import read_suv_frames

    start, end = parse_frames_option(frames)
    series = read_suv_frames(pet, start_min=start, end_min=end, suv_type=suv_type,
                             dynamic=None if dynamic is None else dynamic.headers,
                             frames=None if dynamic is None else dynamic.frames)
    return PetImage(series.volume, series.result, suv_type, str(pet))


@dataclass(frozen=True)
class _DynamicSeries:
    """A DICOM DYNAMIC or GATED series' headers and each frame's SUV result and timing, read once."""

    headers: Any
    frames: list[Any]


def _dynamic_series(pet: str | Path) -> _DynamicSeries | None:
    """``pet`` as a dynamic series with several frames (headers only), or None (NIfTI, one frame)."""
    if is_nifti(pet):
        return None
    from .io.dicom import load_dynamic_headers
    from .io.suv_inputs import frames_with_suv

    headers = load_dynamic_headers(pet, modality=None if Path(pet).is_file() else "PT")
    return _DynamicSeries(headers, frames_with_suv(headers)) if headers.is_dynamic else None


def _dynamic_curves(series: _DynamicSeries, summed: Volume, measurement: Measurement, *, suv_type: str,
                    settings: dict[str, Any]):
    """Every frame of the dynamic series in SUV, its timing and numbering, through the core's TACs."""
    from .io.dicom import volume_from_headers
    from .measure import time_activity

    frames, starts, durations, names, numbers, expected = [], [], [], [], [], None
    for headers, result, start, duration in series.frames:
        first = headers.frames[0]
        name = f"frame {len(names) + 1} ({Path(first.path).name})"
        if start is None or duration is None:
            raise InputError(f"{first.path}: {name} has no timing; a time-activity curve needs (0008,0032) "
                             "AcquisitionTime and (0018,1242) ActualFrameDuration")
        volume = volume_from_headers(headers)
        if not np.allclose(volume.affine, summed.affine, atol=1e-3):
            raise InputError(f"{first.path}: (0020,0032) ImagePositionPatient: {name} is not on the summed grid")
        frames.append(volume.array * np.asarray(result.factors[suv_type], dtype=np.float64)[:, None, None])
        starts.append(start)
        durations.append(duration)
        names.append(name)
        index, per_frame = first.header.get("ImageIndex"), first.header.get("NumberOfSlices")
        numbers.append(int((min(int(f.header.ImageIndex) for f in headers.frames) - 1) // int(per_frame)) + 1
                       if index is not None and per_frame else None)
        expected = first.header.get("NumberOfTimeSlices", expected)
    return time_activity(frames, starts_min=starts, durations_min=durations, summed=summed, measurement=measurement,
                         isocontour=float(settings["tac_isocontour"]),
                         slope_window_min=tuple(settings["slope_window_min"]),
                         plateau_relative_slope_per_h=float(settings["pattern_plateau_relative_slope_per_h"]),
                         expected_n=None if expected is None else int(expected), names=names,
                         numbers=None if None in numbers else numbers)


def _with_btv_factor(pet: Volume, m: Measurement, factor: float) -> Measurement:
    """``m`` with its BTV grown again at ``factor`` x background mean (same seed and brain limit)."""
    if factor == BTV_THRESHOLD_FACTOR:
        return m
    seed = tuple(int(round(v)) for v in m.lesion.centre_ijk)
    btv = biological_tumour_volume(pet, seed_ijk=seed, bg_mean=m.background.suvmean, factor=factor,
                                   within=m.brain_mask)
    separates, warning = judge_btv(btv, voxel_ml=pet.voxel_volume_ml, brain_mask=m.brain_mask)
    warnings = [w for w in m.extra.get("warnings", []) if not w.startswith("BTV ")] + ([warning] if warning else [])
    return dataclasses.replace(m, btv=btv, btv_separates=separates, extra={**m.extra, "warnings": warnings})


def _load_template(lesion: LesionSpec, background: BackgroundSpec, template):
    automatic = lesion.method is LesionMethod.AUTO or background.method is not BackgroundMethod.POINT
    if template is not None or not automatic:
        return template
    from .io.template import load_mni152

    return load_mni152(2)


def _measure(pets: list[PetImage], reference: int, *, ct: Volume | None, ct_name: str, lesion: LesionSpec,
             background: BackgroundSpec, template, mri: Volume | None, mri_name: str,
             mri_registration: dict | None, register: bool = True) -> tuple[list[Measurement], dict | None]:
    """The core's measurements of every PET (the reference's ROIs carried to the others)."""
    ref = pets[reference]
    if mri is not None and lesion.method is LesionMethod.MASK:
        on_pet, mri_registration = mri_mask_to_pet(lesion.mask, mri=mri, pet=ref.volume, ct=ct,
                                                   mri_name=mri_name, pet_name=ref.path)
        lesion = LesionSpec(LesionMethod.MASK, mask=on_pet, name=lesion.name)
    if len(pets) == 1:
        m = measure_pet(ref.volume, ct=ct, lesion=lesion, background=background, template=template,
                        pet_name=ref.path, ct_name=ct_name)
        return [m], mri_registration
    measured = measure_timepoints([p.volume for p in pets], ct=ct, lesion=lesion, background=background,
                                  reference=reference, template=template, names=[p.path for p in pets],
                                  register=register)
    return measured, mri_registration


def measure_study_files(pet: str | Path, *, ct: str | Path | None = None, lesion: str | LesionSpec = "auto",
                        background: str | BackgroundSpec | None = None, suv_type: str = "bw",
                        snapshot: str | Path | None = None, template=None, mri: str | Path | None = None,
                        timepoints: Sequence[str | Path] = (), primary_time_min: float | None = None,
                        frames: str | tuple[float, float] | None = None, tracer: str | TracerPreset | None = None,
                        btv_factor: float | None = None, dynamic: dict[str, Any] | None = None,
                        register: bool = True) -> StudyRecord:
    """Read one study's images, measure them, and return the typed record (drawing the snapshot if asked).

    Parameters
    ----------
    pet : path
        The PET (DICOM file or series folder, or a NIfTI in SUV).
    ct, mri : path, optional
        The CT of the PET/CT; an MRI registered to it (the ``lesion`` mask may
        be drawn on it; the snapshot draws it beneath the PET/CT).
    lesion, background : str or spec
        Option text (``auto``, ``X,Y,Z``, a mask file, ``crescent``), parsed
        once, or a spec.
    suv_type : str
        One of :data:`SUV_TYPES`.
    snapshot : path, optional
        Write the PNG there.
    template : MniTemplate, optional
        Read when something is automatic and none is given.
    timepoints : paths
        Other PETs of the same patient, measured with the reference's ROIs.
    primary_time_min : float, optional
        Make the PET nearest this many minutes after injection the reference
        (default: ``pet``).
    frames : str or (float, float), optional
        ``"START-END"`` minutes after injection: ``pet`` is a DYNAMIC or GATED
        series whose frames in that window are summed, frame-duration-weighted,
        into one static image (:func:`gliopet.io.suv_inputs.read_suv_frames`).
    tracer : str or TracerPreset, optional
        Apply the tracer's preset (:func:`load_tracer_preset`): its background
        when ``background`` is None, its static window as ``frames`` when the
        PET is a DYNAMIC series and ``frames`` is None, its BTV factor when
        ``btv_factor`` is None, and (a dynamic series with a ``dynamic``
        section) the time-activity curves. Recorded under ``inputs.tracer``.
    btv_factor : float, optional
        BTV threshold factor (default: the preset's, else 1.6).
    dynamic : dict, optional
        Overrides of the preset's ``dynamic`` values (None values ignored).
    register : bool
        Register the ``timepoints`` to the reference (default); False when all share one frame of
        reference without movement.

    Raises
    ------
    InputError
        Bad option text, an MRI given with neither a mask nor a snapshot.
    GliopetError
        Whatever reading or measuring refuses (the file and attribute named).
    """
    if suv_type not in SUV_TYPES:
        raise InputError(f"--suv-type {suv_type!r}: expected one of {', '.join(SUV_TYPES)}")
    preset = load_tracer_preset(tracer) if isinstance(tracer, str) else tracer
    dynamic_series = _dynamic_series(pet) if preset is not None else None
    is_dynamic = dynamic_series is not None
    overridden: list[str] = []
    if preset is not None:
        given = {"background": background if isinstance(background, str) else None,
                 "static_window_min": None if frames is None else parse_frames_option(frames),
                 "btv_factor": btv_factor}
        given = {k: v for k, v in given.items() if v is not None}
        dyn = {k: v for k, v in (dynamic or {}).items() if v is not None}
        preset = preset.with_overrides(**given, dynamic=dyn)
        overridden = [*given, *(f"dynamic.{k}" for k in dyn)]
    if background is None:
        background = preset.background if preset is not None else BackgroundMethod.AUTO.value
    if is_dynamic and frames is None:
        frames = preset.static_window_min
    lesion_spec = parse_lesion_option(lesion) if isinstance(lesion, str) else lesion
    background_spec = parse_background_option(background) if isinstance(background, str) else background
    if mri is not None and lesion_spec.method is not LesionMethod.MASK and snapshot is None:
        raise InputError(f"--mri {mri}: an MRI carries a lesion mask drawn on it (--lesion MASK) or is drawn "
                         "beneath the PET/CT in --snapshot; give one of them")
    images = [read_measured_pet(pet, suv_type=suv_type, frames=frames, dynamic=dynamic_series)] + [read_pet(p, suv_type=suv_type)
                                                                        for p in timepoints]
    ct_volume = read_ct(ct) if ct is not None else None
    mri_volume = read_mri(mri) if mri is not None else None
    reference = reference_index([p.minutes_after_injection for p in images], primary_time_min)
    measured, registration = _measure(
        images, reference, ct=ct_volume, ct_name=str(ct) if ct else "CT", lesion=lesion_spec,
        background=background_spec, template=_load_template(lesion_spec, background_spec, template),
        mri=mri_volume, mri_name=str(mri) if mri else "MRI", mri_registration=None, register=register)
    factor = btv_factor if btv_factor is not None else (preset.btv_factor if preset is not None else None)
    if factor is not None:
        measured = [_with_btv_factor(image.volume, m, factor) for image, m in zip(images, measured)]
    curves = None
    if is_dynamic and preset.dynamic and reference == 0:
        curves = _dynamic_curves(dynamic_series, images[0].volume, measured[0], suv_type=suv_type,
                                 settings=preset.dynamic)
    if mri_volume is not None and registration is None and snapshot is not None:
        # The MRI is only drawn: register it for the figure.
        registration = register_mri(mri_volume, pet=images[reference].volume, ct=ct_volume, mri_name=str(mri))
    if snapshot is not None and curves is not None:
        tac_png = Path(snapshot).with_name(Path(snapshot).stem + "_tac.png")
        _write_tac_plot(tac_png, curves.to_dict(), title=Path(images[0].path).name)
        curves = dataclasses.replace(curves, settings={**curves.settings, "tac_plot": str(tac_png)})
    if snapshot is not None:
        _write_snapshot(snapshot, images[reference], measured[reference], ct=ct_volume, mri=mri_volume,
                        mri_name=mri, registration=registration,
                        title=Path(images[reference].path).name)
    pets = tuple(PetMeasurement(image.path, image.suv_record(), image.minutes_after_injection, m)
                 for image, m in zip(images, measured))
    inputs = {"pet": str(pet), "ct": None if ct is None else str(ct), "mri": None if mri is None else str(mri),
              **({} if frames is None else {"frames": list(parse_frames_option(frames))}),
              **({} if not timepoints else {"timepoints": [str(p) for p in timepoints],
                                            "primary_time_min": primary_time_min}),
              "lesion": lesion if isinstance(lesion, str) else lesion_spec.method.value,
              "background": background if isinstance(background, str) else background_spec.method.value,
              **({} if factor is None else {"btv_factor": factor})}
    if preset is not None:
        inputs["tracer"] = preset.to_dict(overridden)
    hashes = {image.path: image.volume.provenance.get("pixel_sha256") for image in images}
    if ct_volume is not None:
        hashes[str(ct)] = ct_volume.provenance.get("pixel_sha256")
    return StudyRecord(pets=pets, reference=reference, suv_type=suv_type, inputs=inputs,
                       mri_registration=registration, snapshot=None if snapshot is None else str(snapshot),
                       input_sha256={k: v for k, v in hashes.items() if v},
                       dynamic=None if curves is None else curves.to_dict())


def _write_snapshot(path: str | Path, pet: PetImage, measurement: Measurement, *, ct: Volume | None,
                    mri: Volume | None, mri_name, registration: dict | None, title: str) -> None:
    from .snapshot import write_snapshot

    pet_to_mri = None if mri is None else np.array(registration["pet_to_mri_lps"])
    write_snapshot(path, pet.volume, measurement, ct=ct, mri=mri, pet_to_mri=pet_to_mri,
                   mri_label=Path(mri_name).name if mri_name is not None else "MRI", title=title)


def _write_tac_plot(path: Path, dyn: dict[str, Any], *, title: str) -> None:
    """The lesion and background TACs (mean SUV per frame at its mid-time) and the late-slope line, as a PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from .atomic import replacing

    mids = dyn["frames"]["mid_min_pi"]
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot()
    ax.plot(mids, dyn["lesion_tac_suvmean"], "o-", color="tab:red", ms=3,
            label=f"lesion ({dyn['tac_isocontour']:.0%} isocontour)")
    ax.plot(mids, dyn["background_tac_suvmean"], "s-", color="tab:blue", ms=3, label="background")
    start, end = dyn["slope_window_min"]
    ax.axvspan(start, end, color="0.9", zorder=0, label=f"slope {dyn['slope_suv_per_h']:+.2f} SUV/h")
    ax.axvline(dyn["ttp_min"], color="tab:red", ls=":", label=f"time to peak {dyn['ttp_min']:.1f} min")
    ax.set(xlabel="minutes after injection", ylabel="SUV (mean)", title=f"{title}: {dyn['pattern']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with replacing(path) as tmp:
        fig.savefig(tmp, format="png")


def compare_study_files(baseline: str | Path, followup: str | Path, *, rules: str | Path | None = None,
                        **options: Any) -> dict[str, Any]:
    """Two scans of one patient: the follow-up registered to the baseline and measured with its ROIs and
    background (:func:`measure_study_files` with ``timepoints=[followup]``), the change of each of
    :data:`COMPARED_VALUES` and the response category of ``rules`` (:func:`load_response_rules`).
    ``options`` go to :func:`measure_study_files` (``ct``, ``lesion``, ``background``, ``tracer``, ...)."""
    rule_set = load_response_rules(rules)
    study = measure_study_files(baseline, timepoints=[followup], **options)
    changes = value_changes(*(p.measurement.to_dict() for p in study.pets))
    record = study.to_dict()
    return {"baseline": str(baseline), "followup": str(followup), "changes": changes,
            "response": response_category(changes, rule_set),
            "rules": {k: rule_set[k] for k in ("name", "source", "file", "rules", "default")},
            "same_rois": ("the follow-up is " + ("registered to the baseline" if options.get("register", True)
                                                  else "taken in the baseline's frame of reference (not registered)")
                          + " and measured with its lesion VOI and background"), "measurement": record}


def format_record(record: dict[str, Any]) -> str:
    """Human-readable lines of a :meth:`StudyRecord.to_dict` record."""
    units = record["units"]["suv"]

    def roi_line(name: str) -> str:
        roi = record[name]
        x, y, z = roi["centre_lps_mm"]
        if roi["diameter_mm"] is None:
            return (f"  {name}: {roi['method']} region, {roi['volume_ml']:.1f} mL on slices "
                    f"{roi['slices'][0]}-{roi['slices'][-1]}, centroid LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm")
        level = roi["centre_ijk"][2]
        where = (f"at level k = {level:.2f} (resliced)" if roi.get("resliced") and level != roi["slice_index"]
                 else f"on slice {roi['slice_index']}")
        return (f"  {name}: {roi['diameter_mm']:g} mm circle ({roi['method']}) {where}, "
                f"centre LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm")

    btv_mean = record["btv_suvmean"]
    lines = [
        f"SUVmax             {record['suvmax']:.3f} {units}",
        f"SUVmean (1 cm)     {record['suvmean_1cm']:.3f} {units}",
        "SUVpeak (1 mL)     " + ("- (see warning)" if record["suvpeak"] is None
                                 else f"{record['suvpeak']:.3f} {units}"),
        f"BTV (1.6 x bg)     {record['btv_ml']:.2f} mL, SUVmean "
        + ("-" if btv_mean is None else f"{btv_mean:.3f} {units}"),
        f"background SUVmax  {record['bg_suvmax']:.3f} {units}",
        f"background SUVmean {record['bg_suvmean']:.3f} {units}",
        f"TBR max/bg max     {record['tbr_max_to_bg_max']:.2f}",
        f"TBR max/bg mean    {record['tbr_max_to_bg_mean']:.2f}  (RANO TBRmax)",
        f"TBR mean/bg mean   {record['tbr_mean_to_bg_mean']:.2f}  (RANO TBRmean)",
        "ROIs:",
        roi_line("lesion"),
        roi_line("background"),
    ]
    for other in record.get("timepoints", []):
        lines.append(f"time point {other['pet']}: SUVmax {other['suvmax']:.3f}, SUVmean (1 cm) "
                     f"{other['suvmean_1cm']:.3f}, background SUVmax {other['bg_suvmax']:.3f}, "
                     f"TBR max/bg max {other['tbr_max_to_bg_max']:.2f}")
    if "dynamic" in record:
        dyn = record["dynamic"]
        start, end = dyn["slope_window_min"]
        lines.append(f"TAC (lesion {dyn['tac_isocontour']:.0%} isocontour, {dyn['lesion_voi_ml']:.2f} mL): time to "
                     f"peak {dyn['ttp_min']:.2f} min, slope {start:g}-{end:g} min {dyn['slope_suv_per_h']:+.3f} "
                     f"{units}/h, {dyn['pattern']}")
    for warning in record.get("warnings", []):
        lines.append(f"warning: {warning}")
    if "snapshot" in record:
        lines.append(f"snapshot: {record['snapshot']}")
    return "\n".join(lines)
