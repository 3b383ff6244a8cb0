"""The cohort report: Table 1, Table 2, the tests, the figures, methods and provenance,
as one self-contained HTML file or a PDF (weasyprint).

Entry point: :func:`write_report` (``gliopet report CSV --out FILE.html|FILE.pdf``).
Figures: :mod:`gliopet.report.figures`.
"""

from ._build import (MAX_PANELS, MAX_SNAPSHOT_BYTES, Panels, RenderedFigure, ReportParameters, build_figures,
                     load_snapshots, methods_paragraph, render_html, write_report)

__all__ = ["MAX_PANELS", "MAX_SNAPSHOT_BYTES", "Panels", "RenderedFigure", "ReportParameters", "build_figures",
           "load_snapshots", "methods_paragraph", "render_html", "write_report"]
