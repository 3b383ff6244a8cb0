"""The cohort table: parse and validate the clinical + measured CSV.

One row per patient. Pure: :func:`parse_cohort_rows` takes a CSV's rows of
strings, :func:`cohort_from_values` rows of typed values (the store's); both
give a :class:`Cohort`. Reading the file is :func:`gliopet.cohort.read_cohort_csv`.
Every bad value raises :class:`~gliopet.errors.InputError`
naming the file, the line and the column, never the patient identifier.

Columns
-------
Required (DESIGN.md clinical CSV and the study's Table 2):

``patient_id`` (unique), ``sex`` (M|F), ``age`` (years), ``diagnosis``
(histology, free text), ``who_grade`` (II|III|IV), ``visual``
(positive|negative, the consensus read), ``suvmax`` and
``tbr_max_to_bg_max`` (empty allowed for visually negative scans, as in the
study's Table 2 where they are "-").

Optional, used when present:

* ``referral`` (staging|recurrence), ``prior_surgery``,
  ``prior_chemotherapy``, ``prior_radiotherapy`` (yes|no), ``mri_date``,
  ``pet_date`` (YYYY-MM-DD): Table 1.
* ``tumour_type``: overrides the type derived from ``diagnosis``.
* measured columns ``suvmean_1cm``, ``suvpeak``, ``btv_ml``, ``bg_suvmax``,
  ``bg_suvmean``, ``tbr_max_to_bg_mean``, ``tbr_mean_to_bg_mean``.
* ``btv_separates`` (true|false; the store's analysis table): false where the BTV's threshold did not
  separate the lesion from normal brain; the statistics leave those BTVs out.
* time points: ``<measure>_<minutes>min`` (e.g. ``suvmax_30min``,
  ``suvmax_60min``, ``tbr_max_to_bg_max_30min``); see
  :func:`gliopet.stats.time_point_columns`.
* readers: ``visual_reader1``, ``visual_reader2``, ... (positive|negative)
  for the agreement statistics (percent agreement, Cohen's kappa, PABAK,
  Gwet's AC1); ``score_reader1``, ``score_reader2``, ... (the 4-point scale
  0-3) for weighted kappa.
* ``snapshot``: path of a PNG image panel written by ``gliopet measure``
  (in a CSV: absolute or relative to the CSV's folder, :mod:`gliopet.paths`).
* anything else (e.g. ``note``) is passed through to Table 2 as text.

Missing numbers are written as an empty cell, ``NA``, ``n/a`` or ``-``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from ..errors import InputError
from ..measure import DYNAMIC_COLUMNS, MEASURED_COLUMNS, SIGNED_DYNAMIC_COLUMNS, TacPattern

logger = logging.getLogger(__name__)

__all__ = [
    "REQUIRED_COLUMNS",
    "NUMERIC_COLUMNS",
    "MEASURE_COLUMNS",
    "GRADES",
    "Cohort",
    "cohort_from_values",
    "parse_cohort_rows",
    "time_point_columns",
    "followup_columns_of",
]

REQUIRED_COLUMNS = ("patient_id", "sex", "age", "diagnosis", "who_grade", "visual", "suvmax",
                    "tbr_max_to_bg_max")
#: Measured columns (DESIGN.md "Measured columns added by analysis"), numeric, >= 0: the
#: measurement record's own list.
MEASURE_COLUMNS = MEASURED_COLUMNS
#: A dynamic series' time to peak (min) and late slope (SUV/h, may be negative); ``tac_pattern`` is a choice.
DYNAMIC_NUMERIC_COLUMNS = tuple(c for c in DYNAMIC_COLUMNS if c != "tac_pattern")
NUMERIC_COLUMNS = ("age",) + MEASURE_COLUMNS + DYNAMIC_NUMERIC_COLUMNS
#: WHO grades in increasing order.
GRADES = ("II", "III", "IV")
#: Columns that must hold a value on every row.
NON_EMPTY_COLUMNS = ("patient_id", "sex", "age", "diagnosis", "who_grade", "visual")
#: Measured columns a visually positive scan must have.
POSITIVE_NEEDS = ("suvmax", "tbr_max_to_bg_max")
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "-", "\u2013", "\u2014"})
CHOICES: Mapping[str, tuple[str, ...]] = {
    "sex": ("M", "F"),
    "who_grade": GRADES,
    "visual": ("positive", "negative"),
    "referral": ("staging", "recurrence"),
    "prior_surgery": ("yes", "no"),
    "prior_chemotherapy": ("yes", "no"),
    "prior_radiotherapy": ("yes", "no"),
    "tac_pattern": tuple(p.value for p in TacPattern),
    "btv_separates": ("true", "false"),
}
DATE_COLUMNS = ("mri_date", "pet_date")
MAX_AGE_YEARS = 130.0

#: Follow-up columns of the analysis table (:func:`gliopet.response.followup_columns`): numbers, the
#: ``_change_pct`` ones signed.
_FOLLOWUP = re.compile(r"^(?:followup_days|(?P<measure>[a-z0-9_]+)_(?P<kind>followup|change_pct))$")
_TIME_POINT = re.compile(r"^(?P<measure>[a-z0-9_]+?)_(?P<minutes>\d+)min$")
_READER = re.compile(r"^visual_reader\d+$")
#: Per-reader 4-point visual scores (0 none, 1 equivocal, 2 moderate, 3 intense).
_SCORE = re.compile(r"^score_reader\d+$")
SCORE_CHOICES = ("0", "1", "2", "3")


def followup_columns_of(columns: Iterable[str]) -> tuple[str, ...]:
    """The follow-up columns among ``columns``: ``followup_days``, ``<measure>_followup`` and
    ``<measure>_change_pct`` of a measured column."""
    out = []
    for col in columns:
        m = _FOLLOWUP.match(col)
        if m and (m.group("measure") is None or m.group("measure") in MEASURE_COLUMNS):
            out.append(col)
    return tuple(out)


def time_point_columns(columns: Iterable[str]) -> dict[str, dict[int, str]]:
    """Group ``<measure>_<minutes>min`` columns by measure.

    Only measures of :data:`MEASURE_COLUMNS` count. Returns
    ``{measure: {minutes: column}}``.

    Examples
    --------
    >>> time_point_columns(["suvmax_30min", "suvmax_60min", "note_1min"])
    {'suvmax': {30: 'suvmax_30min', 60: 'suvmax_60min'}}
    """
    out: dict[str, dict[int, str]] = {}
    for col in columns:
        m = _TIME_POINT.match(col)
        if m and m.group("measure") in MEASURE_COLUMNS:
            out.setdefault(m.group("measure"), {})[int(m.group("minutes"))] = col
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def _is_reader_column(col: str) -> bool:
    return bool(_READER.match(col))


def _is_score_column(col: str) -> bool:
    return bool(_SCORE.match(col))


@dataclass(frozen=True, slots=True)
class Cohort:
    """A validated cohort table.

    Attributes
    ----------
    source : str
        Where the rows came from (file name), for messages.
    columns : tuple of str
        Column names in input order.
    rows : tuple of dict
        One dict per patient: numbers as ``float`` (``None`` when missing),
        choices in canonical spelling (``"IV"``, ``"positive"``, ``"M"``),
        other text as ``str`` (``""`` when empty).
    """

    source: str
    columns: tuple[str, ...]
    rows: tuple[dict, ...]

    def column(self, name: str) -> list:
        """All values of one column, in row order."""
        return [row.get(name) for row in self.rows]

    @property
    def reader_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if _is_reader_column(c))

    @property
    def score_columns(self) -> tuple[str, ...]:
        """Per-reader 4-point scores (``score_reader1``, ...), as ints 0-3 (``None`` where missing)."""
        return tuple(c for c in self.columns if _is_score_column(c))

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        tp = {c for cols in time_point_columns(self.columns).values() for c in cols.values()}
        follow = set(followup_columns_of(self.columns))
        return tuple(c for c in self.columns if c in NUMERIC_COLUMNS or c in tp or c in follow)


def _where(source: str, line: int, col: str) -> str:
    return f"{source}: line {line}, column '{col}'"


def _parse_number(text: str | float | None, *, source: str, line: int, col: str) -> float | None:
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        t, value = repr(text), float(text)  # a stored number: kept as it is, checked like a typed one
    else:
        t = str(text).strip()
        if t.lower() in MISSING_TOKENS:
            return None
        try:
            value = float(t)
        except ValueError:
            raise InputError(f"{_where(source, line, col)}: {t!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{_where(source, line, col)}: {t!r} is not a finite number")
    if value < 0 and col not in SIGNED_DYNAMIC_COLUMNS and not col.endswith("_change_pct"):
        raise InputError(f"{_where(source, line, col)}: {t!r} is negative; it must be >= 0")
    if col == "age" and value > MAX_AGE_YEARS:
        raise InputError(f"{_where(source, line, col)}: {t!r} is not a plausible age in years")
    return value


def _parse_choice(text: str | None, choices: tuple[str, ...], *, source: str, line: int, col: str) -> str:
    t = "" if text is None else str(text).strip()
    if t == "":
        return ""
    for c in choices:
        if t.lower() == c.lower():
            return c
    raise InputError(f"{_where(source, line, col)}: {t!r} is not one of {'|'.join(choices)}")


def _parse_date(text: str | date | None, *, source: str, line: int, col: str) -> str:
    if isinstance(text, date):
        return text.isoformat()
    t = "" if text is None else str(text).strip()
    if t == "":
        return ""
    try:
        date.fromisoformat(t)
    except ValueError:
        raise InputError(f"{_where(source, line, col)}: {t!r} is not a date YYYY-MM-DD") from None
    return t


def _check_header(columns: list[str], source: str) -> None:
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError(f"{source}: column(s) {', '.join(dup)} appear more than once in the header")
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        needed = "" if len(missing) == len(REQUIRED_COLUMNS) else f" (needed: {', '.join(REQUIRED_COLUMNS)})"
        raise InputError(f"{source}: required column(s) missing: {', '.join(missing)}{needed}")


def _parse_row(cells: Mapping[str, object], columns: list[str], numeric: set[str], *, source: str,
               line: int) -> dict:
    row: dict = {}
    for col in columns:
        value = cells.get(col)
        if col in numeric:
            row[col] = _parse_number(value, source=source, line=line, col=col)
        elif col in CHOICES:
            row[col] = _parse_choice(value, CHOICES[col], source=source, line=line, col=col)
        elif _is_reader_column(col):
            row[col] = _parse_choice(value, CHOICES["visual"], source=source, line=line, col=col)
        elif _is_score_column(col):
            score = _parse_choice(None if value is None else str(value), SCORE_CHOICES, source=source, line=line,
                                  col=col)
            row[col] = int(score) if score != "" else None
        elif col in DATE_COLUMNS:
            row[col] = _parse_date(value, source=source, line=line, col=col)
        else:
            row[col] = "" if value is None else str(value).strip()
    for col in NON_EMPTY_COLUMNS:
        if row[col] in ("", None):
            raise InputError(f"{_where(source, line, col)}: value is empty")
    if row["visual"] == "positive":
        for col in POSITIVE_NEEDS:
            if row[col] is None:
                raise InputError(f"{_where(source, line, col)}: missing for a visually positive scan")
    return row


def cohort_from_values(columns: Iterable[str], rows: Iterable[tuple[int, Mapping[str, object]]], *,
                       source: str) -> Cohort:
    """Validate rows of values into a :class:`Cohort`.

    Parameters
    ----------
    columns : iterable of str
        Column names (surrounding spaces ignored, matched case-insensitively).
    rows : iterable of (line, mapping)
        Each row with its line (or row) number, for messages; values are
        text as in a CSV, or already typed: numbers (kept exactly),
        :class:`datetime.date`, ``None`` for missing.
    source : str
        File name or store, used in messages.

    Raises
    ------
    InputError
        As :func:`parse_cohort_rows`.
    """
    columns = [c.strip().lower() for c in columns]
    _check_header(columns, source)
    numeric = (set(NUMERIC_COLUMNS) | {c for cols in time_point_columns(columns).values() for c in cols.values()}
               | set(followup_columns_of(columns)))
    seen_ids: dict[str, int] = {}
    parsed: list[dict] = []
    for line, cells in rows:
        cells = {str(k).strip().lower(): v for k, v in cells.items()}
        row = _parse_row(cells, columns, numeric, source=source, line=line)
        pid = row["patient_id"]
        if pid in seen_ids:  # the identifier itself is not printed
            raise InputError(f"{_where(source, line, 'patient_id')}: repeats the patient_id of line {seen_ids[pid]}")
        seen_ids[pid] = line
        parsed.append(row)
    if not parsed:
        raise InputError(f"{source}: no data rows")
    return Cohort(source=source, columns=tuple(columns), rows=tuple(parsed))


def parse_cohort_rows(header: list[str], rows: Iterable[tuple[int, list[str]]], *, source: str) -> Cohort:
    """Validate rows of strings (a CSV's) into a :class:`Cohort`.

    Parameters
    ----------
    header : list of str
        Column names (surrounding spaces ignored, matched case-insensitively).
    rows : iterable of (line, cells)
        The data rows with their line numbers in the file.
    source : str
        File name, used in messages.

    Raises
    ------
    InputError
        A required column is missing, a row has the wrong number of cells,
        a value is not a number / not one of the allowed choices, a required
        value is empty, a positive scan lacks SUVmax/TBR, or a patient_id
        repeats. The message names ``source``, the line and the column.
    """
    columns = [h.strip().lower() for h in header]
    _check_header(columns, source)

    def mapped() -> Iterable[tuple[int, dict[str, str]]]:
        for line, cells in rows:
            if len(cells) == 1 and cells[0].strip() == "":
                continue  # blank line
            if len(cells) != len(columns):
                raise InputError(f"{source}: line {line} has {len(cells)} cells, the header has {len(columns)}")
            yield line, dict(zip(columns, cells))

    return cohort_from_values(columns, mapped(), source=source)
