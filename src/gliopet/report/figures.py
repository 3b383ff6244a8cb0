"""The study's figures with matplotlib (Agg, no pyplot state): box/strip plots by
WHO grade with the Mann-Whitney p, a waterfall of TBR, the paired time-point plot.

Each ``*_figure`` function takes plain values and returns a
:class:`matplotlib.figure.Figure`; :func:`figure_svg` / :func:`figure_png`
turn it into bytes. Nothing here touches files.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ..stats import GRADES, format_number, format_p

logger = logging.getLogger(__name__)

__all__ = ["grade_box_strip_figure", "tbr_waterfall_figure", "paired_time_points_figure", "tac_figure", "figure_svg",
           "figure_png", "GRADE_COLOURS", "PNG_DPI"]

#: One colour per WHO grade (colour-blind safe, Okabe-Ito).
GRADE_COLOURS = {"II": "#009E73", "III": "#E69F00", "IV": "#0072B2"}
#: Resolution of the PNG figures (dots per inch), print quality.
PNG_DPI = 200
#: Smallest font size used in any figure (points).
MIN_FONT_PT = 9
FIGSIZE_IN = (4.6, 3.6)
#: Above this many patients the waterfall draws lines, not bar patches (speed).
WATERFALL_MAX_PATCHES = 150
#: Horizontal jitter of the strip points (fraction of the box spacing).
JITTER = 0.12

_RC = {"axes.titlesize": 10.5, "axes.labelsize": 10, "xtick.labelsize": 9.5, "legend.fontsize": 9}


def _new_figure(figsize=FIGSIZE_IN) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _style_axes(ax) -> None:
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.tick_params(labelsize=_RC["xtick.labelsize"])
    ax.xaxis.label.set_size(_RC["axes.labelsize"])
    ax.yaxis.label.set_size(_RC["axes.labelsize"])
    ax.title.set_size(_RC["axes.titlesize"])


def grade_box_strip_figure(groups: Mapping[str, Sequence[float]], *, label: str, p_exact: float | None = None,
                           p_asymptotic: float | None = None, seed: int = 0, log_scale: bool = False) -> Figure:
    """Box plot with every value as a point, one box per WHO grade, p in the title.

    Parameters
    ----------
    groups : mapping grade -> values
        E.g. ``{"III": [...], "IV": [...]}``; drawn in WHO grade order.
    label : str
        Y-axis label (the variable).
    p_exact, p_asymptotic : float, optional
        Mann-Whitney p-values for the title.
    seed : int
        Seed of the horizontal jitter of the points.
    log_scale : bool
        Log y-axis (useful for TBR spanning two decades).
    """
    order = [g for g in GRADES if g in groups and len(groups[g])] + \
        [g for g in groups if g not in GRADES and len(groups[g])]
    fig = _new_figure()
    ax = fig.add_subplot()
    data = [np.asarray(groups[g], dtype=float) for g in order]
    ax.boxplot(data, positions=range(1, len(order) + 1), widths=0.5, showfliers=False,
               medianprops={"color": "black", "linewidth": 1.6}, boxprops={"linewidth": 1.0},
               whiskerprops={"linewidth": 1.0}, capprops={"linewidth": 1.0})
    rng = np.random.default_rng(seed)
    for pos, g, vals in zip(range(1, len(order) + 1), order, data):
        x = pos + rng.uniform(-JITTER, JITTER, size=vals.size) * 2
        ax.scatter(x, vals, s=22, color=GRADE_COLOURS.get(g, "#555555"), edgecolor="white", linewidth=0.5,
                   zorder=3)
    ax.set_xticks(range(1, len(order) + 1), [f"WHO {g}\n(n = {len(v)})" for g, v in zip(order, data)])
    ax.set_ylabel(label)
    if log_scale:
        ax.set_yscale("log")
    title = f"{label} by WHO grade"
    if p_exact is not None or p_asymptotic is not None:
        parts = []
        if p_exact is not None:
            parts.append(f"exact p = {format_p(p_exact)}")
        if p_asymptotic is not None:
            parts.append(f"asympt. p = {format_p(p_asymptotic)}")
        title += "\nMann-Whitney U: " + ", ".join(parts)
    ax.set_title(title)
    _style_axes(ax)
    return fig


def tbr_waterfall_figure(labels: Sequence[str], tbr: Sequence[float], grades: Sequence[str], *,
                         label: str = "TBR", show_labels: bool = True) -> Figure:
    """Waterfall of TBR: one bar per patient, highest first, coloured by WHO grade.

    Parameters
    ----------
    labels : sequence of str
        Bar labels (patient numbers), same order as ``tbr``.
    tbr : sequence of float
        Values (missing ones must be dropped by the caller).
    grades : sequence of str
        WHO grade of each bar.
    """
    values = np.asarray(tbr, dtype=float)
    order = np.argsort(-values, kind="stable")
    width = max(FIGSIZE_IN[0], min(9.0, 0.22 * values.size + 1.5))
    fig = _new_figure((width, FIGSIZE_IN[1]))
    ax = fig.add_subplot()
    colours = [GRADE_COLOURS.get(grades[i], "#555555") for i in order]
    if values.size <= WATERFALL_MAX_PATCHES:
        ax.bar(np.arange(values.size), values[order], color=colours, width=0.8)
    else:  # one line collection instead of thousands of rectangles
        ax.vlines(np.arange(values.size), 0, values[order], colors=colours,
                  linewidth=max(0.3, 400.0 / values.size))
    if show_labels and values.size <= 60:
        ax.set_xticks(np.arange(values.size), [str(labels[i]) for i in order], rotation=90,
                      fontsize=MIN_FONT_PT)
        ax.set_xlabel("Patient")
    else:
        ax.set_xticks([])
        ax.set_xlabel(f"Patients (n = {values.size}), ordered by {label}")
    ax.set_ylabel(label)
    ax.set_title(f"{label} per patient, highest first")
    for g in [g for g in GRADES if g in set(grades)]:
        ax.bar([0], [0], color=GRADE_COLOURS[g], label=f"WHO {g}")
    ax.legend(frameon=False, fontsize=_RC["legend.fontsize"])
    ax.margins(x=0.01)
    _style_axes(ax)
    return fig


def paired_time_points_figure(before: Sequence[float], after: Sequence[float], *, times_min: tuple[int, int],
                              label: str = "SUVmax", p: float | None = None,
                              median_percent_change: float | None = None) -> Figure:
    """One line per patient from the earlier to the later time point."""
    b = np.asarray(before, dtype=float)
    a = np.asarray(after, dtype=float)
    fig = _new_figure((3.8, FIGSIZE_IN[1]))
    ax = fig.add_subplot()
    colours = np.where(a < b, "#D55E00", "#0072B2")
    segments = np.stack([np.stack([np.zeros_like(b), b], axis=1), np.stack([np.ones_like(a), a], axis=1)], axis=1)
    alpha = 1.0 if b.size <= 30 else max(0.15, 30.0 / b.size)
    ax.add_collection(LineCollection(segments, colors=colours, linewidths=1.3, alpha=alpha))
    ax.scatter(np.r_[np.zeros_like(b), np.ones_like(a)], np.r_[b, a], s=18, c=np.r_[colours, colours],
               alpha=alpha, zorder=3)
    ax.set_xticks([0, 1], [f"{times_min[0]} min p.i.", f"{times_min[1]} min p.i."])
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel(label)
    title = f"{label}, {times_min[0]} vs {times_min[1]} min (n = {b.size})"
    extra = []
    if median_percent_change is not None:
        extra.append(f"median change {median_percent_change:+.1f} %")
    if p is not None:
        extra.append(f"Wilcoxon p = {format_p(p)}")
    if extra:
        title += "\n" + ", ".join(extra)
    ax.set_title(title)
    _style_axes(ax)
    return fig


def tac_figure(curves: Sequence[Mapping], *, slope_window_min: Sequence[float] | None = None) -> Figure:
    """Lesion time-activity curves, one thin line per patient coloured by WHO grade, each grade's
    median curve thick where its patients share one framing, and the background's median dashed.

    ``curves``: dicts with ``who_grade``, ``mid_min_pi``, ``lesion_suvmean`` and ``background_suvmean``
    (:attr:`gliopet.store.AnalysisTable.curves`). ``slope_window_min`` is shaded.
    """
    fig = _new_figure((5.6, FIGSIZE_IN[1]))
    ax = fig.add_subplot()
    if slope_window_min is not None:
        ax.axvspan(*slope_window_min, color="#DDDDDD", alpha=0.5, lw=0, label="late-slope window")
    for grade in GRADES:
        mine = [c for c in curves if c["who_grade"] == grade]
        for c in mine:
            ax.plot(c["mid_min_pi"], c["lesion_suvmean"], color=GRADE_COLOURS[grade], lw=0.8, alpha=0.45)
        if mine and len({tuple(c["mid_min_pi"]) for c in mine}) == 1:
            median = np.median([c["lesion_suvmean"] for c in mine], axis=0)
            ax.plot(mine[0]["mid_min_pi"], median, color=GRADE_COLOURS[grade], lw=2.4,
                    label=f"WHO {grade} (n = {len(mine)}), median")
        elif mine:
            ax.plot([], [], color=GRADE_COLOURS[grade], lw=2.4, label=f"WHO {grade} (n = {len(mine)})")
    if curves and len({tuple(c["mid_min_pi"]) for c in curves}) == 1:
        background = np.median([c["background_suvmean"] for c in curves], axis=0)
        ax.plot(curves[0]["mid_min_pi"], background, color="#555555", lw=1.6, ls="--", label="background, median")
    ax.set_xlabel("minutes after injection (frame mid-time)")
    ax.set_ylabel("SUVmean (g/mL)")
    ax.set_title("Lesion time-activity curves")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=7, loc="best")
    _style_axes(ax)
    return fig


def figure_svg(fig: Figure) -> bytes:
    """The figure as SVG (text as paths, so it renders identically without fonts)."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "gliopet"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def figure_png(fig: Figure, *, dpi: int = PNG_DPI) -> bytes:
    """The figure as PNG at ``dpi``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def describe_values(values: Sequence[float]) -> str:
    """``median (min-max)`` text of values, for captions."""
    arr = np.asarray(values, dtype=float)
    return f"{format_number(float(np.median(arr)))} ({format_number(arr.min())}\u2013{format_number(arr.max())})"
