"""Table E.1-1 as shipped: every row has an action; the SUV attributes' rows checked against the standard's text."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gliopet.deid import Action, effective_action, load_profile
from gliopet.deid.profile import CLAIMED_OPTIONS, PROFILE_EDITION

DATA = Path(__file__).resolve().parents[1] / "src" / "gliopet" / "data" / "deid"
#: PS3.15 E.1.1's action codes and their combinations.
ACTION_CODES = {"X", "Z", "D", "K", "C", "U", "X/Z", "X/D", "X/Z/D", "Z/D", "X/Z/U*"}


def test_every_attribute_of_the_shipped_table_has_an_action():
    table = json.loads((DATA / "confidentiality_profile_attributes.json").read_text(encoding="utf-8"))
    assert len(table) == 621
    no_action = [row["tag"] for row in table if row.get("basicProfile") not in ACTION_CODES]
    assert no_action == []
    option_values = {v for row in table for k, v in row.items() if k.endswith("Opt")}
    assert option_values <= {"K", "C"}
    profile = load_profile()
    assert len(profile.rows) == len(table)
    for row in profile.rows:
        assert isinstance(effective_action(row), Action)
        assert isinstance(effective_action(row, claimed=()), Action)
    # each exact tag once, plus the 50xx and two 60xx patterns and the private-attributes row
    assert len(profile.actions) + len(profile.pattern_rows) + 1 == len(table)


def test_the_table_names_its_source_edition_and_checksum():
    source = (DATA / "SOURCE.md").read_text(encoding="utf-8")
    digest = hashlib.sha256((DATA / "confidentiality_profile_attributes.json").read_bytes()).hexdigest()
    assert digest in source
    assert "innolitics/dicom-standard" in source and f"edition **{PROFILE_EDITION}**" in source


# (tag, Basic Profile code in PS3.15 2024b Table E.1-1, action with gliopet's options), read from the
# standard's text: Patient Characteristics K (E.3.7); dates and times C (E.3.6); UIDs U.
SUV_ROWS = [
    (0x00101030, "X", Action.KEEP),  # Patient's Weight
    (0x00101020, "X", Action.KEEP),  # Patient's Size
    (0x00100040, "Z", Action.KEEP),  # Patient's Sex
    (0x00101010, "X", Action.KEEP),  # Patient's Age
    (0x00080021, "X/D", Action.CLEAN),  # Series Date
    (0x00080031, "X/D", Action.CLEAN),  # Series Time
    (0x00080022, "X/Z", Action.CLEAN),  # Acquisition Date
    (0x00080032, "X/Z", Action.CLEAN),  # Acquisition Time
    (0x0008002A, "X/Z/D", Action.CLEAN),  # Acquisition DateTime
    (0x00189074, "D", Action.CLEAN),  # Frame Acquisition DateTime
    (0x00181078, "X", Action.CLEAN),  # Radiopharmaceutical Start DateTime
    (0x00181072, "X", Action.CLEAN),  # Radiopharmaceutical Start Time
    (0x0020000D, "U", Action.NEW_UID),  # Study Instance UID
    (0x0020000E, "U", Action.NEW_UID),  # Series Instance UID
    (0x00200052, "U", Action.NEW_UID),  # Frame of Reference UID
    (0x00080018, "U", Action.NEW_UID),  # SOP Instance UID
    (0x00100020, "Z/D", Action.DUMMY),  # Patient ID: the pseudonym
    (0x00100010, "Z", Action.EMPTY),  # Patient's Name
    (0x00100030, "Z", Action.EMPTY),  # Patient's Birth Date (no option keeps it)
]


@pytest.mark.parametrize("tag, basic, action", SUV_ROWS)
def test_the_rows_suv_needs_match_the_standard(tag, basic, action):
    profile = load_profile()
    row = next(r for r in profile.rows if r.tag == tag and r.mask == 0xFFFFFFFF)
    assert row.basic == basic
    assert profile.actions[tag] is action


@pytest.mark.parametrize("tag", [0x00280051, 0x00541001, 0x00541102, 0x00181074, 0x00181075, 0x00541300,
                                 0x00181242, 0x00541006])
def test_the_other_suv_inputs_are_not_in_the_table(tag):
    # Corrected Image, Units, Decay Correction, Radionuclide Total Dose and Half Life, Frame Reference Time,
    # Actual Frame Duration, SUV Type: not in Table E.1-1, so kept
    assert tag not in load_profile().actions


def test_private_attributes_are_cleaned_with_retain_safe_private():
    profile = load_profile()
    private = next(r for r in profile.rows if r.private)
    assert private.basic == "X" and private.options == {"rtnSafePrivOpt": "C"}
    assert profile.private_action is Action.CLEAN
    assert set(CLAIMED_OPTIONS) == {"rtnLongModifDatesOpt", "rtnPatCharsOpt", "rtnSafePrivOpt"}  # not rtnUIDsOpt


def test_the_table_is_package_data():
    from importlib import resources

    import tomllib

    assert resources.files("gliopet").joinpath("data", "deid", "confidentiality_profile_attributes.json").is_file()
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert "data/**/*" in pyproject["tool"]["setuptools"]["package-data"]["gliopet"]
