"""The coded concepts of gliopet's DICOM exports, each with the table of the standard it is taken from.

Every code here was checked against DICOM PS3.16 (the Context Group tables
and the DCM, SNOMED CT and UCUM code tables as pydicom ships them, generated
from the standard): ``tests/test_export_codes.py`` checks each code and
meaning against those tables again. Private concepts (the three
tumour-to-background definitions, which PS3.16 has no codes for) use the
private coding scheme :data:`PRIVATE_SCHEME` (a "99" prefix, PS3.16
Section 8.2), declared in the SR's Coding Scheme Identification Sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.sr.coding import Code

__all__ = [
    "PRIVATE_SCHEME", "PRIVATE_SCHEME_NAME",
    "MORPHOLOGICALLY_ABNORMAL_STRUCTURE", "SPATIAL_AND_RELATIONAL_CONCEPT", "NEOPLASM", "BACKGROUND", "SPHERE",
    "BRAIN", "CEREBRAL_WHITE_MATTER", "MAXIMUM", "MEAN", "PEAK_VALUE_WITHIN_ROI", "METABOLIC_VOLUME",
    "LESION_TO_BACKGROUND_SUV_RATIO", "BACKGROUND_FOR_LESION_TO_BACKGROUND_SUV_RATIO", "COMMENT", "NEIGHBORHOOD_ANALYSIS",
    "PET_UNSPECIFIED_BODY_REGION", "CUBIC_CENTIMETRE", "RATIO", "TBR_METHODS", "SuvKind", "SUV_KINDS",
    "OLD_UCUM_SUV_UNITS", "TIME_POINT", "SUBJECT_TIME_POINT_IDENTIFIER", "PROTOCOL_TIME_POINT_IDENTIFIER",
]

#: Private coding scheme for what PS3.16 has no code for (PS3.16 Section 8.2: "99" prefix).
PRIVATE_SCHEME = "99GLIOPET"
PRIVATE_SCHEME_NAME = "gliopet private codes"

# Segmentation property categories, PS3.16 CID 7150 (Segmentation Property Categories).
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = Code("49755003", "SCT", "Morphologically Abnormal Structure")
SPATIAL_AND_RELATIONAL_CONCEPT = Code("309825002", "SCT", "Spatial and Relational Concept")
# Segmentation property types, PS3.16 CID 7151 (Segmentation Property Types); Neoplasm and
# Background are also in CID 7159 (Lesion Segmentation Types), Background in CID 7196.
NEOPLASM = Code("108369006", "SCT", "Neoplasm")
BACKGROUND = Code("125040", "DCM", "Background")
SPHERE = Code("122485", "DCM", "Sphere")
# Anatomy, PS3.16 CID 7151 / CID 7192 (Anatomical Structure Segmentation Property Types).
BRAIN = Code("12738006", "SCT", "Brain")
CEREBRAL_WHITE_MATTER = Code("68523003", "SCT", "Cerebral White Matter")

# Derivations, PS3.16 CID 7464 (General Region of Interest Measurement Modifiers).
MAXIMUM = Code("56851009", "SCT", "Maximum")
MEAN = Code("373098007", "SCT", "Mean")
PEAK_VALUE_WITHIN_ROI = Code("126031", "DCM", "Peak Value Within ROI")
# PET measurements, PS3.16 CID 7466 (PET Region of Interest Measurements).
METABOLIC_VOLUME = Code("126032", "DCM", "Metabolic Volume")
LESION_TO_BACKGROUND_SUV_RATIO = Code("126039", "DCM", "Lesion to Background SUV Ratio")
BACKGROUND_FOR_LESION_TO_BACKGROUND_SUV_RATIO = Code("126040", "DCM",
                                                     "Background for Lesion to Background SUV Ratio")
#: Segmentation algorithm family, PS3.16 CID 7162 (Surface Processing Algorithm Families).
NEIGHBORHOOD_ANALYSIS = Code("123101", "DCM", "Neighborhood Analysis")
#: A text item holding the ROI's definition (PS3.16 DCM 121106).
COMMENT = Code("121106", "DCM", "Comment")
# Time Point Context, PS3.16 TID 1502 (in each TID 1411 group; highdicom writes these concept names,
# the reader looks for them): Time Point, Subject Time Point Identifier, Protocol Time Point Identifier (TEXT).
TIME_POINT = Code("C2348792", "UMLS", "Time Point")
SUBJECT_TIME_POINT_IDENTIFIER = Code("126070", "DCM", "Subject Time Point Identifier")
PROTOCOL_TIME_POINT_IDENTIFIER = Code("126071", "DCM", "Protocol Time Point Identifier")
#: Procedure reported, PS3.16 CID 100 (Quantitative Diagnostic Imaging Procedures).
PET_UNSPECIFIED_BODY_REGION = Code("44136-0", "LN", "PET unspecified body region")
# Units, PS3.16 CID 7181 (Abstract Multi-dimensional Image Model Component Units), UCUM.
#: Volume in mL as UCUM cm3, PS3.16 CID 7462 (Volume Measurement Units).
CUBIC_CENTIMETRE = Code("cm3", "UCUM", "cubic centimeter")
RATIO = Code("{ratio}", "UCUM", "ratio")

#: The three tumour-to-background ratios (DESIGN.md "TBR"), as methods of DCM 126039 (private codes:
#: PS3.16 does not distinguish which lesion and background statistics a ratio divides).
TBR_METHODS = {
    "tbr_max_to_bg_max": Code("TBR-MAX-BGMAX", PRIVATE_SCHEME, "Lesion SUVmax / background SUVmax"),
    "tbr_max_to_bg_mean": Code("TBR-MAX-BGMEAN", PRIVATE_SCHEME, "Lesion SUVmax / background SUVmean"),
    "tbr_mean_to_bg_mean": Code("TBR-MEAN-BGMEAN", PRIVATE_SCHEME, "Lesion SUVmean / background SUVmean"),
}


@dataclass(frozen=True)
class SuvKind:
    """One SUV normalisation: its quantity (PS3.16 CID 7180/218), UCUM unit (CID 7181) and method."""

    quantity: Code
    unit: Code
    method: Code


#: By gliopet's ``suv_type``: the quantity (PS3.16 DCM 126401-126405), its UCUM unit (PS3.16 CID 7181,
#: the "g/ml{SUVbw}" form), and the calculation method (PS3.16 DCM 126410-126414).
SUV_KINDS = {
    "bw": SuvKind(Code("126401", "DCM", "SUVbw"),
                  Code("g/ml{SUVbw}", "UCUM", "Standardized Uptake Value body weight"),
                  Code("126410", "DCM", "SUV body weight calculation method")),
    "lbm_janmahasatian": SuvKind(Code("126405", "DCM", "SUVlbm(Janma)"),
                                 Code("g/ml{SUVlbm(Janma)}", "UCUM",
                                      "Standardized Uptake Value lean body mass (Janma)"),
                                 Code("126414", "DCM", "SUV lean body mass calculation Janmahasatian method")),
    "bsa": SuvKind(Code("126403", "DCM", "SUVbsa"),
                   Code("cm2/ml{SUVbsa}", "UCUM", "Standardized Uptake Value body surface area"),
                   Code("126412", "DCM", "SUV body surface area calculation method")),
    "ibw": SuvKind(Code("126404", "DCM", "SUVibw"),
                   Code("g/ml{SUVibw}", "UCUM", "Standardized Uptake Value ideal body weight"),
                   Code("126413", "DCM", "SUV ideal body weight calculation method")),
}

#: The older UCUM forms (the annotation first, e.g. "{SUVbw}g/ml", used before PS3.16 2017 and by
#: some writers still), read as the current ones.
OLD_UCUM_SUV_UNITS = {
    "{SUVbw}g/ml": "g/ml{SUVbw}",
    "{SUVlbm}g/ml": "g/ml{SUVlbm}",
    "{SUVlbm(Janma)}g/ml": "g/ml{SUVlbm(Janma)}",
    "{SUVbsa}cm2/ml": "cm2/ml{SUVbsa}",
    "{SUVibw}g/ml": "g/ml{SUVibw}",
}
