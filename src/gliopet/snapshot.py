"""A placement check: the measured axial slices with both circles over PET/CT fusion (PNG).

The figure shows the PET's own axial slices (the slices the circles were drawn
on), in radiological convention when the PET grid is the usual LPS one (the
patient's right on the viewer's left, anterior at the top). The CT, when
given, is resampled onto the same slice and shown in a brain window beneath
the PET. An MRI registered to the PET/CT (``pet_to_mri``, from
:func:`gliopet.brain.register_rigid`) adds a row beneath: the MRI resampled
onto the same PET slices with the same circles, as in the study's PET/MRI
figures. Rendering uses matplotlib's Agg backend (no display needed); the file
is written to a temporary name and renamed, so no half-written PNG is left.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .atomic import replacing
from .measure import CircleRoi, Measurement, RegionRoi
from .volume import Volume

logger = logging.getLogger(__name__)

__all__ = ["CT_WINDOW_HU", "MRI_WINDOW_PERCENTILE", "mri_plane", "render_snapshot", "write_snapshot"]

#: CT brain window (level 40 HU, width 120 HU).
CT_WINDOW_HU = (-20.0, 100.0)
#: PET shown from this fraction of the colour scale's maximum upward (so the
#: CT shows through where there is little uptake).
PET_ALPHA_FLOOR = 0.05


def _slice_of(volume: Volume, k: int) -> Volume:
    affine = volume.affine.copy()
    affine[:3, 3] = volume.ijk_to_xyz_mm([0, 0, k])
    return Volume(np.asarray(volume.array[k:k + 1]), affine)


def _draw_rois(ax, pet: Volume, k: int, rois: list[tuple[CircleRoi | RegionRoi, str, str]]) -> None:
    from matplotlib.patches import Ellipse

    si, sj, _ = pet.spacing_mm
    for roi, colour, label in rois:
        ci, cj, _ = roi.centre_ijk
        if roi.diameter_mm is None:  # a region (the crescent): its outline on this slice
            outline = np.asarray(roi.mask[k], dtype=float)
            if outline.any():
                ax.contour(np.arange(pet.shape[2]), np.arange(pet.shape[1]), outline, levels=[0.5],
                           colors=[colour], linewidths=1.8)
            top = float(np.argwhere(outline > 0)[:, 0].min()) if outline.any() else cj
            ax.annotate(label, (ci, top), color=colour, fontsize=8, ha="center", va="bottom", xytext=(0, 3),
                        textcoords="offset points")
            continue
        ax.add_patch(Ellipse((ci, cj), width=roi.diameter_mm / si, height=roi.diameter_mm / sj, fill=False,
                             edgecolor=colour, linewidth=1.8))
        ax.annotate(label, (ci, cj - roi.diameter_mm / sj / 2), color=colour, fontsize=8, ha="center",
                    va="bottom", xytext=(0, 3), textcoords="offset points")


def _frame(ax, pet: Volume, title: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    # label the patient's sides from the grid's i axis direction (LPS +x = patient's left)
    left_on_right = pet.affine[0, 0] >= 0
    ax.text(0.02, 0.5, "R" if left_on_right else "L", transform=ax.transAxes, color="w", fontsize=10,
            va="center")
    ax.text(0.98, 0.5, "L" if left_on_right else "R", transform=ax.transAxes, color="w", fontsize=10,
            va="center", ha="right")


def _extent_aspect(pet: Volume) -> tuple[tuple[float, float, float, float], float]:
    si, sj, _ = pet.spacing_mm
    return (-0.5, pet.shape[2] - 0.5, pet.shape[1] - 0.5, -0.5), sj / si


def _panel(ax, pet: Volume, ct: Volume | None, k: int, rois: list[tuple[CircleRoi | RegionRoi, str, str]], vmax: float,
           title: str):
    extent, aspect = _extent_aspect(pet)
    if ct is not None:
        from .brain import resample_to

        ct_plane = resample_to(ct, _slice_of(pet, k), default=-1000.0)[0]
        ax.imshow(ct_plane, cmap="gray", vmin=CT_WINDOW_HU[0], vmax=CT_WINDOW_HU[1], extent=extent,
                  aspect=aspect, interpolation="bilinear")
    plane = np.asarray(pet.array[k], dtype=np.float64)
    shown = np.ma.masked_less(plane, PET_ALPHA_FLOOR * vmax) if ct is not None else plane
    image = ax.imshow(shown, cmap="hot", vmin=0, vmax=vmax, extent=extent, aspect=aspect,
                      alpha=0.65 if ct is not None else 1.0, interpolation="bilinear")
    _draw_rois(ax, pet, k, rois)
    _frame(ax, pet, title)
    return image


#: MRI grey scale: from 0 to this percentile of the MRI's voxels (so a few bright voxels do not darken it).
MRI_WINDOW_PERCENTILE = 99.5


def mri_plane(pet: Volume, mri: Volume, pet_to_mri: np.ndarray, k: int) -> np.ndarray:
    """The MRI resampled (trilinear) onto the PET's axial slice ``k``; 0 outside the MRI.

    ``pet_to_mri`` maps LPS mm of the PET/CT frame to the MRI's (4x4), as
    ``RigidFit.fixed_to_moving`` of a fit with the CT or PET as fixed image.
    """
    from .brain import resample_to

    return resample_to(mri, _slice_of(pet, k), reference_to_volume=np.asarray(pet_to_mri, float), default=0.0)[0]


def _mri_panel(ax, pet: Volume, mri: Volume, pet_to_mri: np.ndarray, k: int,
               rois: list[tuple[CircleRoi | RegionRoi, str, str]], top: float, title: str) -> None:
    extent, aspect = _extent_aspect(pet)
    ax.imshow(mri_plane(pet, mri, pet_to_mri, k), cmap="gray", vmin=0, vmax=top, extent=extent, aspect=aspect,
              interpolation="bilinear")
    _draw_rois(ax, pet, k, rois)
    _frame(ax, pet, title)


def render_snapshot(pet: Volume, measurement: Measurement, *, ct: Volume | None = None,
                    mri: Volume | None = None, pet_to_mri: np.ndarray | None = None, mri_label: str = "MRI",
                    title: str = ""):
    """A matplotlib Figure: the lesion slice and the background slice with their circles.

    One column when both circles lie on the same slice, two otherwise (a
    resliced background circle is drawn on its nearest slice, and its label
    gives the level it was read at). The PET
    colour scale runs from 0 to the lesion's SUVmax. With ``mri`` and
    ``pet_to_mri`` (4x4, PET/CT frame LPS mm to the MRI's), a second row shows
    the MRI on the same slices with the same circles.
    """
    if (mri is None) != (pet_to_mri is None):
        raise ValueError("give both mri and pet_to_mri, or neither")
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    lesion, background = measurement.lesion, measurement.background
    vmax = max(float(lesion.suvmax), 1e-6)
    lesion_label = f"lesion 10 mm: SUVmax {lesion.suvmax:.2f}"
    bg_kind = "25 mm" if background.diameter_mm is not None else background.method
    bg_label = f"background {bg_kind}: SUVmax {background.suvmax:.2f}, mean {background.suvmean:.2f}"
    if getattr(background, "resliced", False) and background.centre_ijk[2] != background.slice_index:
        bg_label += f"\n(read at level k = {background.centre_ijk[2]:.2f}, resliced; drawn on the nearest slice)"
    same = lesion.slice_index == background.slice_index
    if same:
        columns = [(lesion.slice_index, [(lesion, "cyan", "lesion"), (background, "lime", "background")],
                    f"slice k = {lesion.slice_index}\n{lesion_label}\n{bg_label}")]
    else:
        columns = [(lesion.slice_index, [(lesion, "cyan", "lesion")],
                    f"lesion slice k = {lesion.slice_index}\n{lesion_label}"),
                   (background.slice_index, [(background, "lime", "background")],
                    f"background slice k = {background.slice_index}\n{bg_label}")]
    rows = 1 if mri is None else 2
    fig = Figure(figsize=(5.6 if same else 10.0, 5.8 * rows), dpi=110, layout="constrained")
    grid = fig.subplots(rows, len(columns), squeeze=False)
    images = [_panel(ax, pet, ct, k, rois, vmax, text) for ax, (k, rois, text) in zip(grid[0], columns)]
    if mri is not None:
        values = np.asarray(mri.array, dtype=np.float64)
        top = float(np.percentile(values, MRI_WINDOW_PERCENTILE)) or 1.0
        for ax, (k, rois, _) in zip(grid[1], columns):
            _mri_panel(ax, pet, mri, pet_to_mri, k, rois, top, f"{mri_label} on PET slice k = {k} (registered)")
    colorbar = fig.colorbar(images[0], ax=list(grid[0]), fraction=0.03, pad=0.02)
    colorbar.set_label(f"SUV ({measurement.units})")
    tbr = measurement.tbr
    fig.suptitle((title + "\n" if title else "")
                 + f"TBR max/bg max {tbr.max_to_bg_max:.2f}   max/bg mean {tbr.max_to_bg_mean:.2f}   "
                 f"mean/bg mean {tbr.mean_to_bg_mean:.2f}", fontsize=9)
    return fig


def write_snapshot(path: str | Path, pet: Volume, measurement: Measurement, *, ct: Volume | None = None,
                   mri: Volume | None = None, pet_to_mri: np.ndarray | None = None, mri_label: str = "MRI",
                   title: str = "") -> Path:
    """Render :func:`render_snapshot` to a PNG at ``path`` (atomically: temp file, then rename)."""
    path = Path(path)
    fig = render_snapshot(pet, measurement, ct=ct, mri=mri, pet_to_mri=pet_to_mri, mri_label=mri_label,
                          title=title)
    with replacing(path) as tmp:
        fig.savefig(tmp, format="png")
    logger.info("snapshot written: %s", path)
    return path
