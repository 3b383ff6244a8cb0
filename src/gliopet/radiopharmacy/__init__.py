"""Radiopharmacy: batch records, quality-control computations, release, injections.

``gliopet qc BATCH`` reads a batch record (:func:`load_batch_record`), computes
every test of its tracer's specification from the raw data
(:func:`evaluate_batch`) and writes a release certificate
(:func:`write_certificate`). Specifications are data files under ``specs/``.
:func:`compare_injected_activity` links a patient's recorded injection to the
dose in the PET DICOM.
"""

from __future__ import annotations

from pathlib import Path

from .certificate import format_result, render_certificate_html, write_certificate
from .chromatography import (PurityResult, analyse_trace, radiochemical_purity_hplc,
                             radiochemical_purity_itlc)
from .decay import (GA68_HALF_LIFE_MIN, GA68_HALF_LIFE_S, activity_at_bq, activity_to_bq,
                    decay_activity_bq, decay_factor, injected_activity_bq)
from .dosecheck import (INJECTED_ACTIVITY_TOLERANCE, InjectedActivityComparison,
                        compare_injected_activity)
from .halflife import HalfLifeFit, fit_half_life, half_life_within
from .records import (BatchRecord, Specification, load_batch_record, load_specification,
                      shipped_specifications)
from .release import ReleaseDecision, TestOutcome, check_limits, evaluate_batch, format_limits

__all__ = [
    "GA68_HALF_LIFE_MIN",
    "GA68_HALF_LIFE_S",
    "INJECTED_ACTIVITY_TOLERANCE",
    "BatchRecord",
    "HalfLifeFit",
    "InjectedActivityComparison",
    "PurityResult",
    "ReleaseDecision",
    "Specification",
    "TestOutcome",
    "activity_at_bq",
    "activity_to_bq",
    "analyse_trace",
    "check_limits",
    "compare_injected_activity",
    "decay_activity_bq",
    "decay_factor",
    "evaluate_batch",
    "fit_half_life",
    "format_decision",
    "format_limits",
    "format_result",
    "half_life_within",
    "injected_activity_bq",
    "load_batch_record",
    "load_specification",
    "radiochemical_purity_hplc",
    "radiochemical_purity_itlc",
    "render_certificate_html",
    "run_release_check",
    "shipped_specifications",
    "write_certificate",
]


def run_release_check(path: str | Path) -> ReleaseDecision:
    """Load the batch record at ``path`` and evaluate it (what ``gliopet qc`` does)."""
    return evaluate_batch(load_batch_record(path))


def format_decision(decision: ReleaseDecision) -> str:
    """Plain-text summary of a decision for the terminal."""
    lines = [f"{decision.tracer} batch {decision.batch_id} (specification {decision.specification})"]
    width = max(len(t.title) for t in decision.tests)
    for t in decision.tests:
        outcome = "not done" if t.passed is None else ("pass" if t.passed else "FAIL")
        lines.append(f"  {t.title:<{width}}  {format_result(t):>18}  {t.specification:<24} "
                     f"{outcome}")
    for injection in decision.injections:
        lines.append(f"  injection {injection['subject']} at {injection['injection_time']}: "
                     f"{injection['injected_mbq']:.1f} MBq")
    lines.append("RELEASED" if decision.released else "NOT RELEASED")
    lines.extend(f"  - {reason}" for reason in decision.reasons)
    return "\n".join(lines)
