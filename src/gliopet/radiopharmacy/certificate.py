"""The release certificate of a batch: HTML (jinja2) and PDF (WeasyPrint).

The certificate lists every test with its result, specification and pass or
fail, states the decision, and for a batch that is not released lists why. It
is written atomically: to a temporary file in the target folder, then renamed,
so a failure never leaves half a certificate behind.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import jinja2

from .._version import __version__
from ..atomic import write_bytes
from ..errors import InputError
from .release import ReleaseDecision

logger = logging.getLogger(__name__)

__all__ = ["render_certificate_html", "certificate_pdf_bytes", "write_certificate",
           "format_result"]

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Release certificate {{ d.tracer }} batch {{ d.batch_id }}</title>
<style>
  @page { size: A4; margin: 18mm 15mm; }
  body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 10pt; color: #111; }
  h1 { font-size: 15pt; margin: 0 0 4pt 0; }
  table { border-collapse: collapse; width: 100%; margin: 6pt 0 10pt 0; }
  th, td { border: 0.6pt solid #999; padding: 3pt 5pt; text-align: left; vertical-align: top; }
  th { background: #eee; }
  td.num { text-align: right; white-space: nowrap; }
  .decision { font-size: 13pt; font-weight: bold; padding: 6pt; margin: 8pt 0;
              border: 1.5pt solid; }
  .released { color: #065f1d; border-color: #065f1d; }
  .rejected { color: #8b0000; border-color: #8b0000; }
  .pass { color: #065f1d; font-weight: bold; }
  .fail { color: #8b0000; font-weight: bold; }
  .muted { color: #555; font-size: 8.5pt; }
  .sign td { height: 28pt; }
</style>
</head>
<body>
<h1>Release certificate: {{ d.tracer }}</h1>
<table>
  <tr><th>Batch</th><td>{{ d.batch_id }}</td><th>Specification</th><td>{{ d.specification }}</td></tr>
  <tr><th>End of synthesis</th><td>{{ d.synthesis_end }}</td>
      <th>Activity at end of synthesis</th>
      <td>{% if d.activity.at_end_of_synthesis_mbq is defined %}{{ "%.1f"|format(d.activity.at_end_of_synthesis_mbq) }} MBq{% if d.activity.volume_ml is defined %} in {{ "%g"|format(d.activity.volume_ml) }} mL{% endif %}{% else %}not recorded{% endif %}</td></tr>
</table>
<div class="decision {{ 'released' if d.released else 'rejected' }}">
  Decision: {{ "RELEASED" if d.released else "NOT RELEASED" }}
</div>
{% if d.reasons %}
<p><strong>Reasons:</strong></p>
<ul>
{% for reason in d.reasons %}  <li>{{ reason }}</li>
{% endfor %}</ul>
{% endif %}
<table>
  <tr><th>Test</th><th>Result</th><th>Specification</th><th>Outcome</th></tr>
{% for t in d.tests %}  <tr>
    <td>{{ t.title }}{% if not t.mandatory %} <span class="muted">(optional)</span>{% endif %}</td>
    <td class="num">{{ result(t) }}</td>
    <td>{{ t.specification }}</td>
    <td>{% if t.passed is none %}not done{% elif t.passed %}<span class="pass">pass</span>{% else %}<span class="fail">FAIL</span>{% endif %}</td>
  </tr>
{% endfor %}</table>
{% if d.injections %}
<p><strong>Injections from this batch</strong></p>
<table>
  <tr><th>Subject</th><th>Injection time</th><th>Injected activity</th></tr>
{% for i in d.injections %}  <tr><td>{{ i.subject }}</td><td>{{ i.injection_time }}</td><td class="num">{{ "%.1f"|format(i.injected_mbq) }} MBq</td></tr>
{% endfor %}</table>
{% endif %}
<table class="sign">
  <tr><th style="width: 35%">Qualified person (name)</th><td></td></tr>
  <tr><th>Signature and date</th><td></td></tr>
</table>
<p class="muted">Computed by gliopet {{ version }} from the raw data of {{ d.record_file }}
(specification file {{ d.specification_file }}){% if issued_at %}; issued {{ issued_at }}{% endif %}.
Results are compared unrounded with their limits.</p>
</body>
</html>
"""


def format_result(test) -> str:
    """A test's result as shown on the certificate (``'98.73 %'``, ``'67.6 ± 0.4 min'``)."""
    if test.result is None:
        return "—"
    if isinstance(test.result, bool):
        return "intact" if test.result else "not intact"
    unit = f" {test.unit}" if test.unit else ""
    if test.method == "half_life" and test.details.get("uncertainty_min") is not None:
        return f"{test.result:.2f} ± {test.details['uncertainty_min']:.2f}{unit}"
    if test.method == "radionuclide_purity":
        return f"{test.result:.4f}{unit}"
    if test.method in {"radio_hplc", "itlc", "stability_hplc"}:
        return f"{test.result:.2f}{unit}"
    return f"{test.result:.4g}{unit}"


def render_certificate_html(decision: ReleaseDecision, *, issued_at: datetime | None = None
                            ) -> str:
    """The certificate as an HTML document (a string; values HTML-escaped)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    template = env.from_string(_TEMPLATE)
    return template.render(d=decision, result=format_result, version=__version__,
                           issued_at=issued_at.isoformat(timespec="seconds") if issued_at else "")


def certificate_pdf_bytes(html: str) -> bytes:
    """Render certificate HTML to PDF bytes with WeasyPrint."""
    import weasyprint

    return weasyprint.HTML(string=html).write_pdf()


def _write_atomic(path: Path, data: bytes) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"{path}: folder {folder} does not exist")
    write_bytes(path, data, sync=True)  # readable by others: a certificate is meant to be read


def write_certificate(decision: ReleaseDecision, path: str | Path, *,
                      issued_at: datetime | None = None) -> Path:
    """Write the certificate as HTML or PDF, chosen by the suffix of ``path``.

    Raises
    ------
    InputError
        The suffix is neither ``.html`` nor ``.pdf``, or the folder does not exist.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".html", ".htm", ".pdf"}:
        raise InputError(f"{path}: certificate must end in .html or .pdf")
    html = render_certificate_html(decision, issued_at=issued_at)
    data = certificate_pdf_bytes(html) if suffix == ".pdf" else html.encode("utf-8")
    _write_atomic(path, data)
    logger.info("wrote %s", path)
    return path
