"""The store as the analysis table that :mod:`gliopet.stats` and :mod:`gliopet.report` read."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ._engine import normalise_url, open_store, safe_url
from ._ops import analysis_rows

__all__ = ["cohort_from_store", "write_analysis_csv", "write_report_from_store"]


def _rows(db: str) -> tuple[str, list[str], list[dict[str, str]]]:
    engine = open_store(db)
    try:
        columns, rows = analysis_rows(engine)
    finally:
        engine.dispose()
    source = safe_url(normalise_url(db))
    for number, row in enumerate(rows, start=1):
        if not row.get("visual"):
            raise InputError(f"{source}: patient row {number} has no visual read (a 'visual' column in the "
                             "clinical CSV, or the readers' reads); the statistics need it")
    return source, columns, rows


def cohort_from_store(db: str):
    """The store's analysis table as a validated :class:`gliopet.stats.Cohort`.

    Raises
    ------
    InputError
        The store cannot be opened, holds no patient, a patient has no visual
        read, or a visually positive patient has no measurement.
    """
    from ..stats.cohort import parse_cohort_rows

    source, columns, rows = _rows(db)
    numbered = [(i + 2, [row.get(c, "") for c in columns]) for i, row in enumerate(rows)]
    return parse_cohort_rows(columns, numbered, source=source)


def write_analysis_csv(db: str, path: str | Path) -> Path:
    """Write the store's analysis table as CSV (temp name, then rename)."""
    _, columns, rows = _rows(db)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
    return path


def write_report_from_store(db: str, out_path: str | Path, *, figures_dir: str | Path | None = None,
                            injection_checks: Sequence[dict] = ()) -> Path:
    """The HTML/PDF report of :func:`gliopet.report.write_report` from the store's analysis table."""
    from ..report import write_report

    with tempfile.TemporaryDirectory(prefix="gliopet-report-") as tmp:
        csv_path = write_analysis_csv(db, Path(tmp) / "analysis.csv")
        return write_report(csv_path, out_path, figures_dir=figures_dir, injection_checks=injection_checks)
