"""The canary test: every Table E.1-1 attribute to be removed or replaced carries a canary; none survives.

The corpus is built from the shipped table read directly as JSON (not through
gliopet.deid): each attribute that the profile with gliopet's options removes or
replaces is set, in its own VR, to a unique canary value, in the main dataset and
again inside a sequence item one and two levels deep. Kept on purpose, and so
without a canary: the Retain Patient Characteristics attributes (K) and the TM
attributes under Retain Longitudinal Temporal Information with Modified Dates
(C; a whole-day shift leaves a time of day unchanged, PS3.15 E.3.6). Canaries
also sit in private attributes (allow-listed ones whose dates must move, and
others), in private creators, in dates written into text fields, in the file
meta, the preamble and the input file names. ``bench/bench_deid.py`` builds the
same corpus with :func:`build_canary_corpus` and looks for it with :func:`canary_in`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

TABLE = Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data" / "deid" / \
    "confidentiality_profile_attributes.json"
PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
TEXT_VRS = {"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"}
#: Dates 4000 days apart: a shift of 1 to 3650 days never turns one canary date into another.
DATE_STEP_DAYS = 4000
FIRST_DATE = date(1100, 1, 1)
GE_CREATOR = "GEMS_PETD_01"
PHILIPS_CREATOR = "Philips PET Private Group"


def _vr(tag: int) -> str:
    return dictionary_VR(tag).split(" or ")[0]


def canary_rows() -> list[tuple[int, str, str]]:
    """(tag, VR, name) of every exact-tag row whose action under gliopet's options removes or replaces it."""
    rows = []
    for entry in json.loads(TABLE.read_text(encoding="utf-8")):
        code = entry["id"]
        if len(code) != 8 or any(c not in "0123456789abcdef" for c in code):
            continue  # 50xx, 60xx, private: covered separately
        tag = int(code, 16)
        if tag >> 16 in (0x0000, 0x0002):
            continue  # command group, file meta: not in a dataset (PS3.10 7.1); the meta gets its own canaries
        vr = _vr(tag)
        if entry.get("rtnPatCharsOpt") == "K":
            continue  # Retain Patient Characteristics keeps it
        if entry.get("rtnLongModifDatesOpt") == "C" and vr == "TM":
            continue  # a whole-day shift leaves times of day unchanged
        rows.append((tag, vr, entry["name"]))
    return rows


class _Canaries:
    """Hands out unique canary values and remembers the bytes to look for."""

    def __init__(self) -> None:
        self.tokens: dict[bytes, str] = {}
        self.n = 0
        self.dates = 0

    def _token(self, text: str | bytes, where: str) -> None:
        self.tokens[text.encode("ascii") if isinstance(text, str) else text] = where

    def date(self, where: str) -> str:
        value = (FIRST_DATE + timedelta(days=DATE_STEP_DAYS * self.dates)).strftime("%Y%m%d")
        self.dates += 1
        self._token(value, where)
        return value

    def value(self, vr: str, where: str):
        self.n += 1
        i = self.n
        if vr in TEXT_VRS:
            text = f"CANARY{i:04d}"
        elif vr == "UR":
            text = f"urn:CANARY{i:04d}"
        elif vr == "DA":
            return self.date(where)
        elif vr == "DT":
            text = self.date(where) + "120000"
        elif vr == "TM":
            text = f"11{i % 60:02d}{i // 60 % 60:02d}.9{i:05d}"
        elif vr == "UI":
            text = f"1.2.826.0.1.3680043.10.1338.{i}"
        elif vr == "DS":
            text = f"9{i:04d}.0625"
        elif vr == "IS":
            text = f"7{i:06d}"
        elif vr in ("US", "SS"):
            self._token((0xCA00 + i % 0xFF).to_bytes(2, "little"), where)
            return 0xCA00 + i % 0xFF
        elif vr in ("OB", "OW", "UN"):
            data = f"CANARY{vr}{i:04d}".encode("ascii")
            self._token(data, where)
            return data
        else:
            raise AssertionError(f"no canary for VR {vr} ({where})")
        self._token(text, where)
        return text


def _code_item(canaries: _Canaries, where: str) -> Dataset:
    item = Dataset()
    item.CodeValue = "1"
    item.CodingSchemeDesignator = "99TEST"
    item.CodeMeaning = canaries.value("LO", where)
    return item


#: Set to other canaries in :func:`canary_dataset` (the SOP Instance UID, dates in text).
_SET_LATER = {(0x00080018, "main"), (0x00081030, "main"), (0x00204000, "main"), (0x00104000, "main")}


def _fill(ds: Dataset, canaries: _Canaries, rows: list[tuple[int, str, str]], level: str) -> None:
    for tag, vr, name in rows:
        where = f"{level} ({tag >> 16:04X},{tag & 0xFFFF:04X}) {name}"
        if (tag, level) in _SET_LATER:
            continue
        if vr == "SQ":
            if name not in ("Referenced Image Sequence", "Source Image Sequence"):
                item = _code_item(canaries, where + " item")
            else:  # X/Z/U*: kept, the contained UIDs replaced
                item = Dataset()
                item.ReferencedSOPClassUID = PET_STORAGE
                item.ReferencedSOPInstanceUID = canaries.value("UI", where + " > Referenced SOP Instance UID")
            ds.add_new(tag, "SQ", Sequence([item]))
        else:
            ds.add_new(tag, vr, canaries.value(vr, where))


def _private(ds: Dataset, canaries: _Canaries, level: str, *, with_vendor_blocks: bool) -> None:
    other = ds.private_block(0x0011, "CANARY CREATOR", create=True)
    other.add_new(0x01, "LO", canaries.value("LO", f"{level} private (0011,1001)"))
    other.add_new(0x02, "DA", canaries.value("DA", f"{level} private date (0011,1002)"))
    named = ds.private_block(0x0013, "ACME " + canaries.value("LO", f"{level} private creator"), create=True)
    named.add_new(0x00, "LO", "x")
    ge = ds.private_block(0x0009, GE_CREATOR, create=True)
    ge.add_new(0x0D, "DT", canaries.value("DT", f"{level} GE (0009,100D), allow-listed: must be shifted"))
    ge.add_new(0x3B, "DT", canaries.value("DT", f"{level} GE (0009,103B), not allow-listed"))
    if with_vendor_blocks:
        philips = ds.private_block(0x7053, PHILIPS_CREATOR, create=True)
        philips.add_new(0x00, "DS", "0.000123")
        philips.add_new(0x09, "DS", "2.5")
        philips.add_new(0x10, "LO", canaries.value("LO", f"{level} Philips (7053,1010), not allow-listed"))


def canary_dataset(canaries: _Canaries) -> FileDataset:
    rows = canary_rows()
    sop_uid = "1.2.826.0.1.3680043.10.1338.999999"
    canaries._token(sop_uid, "SOP Instance UID (file meta)")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = PET_STORAGE
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = "1.2.826.0.1.3680043.10.1338.999998"
    canaries._token("1.2.826.0.1.3680043.10.1338.999998", "Implementation Class UID (file meta)")
    meta.ImplementationVersionName = canaries.value("SH", "Implementation Version Name (file meta)")
    meta.SourceApplicationEntityTitle = canaries.value("AE", "Source AE Title (file meta)")
    preamble = b"CANARYPREAMBLE".ljust(128, b"\0")
    canaries._token(b"CANARYPREAMBLE", "preamble")
    ds = FileDataset("canary.dcm", {}, file_meta=meta, preamble=preamble)
    _fill(ds, canaries, rows, "main")
    ds.SOPClassUID = PET_STORAGE
    ds.SOPInstanceUID = sop_uid
    ds.Modality = "PT"
    # dates written into text fields of the table (non-date fields)
    ds.StudyDescription = "PET brain " + canaries.date("date in (0008,1030) StudyDescription")
    ds.ImageComments = "seen " + canaries.date("date in (0020,4000) ImageComments")
    ds.PatientComments = "born " + canaries.date("date in (0010,4000) PatientComments")
    _private(ds, canaries, "main", with_vendor_blocks=True)
    # one and two levels deep, inside sequences that are kept
    level1 = Dataset()
    level1.Radiopharmaceutical = "Pentixafor"
    _fill(level1, canaries, rows, "item")
    _private(level1, canaries, "item", with_vendor_blocks=False)
    level2 = Dataset()
    level2.CodeValue = "C-131A3"
    level2.CodingSchemeDesignator = "SRT"
    _fill(level2, canaries, rows, "item > item")
    _private(level2, canaries, "item > item", with_vendor_blocks=False)
    level1.RadionuclideCodeSequence = Sequence([level2])
    ds.RadiopharmaceuticalInformationSequence = Sequence([level1])
    # curves and overlays
    ds.add_new(0x50000010, "US", 1)
    ds.add_new(0x50003000, "OB", canaries.value("OB", "(5000,3000) Curve Data"))
    ds.add_new(0x60000010, "US", 2)
    ds.add_new(0x60000011, "US", 2)
    ds.add_new(0x60003000, "OB", canaries.value("OB", "(6000,3000) Overlay Data"))
    ds.add_new(0x60004000, "LT", canaries.value("LT", "(6000,4000) Overlay Comments"))
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 2, 2, 16, 16, 15
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PixelRepresentation = 1, "MONOCHROME2", 0
    ds.PixelData = np.zeros((2, 2), dtype="<u2").tobytes()
    return ds


def build_canary_corpus(folder: Path) -> dict[bytes, str]:
    """Write the canary file (under canary-named folders) into ``folder``; returns {token bytes: where}."""
    canaries = _Canaries()
    ds = canary_dataset(canaries)
    sub = folder / "CANARYDIR0001"
    sub.mkdir(parents=True, exist_ok=True)
    ds.save_as(sub / "CANARYFILE0002.dcm", enforce_file_format=True)
    canaries._token("CANARYDIR0001", "input folder name")
    canaries._token("CANARYFILE0002", "input file name")
    return canaries.tokens


def canary_in(token: bytes, data: bytes) -> bool:
    """Whether a canary is in ``data``; an all-digit canary only where no digit or dot precedes it.

    The keyed UIDs of the output are long runs of digits (about 6700 places
    for an 8-digit string per file), so a date or IS canary turns up inside one
    by chance in about 2 runs in 100. A value, a date written into text or a
    DT's date part starts after a length field, a space or another separator,
    never after a digit or a UID's dot; the same rule finds every canary of the
    input (checked first).
    """
    if not token.isdigit():
        return token in data
    return re.search(rb"(?<![0-9.])" + re.escape(token), data) is not None


def _gliopet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gliopet.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_the_corpus_covers_every_vr_of_the_attributes_to_remove_or_replace():
    rows = canary_rows()
    # hand count from the table: 617 exact tags, 1 command-group and 1 file-meta tag, 9 K,
    # 53 TM rows with the date option
    assert len(rows) == 617 - 2 - 9 - 53
    covered = {vr for _, vr, _ in rows}
    assert covered == {"AE", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "OB", "PN", "SH", "SQ", "ST", "TM",
                       "UC", "UI", "UN", "UR", "US", "UT"}  # TM: Patient's Birth Time, X without the option


def test_an_all_digit_canary_inside_a_keyed_uid_is_chance_not_a_leak():
    # the CI failure of 2026-12-06: a date canary inside a keyed UID's digits
    date = b"44620224"
    assert not canary_in(date, b"2.25.1183" + date + b"907\0")
    assert not canary_in(date, b"2.25." + date + b"907\0")
    assert canary_in(date, b"\x08\x00" + date)               # a DA value after its length
    assert canary_in(date, b"born " + date)                     # a date in text
    assert canary_in(date, b"\x0e\x00" + date + b"120000")    # a DT's date part
    assert canary_in(b"CANARY0001", b"xCANARY0001")


def test_no_canary_survives_in_any_output_byte(tmp_path):
    src, out, key = tmp_path / "in", tmp_path / "out", tmp_path / "secret.key"
    out.mkdir()
    tokens = build_canary_corpus(src)
    raw = (src / "CANARYDIR0001" / "CANARYFILE0002.dcm").read_bytes()
    # the fixture first: every canary is really in the input (paths aside)
    missing = [where for token, where in tokens.items() if not canary_in(token, raw) and "input" not in where]
    assert missing == []
    assert len(tokens) > 3 * 500

    result = _gliopet("deid", str(src), str(out), "--key-file", str(key), "--workers", "1")
    assert result.returncode == 0, result.stderr
    outputs = [p for p in out.rglob("*") if p.is_file()]
    assert len(outputs) == 1
    data = outputs[0].read_bytes()
    leaks = [where for token, where in tokens.items()
             if canary_in(token, data) or token.decode("latin-1") in str(outputs[0].relative_to(out))]
    assert leaks == []
    assert data[:128] == b"\0" * 128 and data[128:132] == b"DICM"
