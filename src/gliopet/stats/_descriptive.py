"""Descriptive statistics as in the study's Table 1: n (%) and median (range)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["median_range", "count_percent", "tumour_type", "TUMOUR_TYPES", "format_number", "format_p"]

#: Tumour types of the study's Table 1, in its order, with the words that
#: identify them in a histology text and the WHO grade the type implies
#: (``None``: depends on "anaplastic").
TUMOUR_TYPES: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("Glioblastoma (GBM)", ("glioblastoma", "gbm"), "IV"),
    ("Astrocytoma", ("astrocytoma",), None),
    ("Oligodendroglioma", ("oligodendroglioma", "oligoglioma"), None),
    ("Gliosarcoma", ("gliosarcoma",), "IV"),
)
UNCLASSIFIED = "Unclassified"


def median_range(values: Sequence[float | None]) -> dict:
    """Median and range of the non-missing values.

    Returns
    -------
    dict
        ``n`` (values used), ``median``, ``range`` ``[min, max]``; ``median``
        and ``range`` are ``None`` when no value is present.

    Examples
    --------
    >>> median_range([0.49, 1.34, 1.68, 2.05, None])
    {'n': 4, 'median': 1.51, 'range': [0.49, 2.05]}
    """
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0:
        return {"n": 0, "median": None, "range": None}
    return {"n": int(arr.size), "median": float(np.median(arr)), "range": [float(arr.min()), float(arr.max())]}


def count_percent(k: int, n: int) -> dict:
    """``{'n': k, 'of': n, 'percent': 100 k / n}`` (percent ``None`` when n = 0)."""
    return {"n": int(k), "of": int(n), "percent": (100.0 * k / n) if n else None}


def _type_of_part(part: str) -> tuple[str, str | None] | None:
    words = part.lower()
    for name, keys, grade in TUMOUR_TYPES:
        if any(re.search(rf"\b{k}\b", words) for k in keys):
            if grade is None and "anaplastic" in words:
                grade = "III"
            return name, grade
    return None


def tumour_type(diagnosis: str, who_grade: str) -> str:
    """Tumour type of the study's Table 1 from a histology text.

    A diagnosis naming two types ("Anaplastic Oligodendroglioma or
    Glioblastoma") is resolved by the WHO grade given for the patient: the
    type whose grade matches (GBM and gliosarcoma are grade IV, "anaplastic"
    astrocytoma and oligodendroglioma grade III). Text naming no known type
    is returned as written; an unresolvable pair gives "Unclassified".

    Examples
    --------
    >>> tumour_type("Anaplastic Oligodendroglioma or Glioblastoma", "III")
    'Oligodendroglioma'
    >>> tumour_type("Anaplastic Oligodendroglioma or Glioblastoma", "IV")
    'Glioblastoma (GBM)'
    """
    parts = [p for p in re.split(r"\bor\b|/", diagnosis, flags=re.IGNORECASE) if p.strip()]
    found = [t for t in (_type_of_part(p) for p in parts) if t is not None]
    names = list(dict.fromkeys(name for name, _ in found))
    if not names:
        return diagnosis.strip() or UNCLASSIFIED
    if len(names) == 1:
        return names[0]
    matching = list(dict.fromkeys(name for name, grade in found if grade == who_grade))
    return matching[0] if len(matching) == 1 else UNCLASSIFIED


def format_number(value: float | None, *, decimals: int = 3) -> str:
    """A measured value as a reader writes it: up to ``decimals`` places, no trailing zeros.

    Examples
    --------
    >>> format_number(20.0), format_number(22.375), format_number(2.5), format_number(None)
    ('20', '22.375', '2.5', '-')
    """
    if value is None:
        return "-"
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def format_p(p: float | None) -> str:
    """A p-value with three significant digits (``< 0.001`` below that).

    Examples
    --------
    >>> format_p(0.026951566951566953), format_p(0.9214), format_p(0.0000123)
    ('0.0270', '0.921', '< 0.001')
    """
    if p is None:
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"{p:#.3g}"
