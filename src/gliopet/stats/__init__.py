"""Statistics of a semi-quantitative PET cohort: Table 1, Table 2, the tests.

Pure functions on plain values (numpy / scipy / statsmodels); no file access
(a cohort is read from a CSV or the store by :mod:`gliopet.cohort`).

* :mod:`gliopet.stats.cohort`: the CSV columns (documented there), validation.
* :mod:`gliopet.stats.analysis`: :func:`analyse_cohort`, the ``stats --json`` object.
* Tests and intervals: :func:`mann_whitney_u` (exact permutation p with ties,
  SPSS's asymptotic p), :func:`clopper_pearson`, :func:`cohens_kappa`,
  :func:`roc_auc_delong`, :func:`paired_wilcoxon`.

Column names used beyond DESIGN.md's clinical CSV: ``visual_reader1``,
``visual_reader2`` (per-reader positive|negative, for Cohen's kappa);
``<measure>_<minutes>min`` for other time points, e.g. ``suvmax_30min`` and
``suvmax_60min`` (the plain ``suvmax`` counts as the 60 min value unless a
``suvmax_60min`` column exists); ``snapshot`` (PNG image panel path); ``tumour_type`` (overrides, where filled in, the
Table 1 type derived from ``diagnosis``).
"""

from ._descriptive import count_percent, format_number, format_p, median_range, tumour_type
from ._format import format_stats
from ._inference import (EXACT_MAX_N, KappaResult, MannWhitneyResult, PairedResult, RocResult, clopper_pearson,
                         cohens_kappa, mann_whitney_exact_distribution, mann_whitney_u, paired_wilcoxon,
                         roc_auc_delong)
from .analysis import ALPHA, STANDARD_TIME_MIN, VARIABLE_LABELS, analyse_cohort
from .cohort import GRADES, REQUIRED_COLUMNS, Cohort, cohort_from_values, parse_cohort_rows, time_point_columns, followup_columns_of

__all__ = [
    "ALPHA", "EXACT_MAX_N", "GRADES", "REQUIRED_COLUMNS", "STANDARD_TIME_MIN", "VARIABLE_LABELS",
    "Cohort", "KappaResult", "MannWhitneyResult", "PairedResult", "RocResult",
    "analyse_cohort", "clopper_pearson", "cohens_kappa", "count_percent", "format_number", "format_p",
    "format_stats", "mann_whitney_exact_distribution", "mann_whitney_u", "median_range", "paired_wilcoxon",
    "cohort_from_values", "parse_cohort_rows", "roc_auc_delong", "time_point_columns", "followup_columns_of",
    "tumour_type",
]

