"""The clinical CSV (DESIGN.md schema), validated row by row before anything is stored.

One row per patient: ``patient_id, sex (M|F), age, diagnosis, who_grade
(II|III|IV), referral (staging|recurrence), prior_surgery,
prior_chemotherapy, prior_radiotherapy (yes|no), mri_date, pet_date``
(``YYYY-MM-DD``). The first five are required; the others are checked when
present; any further column (for example ``visual``) is kept as text and
passes through to the analysis table.

Every row is checked and every problem collected, each naming the file, the
line and the column (never the patient identifier): a value that is not one
of the allowed choices (an unknown grade), a date that does not parse, a
patient_id seen on an earlier line, and a PET more than
:data:`MAX_PET_MRI_DAYS` days away from the MRI (the study's window: MRI
within three weeks of the PET). A file with any error is refused as a whole
unless ``skip_invalid``, which drops the rows in error and names them.

Value parsing is shared with :mod:`gliopet.stats.cohort` (the analysis CSV).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .errors import InputError
from .io.tables import read_numbered_csv
from .stats.cohort import CHOICES, _parse_choice, _parse_date, _parse_number

logger = logging.getLogger(__name__)

__all__ = ["REQUIRED_CLINICAL_COLUMNS", "OPTIONAL_CLINICAL_COLUMNS", "MAX_PET_MRI_DAYS", "RowError",
           "ClinicalTable", "parse_clinical_rows", "read_clinical_csv"]

REQUIRED_CLINICAL_COLUMNS = ("patient_id", "sex", "age", "diagnosis", "who_grade")
OPTIONAL_CLINICAL_COLUMNS = ("referral", "prior_surgery", "prior_chemotherapy", "prior_radiotherapy",
                             "mri_date", "pet_date")
#: Largest allowed distance between the MRI and the PET (days): the study's "within 3 weeks" window.
MAX_PET_MRI_DAYS = 21
_PASS_THROUGH_CHOICES = {"visual": CHOICES["visual"]}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in the clinical CSV."""

    source: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: line {self.line}, column '{self.column}': {self.message}"


@dataclass(frozen=True, slots=True)
class ClinicalTable:
    """Validated clinical rows.

    Attributes
    ----------
    source : str
        File name, for messages.
    rows : tuple of dict
        One dict per valid row: ``patient_id``, ``sex``, ``age_years`` (float),
        ``diagnosis``, ``who_grade``, the optional columns (``None`` when absent or
        empty; dates as :class:`datetime.date`) and ``extra`` (other columns, text).
    skipped : tuple of RowError
        Errors of the rows left out (only with ``skip_invalid``).
    """

    source: str
    rows: tuple[dict, ...]
    skipped: tuple[RowError, ...] = ()

    @property
    def skipped_lines(self) -> tuple[int, ...]:
        return tuple(sorted({e.line for e in self.skipped}))


def _message(exc: InputError) -> str:
    """The part of a stats.cohort message after "file: line N, column 'c': "."""
    text = str(exc)
    return text.split("': ", 1)[1] if "': " in text else text


def _check_row(columns: list[str], cells: list[str], *, source: str, line: int) -> tuple[dict, list[RowError]]:
    errors: list[RowError] = []
    row: dict = {"extra": {}}
    for col, raw in zip(columns, cells):
        text = raw.strip()
        try:
            if col == "age":
                value = _parse_number(text, source=source, line=line, col=col)
                row["age_years"] = value
                continue
            if col in CHOICES and col in REQUIRED_CLINICAL_COLUMNS + OPTIONAL_CLINICAL_COLUMNS:
                value = _parse_choice(text, CHOICES[col], source=source, line=line, col=col) or None
            elif col in ("mri_date", "pet_date"):
                parsed = _parse_date(text, source=source, line=line, col=col)
                value = date.fromisoformat(parsed) if parsed else None
            elif col in _PASS_THROUGH_CHOICES:
                row["extra"][col] = _parse_choice(text, _PASS_THROUGH_CHOICES[col], source=source, line=line,
                                                  col=col)
                continue
            elif col in REQUIRED_CLINICAL_COLUMNS + OPTIONAL_CLINICAL_COLUMNS:
                value = text or None
            else:
                row["extra"][col] = text
                continue
        except InputError as exc:
            errors.append(RowError(source, line, col, _message(exc)))
            continue
        row[col] = value
    for col in REQUIRED_CLINICAL_COLUMNS:
        key = "age_years" if col == "age" else col
        if row.get(key) in (None, "") and not any(e.column == col for e in errors):
            errors.append(RowError(source, line, col, "value is empty"))
    mri, pet = row.get("mri_date"), row.get("pet_date")
    if isinstance(mri, date) and isinstance(pet, date) and abs((pet - mri).days) > MAX_PET_MRI_DAYS:
        errors.append(RowError(source, line, "pet_date",
                               f"{abs((pet - mri).days)} days from mri_date; the study allows at most "
                               f"{MAX_PET_MRI_DAYS} days (3 weeks)"))
    for col in OPTIONAL_CLINICAL_COLUMNS:
        row.setdefault(col, None)
    return row, errors


def parse_clinical_rows(header: list[str], rows: list[tuple[int, list[str]]], *, source: str,
                        skip_invalid: bool = False) -> ClinicalTable:
    """Validate a clinical table given as rows of strings (pure).

    Parameters
    ----------
    header : list of str
        Column names (case and surrounding spaces ignored).
    rows : list of (line, cells)
        Data rows with their line numbers in the file.
    source : str
        File name for messages.
    skip_invalid : bool
        Keep the valid rows and report the others in ``skipped`` instead of refusing the file.

    Raises
    ------
    InputError
        A required column is missing or repeated; the file has no data rows; or
        any row is in error and ``skip_invalid`` is false. The one-line message
        gives the first error (file, line, column) and how many more there are.
    """
    columns = [h.strip().lower() for h in header]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise InputError(f"{source}: column(s) {', '.join(repeated)} appear more than once in the header")
    missing = [c for c in REQUIRED_CLINICAL_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"{source}: required column(s) missing: {', '.join(missing)} "
                         f"(needed: {', '.join(REQUIRED_CLINICAL_COLUMNS)})")
    first_line: dict[str, int] = {}
    valid: list[dict] = []
    errors: list[RowError] = []
    n_rows = 0
    for line, cells in rows:
        if len(cells) == 1 and cells[0].strip() == "" or not cells:
            continue
        n_rows += 1
        if len(cells) != len(columns):
            errors.append(RowError(source, line, "*", f"{len(cells)} cells, the header has {len(columns)}"))
            continue
        row, row_errors = _check_row(columns, cells, source=source, line=line)
        pid = row.get("patient_id")
        if pid:
            if pid in first_line:  # the identifier itself is not printed
                row_errors.append(RowError(source, line, "patient_id",
                                           f"repeats the patient_id of line {first_line[pid]}"))
            else:
                first_line[pid] = line
        if row_errors:
            errors.extend(row_errors)
        else:
            valid.append(row)
    if n_rows == 0:
        raise InputError(f"{source}: no data rows")
    if errors and not skip_invalid:
        more = f" (and {len(errors) - 1} more error(s); nothing imported)" if len(errors) > 1 else \
            " (nothing imported)"
        raise InputError(f"{errors[0]}{more}")
    for error in errors:
        logger.warning("skipped: %s", error)
    return ClinicalTable(source=source, rows=tuple(valid), skipped=tuple(errors))


def read_clinical_csv(path: str | Path, *, skip_invalid: bool = False) -> ClinicalTable:
    """Read and validate a clinical CSV (UTF-8, optional BOM, comma-separated).

    Raises
    ------
    InputError
        The file cannot be read, is not CSV, or fails :func:`parse_clinical_rows`.
    """
    source, header, numbered = read_numbered_csv(path, what="a clinical CSV")
    return parse_clinical_rows(header, numbered, source=source, skip_invalid=skip_invalid)
