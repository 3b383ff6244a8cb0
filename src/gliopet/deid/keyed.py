"""Keyed pseudonyms: UIDs, patient IDs, date shifts and file names from an HMAC of the original.

Every value derives from HMAC-SHA256 (RFC 2104) of the original under the
project's secret key, with a purpose label in front, so the same key gives the
same pseudonyms in every file and every run, and without the key they cannot be
reversed or recomputed. Pure: no files.

References
----------
DICOM PS3.15 E.1.1 (U: a UID "internally consistent within a set of Instances"),
E.3.6 (dates modified, intervals kept); PS3.5 B.2 (UIDs ``2.25.`` followed by a
128-bit integer, ISO/IEC 9834-8).
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["keyed_digest", "new_uid", "date_shift_days", "pseudonymous_patient_id", "generated_name",
           "MAX_SHIFT_DAYS", "UID_ROOT", "KEY_BYTES", "PATIENT_ID_PREFIX"]

#: Dates move back by 1 to this many whole days (about ten years).
MAX_SHIFT_DAYS = 3650
#: PS3.5 B.2: UIDs derived from a 128-bit integer sit under 2.25.
UID_ROOT = "2.25."
#: Length of the secret key.
KEY_BYTES = 32
PATIENT_ID_PREFIX = "GP"
_UID_BITS = 128
_PATIENT_ID_HEX = 16
_NAME_HEX = 20


def keyed_digest(key: bytes, purpose: str, value: str) -> bytes:
    """HMAC-SHA256 of ``purpose`` NUL ``value`` (UTF-8) under ``key``: 32 bytes."""
    return hmac.new(key, purpose.encode("ascii") + b"\0" + value.encode("utf-8"), hashlib.sha256).digest()


def new_uid(key: bytes, uid: str) -> str:
    """The ``2.25.`` UID that replaces ``uid`` (the first 128 bits of its keyed digest).

    Examples
    --------
    >>> a = new_uid(b"k" * 32, "1.2.3")
    >>> a.startswith("2.25.") and len(a) <= 64 and a == new_uid(b"k" * 32, "1.2.3")
    True
    """
    number = int.from_bytes(keyed_digest(key, "uid", uid.strip().rstrip("\0"))[:_UID_BITS // 8], "big")
    return f"{UID_ROOT}{number}"


def date_shift_days(key: bytes, patient_id: str) -> int:
    """The patient's whole-day date shift: from -``MAX_SHIFT_DAYS`` to -1, never 0."""
    number = int.from_bytes(keyed_digest(key, "date-shift", patient_id.strip())[:8], "big")
    return -(1 + number % MAX_SHIFT_DAYS)


def pseudonymous_patient_id(key: bytes, patient_id: str) -> str:
    """The patient's new Patient ID: ``GP`` and 16 upper-case hex digits of the keyed digest."""
    return PATIENT_ID_PREFIX + keyed_digest(key, "patient-id", patient_id.strip()).hex()[:_PATIENT_ID_HEX].upper()


def generated_name(key: bytes, relative_path: str) -> str:
    """A file or folder name made from the input's relative path (never from a DICOM value)."""
    return keyed_digest(key, "path", relative_path).hex()[:_NAME_HEX]
