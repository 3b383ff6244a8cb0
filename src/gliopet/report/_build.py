"""Assemble the report: parameters, methods text, figures, image panels, HTML, PDF.

:func:`write_report` is the one entry point with side effects (reads the
snapshot PNGs, reads the clock, writes the output atomically); it takes a
:class:`gliopet.cohort.CohortSource` (from a CSV or the store) or a CSV's path.
The rest is pure: :func:`methods_paragraph`, :func:`build_figures`,
:func:`render_html`.
"""

from __future__ import annotations

import base64
import logging
import platform
from collections.abc import Sequence
import dataclasses
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2

from .._version import __version__
from ..atomic import write_bytes
from ..errors import InputError
from ..cohort import CohortSource, load_cohort_csv
from ..stats import (ALPHA, GRADES, STANDARD_TIME_MIN, VARIABLE_LABELS, Cohort, analyse_cohort, format_number,
                     format_p)
from ..stats._format import (format_agreement, format_dynamic, format_followup, format_kappa, format_table1_cell,
                             format_value, table2_header)
from ..stats.analysis import SHORT_LABELS
from . import figures as fg

logger = logging.getLogger(__name__)

__all__ = ["ReportParameters", "write_report", "render_html", "methods_paragraph", "build_figures",
           "load_snapshots", "MAX_SNAPSHOT_BYTES", "MAX_PANELS"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Largest snapshot PNG embedded (bytes).
MAX_SNAPSHOT_BYTES = 20 * 1024 * 1024
#: Most image panels embedded in one report (the founding study's 29 patients and more).
MAX_PANELS = 100
#: File mode of written reports and figures (mkstemp's 0600 is too strict to share).
OUTPUT_MODE = 0o644
SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf"}


#: The methods text's name for each ``--suv-type``.
SUV_TYPE_LABELS = {"bw": "SUVbw", "lbm_janmahasatian": "SUL (Janmahasatian lean body mass)",
                   "bsa": "SUVbsa", "ibw": "SUVibw"}
#: The methods text for each background placement (``--background``).
BACKGROUND_METHOD_TEXT = {
    "auto": ("in the hemisphere contralateral to the lesion, on the axial plane at the level of the centrum "
             "semiovale, inside white matter, placed automatically (brain mask from the CT, mid-sagittal plane, "
             "affine fit to the MNI152 template)"),
    "point": "placed by the reader in the contralateral centrum semiovale",
    "crescent": ("a crescent-shaped region along the cortex of the contralateral hemisphere, at the lesion's "
                 "level, clear of the midline and of the lesion (the tracer preset's background)"),
}
#: The ``--background`` methods that are a region, not a circle.
BACKGROUND_REGIONS = frozenset({"crescent"})


@dataclass(frozen=True, slots=True)
class ReportParameters:
    """The measurement parameters the methods paragraph reports.

    Defaults are DESIGN.md's (the study's method); a cohort from the store
    supplies the values recorded with its measurements
    (:meth:`from_recorded`).

    Attributes
    ----------
    lesion_roi_diameter_mm : float
        Diameter of the circular lesion ROI (study: 1 cm).
    background_roi_diameter_mm : float
        Diameter of the circular background ROI (study: 2.5 cm).
    suv_type : str
        SUV normalisation (SUVbw, SUL, SUVbsa, SUVibw).
    background_method : str
        Where and how the background ROI was placed.
    uptake_time_min : int
        Minutes p.i. of the main scan (study: 60).
    tracer : str
        Radiopharmaceutical, or "" when not stated.
    software_version : str
        gliopet version that measured the values.
    title : str
        Report title.
    reads_note : str
        A sentence on where the visual reads came from (the demo says they are simulated).
    static_window_min : (float, float) or None
        A dynamic series' frames summed for the static measures (minutes p.i.), or None.
    dynamic : dict or None
        The time-activity curve settings recorded with the measurements (the tracer preset's
        ``dynamic``: ``tac_isocontour``, ``slope_window_min``, ``pattern_plateau_relative_slope_per_h``).
    """

    lesion_roi_diameter_mm: float = 10.0
    background_roi_diameter_mm: float = 25.0
    suv_type: str = "SUVbw"
    background_method: str = ("in the hemisphere contralateral to the lesion, on an axial slice at the level of "
                              "the centrum semiovale, inside white matter")
    uptake_time_min: int = STANDARD_TIME_MIN
    tracer: str = ""
    software_version: str = __version__
    title: str = "Semi-quantitative PET cohort report"
    #: Said of the visual reads in the methods (e.g. that they were simulated), or "".
    reads_note: str = ""
    static_window_min: tuple[float, float] | None = None
    dynamic: dict | None = None
    #: True when the background is a region (``background_method`` names it), not a circle of
    #: ``background_roi_diameter_mm``.
    background_region: bool = False

    @classmethod
    def from_recorded(cls, recorded: dict) -> ReportParameters:
        """The parameters the store recorded with the measurements (DESIGN.md defaults where absent)."""
        base = cls()
        values: dict = {}
        if "lesion_roi_diameter_mm" in recorded:
            values["lesion_roi_diameter_mm"] = float(recorded["lesion_roi_diameter_mm"])
        if "background_roi_diameter_mm" in recorded:
            values["background_roi_diameter_mm"] = float(recorded["background_roi_diameter_mm"])
        if "suv_type" in recorded:
            values["suv_type"] = SUV_TYPE_LABELS.get(recorded["suv_type"], str(recorded["suv_type"]))
        if "background" in recorded:
            values["background_method"] = BACKGROUND_METHOD_TEXT.get(recorded["background"], base.background_method)
            values["background_region"] = recorded["background"] in BACKGROUND_REGIONS
        if recorded.get("primary_time_min") is not None:
            values["uptake_time_min"] = int(round(float(recorded["primary_time_min"])))
        if recorded.get("software_version"):
            values["software_version"] = str(recorded["software_version"])
        if recorded.get("tracer"):
            from ..study import load_tracer_preset

            values["tracer"] = load_tracer_preset(recorded["tracer"]).radiopharmaceutical.split(" (")[0]
        if recorded.get("dynamic"):
            values["dynamic"] = dict(recorded["dynamic"])
            if recorded.get("static_window_min"):
                values["static_window_min"] = tuple(float(v) for v in recorded["static_window_min"])
        return dataclasses.replace(base, **values)


def methods_paragraph(params: ReportParameters, result: dict) -> str:
    """The statistical and measurement methods, written from the parameters and tests used."""
    tracer = f"{params.tracer} " if params.tracer else ""
    readers = result.get("kappa")
    dynamic = params.dynamic if result.get("dynamic") else None
    if dynamic and params.static_window_min:
        start, end = params.static_window_min
        timing = (f"the frames of {format_number(start)}\u2013{format_number(end)} min p.i. summed, "
                  "frame-duration weighted")
    else:
        timing = f"{params.uptake_time_min} min p.i."
    parts = [
        f"Lesion uptake on the {tracer}PET images ({timing}) was measured as "
        f"SUVmax ({params.suv_type}): on each axial slice of the lesion volume of interest a circular ROI of "
        f"{format_number(params.lesion_roi_diameter_mm)} mm diameter was centred where it covers the hottest "
        f"voxel, and the highest voxel value in it is reported. Background uptake was measured "
        + (f"over {params.background_method}." if params.background_region else
           f"in a circular ROI of {format_number(params.background_roi_diameter_mm)} mm diameter "
           f"{params.background_method}.")
        + " The tumour-to-background ratio (TBR) is the lesion SUVmax divided by the background SUVmax.",
        "Scans were scored visually as positive or negative"
        + (f" by two readers ({readers['readers'][0]}, {readers['readers'][1]}); agreement is given as Cohen's "
           "kappa with its large-sample 95 % CI, and as percent agreement, prevalence- and bias-adjusted kappa "
           "(PABAK) and Gwet's AC1 with 95 % CIs (Gwet 2014), which stay interpretable when nearly all scans "
           "are of one class." if readers else ".") + (f" {params.reads_note}" if params.reads_note else ""),
        "Categorical variables are given as n (%), continuous ones as median (range). "
        + (f"Measured values are summarised over the {result['detection_rate']['k']} visually positive scans; "
           "visually negative scans have no measurable lesion and were excluded from these statistics. "
           if result["subset"] == "visually positive scans" else "")
        + "WHO grades were compared with the Mann-Whitney U test; the exact permutation p-value (two-sided, "
          "exact also with tied values) and the asymptotic p-value (normal approximation with tie correction, "
          "no continuity correction, as SPSS prints it) are both given. The detection rate is given with its "
          "Clopper-Pearson 95 % CI.",
    ]
    if result.get("roc"):
        parts.append("The discrimination of WHO grade by SUVmax and TBR is given as ROC AUC with DeLong's "
                     "95 % CI.")
    if dynamic:
        parts.append(_dynamic_methods(dynamic))
    if result.get("paired"):
        tps = sorted({tuple(p["time_points_min"]) for p in result["paired"]})
        tp_text = ", ".join(f"{a} vs {b} min" for a, b in tps)
        parts.append(f"Time points ({tp_text} p.i.) were compared with the Wilcoxon signed-rank test and the "
                     "percent change 100 (late - early) / early.")
    parts.append(f"p < {format_number(result.get('alpha', ALPHA))} was considered significant. Measurements "
                 f"with gliopet {params.software_version}; statistics and this report with gliopet {__version__} "
                 f"(Python {platform.python_version()}, SciPy {_version_of('scipy')}, statsmodels "
                 f"{_version_of('statsmodels')}, matplotlib {_version_of('matplotlib')}).")
    return " ".join(parts)


def _dynamic_methods(dynamic: dict) -> str:
    """The time-activity curve methods, from the recorded settings."""
    window = dynamic.get("slope_window_min") or [None, None]
    iso = dynamic.get("tac_isocontour")
    plateau = dynamic.get("pattern_plateau_relative_slope_per_h")
    return (f"On the dynamic series, the lesion's time-activity curve is the mean SUV per frame in the voxels at "
            f">= {format_number(100 * iso) if iso else '?'} % of the summed image's maximum connected to it; the "
            "background's is the background ROI's mean on every frame. Time to peak is the mid-time of the frame "
            "with the highest lesion mean; the late slope (SUV/h) is the least-squares line through the frames "
            f"lying within {format_number(window[0])}\u2013{format_number(window[1])} min p.i.; a curve is a "
            f"plateau when |slope| divided by the line's value at the window's middle is below "
            f"{format_number(plateau) if plateau is not None else '?'} per hour, else increasing or decreasing. "
            "Time to peak and slope were compared between WHO grades with the Mann-Whitney U test.")


def _version_of(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:  # pragma: no cover - all are dependencies
        return "unknown"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


@dataclass(frozen=True, slots=True)
class RenderedFigure:
    """One figure as SVG and PNG bytes, with its caption."""

    key: str
    title: str
    caption: str
    svg: bytes
    png: bytes | None = None

    @property
    def svg_uri(self) -> str:
        return _data_uri(self.svg, "image/svg+xml")

    def uri(self, image_format: str) -> str:
        """Data URI of the SVG, or of the PNG (for the PDF: weasyprint draws PNG far faster)."""
        if image_format == "png" and self.png is not None:
            return _data_uri(self.png, "image/png")
        return self.svg_uri


def build_figures(cohort: Cohort, result: dict, *, positive_only: bool = True, png: bool = False,
                  curves: Sequence[dict] = (), dynamic: dict | None = None) -> list[RenderedFigure]:
    """The report's figures from the cohort and its analysis (pure: bytes in memory).

    SVG always (it is what the report embeds); PNG too when ``png`` is true.
    ``curves`` (a dynamic cohort's time-activity curves, :attr:`gliopet.cohort.CohortSource.curves`)
    add the TAC figure; ``dynamic`` (the recorded preset's ``dynamic`` settings: ``tac_isocontour``,
    ``slope_window_min``) words its caption and shades the late-slope window.
    """
    def rendered(key: str, title: str, caption: str, fig) -> RenderedFigure:
        return RenderedFigure(key, title, caption, fg.figure_svg(fig), fg.figure_png(fig) if png else None)

    rows = [r for r in cohort.rows if r["visual"] == "positive" or not positive_only]
    out: list[RenderedFigure] = []
    subset = "visually positive scans" if positive_only else "all scans with a value"
    for var in ("suvmax", "tbr_max_to_bg_max"):
        groups = {g: [r[var] for r in rows if r["who_grade"] == g and r.get(var) is not None] for g in GRADES}
        groups = {g: v for g, v in groups.items() if v}
        if not groups:
            continue
        test = next((t for t in result["tests"] if t["variable"] == var and len(groups) == 2), None)
        label = SHORT_LABELS.get(var, VARIABLE_LABELS[var])
        fig = fg.grade_box_strip_figure(groups, label=label, p_exact=test and test["p_exact"],
                                        p_asymptotic=test and test["p_asymptotic"],
                                        log_scale=var.startswith("tbr"))
        summary = "; ".join(f"WHO {g}: {fg.describe_values(v)}, n = {len(v)}" for g, v in groups.items())
        caption = (f"{label} by WHO grade over the {subset}, median (range): {summary}. Boxes: quartiles; "
                   "points: patients.")
        out.append(rendered(f"box_{var}", f"{label} by WHO grade", caption, fig))
    tbr_rows = [r for r in rows if r.get("tbr_max_to_bg_max") is not None]
    if tbr_rows:
        fig = fg.tbr_waterfall_figure([r["patient_id"] for r in tbr_rows], [r["tbr_max_to_bg_max"] for r in tbr_rows],
                                      [r["who_grade"] for r in tbr_rows])
        out.append(rendered("waterfall_tbr", "TBR per patient",
                            f"TBR (lesion SUVmax / background SUVmax) of the {len(tbr_rows)} {subset}, "
                            "highest first, coloured by WHO grade.", fig))
    for p in result.get("paired", []):
        ca, cb = p["columns"]
        pairs = [(r[ca], r[cb]) for r in cohort.rows if r.get(ca) is not None and r.get(cb) is not None]
        label = SHORT_LABELS.get(p["variable"], p["label"])
        t0, t1 = p["time_points_min"]
        fig = fg.paired_time_points_figure([a for a, _ in pairs], [b for _, b in pairs], times_min=(t0, t1),
                                           label=label, p=p["p"], median_percent_change=p["median_percent_change"])
        out.append(rendered(f"paired_{p['variable']}_{t0}_{t1}", f"{label}, {t0} vs {t1} min",
                            f"{label} at {t0} and {t1} min p.i. in the {p['n']} patients scanned at both; "
                            f"median change {p['median_percent_change']:+.1f} %, Wilcoxon signed-rank "
                            f"p = {format_p(p['p'])}.", fig))
    shown = [c for c in curves if any(r["patient_id"] == c["patient_id"] for r in rows)]
    if shown:
        counts = "; ".join(f"WHO {g}: {sum(c['who_grade'] == g for c in shown)}" for g in GRADES
                           if any(c["who_grade"] == g for c in shown))
        settings = dynamic or {}
        window = settings.get("slope_window_min")
        voi = (f"the {format_number(100 * settings['tac_isocontour'])} % isocontour of the summed image's maximum"
               if settings.get("tac_isocontour") else "the lesion's TAC volume of interest")
        shaded = (f" Shaded: the late-slope window, {format_number(window[0])}\u2013{format_number(window[1])} "
                  "min p.i." if window else "")
        out.append(rendered("tac_lesion", "Lesion time-activity curves",
                            f"Mean SUV per frame in {voi}, for the {len(shown)} {subset} measured on a dynamic "
                            f"series ({counts}); thin lines: patients, thick: each grade's median; dashed: the "
                            f"background's median.{shaded}", fg.tac_figure(shown, slope_window_min=window)))
    return out


@dataclass(frozen=True, slots=True)
class Panels:
    """Image panels from ``measure``'s snapshots, and why any are absent."""

    images: tuple[dict, ...] = ()
    status: str = ""
    problems: tuple[str, ...] = field(default=())


def load_snapshots(cohort: Cohort) -> Panels:
    """Read the PNG snapshots named in the ``snapshot`` column (absolute paths, :mod:`gliopet.cohort`).

    A missing column, file or non-PNG file is not an error: the report says
    which panels are absent and why.
    """
    if "snapshot" not in cohort.columns:
        return Panels(status="No image panels: the input has no 'snapshot' column. They appear when "
                             "'gliopet measure' snapshots (PET/CT fusion with the ROIs drawn) are available.")
    images, problems = [], []
    named = [(i, r) for i, r in enumerate(cohort.rows) if r.get("snapshot")]
    for i, row in named:
        if len(images) >= MAX_PANELS:
            problems.append(f"{len(named) - MAX_PANELS} further snapshot(s) not shown (limit {MAX_PANELS}).")
            break
        path = Path(row["snapshot"])
        where = f"row {i + 1}: {path.name}"
        try:
            if path.stat().st_size > MAX_SNAPSHOT_BYTES:
                problems.append(f"{where} is larger than {MAX_SNAPSHOT_BYTES} bytes; not embedded.")
                continue
            data = path.read_bytes()
        except OSError:
            problems.append(f"{where} not found or not readable.")
            continue
        if not data.startswith(PNG_SIGNATURE):
            problems.append(f"{where} is not a PNG file.")
            continue
        caption = (f"Patient {row['patient_id']}: {row['diagnosis']}, WHO {row['who_grade']}, visual "
                   f"{row['visual']}, SUVmax {format_value(row.get('suvmax'))}, TBR "
                   f"{format_value(row.get('tbr_max_to_bg_max'))}.")
        images.append({"uri": _data_uri(data, "image/png"), "caption": caption})
    if not named:
        status = "No image panels: the 'snapshot' column is empty."
    else:
        status = f"{len(images)} of {len(named)} snapshot(s) embedded."
    return Panels(images=tuple(images), status=status, problems=tuple(problems))


FOOTNOTE_MARKS = ("*", "\u2020", "\u2021", "\u00a7", "\u2016", "\u00b6")


def _table1_rows(result: dict) -> tuple[list[dict], list[str]]:
    """Table 1 rows and its footnotes, each section footnote with its own mark."""
    out, notes = [], []
    for sec in result["table1"]:
        mark = ""
        if sec.get("footnote"):
            mark = FOOTNOTE_MARKS[len(notes) % len(FOOTNOTE_MARKS)]
            notes.append(f"{mark} {sec['footnote']}")
        out.append({"heading": sec["title"] + mark, "label": "", "value": ""})
        for label, value in format_table1_cell(sec):
            out.append({"heading": "", "label": label, "value": value})
    return out, notes + list(result["footnotes"])


def _tests_rows(result: dict) -> list[dict]:
    rows = []
    for t in result["tests"]:
        cells = [f"{format_number(m)} ({format_number(r[0])}\u2013{format_number(r[1])})"
                 for m, r in zip(t["median"], t["range"])]
        rows.append({
            "label": SHORT_LABELS.get(t["variable"], t["label"]),
            "comparison": f"{t['groups'][0]} vs {t['groups'][1]}",
            "n": f"{t['n'][0]} / {t['n'][1]}",
            "a": cells[0], "b": cells[1],
            "u": format_number(t["u"]),
            "p_exact": format_p(t["p_exact"]),
            "p_asymptotic": format_p(t["p_asymptotic"]),
            "p_spss": format_p(t["p_exact_untied"]),
            "significant": t["significant"],
        })
    return rows


def render_html(result: dict, *, parameters: ReportParameters, provenance: dict,
                figures: Sequence[RenderedFigure], panels: Panels, image_format: str = "svg",
                injection_checks: Sequence[dict] = ()) -> str:
    """The complete, self-contained HTML document (no external resource).

    ``image_format`` picks the embedded figure format: "svg" (HTML) or "png"
    (the PDF route; needs figures built with ``png=True``). ``injection_checks``
    (:func:`gliopet.inspect.injection_checks`) adds the radiopharmacy's
    recorded injections against the PET headers, flagged ones first.
    """
    env = jinja2.Environment(loader=jinja2.PackageLoader("gliopet.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    template = env.get_template("report.html.j2")
    table2 = result["table2"]
    columns = list(table2[0]) if table2 else []
    det = result["detection_rate"]
    table1, table1_footnotes = _table1_rows(result)
    return template.render(
        title=parameters.title,
        css=env.loader.get_source(env, "report.css")[0],
        injection_checks=[{"patient_id": c["patient_id"], "difference": f"{100 * c['relative_difference']:+.1f} %",
                           "flagged": c["flagged"], "message": c["message"]}
                          for c in sorted(injection_checks, key=lambda c: (not c["flagged"], c["patient_id"]))],
        result=result,
        parameters=asdict(parameters),
        provenance=provenance,
        methods=methods_paragraph(parameters, result),
        table1=table1,
        table1_footnotes=table1_footnotes,
        table2_headers=[table2_header(c) for c in columns],
        table2_rows=[[format_value(r[c]) for c in columns] for r in table2],
        tests=_tests_rows(result),
        detection=f"{det['k']}/{det['n']} = {100 * det['rate']:.1f} % (95 % CI "
                  f"{100 * det['ci95'][0]:.1f}\u2013{100 * det['ci95'][1]:.1f} %, Clopper-Pearson)",
        detection_by_grade=[f"WHO {g['grade']}: {g['k']}/{g['n']} = {100 * g['rate']:.1f} % (95 % CI "
                            f"{100 * g['ci95'][0]:.1f}\u2013{100 * g['ci95'][1]:.1f} %)"
                            for g in result["detection_by_grade"]],
        roc=[f"{SHORT_LABELS.get(r['variable'], r['label'])} for {r['outcome']}: AUC {r['auc']:.3f} (95 % CI "
             f"{r['ci95'][0]:.3f}\u2013{r['ci95'][1]:.3f}, DeLong; n = {r['n_positive']} / {r['n_negative']})"
             for r in result["roc"]],
        kappa=(None if not result["kappa"] else
               f"{result['kappa']['readers'][0]} vs {result['kappa']['readers'][1]}: kappa = "
               f"{format_kappa(result['kappa'])}"),
        agreement=format_agreement(result["agreement"]) if result.get("agreement") else [],
        paired=[f"{SHORT_LABELS.get(p['variable'], p['label'])} {p['time_points_min'][0]} vs "
                f"{p['time_points_min'][1]} min: median {format_number(p['median_before'])} vs "
                f"{format_number(p['median_after'])}, median change {p['median_percent_change']:+.1f} %, "
                f"Wilcoxon p = {format_p(p['p'])} (n = {p['n']}, {p['method']})" for p in result["paired"]],
        dynamic=format_dynamic(result.get("dynamic")),
        followup=format_followup(result.get("followup")),
        figures=[{"key": f.key, "title": f.title, "caption": f.caption, "uri": f.uri(image_format)}
                 for f in figures],
        panels=panels,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data, mode=OUTPUT_MODE, sync=True)


def write_report(source: CohortSource | str | Path, out_path: str | Path, *,
                 parameters: ReportParameters | None = None, figures_dir: str | Path | None = None,
                 generated_at: datetime | None = None, positive_only: bool = True,
                 injection_checks: Sequence[dict] = ()) -> Path:
    """Write the cohort report as one self-contained HTML file or a PDF.

    Parameters
    ----------
    source : CohortSource or path
        The cohort (:func:`gliopet.cohort.load_cohort_store`,
        :func:`gliopet.cohort.load_cohort_csv`) or a cohort CSV's path.
    out_path : path
        ``*.html`` / ``*.htm`` or ``*.pdf``; written atomically (temp file + rename).
    parameters : ReportParameters, optional
        Measurement parameters for the methods paragraph (default: those
        recorded with the cohort, else DESIGN.md's).
    figures_dir : path, optional
        Also save every figure there as SVG and PNG.
    generated_at : datetime, optional
        Time stamp for the provenance (default: now, UTC).
    positive_only : bool
        Measured statistics over visually positive scans only (the study).
    injection_checks : sequence of dict
        :func:`gliopet.inspect.injection_checks`: listed in the report, a
        difference over 5 % after decay flagged.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    InputError
        Unknown output suffix, or any cohort problem (nothing is written).
    """
    from tqdm import tqdm

    out_path = Path(out_path)
    kind = SUFFIXES.get(out_path.suffix.lower())
    if kind is None:
        raise InputError(f"{out_path.name}: the report must end in .html or .pdf")
    with tqdm(total=4, desc="report", unit="step", disable=None, leave=False) as bar:
        if not isinstance(source, CohortSource):
            source = load_cohort_csv(source)
        parameters = parameters or ReportParameters.from_recorded(source.parameters)
        result = analyse_cohort(source.cohort, positive_only=positive_only)
        bar.update()
        figures = build_figures(source.cohort, result, positive_only=positive_only,
                                png=figures_dir is not None or kind == "pdf", curves=source.curves,
                                dynamic=source.parameters.get("dynamic"))
        panels = load_snapshots(source.cohort)
        bar.update()
        stamp = (generated_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        provenance = {**source.provenance, "generated_at": stamp.isoformat(timespec="seconds"),
                      "gliopet_version": __version__, "python": platform.python_version(),
                      "format": kind.upper()}
        html = render_html(result, parameters=parameters, provenance=provenance, figures=figures, panels=panels,
                           image_format="png" if kind == "pdf" else "svg", injection_checks=injection_checks)
        bar.update()
        if kind == "html":
            data = html.encode("utf-8")
        else:
            import weasyprint

            data = weasyprint.HTML(string=html, base_url=None).write_pdf()
        if figures_dir is not None:
            fdir = Path(figures_dir)
            for f in figures:
                _atomic_write(fdir / f"{f.key}.svg", f.svg)
                _atomic_write(fdir / f"{f.key}.png", f.png)
        _atomic_write(out_path, data)
        bar.update()
    logger.info("report written: %s", out_path)
    return out_path
