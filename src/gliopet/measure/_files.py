"""Files in, record out: the glue between the command line (or a cohort run) and :func:`measure_pet`.

This is the only part of :mod:`gliopet.measure` that touches files: it reads
the PET (DICOM scaled to SUV by :func:`gliopet.io.suv_inputs.read_suv_volume`,
or a NIfTI already in SUV), the CT (DICOM or NIfTI) and a lesion mask (NIfTI or DICOM SEG),
parses the ``--lesion`` / ``--background`` values, measures, and optionally
draws the snapshot.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import InputError
from ..volume import Volume
from ._study import measure_pet

logger = logging.getLogger(__name__)

__all__ = ["is_nifti", "read_pet", "read_ct", "read_mri", "read_seg_mask", "parse_point", "measure_study_files",
           "format_measurement"]


def is_nifti(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(".nii") or name.endswith(".nii.gz")


def read_pet(path: str | Path, *, suv_type: str = "bw") -> Volume:
    """A PET as SUV: DICOM via the QIBA SUV factor, or a NIfTI taken to be SUV (g/mL) already."""
    if is_nifti(path):
        from ..io.nifti import read_nifti

        volume = read_nifti(path)
        return volume.with_array(volume.array, units="g/mL",
                                 suv={"source": f"{path}: NIfTI input, voxel values taken as SUV (g/mL)"})
    from ..io.suv_inputs import read_suv_volume

    return read_suv_volume(path, suv_type=suv_type)


def read_ct(path: str | Path) -> Volume:
    """A CT in HU: DICOM (one series; CT chosen in a folder of several) or NIfTI."""
    if is_nifti(path):
        from ..io.nifti import read_nifti

        return read_nifti(path)
    from ..io.dicom import read_series

    modality = None if Path(path).is_file() else "CT"
    return read_series(path, modality=modality)


def read_mri(path: str | Path) -> Volume:
    """An MRI (T1, T2, FLAIR; any units): DICOM (one series; MR chosen in a folder of several) or NIfTI."""
    if is_nifti(path):
        from ..io.nifti import read_nifti

        return read_nifti(path)
    from ..io.dicom import read_series

    return read_series(path, modality=None if Path(path).is_file() else "MR")


def parse_point(text: str, *, option: str) -> tuple[float, float, float] | None:
    """``"X,Y,Z"`` (LPS mm) as three floats; None when ``text`` does not look like numbers."""
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


def _lesion_spec(text: str) -> Any:
    if text == "auto":
        return "auto"
    point = parse_point(text, option="--lesion")
    if point is not None:
        return point
    path = Path(text)
    if not path.exists():
        raise InputError(f"--lesion {text!r}: not 'auto', not X,Y,Z (LPS mm) and no such mask file")
    if is_nifti(path):
        from ..io.nifti import read_nifti

        return read_nifti(path)
    return read_seg_mask(path)


def read_seg_mask(path: str | Path) -> Volume:
    """A DICOM Segmentation (SEG) as one mask Volume: every segment combined, LPS affine.

    highdicom's volume is indexed ``[slice, row, column]`` with an affine
    from those indices; gliopet's affine takes ``(column, row, slice)``, so
    its first and third columns are swapped here.

    Raises
    ------
    InputError
        The file is not a DICOM SEG, or its frames do not form one regular volume.
    """
    import pydicom

    path = Path(path)
    try:
        header = pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # pydicom raises many types for non-DICOM files
        raise InputError(f"--lesion {path}: not NIfTI and not a readable DICOM file ({type(exc).__name__})") from None
    if getattr(header, "Modality", None) != "SEG":
        raise InputError(f"--lesion {path}: (0008,0060) Modality is {getattr(header, 'Modality', None)!r}; "
                         "a lesion mask must be NIfTI or a DICOM SEG")
    import highdicom

    try:
        seg = highdicom.seg.segread(path)
        hd_volume = seg.get_volume(combine_segments=True, relabel=True)
    except Exception as exc:  # highdicom: irregular frames, missing plane positions, ...
        raise InputError(f"--lesion {path}: the segmentation's frames do not form one regular volume "
                         f"({type(exc).__name__}: {exc})") from None
    array = np.asarray(hd_volume.array)
    affine = np.asarray(hd_volume.affine, dtype=np.float64)[:, [2, 1, 0, 3]]
    return Volume((array > 0).astype(np.uint8), affine,
                  {"files": [str(path)], "format": "dicom-seg",
                   "frame_of_reference_uid": str(getattr(header, "FrameOfReferenceUID", ""))})


def _background_spec(text: str) -> Any:
    if text in ("auto", "crescent"):
        return text
    point = parse_point(text, option="--background")
    if point is None:
        raise InputError(f"--background {text!r}: expected auto, crescent or X,Y,Z (LPS mm)")
    return point


def measure_study_files(pet_path: str | Path, *, ct: str | Path | None = None, lesion: str = "auto",
                        background: str = "auto", suv_type: str = "bw", snapshot: str | Path | None = None,
                        template=None, mri: str | Path | None = None,
                        timepoints: list[str | Path] | tuple = ()) -> dict[str, Any]:
    """Read, measure, and return the ``gliopet measure --json`` record.

    With ``timepoints`` (other PETs of the same patient, e.g. the 30 minute
    scan), those are measured with this PET's ROIs after rigid registration
    (:func:`measure_timepoints`) and listed under ``timepoints``.

    The record is :meth:`Measurement.to_dict` plus ``suv_type``, ``suv``
    (the SUV factor and its inputs, from the PET's provenance), ``inputs``
    (the paths), ``software`` (name and version) and ``snapshot`` (the PNG's
    path, when one was drawn).
    """
    lesion_spec = _lesion_spec(lesion)
    background_spec = _background_spec(background)
    pet = read_pet(pet_path, suv_type=suv_type)
    ct_volume = read_ct(ct) if ct is not None else None
    mri_volume = None
    if mri is not None:
        if not isinstance(lesion_spec, Volume) and snapshot is None:
            raise InputError(f"--mri {mri}: an MRI carries a lesion mask drawn on it (--lesion MASK) or is drawn "
                             "beneath the PET/CT in --snapshot; give one of them")
        mri_volume = read_mri(mri)
    if not timepoints:
        measurement = measure_pet(pet, ct=ct_volume, lesion=lesion_spec, background=background_spec,
                                  template=template, pet_name=str(pet_path), ct_name=str(ct) if ct else "CT",
                                  lesion_name=str(lesion), mri=mri_volume, mri_name=str(mri) if mri else "MRI")
        others = []
    else:
        from ._study import mri_mask_to_pet
        from ._timepoints import measure_timepoints

        mri_extra = {}
        if mri_volume is not None and isinstance(lesion_spec, Volume):
            lesion_spec, registration = mri_mask_to_pet(lesion_spec, mri=mri_volume, pet=pet, ct=ct_volume,
                                                        mri_name=str(mri), pet_name=str(pet_path))
            mri_extra = {"mri_registration": registration}
        pets = [pet, *(read_pet(p, suv_type=suv_type) for p in timepoints)]
        names = [str(pet_path), *(str(p) for p in timepoints)]
        measured = measure_timepoints(pets, ct=ct_volume, lesion=lesion_spec, background=background_spec,
                                      template=template, names=names)
        measurement = dataclasses.replace(measured[0], extra={**measured[0].extra, **mri_extra})
        others = [(path, volume, m) for path, volume, m in zip(timepoints, pets[1:], measured[1:])]
    record = measurement.to_dict()
    if others:
        record["timepoints"] = [{"pet": str(path), **m.to_dict(), "suv": dict(volume.provenance.get("suv", {}))}
                                for path, volume, m in others]
    record["suv_type"] = suv_type
    record["suv"] = dict(pet.provenance.get("suv", {}))
    record["inputs"] = {"pet": str(pet_path), "ct": None if ct is None else str(ct),
                        "mri": None if mri is None else str(mri),
                        "lesion": str(lesion), "background": str(background)}
    record["software"] = {"name": "gliopet", "version": __version__}
    if snapshot is not None:
        from ..snapshot import write_snapshot

        pet_to_mri = None
        if mri_volume is not None:
            if "mri_registration" not in record:  # the MRI is only drawn: register it for the figure
                from ._study import register_mri

                record["mri_registration"] = register_mri(mri_volume, pet=pet, ct=ct_volume, mri_name=str(mri))
            pet_to_mri = np.array(record["mri_registration"]["pet_to_mri_lps"])
        write_snapshot(snapshot, pet, measurement, ct=ct_volume, mri=mri_volume, pet_to_mri=pet_to_mri,
                       mri_label=Path(mri).name if mri is not None else "MRI", title=Path(pet_path).name)
        record["snapshot"] = str(snapshot)
    return record


def format_measurement(record: dict[str, Any]) -> str:
    """Human-readable lines of a :func:`measure_study_files` record."""
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
        f"SUVpeak (1 mL)     {record['suvpeak']:.3f} {units}",
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
    for warning in record.get("warnings", []):
        lines.append(f"warning: {warning}")
    if "snapshot" in record:
        lines.append(f"snapshot: {record['snapshot']}")
    return "\n".join(lines)
