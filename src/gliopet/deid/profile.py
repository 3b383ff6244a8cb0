"""DICOM PS3.15 Table E.1-1 as data, and the action gliopet takes for each attribute.

The table ships as ``gliopet/data/deid/confidentiality_profile_attributes.json``
(edition and source in ``SOURCE.md`` beside it). gliopet claims the Basic
Application Level Confidentiality Profile with three options:

- Retain Longitudinal Temporal Information with Modified Dates (DCM 113107),
- Retain Patient Characteristics (DCM 113108),
- Retain Safe Private (DCM 113111),

and not Retain UIDs: every instance UID is replaced (action U).

Action codes (PS3.15 E.1.1): D dummy value, Z zero length, X remove, K keep,
C clean, U new UID. Combined codes keep the IOD conformant without knowing
each IOD's Types: ``X/Z`` becomes Z (an empty value satisfies Type 2 and 3),
``X/D``, ``X/Z/D`` and ``Z/D`` become D (a dummy satisfies Type 1, 2 and 3),
``X/Z/U*`` keeps the sequence and applies the profile inside its items (the
contained instance UIDs are replaced). Where a claimed option gives K or C it
replaces the Basic Profile's action (K before C when two options apply, the
least restrictive, as PS3.15 E.1.1 asks). C is done for dates only: DA and DT
values are shifted by whole days and TM values, which a whole-day shift leaves
unchanged, are kept (PS3.15 E.3.6); gliopet cleans no free text, so any other
C is a removal (X).

References
----------
DICOM PS3.15 2024b, Annex E: E.1.1 (de-identifier), Table E.1-1, E.2 (Basic
Profile), E.3.6 (Retain Longitudinal Temporal Information with Modified Dates),
E.3.7 (Retain Patient Characteristics), E.3.10 (Retain Safe Private); PS3.16
CID 7050 (De-identification Method).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["Action", "ProfileRow", "Profile", "load_profile", "effective_action", "PROFILE_EDITION",
           "OPTION_CODES", "BASIC_PROFILE_CODE", "CLAIMED_OPTIONS", "PROFILE_FILE"]

#: The edition of PS3.15 the shipped table comes from (SOURCE.md).
PROFILE_EDITION = "2024b"
PROFILE_FILE = "confidentiality_profile_attributes.json"
#: PS3.16 CID 7050 code of the Basic Application Confidentiality Profile.
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
#: The table's option columns that gliopet claims, with their CID 7050 codes.
OPTION_CODES = {
    "rtnLongModifDatesOpt": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "rtnPatCharsOpt": ("113108", "Retain Patient Characteristics Option"),
    "rtnSafePrivOpt": ("113111", "Retain Safe Private Option"),
}
CLAIMED_OPTIONS = tuple(OPTION_CODES)


class Action(str, enum.Enum):
    """What is done to one attribute (PS3.15 E.1.1 action codes, combinations resolved)."""

    REMOVE = "X"
    EMPTY = "Z"
    DUMMY = "D"
    KEEP = "K"
    CLEAN = "C"
    NEW_UID = "U"
    #: ``X/Z/U*``: keep the sequence, apply the profile inside (contained UIDs replaced).
    KEEP_SEQUENCE_NEW_UIDS = "U*"


#: Combined Basic Profile codes and the single action taken (module docstring).
_COMBINED = {"X": Action.REMOVE, "Z": Action.EMPTY, "D": Action.DUMMY, "U": Action.NEW_UID,
             "K": Action.KEEP, "C": Action.CLEAN, "X/Z": Action.EMPTY, "X/D": Action.DUMMY,
             "X/Z/D": Action.DUMMY, "Z/D": Action.DUMMY, "X/Z/U*": Action.KEEP_SEQUENCE_NEW_UIDS}


@dataclass(frozen=True)
class ProfileRow:
    """One row of Table E.1-1: the tag (``group``, ``element``) or its pattern, and the actions.

    ``mask`` selects the tag bits the row fixes: 0xFFFFFFFF for one tag,
    0xFF00FFFF for the ``60xx`` overlay rows, 0xFF000000 for ``50xx`` curves.
    ``private`` marks the row for every private attribute (odd group).
    """

    name: str
    tag: int
    mask: int
    private: bool
    basic: str
    options: dict[str, str]


@dataclass(frozen=True)
class Profile:
    """Table E.1-1: rows and each exact tag's effective action under the claimed options."""

    rows: tuple[ProfileRow, ...]
    actions: dict[int, Action]
    pattern_rows: tuple[ProfileRow, ...]
    private_action: Action


def _parse_row(entry: dict[str, Any]) -> ProfileRow:
    code = entry["id"].lower()
    options = {k: v for k, v in entry.items() if k.endswith("Opt")}
    if code.startswith("gggg"):
        return ProfileRow(entry["name"], 0, 0, True, entry["basicProfile"], options)
    mask = int("".join("0" if c == "x" else "f" for c in code), 16)
    tag = int(code.replace("x", "0"), 16)
    return ProfileRow(entry["name"], tag, mask, False, entry["basicProfile"], options)


def effective_action(row: ProfileRow, claimed: tuple[str, ...] = CLAIMED_OPTIONS) -> Action:
    """The action for ``row`` under the ``claimed`` option columns.

    An option's K or C replaces the Basic Profile's action; K wins over C when
    two claimed options name the row (PS3.15 E.1.1: the least restrictive).

    Examples
    --------
    >>> row = ProfileRow("Patient's Weight", 0x00101030, 0xFFFFFFFF, False, "X", {"rtnPatCharsOpt": "K"})
    >>> effective_action(row).value
    'K'
    >>> effective_action(row, claimed=()).value
    'X'
    """
    chosen = [row.options[c] for c in claimed if c in row.options]
    if "K" in chosen:
        return Action.KEEP
    if "C" in chosen:
        return Action.CLEAN
    try:
        return _COMBINED[row.basic]
    except KeyError:
        raise ValueError(f"Table E.1-1 row '{row.name}': unknown action '{row.basic}'") from None


def _read_table() -> list[dict[str, Any]]:
    text = resources.files("gliopet").joinpath("data", "deid", PROFILE_FILE).read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def load_profile() -> Profile:
    """The shipped Table E.1-1 with each row's effective action (read once per process)."""
    rows = tuple(_parse_row(e) for e in _read_table())
    actions = {r.tag: effective_action(r) for r in rows if not r.private and r.mask == 0xFFFFFFFF}
    patterns = tuple(r for r in rows if not r.private and r.mask != 0xFFFFFFFF)
    private = [effective_action(r) for r in rows if r.private]
    if len(private) != 1:
        raise ValueError(f"{PROFILE_FILE}: expected one row for private attributes, found {len(private)}")
    return Profile(rows=rows, actions=actions, pattern_rows=patterns, private_action=private[0])
