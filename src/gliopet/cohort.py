"""A cohort for the statistics and the report: from an analysis CSV or from the store, typed.

Both sources give a :class:`CohortSource`: the validated
:class:`~gliopet.stats.Cohort` (numbers as floats, straight from the store's
columns or parsed once from the CSV's text), the measurement parameters that
were recorded with it, and its provenance. ``gliopet stats`` and ``gliopet
report`` (and so the demo) read cohorts only through here.

Paths in the ``snapshot`` column are kept as :mod:`gliopet.paths` says
(absolute, or relative to the file that keeps them) and are resolved here to
absolute paths, the same way for a CSV and for the store.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .atomic import replacing
from .errors import InputError
from .io.tables import read_numbered_csv
from .jsonable import json_default
from .paths import keep_path, resolve_kept_path
from .stats import Cohort, cohort_from_values, parse_cohort_rows

logger = logging.getLogger(__name__)

__all__ = ["CohortSource", "read_cohort_csv", "load_cohort_csv", "load_cohort_store", "write_cohort_csv"]


@dataclass(frozen=True)
class CohortSource:
    """A validated cohort with what is known of how it was measured.

    Attributes
    ----------
    cohort : Cohort
        The rows; ``snapshot`` values are absolute paths.
    parameters : dict
        The measurement parameters recorded with it (the store's provenance);
        empty for a CSV, which does not record them.
    provenance : dict
        ``input_name`` (file name or store URL without password),
        ``input_sha256`` (of the file, or of the store's table as JSON),
        ``input_kind`` (csv|store), and for the store ``measured_with`` (the
        gliopet versions) and ``parameter_sets`` (how many distinct ones).
    curves : tuple of dict
        The time-activity curves of a dynamic cohort (the store's
        :attr:`~gliopet.store.AnalysisTable.curves`); empty for a CSV, whose
        cells hold only the curves' metrics (``tac_*`` columns).
    """

    cohort: Cohort
    parameters: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    curves: tuple[dict[str, Any], ...] = ()


def _with_resolved_snapshots(cohort: Cohort, base_dir: Path | None) -> Cohort:
    if "snapshot" not in cohort.columns:
        return cohort
    rows = tuple({**row, "snapshot": str(resolve_kept_path(row["snapshot"], base_dir)) if row.get("snapshot")
                  else ""} for row in cohort.rows)
    return dataclasses.replace(cohort, rows=rows)


def read_cohort_csv(path: str | Path) -> Cohort:
    """Read and validate a cohort CSV (UTF-8, optional BOM, comma-separated).

    ``snapshot`` paths are resolved against the CSV's folder.

    Raises
    ------
    InputError
        The file cannot be read or any check of :func:`gliopet.stats.parse_cohort_rows` fails.
    """
    source, header, numbered = read_numbered_csv(path, what="a cohort CSV")
    logger.info("read %d rows from %s", len(numbered), source)
    cohort = parse_cohort_rows(header, numbered, source=source)
    return _with_resolved_snapshots(cohort, Path(os.path.abspath(path)).parent)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_cohort_csv(path: str | Path) -> CohortSource:
    """A cohort CSV with its provenance (the file's name, size and SHA-256)."""
    path = Path(path)
    cohort = read_cohort_csv(path)
    return CohortSource(cohort, {}, {"input_kind": "csv", "input_name": path.name,
                                     "input_sha256": _file_sha256(path), "input_bytes": path.stat().st_size})


def load_cohort_store(db: str | None) -> CohortSource:
    """The store's analysis table as a validated cohort, with its recorded parameters.

    Raises
    ------
    InputError
        The store cannot be opened, holds no patient, a patient has no visual
        read, or a visually positive patient has no measurement.
    """
    from .store import read_analysis_table

    table = read_analysis_table(db)
    for number, row in enumerate(table.rows, start=1):
        if not row.get("visual"):
            raise InputError(f"{table.source}: patient row {number} has no visual read (a 'visual' column in the "
                             "clinical CSV, or the readers' reads); the statistics need it")
    cohort = cohort_from_values(table.columns, enumerate(table.rows, start=1), source=table.source)
    content = json.dumps([table.columns, table.rows], sort_keys=True, default=json_default).encode()
    provenance = {"input_kind": "store", "input_name": table.source,
                  "input_sha256": hashlib.sha256(content).hexdigest(), "measured_with": list(table.versions),
                  "parameter_sets": len(table.parameters)}
    if len(table.parameters) > 1:
        logger.warning("%s: studies were measured with %d different parameter sets; the report states the first",
                       table.source, len(table.parameters))
    parameters = dict(table.parameters[0]) if table.parameters else {}
    if table.versions:
        parameters["software_version"] = ", ".join(table.versions)
    return CohortSource(cohort, parameters, provenance, curves=table.curves)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        # every digit (the CSV is for machines as much as for people); whole numbers (an age) without ".0"
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_cohort_csv(source: CohortSource, path: str | Path) -> Path:
    """Write a cohort as an analysis CSV (temp name, then rename); ``snapshot`` kept relative to the CSV.

    Reading it back with :func:`read_cohort_csv` gives the same values: floats
    are written with every digit.
    """
    path = Path(path)
    base = Path(os.path.abspath(path)).parent
    cohort = source.cohort
    with replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(cohort.columns)
        for row in cohort.rows:
            cells = [_cell(row.get(c)) for c in cohort.columns]
            if "snapshot" in cohort.columns and row.get("snapshot"):
                cells[cohort.columns.index("snapshot")] = keep_path(row["snapshot"], base)
            writer.writerow(cells)
    return path
