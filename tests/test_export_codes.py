"""Every code gliopet's exports write, checked against the standard's tables (pydicom's copy of PS3.16),
and the pure pieces of the export: subject labels and the ROI masks drawn by hand."""

from __future__ import annotations

import numpy as np
import pytest
import pydicom.sr._cid_dict as cid_tables
import pydicom.sr._concepts_dict as code_tables

from gliopet.export import _codes
from gliopet.export._files import subject_labels
from gliopet.export._masks import circle_mask, sphere_mask

# (constant, the Context Group it is written from: PS3.16 CID number)
STANDARD_CODES = [
    (_codes.MORPHOLOGICALLY_ABNORMAL_STRUCTURE, 7150),
    (_codes.SPATIAL_AND_RELATIONAL_CONCEPT, 7150),
    (_codes.NEOPLASM, 7151),
    (_codes.BACKGROUND, 7151),
    (_codes.SPHERE, 7151),
    (_codes.BRAIN, 7151),
    (_codes.CEREBRAL_WHITE_MATTER, 7151),
    (_codes.MAXIMUM, 7464),
    (_codes.MEAN, 7464),
    (_codes.PEAK_VALUE_WITHIN_ROI, 7464),
    (_codes.METABOLIC_VOLUME, 7466),
    (_codes.LESION_TO_BACKGROUND_SUV_RATIO, 7466),
    (_codes.BACKGROUND_FOR_LESION_TO_BACKGROUND_SUV_RATIO, 7466),
    (_codes.PET_UNSPECIFIED_BODY_REGION, 100),
    (_codes.CUBIC_CENTIMETRE, 7462),
    (_codes.RATIO, 7181),
    (_codes.NEIGHBORHOOD_ANALYSIS, 7162),
    (_codes.COMMENT, None),
    (_codes.SUBJECT_TIME_POINT_IDENTIFIER, None),  # TID 1502 rows (no Context Group)
    (_codes.PROTOCOL_TIME_POINT_IDENTIFIER, None),
    *[(kind.quantity, 7180) for kind in _codes.SUV_KINDS.values()],
    *[(kind.unit, 7181) for kind in _codes.SUV_KINDS.values()],
    *[(kind.method, None) for kind in _codes.SUV_KINDS.values()],
]


def _table_entries(code):
    """Every (keyword, meaning, CIDs) the tables give for the code (one code can have several meanings)."""
    return [(keyword, *entries[code.value]) for keyword, entries in
            code_tables.concepts[code.scheme_designator].items() if code.value in entries]


@pytest.mark.parametrize("code, cid", STANDARD_CODES, ids=lambda v: getattr(v, "value", str(v)))
def test_every_code_is_in_the_standard_tables(code, cid):
    matching = [(keyword, cids) for keyword, meaning, cids in _table_entries(code) if meaning == code.meaning]
    assert matching, f"{code.scheme_designator} {code.value} {code.meaning!r} is not in PS3.16"
    if cid is not None:
        scheme_keywords = cid_tables.cid_concepts[cid][code.scheme_designator]
        assert any(cid in cids and keyword in scheme_keywords for keyword, cids in matching)


def test_the_suv_units_and_quantities_are_the_standards_pairs():
    # PS3.16: SUVbw is DCM 126401 and its UCUM unit g/ml{SUVbw}; the body-weight method is DCM 126410
    bw = _codes.SUV_KINDS["bw"]
    assert (bw.quantity.value, bw.unit.value, bw.method.value) == ("126401", "g/ml{SUVbw}", "126410")
    assert _codes.OLD_UCUM_SUV_UNITS["{SUVbw}g/ml"] == "g/ml{SUVbw}"


def test_private_codes_use_a_private_scheme():
    # PS3.16 8.2: private coding scheme designators begin with "99"
    assert _codes.PRIVATE_SCHEME.startswith("99")
    assert {c.scheme_designator for c in _codes.TBR_METHODS.values()} == {_codes.PRIVATE_SCHEME}


def test_subject_labels_are_letters_and_digits_and_never_collide():
    labels = subject_labels(["SIM001", "P-02", "P_02", "../x", "!!"])
    assert labels["SIM001"] == "SIM001"
    assert labels["../x"] == "x"
    # "P-02" and "P_02" would both be "P02"; "!!" would be empty: both get a digest label
    assert labels["P-02"] != labels["P_02"] and all(labels[k].startswith("x") and len(labels[k]) == 13
                                                    for k in ("P-02", "P_02", "!!"))
    assert all(v.isalnum() for v in labels.values())


@pytest.mark.parametrize("spacing, diameter, expected", [
    # 2 mm pixels, 10 mm circle: offsets (i, j) with (2i)^2 + (2j)^2 <= 25, i.e. i^2 + j^2 <= 6.25: 21 voxels
    ((2.0, 2.0), 10.0, 21),
    # 1 mm pixels, 4 mm circle: i^2 + j^2 <= 4: 13 voxels
    ((1.0, 1.0), 4.0, 13),
])
def test_circle_mask_counts_voxel_centres_inside(spacing, diameter, expected):
    mask = circle_mask((3, 21, 21), spacing_ij_mm=spacing, centre_ij=(10.0, 10.0), slice_index=1,
                       diameter_mm=diameter)
    assert int(mask.sum()) == expected and int(mask[1].sum()) == expected


def test_sphere_mask_of_one_millilitre_on_a_2mm_grid():
    # 1 mL sphere: radius (3000 / (4 pi))^(1/3) = 6.2035 mm; on 2 mm voxels, offsets with
    # 4 (i^2 + j^2 + k^2) <= 38.48, i.e. i^2 + j^2 + k^2 <= 9: counted by hand below
    n = sum(1 for i in range(-4, 5) for j in range(-4, 5) for k in range(-4, 5) if i * i + j * j + k * k <= 9)
    mask = sphere_mask((11, 11, 11), spacing_ijk_mm=(2.0, 2.0, 2.0), centre_ijk=(5, 5, 5))
    assert int(mask.sum()) == n == 123
    assert np.array_equal(mask, mask[::-1, ::-1, ::-1])


def test_a_record_without_suvpeak_has_no_suvpeak_measurement():
    # issue 16: SUVpeak is null when no whole 1 mL sphere fits; the SR then reports none (never a number)
    from gliopet.export.sr import measurement_values

    record = {"suvmax": 4.0, "suvmean_1cm": 3.0, "suvpeak": None, "btv_ml": 0.0, "btv_suvmean": None,
              "bg_suvmax": 0.5, "bg_suvmean": 0.25, "tbr_max_to_bg_max": 8.0, "tbr_max_to_bg_mean": 16.0,
              "tbr_mean_to_bg_mean": 12.0}
    values = measurement_values(record)
    assert values["peak"] == []
    assert values["btv"] == [("126032", None, None, 0.0)]
    assert [v[3] for v in values["lesion"]] == [4.0, 3.0, 8.0, 16.0, 12.0]
