"""Apply the Basic Profile with gliopet's options to one pydicom Dataset, at every depth.

In memory only: :func:`deidentify_dataset` changes the dataset in place and
returns the patient's pseudonym; files are the runner's business. The rules,
in the order they are tried for each data element of the dataset and of every
sequence item inside it:

1. Group lengths (gggg,0000) are removed (they would be wrong afterwards).
2. Private attributes (odd group): kept only when on the safe-private
   allow-list (:data:`SAFE_PRIVATE`), found through their private creator;
   their creator element is kept with them; every other private attribute
   and creator is removed (Table E.1-1 "Private Attributes": X, C with Retain
   Safe Private).
3. Curves (50xx) and overlays (60xx) are removed group by group (Table E.1-1:
   Curve Data X, Overlay Data X, Overlay Comments X; the rest of an overlay
   is meaningless without its data).
4. An attribute of Table E.1-1 gets its effective action
   (:func:`gliopet.deid.profile.effective_action`).
5. Any other attribute is kept, except that DA and DT values are shifted
   with all the others (E.3.6), instance UIDs are replaced like U (every UID
   that is not a registered one such as a SOP class or transfer syntax), and
   sequences are walked.

Patient ID becomes a keyed pseudonym (its D), Patient's Name the same
pseudonym (its Z allows a dummy), and the top level gains the declaration that
PS3.15 E.1.1 asks for: Patient Identity Removed (0012,0062) YES, De-identification
Method (0012,0063), De-identification Method Code Sequence (0012,0064) with
the profile's and each option's code, and Longitudinal Temporal Information
Modified (0028,0303) MODIFIED.

References
----------
DICOM PS3.15 2024b E.1.1, Table E.1-1, E.3.6, E.3.7, E.3.10; PS3.16 CID 7050.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary

from .._version import __version__
from .dates import shift_da, shift_dt
from .keyed import date_shift_days, new_uid, pseudonymous_patient_id
from .profile import BASIC_PROFILE_CODE, OPTION_CODES, PROFILE_EDITION, Action, Profile, load_profile

logger = logging.getLogger(__name__)

__all__ = ["PatientPseudonym", "deidentify_dataset", "quarantine_reason", "SAFE_PRIVATE",
           "SECONDARY_CAPTURE_CLASSES", "ENCAPSULATED_DOCUMENT_CLASSES", "DICOMDIR_CLASS", "DUMMY_TEXT"]

#: The private creators of the SUV inputs, as :mod:`gliopet.io.suv_inputs` reads them (a test holds
#: the two equal; not imported from there, so that a worker process does not load numpy and scipy).
GE_CREATOR = "GEMS_PETD_01"
PHILIPS_CREATOR = "Philips PET Private Group"
#: Private attributes that SUV needs, by (group, private creator, element within the block):
#: "DT" is a date-time shifted with the other dates, "K" is kept as it is.
SAFE_PRIVATE = {
    (0x0009, GE_CREATOR, 0x0D): "DT",  # GE scan start date-time: the SUV decay reference (QIBA)
    (0x7053, PHILIPS_CREATOR, 0x00): "K",  # Philips SUV scale factor
    (0x7053, PHILIPS_CREATOR, 0x09): "K",  # Philips activity concentration scale factor
}
#: Secondary Capture SOP classes (PS3.4 B.5): screen saves and scans, pixels may carry text.
SECONDARY_CAPTURE_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.7.1", "1.2.840.10008.5.1.4.1.1.7.2",
    "1.2.840.10008.5.1.4.1.1.7.3", "1.2.840.10008.5.1.4.1.1.7.4"})
#: Encapsulated PDF, CDA, STL, OBJ, MTL (PS3.4 B.5): their content cannot be de-identified here.
ENCAPSULATED_DOCUMENT_CLASSES = frozenset({
    "1.2.840.10008.5.1.4.1.1.104.1", "1.2.840.10008.5.1.4.1.1.104.2", "1.2.840.10008.5.1.4.1.1.104.3",
    "1.2.840.10008.5.1.4.1.1.104.4", "1.2.840.10008.5.1.4.1.1.104.5"})
#: Media Storage Directory Storage (DICOMDIR, PS3.10).
DICOMDIR_CLASS = "1.2.840.10008.1.3.10"
#: The D action's text for character VRs.
DUMMY_TEXT = "ANONYMOUS"
_DUMMY = {"AE": DUMMY_TEXT, "AS": "000D", "CS": DUMMY_TEXT, "DA": "19000101", "DS": "0", "DT": "19000101000000",
          "IS": "0", "LO": DUMMY_TEXT, "LT": DUMMY_TEXT, "PN": DUMMY_TEXT, "SH": DUMMY_TEXT,
          "ST": DUMMY_TEXT, "TM": "000000", "UC": DUMMY_TEXT, "UR": "http://example.invalid",
          "UT": DUMMY_TEXT}
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})
_NUMBER_VRS = frozenset({"FL", "FD", "SL", "SS", "SV", "UL", "US", "UV"})
_PATIENT_ID = 0x00100020
_CURVE_GROUPS = (0x5000, 0x50FF)
_OVERLAY_GROUPS = (0x6000, 0x60FF)
#: UI attributes that name a registered thing (a class, a syntax, a coding scheme), not an instance.
_NOT_INSTANCE_UID_WORDS = ("Class", "TransferSyntax", "CodingScheme", "Creator", "MappingResource",
                           "ContextGroup")
_METHOD = (f"gliopet {__version__}", f"DICOM PS3.15 {PROFILE_EDITION} Table E.1-1 Basic Profile",
           "Retain Longitudinal Temporal Information Modified Dates",
           "Retain Patient Characteristics", "Retain Safe Private")
_CODING_SCHEME = "DCM"


@dataclass(frozen=True)
class PatientPseudonym:
    """The original Patient ID, its pseudonym and the patient's whole-day date shift."""

    original_id: str
    pseudonym: str
    shift_days: int


def quarantine_reason(ds: Dataset) -> str | None:
    """Why ``ds`` cannot be made safe by removing attributes, or ``None``.

    Burned-in annotation (0028,0301) YES, secondary captures (screen saves,
    scanned documents), encapsulated documents and DICOMDIR files are
    refused: this profile does not clean pixel data (PS3.15 E.2, without the
    Clean Pixel Data Option).
    """
    if str(ds.get("BurnedInAnnotation", "") or "").strip().upper() == "YES":
        return "burned-in annotation: (0028,0301) BurnedInAnnotation is YES"
    meta = getattr(ds, "file_meta", None)
    sop = str(ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else "")).strip()
    if sop in SECONDARY_CAPTURE_CLASSES:
        return f"secondary capture (SOP class {sop}): pixels may carry burned-in identifiers"
    if sop in ENCAPSULATED_DOCUMENT_CLASSES:
        return f"encapsulated document (SOP class {sop}): its content cannot be de-identified"
    if sop == DICOMDIR_CLASS:
        return "DICOMDIR: a media directory of the input, to be rebuilt from the output"
    if "SCREEN SAVE" in [_text(v).strip().upper() for v in _values(ds.get("ImageType"))]:
        return "screen save: (0008,0008) ImageType is SCREEN SAVE"
    return None


def _is_instance_uid(elem: DataElement) -> bool:
    keyword = elem.keyword or ""
    return not any(word in keyword for word in _NOT_INSTANCE_UID_WORDS)


def _values(value: Any) -> list[Any]:
    """A DICOM value as a list of its values (none, one, or a MultiValue's)."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    return str(value)


class _Walker:
    """One dataset's pass: the key, the patient's shift and pseudonym, the profile."""

    def __init__(self, *, key: bytes, profile: Profile, shift_days: int) -> None:
        self.key = key
        self.profile = profile
        self.shift_days = shift_days

    # -- values ---------------------------------------------------------------------------------
    def _new_uids(self, elem: DataElement) -> None:
        def one(uid: Any) -> str:
            text = _text(uid).strip().rstrip("\0")
            return new_uid(self.key, text) if text else ""

        if elem.VM > 1:
            elem.value = [one(v) for v in elem.value]
        elif elem.value not in (None, "", b""):
            elem.value = one(elem.value)

    def _shift(self, elem: DataElement) -> None:
        shift = shift_da if elem.VR == "DA" else shift_dt
        if elem.value in (None, "", b""):
            return
        values = elem.value if elem.VM > 1 else [elem.value]
        moved = [shift(_text(v), self.shift_days) for v in values]
        elem.value = moved if elem.VM > 1 else moved[0]

    def _dummy(self, ds: Dataset, elem: DataElement) -> None:
        if elem.tag == _PATIENT_ID:
            elem.value = pseudonymous_patient_id(self.key, _text(elem.value or ""))
        elif elem.VR == "SQ":
            elem.value = Sequence([])
        elif elem.VR == "UI":
            elem.value = new_uid(self.key, "dummy:" + _text(elem.value or ""))
        elif elem.VR in _BINARY_VRS:
            elem.value = b"\0\0"
        elif elem.VR in _NUMBER_VRS:
            elem.value = 0
        else:
            elem.value = _DUMMY.get(elem.VR, DUMMY_TEXT)

    @staticmethod
    def _empty(elem: DataElement) -> None:
        elem.value = Sequence([]) if elem.VR == "SQ" else None

    def _apply(self, ds: Dataset, elem: DataElement, action: Action) -> None:
        if action is Action.REMOVE:
            del ds[elem.tag]
        elif action is Action.EMPTY:
            self._empty(elem)
        elif action is Action.DUMMY:
            self._dummy(ds, elem)
        elif action is Action.NEW_UID:
            if elem.VR == "UI":
                self._new_uids(elem)
            else:
                del ds[elem.tag]
        elif action is Action.KEEP_SEQUENCE_NEW_UIDS or (action is Action.KEEP and elem.VR == "SQ"):
            if elem.VR == "SQ":
                self.sequence(elem)
            elif action is Action.KEEP_SEQUENCE_NEW_UIDS:
                del ds[elem.tag]
        elif action is Action.CLEAN:
            self._clean(ds, elem)
        # Action.KEEP on a non-sequence: unchanged

    def _clean(self, ds: Dataset, elem: DataElement) -> None:
        if elem.VR in ("DA", "DT"):
            self._shift(elem)
        elif elem.VR == "TM":
            return  # a whole-day shift leaves the time of day as it is (E.3.6)
        elif elem.VR == "SQ":
            self.sequence(elem)
        else:
            del ds[elem.tag]  # no free-text cleaner: clean means remove

    # -- private attributes ----------------------------------------------------------------------
    def _private(self, ds: Dataset, tags: list[int]) -> None:
        creators = {}
        for tag in tags:
            element = tag & 0xFFFF
            if 0x0010 <= element <= 0x00FF:
                creators[(tag >> 16, element)] = _text(ds[tag].value or "").strip()
        kept_blocks = set()
        for tag in tags:
            group, element = tag >> 16, tag & 0xFFFF
            if element < 0x1000:
                continue
            block = (group, element >> 8)
            rule = SAFE_PRIVATE.get((group, creators.get(block), element & 0xFF))
            if rule is None:
                del ds[tag]
                continue
            kept_blocks.add(block)
            if rule == "DT":
                elem = ds[tag]
                moved = shift_dt(_text(elem.value or ""), self.shift_days)
                elem.value = moved.encode("ascii") + (b" " if len(moved) % 2 else b"") \
                    if isinstance(elem.value, bytes) else moved
        for tag in tags:
            group, element = tag >> 16, tag & 0xFFFF
            if element < 0x1000 and (group, element) not in kept_blocks:
                del ds[tag]

    # -- walking ---------------------------------------------------------------------------------
    def sequence(self, elem: DataElement) -> None:
        for item in elem.value:
            self.dataset(item)

    def dataset(self, ds: Dataset) -> None:
        """Apply the rules of the module docstring to every element of ``ds`` and of its items."""
        tags = [int(t) for t in ds.keys()]
        private = [t for t in tags if (t >> 16) % 2 == 1]
        if private:
            self._private(ds, private)
        for tag in tags:
            group, element = tag >> 16, tag & 0xFFFF
            if group % 2 == 1:
                continue
            if element == 0 or _CURVE_GROUPS[0] <= group <= _CURVE_GROUPS[1] \
                    or _OVERLAY_GROUPS[0] <= group <= _OVERLAY_GROUPS[1]:
                del ds[tag]
                continue
            # decided on the raw element's VR: what stays as it is is never decoded and is written back raw
            vr = _raw_vr(ds, tag)
            action = self.profile.actions.get(tag)
            if action is Action.REMOVE:
                del ds[tag]
            elif action is not None:
                if vr == "SQ" or not (action is Action.KEEP or (action is Action.CLEAN and vr == "TM")):
                    self._apply(ds, ds[tag], action)
            elif vr == "SQ":
                self.sequence(ds[tag])
            elif vr in ("DA", "DT"):
                self._shift(ds[tag])
            elif vr == "UI":
                elem = ds[tag]
                if _is_instance_uid(elem) and not _registered(elem.value):
                    self._new_uids(elem)


def _raw_vr(ds: Dataset, tag: int) -> str:
    """The VR of ``ds``'s element ``tag`` without decoding its value (implicit VR: the dictionary's)."""
    vr = ds.get_item(tag).VR
    if vr:
        return str(vr)
    try:
        return dictionary_VR(tag).split(" or ")[0]
    except KeyError:
        return "UN"


def _registered(value: Any) -> bool:
    return all(_text(v).strip().rstrip("\0") in UID_dictionary for v in _values(value) if v)


def _declare(ds: Dataset, pseudonym: str) -> None:
    """The declaration PS3.15 E.1.1 and E.3.6 ask for, and the pseudonym as ID and name."""
    ds.PatientID = pseudonym
    ds.PatientName = pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = list(_METHOD)
    items = []
    for value, meaning in (BASIC_PROFILE_CODE, *OPTION_CODES.values()):
        item = Dataset()
        item.CodeValue = value
        item.CodingSchemeDesignator = _CODING_SCHEME
        item.CodeMeaning = meaning
        items.append(item)
    ds.DeidentificationMethodCodeSequence = Sequence(items)
    ds.LongitudinalTemporalInformationModified = "MODIFIED"


def deidentify_dataset(ds: Dataset, *, key: bytes, profile: Profile | None = None) -> PatientPseudonym:
    """De-identify ``ds`` in place (module docstring) and return the patient's pseudonym.

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        The main dataset of one instance (file meta is the caller's: the
        runner writes a new one).
    key : bytes
        The secret key of :mod:`gliopet.deid.keyed`.
    profile : Profile, optional
        Table E.1-1 (default: the shipped one).

    Returns
    -------
    PatientPseudonym
        The original Patient ID (for the map kept beside the key, never in
        the output), its pseudonym and the date shift in days.
    """
    original = _text(ds.get("PatientID", "") or "").strip()
    shift = date_shift_days(key, original)
    pseudonym = pseudonymous_patient_id(key, original)
    _Walker(key=key, profile=profile or load_profile(), shift_days=shift).dataset(ds)
    _declare(ds, pseudonym)
    return PatientPseudonym(original, pseudonym, shift)
