"""Pure parts of gliopet.deid: date shifts, keyed UIDs and pseudonyms, one dataset in memory."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from gliopet.deid import (date_shift_days, deidentify_dataset, new_uid, pseudonymous_patient_id,
                          quarantine_reason, shift_da, shift_dt)

KEY = bytes(range(32))


@pytest.mark.parametrize("value, days, expected", [
    ("20240301", -1, "20240229"),  # leap day
    ("20230301", -1, "20230228"),
    ("20240101", -365, "20230101"),
    ("2024.03.01", -1, "20240229"),  # ACR-NEMA form
    ("2024", -1, ""),  # not a full date: emptied
    ("20241301", -1, ""),
    ("", -1, ""),
])
def test_shift_da(value, days, expected):
    assert shift_da(value, days) == expected


@pytest.mark.parametrize("value, days, expected", [
    ("20240229003500", -3, "20240226003500"),
    ("20240101001500.25+0100", -2, "20231230001500.25+0100"),
    ("20240101", -1, "20231231"),
    ("202401", -1, ""),
    ("20240101xx", -1, ""),
])
def test_shift_dt(value, days, expected):
    assert shift_dt(value, days) == expected


def test_a_shift_keeps_an_interval_across_midnight_exact():
    injection, scan = "20240228234000.123456", "20240229003500.000001"
    fmt = "%Y%m%d%H%M%S.%f"
    before = datetime.strptime(scan, fmt) - datetime.strptime(injection, fmt)
    for days in (-1, -59, -366, -3650):
        after = datetime.strptime(shift_dt(scan, days), fmt) - datetime.strptime(shift_dt(injection, days), fmt)
        assert after == before  # 54 min 59.876545 s, to the microsecond


def test_new_uid_is_the_keyed_digest_under_2_25():
    digest = hmac.new(KEY, b"uid\x001.2.3.4", hashlib.sha256).digest()
    assert new_uid(KEY, "1.2.3.4") == "2.25." + str(int.from_bytes(digest[:16], "big"))
    assert new_uid(KEY, "1.2.3.4\0") == new_uid(KEY, "1.2.3.4")  # padding is not part of the UID
    assert new_uid(KEY, "1.2.3.4") != new_uid(bytes(32), "1.2.3.4")
    assert len(new_uid(KEY, "1.2.3.4")) <= 64


def test_date_shift_and_pseudonym_are_keyed():
    digest = hmac.new(KEY, b"date-shift\x00PID-1", hashlib.sha256).digest()
    assert date_shift_days(KEY, "PID-1") == -(1 + int.from_bytes(digest[:8], "big") % 3650)
    assert pseudonymous_patient_id(KEY, "PID-1") == "GP" + hmac.new(
        KEY, b"patient-id\x00PID-1", hashlib.sha256).hexdigest()[:16].upper()
    shifts = {date_shift_days(KEY, f"PID-{i}") for i in range(200)}
    assert all(-3650 <= s <= -1 for s in shifts) and len(shifts) > 150


def _ds() -> Dataset:
    ds = Dataset()
    ds.PatientID = "PID-1"
    ds.PatientName = "DOE^JANE"
    ds.StudyInstanceUID = "1.2.3"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    ds.SOPInstanceUID = "1.2.3.4"
    ds.AcquisitionDateTime = "20240301110000"
    ds.ImageComments = "DOE"
    return ds


def test_safe_private_attributes_are_found_through_their_creator_in_any_block():
    ds = _ds()
    ds.add_new(0x00090011, "LO", "GEMS_PETD_01")  # the GE block in slot 0x11, not 0x10
    ds.add_new(0x0009110D, "DT", "20240301110000.00")
    ds.add_new(0x0009113B, "DT", "20240301100000.00")
    ds.add_new(0x00090010, "LO", "OTHER VENDOR")
    ds.add_new(0x0009100D, "DT", "20240301110000.00")  # element 0D, but another creator's block
    ds.add_new(0x70530010, "LO", "Philips PET Private Group")
    ds.add_new(0x70531000, "DS", "0.000123")
    ds.add_new(0x70531009, "DS", "2.5")
    ds.add_new(0x70531010, "LO", "secret")
    patient = deidentify_dataset(ds, key=KEY)
    private = {int(e.tag): e.value for e in ds if e.tag.is_private}
    expected_date = shift_dt("20240301110000.00", patient.shift_days)
    assert private == {0x00090011: "GEMS_PETD_01", 0x0009110D: expected_date,
                       0x70530010: "Philips PET Private Group", 0x70531000: "0.000123", 0x70531009: "2.5"}


def test_nested_items_get_the_same_uids_and_shift_as_the_main_dataset():
    ds = _ds()
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = "1.2.3.4"
    ref.PatientName = "DOE^JANE"
    inner = Dataset()
    inner.RadiopharmaceuticalStartDateTime = "20240301100000"
    inner.PersonName = "DOE^JANE"
    ds.RadiopharmaceuticalInformationSequence = Sequence([inner])
    ds.ReferencedImageSequence = Sequence([ref])
    patient = deidentify_dataset(ds, key=KEY)
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID == new_uid(KEY, "1.2.3.4")
    assert ds.ReferencedImageSequence[0].ReferencedSOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # a class, kept
    assert ds.ReferencedImageSequence[0].PatientName in ("", None)  # Z: zero length
    person = ds.RadiopharmaceuticalInformationSequence[0].PersonName  # Table E.1-1 D: a non-empty dummy
    assert person and "DOE" not in str(person)
    assert ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime == \
        shift_dt("20240301100000", patient.shift_days)
    assert ds.AcquisitionDateTime == shift_dt("20240301110000", patient.shift_days)
    assert "ImageComments" not in ds and ds.PatientID == ds.PatientName == patient.pseudonym


@pytest.mark.parametrize("attribute, value, reason", [
    ("BurnedInAnnotation", "YES", "burned-in annotation"),
    ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7", "secondary capture"),
    ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.104.1", "encapsulated document"),
    ("ImageType", ["DERIVED", "SECONDARY", "SCREEN SAVE"], "screen save"),
])
def test_quarantine_reasons(attribute, value, reason):
    ds = _ds()
    assert quarantine_reason(ds) is None
    setattr(ds, attribute, value)
    assert quarantine_reason(ds).startswith(reason)


def test_the_allow_list_uses_the_creators_the_suv_reader_uses():
    from gliopet.deid import dataset
    from gliopet.io import suv_inputs

    assert (dataset.GE_CREATOR, dataset.PHILIPS_CREATOR) == (suv_inputs.GE_CREATOR, suv_inputs.PHILIPS_CREATOR)
    assert set(dataset.SAFE_PRIVATE) == {(0x0009, "GEMS_PETD_01", 0x0D), (0x7053, "Philips PET Private Group", 0x00),
                                         (0x7053, "Philips PET Private Group", 0x09)}
