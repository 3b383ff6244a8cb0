"""De-identification that keeps every SUV exact (``gliopet deid``).

DICOM PS3.15 Annex E, Table E.1-1, Basic Application Level Confidentiality
Profile with the options Retain Longitudinal Temporal Information with
Modified Dates, Retain Patient Characteristics and Retain Safe Private (the
private attributes SUV needs); UIDs replaced by keyed ``2.25.`` UIDs. Modules:

- :mod:`.profile`: the table as data and each attribute's action,
- :mod:`.keyed`: keyed UIDs, pseudonyms, date shifts, file names,
- :mod:`.dates`: whole-day shifts of DA and DT values,
- :mod:`.dataset`: one dataset, every depth,
- :mod:`.keyfile`: the key, the patient map and the quarantine report,
- :mod:`.runner`: a tree of files, in parallel processes.
"""

from .dataset import SAFE_PRIVATE, PatientPseudonym, deidentify_dataset, quarantine_reason
from .dates import shift_da, shift_dt
from .keyed import date_shift_days, new_uid, pseudonymous_patient_id
from .profile import PROFILE_EDITION, Action, Profile, ProfileRow, effective_action, load_profile
from .runner import DeidSummary, FileOutcome, default_key_file, deidentify_tree

__all__ = [
    "deidentify_tree", "DeidSummary", "FileOutcome", "default_key_file",
    "deidentify_dataset", "quarantine_reason", "PatientPseudonym", "SAFE_PRIVATE",
    "load_profile", "effective_action", "Profile", "ProfileRow", "Action", "PROFILE_EDITION",
    "shift_da", "shift_dt", "new_uid", "date_shift_days", "pseudonymous_patient_id",
]
