"""Whole-day shifts of DICOM DA and DT values (Retain Longitudinal Temporal Information, Modified Dates).

A whole-day shift moves every date of a patient by the same number of days and
leaves every time of day as it is, so each interval between two date-times,
across midnight or not, stays exact to the microsecond. TM values need no
change. A value that is not a full calendar date (empty components, a year
alone, a query range) cannot be shifted exactly and is emptied instead. Pure.

References
----------
DICOM PS3.15 E.3.6; PS3.5 6.2 (DA ``YYYYMMDD``, DT ``YYYYMMDDHHMMSS.FFFFFF&ZZXX``).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

__all__ = ["shift_da", "shift_dt"]

_DA = re.compile(r"^(\d{4})\.?(\d{2})\.?(\d{2})$")  # ACR-NEMA's YYYY.MM.DD still read
_DT = re.compile(r"^(\d{4})(\d{2})(\d{2})(.*)$")
_DT_REST = re.compile(r"^(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?([+-]\d{4})?$")


def _shifted(year: str, month: str, day: str, days: int) -> str | None:
    try:
        moved = date(int(year), int(month), int(day)) + timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    return f"{moved.year:04d}{moved.month:02d}{moved.day:02d}" if moved.year >= 1 else None


def shift_da(value: str, days: int) -> str:
    """A DA value moved by ``days``; ``""`` when it is not a full date.

    Examples
    --------
    >>> shift_da("20240301", -1), shift_da("2024", -1), shift_da("", -1)
    ('20240229', '', '')
    """
    match = _DA.match(value.strip())
    if not match:
        return ""
    return _shifted(*match.groups(), days) or ""


def shift_dt(value: str, days: int) -> str:
    """A DT value with its date part moved by ``days``, time and UTC offset kept; ``""`` if unshiftable.

    Examples
    --------
    >>> shift_dt("20240101001500.25+0100", -2)
    '20231230001500.25+0100'
    """
    text = value.strip()
    match = _DT.match(text)
    if not match or not _DT_REST.match(match.group(4)):
        return ""
    moved = _shifted(*match.groups()[:3], days)
    return "" if moved is None else moved + match.group(4)
