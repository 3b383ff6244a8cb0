"""DICOM SR TID 1500 Measurement Report of a measurement (highdicom Comprehensive 3D SR).

PS3.16 TID 1500 (Measurement Report), one TID 1411 Volumetric ROI
Measurements group per ROI, each referencing its segment of the study's SEG
(:mod:`gliopet.export.seg`) and the PET series the SEG was drawn on
(Referenced Segment, Source series for segmentation):

* ``Lesion circle``: SUV (PS3.16 DCM 126401 SUVbw for ``bw``) with the
  derivations Maximum and Mean (CID 7464) = SUVmax and SUVmean (1 cm), and
  the three lesion-to-background SUV ratios (DCM 126039, CID 7466), each with
  its definition as the measurement method (private codes
  :data:`~gliopet.export._codes.TBR_METHODS`).
* ``Background``: Background for Lesion to Background SUV Ratio (DCM 126040)
  with the derivations Maximum and Mean = background SUVmax and SUVmean.
* ``SUVpeak sphere``: SUV with the derivation Peak Value Within ROI (DCM 126031)
  (no measurement when the record has no SUVpeak).
* ``Biological tumour volume``: Metabolic Volume (DCM 126032) in cm3 (= mL)
  and the SUV Mean inside it (when it has a voxel).

SUV values carry the UCUM unit of their normalisation (``g/ml{SUVbw}``, PS3.16
CID 7181) and the SUV calculation method (DCM 126410 for body weight) as the
measurement method. The observer is the software as a device (TID 1004), and
every measurement names gliopet and its version as its algorithm (TID 4019).
Each group holds its ROI's definition as a Comment text item (DCM 121106).

One report per study and PET time point, with that time point's own
measurements, referencing its own SEG and PET series. A stored study's
report identifies the time point in every group by a TID 1502 Time Point
Context (:func:`time_point_context`): Time Point (UMLS C2348792) = the
scan's minutes after injection, Subject Time Point Identifier (DCM 126070)
= ``ses-<n>_run-<i>`` (its place in scan-time order, the ``run`` of its file
name), Protocol Time Point Identifier (DCM 126071) = the nominal time
(``30 min``). TID 1502 has no
coded "time after injection" (its Longitudinal Temporal Offset counts from
CID 280 events: Baseline, Enrollment), hence the text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes as pydicom_codes

from .._version import __version__
from ..errors import InputError
from . import _codes as codes
from ._files import atomic_write_dataset
from ._source import ExportStudy, pet_source_headers
from .seg import MANUFACTURER, SEGMENT_NUMBERS, _definitions, build_seg, described, export_uid, segment_label

__all__ = ["SR_SERIES_NUMBER", "build_sr", "write_sr", "measurement_values", "time_point_context"]

SR_SERIES_NUMBER = 9902


def measurement_values(record: dict[str, Any]) -> dict[str, list[tuple[str, str | None, str | None, float]]]:
    """What the SR holds per ROI, from the record: ``(concept code, derivation code, method code, value)``.

    ``"SUV"`` stands for the SUV quantity of the record's normalisation (DCM
    126401 for ``bw``); a ratio's derivation is the lesion statistic it
    divides (Maximum or Mean). Pure; the SR is built from it and a test can compare an SR read back with it.
    """
    lesion_statistic = {"tbr_max_to_bg_max": codes.MAXIMUM.value, "tbr_max_to_bg_mean": codes.MAXIMUM.value,
                        "tbr_mean_to_bg_mean": codes.MEAN.value}
    tbr = [(codes.LESION_TO_BACKGROUND_SUV_RATIO.value, lesion_statistic[key], codes.TBR_METHODS[key].value,
            float(record[key])) for key in codes.TBR_METHODS]
    suv = "SUV"
    out = {
        "lesion": [(suv, codes.MAXIMUM.value, None, float(record["suvmax"])),
                   (suv, codes.MEAN.value, None, float(record["suvmean_1cm"])), *tbr],
        "background": [(codes.BACKGROUND_FOR_LESION_TO_BACKGROUND_SUV_RATIO.value, codes.MAXIMUM.value, None,
                        float(record["bg_suvmax"])),
                       (codes.BACKGROUND_FOR_LESION_TO_BACKGROUND_SUV_RATIO.value, codes.MEAN.value, None,
                        float(record["bg_suvmean"]))],
        "peak": [] if record.get("suvpeak") is None else
                [(suv, codes.PEAK_VALUE_WITHIN_ROI.value, None, float(record["suvpeak"]))],
        "btv": [(codes.METABOLIC_VOLUME.value, None, None, float(record["btv_ml"]))],
    }
    if record.get("btv_suvmean") is not None:
        out["btv"].append((suv, codes.MEAN.value, None, float(record["btv_suvmean"])))
    return out


def _suv_kind(record: dict[str, Any], name: str) -> codes.SuvKind:
    suv_type = record.get("suv_type", "bw")
    if suv_type not in codes.SUV_KINDS:
        raise InputError(f"{name}: SUV type {suv_type!r} has no DICOM code; expected one of "
                         f"{', '.join(codes.SUV_KINDS)}")
    return codes.SUV_KINDS[suv_type]


def _measurement(concept: str, derivation: str | None, method: str | None, value: float,
                 kind: codes.SuvKind, algorithm: hd.sr.AlgorithmIdentification) -> hd.sr.Measurement:
    by_value = {c.value: c for c in (codes.MAXIMUM, codes.MEAN, codes.PEAK_VALUE_WITHIN_ROI)}
    tbr_methods = {c.value: c for c in codes.TBR_METHODS.values()}
    if concept == "SUV":
        name, unit, method_code = kind.quantity, kind.unit, kind.method
    elif concept == codes.BACKGROUND_FOR_LESION_TO_BACKGROUND_SUV_RATIO.value:
        name, unit, method_code = codes.BACKGROUND_FOR_LESION_TO_BACKGROUND_SUV_RATIO, kind.unit, kind.method
    elif concept == codes.LESION_TO_BACKGROUND_SUV_RATIO.value:
        name, unit, method_code = codes.LESION_TO_BACKGROUND_SUV_RATIO, codes.RATIO, tbr_methods[method]
    else:
        name, unit, method_code = codes.METABOLIC_VOLUME, codes.CUBIC_CENTIMETRE, None
    return hd.sr.Measurement(name=name, value=value, unit=unit,
                             derivation=None if derivation is None else by_value[derivation],
                             method=method_code, algorithm_id=algorithm)


def time_point_context(study: ExportStudy) -> hd.sr.TimePointContext | None:
    """The TID 1502 Time Point Context of a stored study's time point (None for a study just measured).

    Time Point: the minutes after injection (``"32.48 min after injection"``,
    or ``"time after injection unknown"``); Subject Time Point Identifier:
    the BIDS session and run (``"ses-1_run-1"``: the run is the place in
    scan-time order; the primary's file names leave it out); Protocol Time
    Point Identifier: the nominal time (``"30 min"``) when known. Text items
    only: a NUM Time Point Order would be listed among the group's
    measurements by readers that take every NUM item of a group.
    """
    tp = study.timepoint
    if tp is None:
        return None
    when = ("time after injection unknown" if tp.minutes_after_injection is None
            else f"{tp.minutes_after_injection:.2f} min after injection")
    return hd.sr.TimePointContext(time_point=when, subject_time_point_identifier=f"ses-{study.session}_run-{tp.run}",
                                  protocol_time_point_identifier=None if tp.nominal_min is None
                                  else f"{tp.nominal_min:g} min")


def _group(study: ExportStudy, roi: str, seg: hd.seg.Segmentation, items, kind, algorithm) -> Any:
    pet_series = str(study.pet.volume.provenance.get("series_uid") or seg.ReferencedSeriesSequence[0].SeriesInstanceUID)
    label = segment_label(roi, study.masks.background_kind)
    finding = {"lesion": codes.NEOPLASM, "background": codes.BACKGROUND, "peak": codes.SPHERE,
               "btv": codes.NEOPLASM}[roi]
    site = codes.CEREBRAL_WHITE_MATTER if roi == "background" else codes.BRAIN
    group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=export_uid(study, f"tracking-{roi}"), identifier=label),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
            segment_number=SEGMENT_NUMBERS[roi],
            source_series=hd.sr.SourceSeriesForSegmentation(pet_series)),
        finding_type=finding, finding_sites=[hd.sr.FindingSite(site)], time_point_context=time_point_context(study),
        measurements=[_measurement(*item, kind, algorithm) for item in items])
    text = hd.sr.TextContentItem(name=codes.COMMENT, value=_definitions(study.record, study.masks.background_kind)[roi],
                                 relationship_type="CONTAINS")
    group[0].ContentSequence.append(text)
    return group


def build_sr(study: ExportStudy, seg: hd.seg.Segmentation | None = None) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 report of one study (in memory), referencing ``seg`` (built when not given).

    Raises
    ------
    InputError
        An SUV type without a DICOM code.
    """
    seg = seg if seg is not None else build_seg(study)
    kind = _suv_kind(study.record, study.name)
    headers = pet_source_headers(study.pet)
    algorithm = hd.sr.AlgorithmIdentification(name=MANUFACTURER, version=__version__)
    device = hd.sr.ObserverContext(
        observer_type=pydicom_codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=export_uid(study, f"device-{__version__}"), name=MANUFACTURER, manufacturer_name=MANUFACTURER,
            model_name=f"{MANUFACTURER} {__version__}"))
    groups = [_group(study, roi, seg, items, kind, algorithm)
              for roi, items in measurement_values(study.record).items()]
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=codes.PET_UNSPECIFIED_BODY_REGION, imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*headers, seg], content=report[0], series_instance_uid=export_uid(study, "sr-series"),
        series_number=SR_SERIES_NUMBER, sop_instance_uid=export_uid(study, "sr-instance"), instance_number=1,
        manufacturer=MANUFACTURER, is_complete=True, series_description=described("gliopet measurement report", study))
    scheme = Dataset()
    scheme.CodingSchemeDesignator = codes.PRIVATE_SCHEME
    scheme.CodingSchemeName = codes.PRIVATE_SCHEME_NAME
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def write_sr(study: ExportStudy, path: str | Path, seg: hd.seg.Segmentation | None = None) -> Path:
    """Write the study's TID 1500 SR to ``path`` (a temporary name, then renamed)."""
    return atomic_write_dataset(build_sr(study, seg), path)
