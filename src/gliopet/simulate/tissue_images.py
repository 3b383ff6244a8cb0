"""Images from the phantom's tissue fractions: activity (SUV), CT numbers and MR contrasts.

Each voxel holds fractions of grey and white matter, CSF, skull and scalp
(:func:`~gliopet.simulate.phantom.sample_head`) and of the lesion, its
necrotic core and oedema (:func:`~gliopet.simulate.phantom.sample_lesion`).
Where the lesion is, it replaces brain tissue (never skull or scalp). The
functions here turn those fractions into the values a scanner would image.
Pure apart from the cached head model (built once per process from the
MNI152 template).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .phantom import TISSUE_HU, HeadModel, LesionSample, build_head_model

__all__ = ["head_model", "ct_maps", "ct_hu", "tissue_activity_suv", "hu_map", "mr_images"]


@lru_cache(maxsize=1)
def head_model() -> HeadModel:
    """The head phantom on the MNI152 template at 2 mm (built once per process)."""
    from ..io.template import load_mni152

    return build_head_model(load_mni152(2))


@lru_cache(maxsize=1)
def ct_maps() -> dict[str, np.ndarray]:
    """Template maps the CT needs (interpolation is linear, so these combine before sampling):
    brain fraction, the brain's HU sum and the whole head's HU without a lesion."""
    f = head_model().fractions
    brain = f["gm"] + f["wm"] + f["csf"]
    brain_hu = f["gm"] * TISSUE_HU["gm"] + f["wm"] * TISSUE_HU["wm"] + f["csf"] * TISSUE_HU["csf"]
    air = TISSUE_HU["air"]
    hu = air + sum(f[t] * (TISSUE_HU[t] - air) for t in ("gm", "wm", "csf", "skull", "scalp"))
    return {"brain": brain.astype(np.float32), "brain_hu": brain_hu.astype(np.float32),
            "hu": hu.astype(np.float32)}


def ct_hu(maps: dict[str, np.ndarray], lesion_sample: LesionSample) -> np.ndarray:
    """HU on the CT grid: the head's HU with brain replaced by lesion, necrosis and oedema
    (same arithmetic as :func:`hu_map`, rearranged for the pre-combined maps)."""
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = maps["brain"]
    total = les + nec + oed
    replaced = np.minimum(total, brain)
    keep_loss = np.where(brain > 0, replaced / np.maximum(brain, 1e-6), 0.0)
    scale = np.where(total > 0, replaced / np.maximum(total, 1e-6), 0.0)
    hu = maps["hu"] - keep_loss * maps["brain_hu"]
    hu += scale * (les * TISSUE_HU["lesion"] + nec * TISSUE_HU["necrosis"] + oed * TISSUE_HU["oedema"])
    return hu.astype(np.float32)


def tissue_activity_suv(fractions: dict[str, np.ndarray], lesion_sample: LesionSample, suv: dict[str, float],
                        lesion_suv: float, necrosis_suv: float) -> np.ndarray:
    """SUV map: brain tissues replaced by lesion, necrosis and oedema where they are."""
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = fractions["gm"] + fractions["wm"] + fractions["csf"]
    replaced = np.minimum(les + nec + oed, brain)
    keep = np.where(brain > 0, 1.0 - replaced / np.maximum(brain, 1e-6), 0.0)
    out = keep * (fractions["gm"] * suv["gm"] + fractions["wm"] * suv["wm"] + fractions["csf"] * suv["csf"])
    scale = np.where(les + nec + oed > 0, replaced / np.maximum(les + nec + oed, 1e-6), 0.0)
    out += scale * (les * lesion_sample.lesion_relative_uptake * lesion_suv + nec * necrosis_suv + oed * suv["oedema"])
    out += fractions["skull"] * suv["skull"] + fractions["scalp"] * suv["scalp"]
    return out.astype(np.float32)


def hu_map(fractions: dict[str, np.ndarray], lesion_sample: LesionSample) -> np.ndarray:
    """CT numbers (HU) from fractions on any grid (the attenuation map's, on the PET grid); air outside."""
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = fractions["gm"] + fractions["wm"] + fractions["csf"]
    replaced = np.minimum(les + nec + oed, brain)
    keep = np.where(brain > 0, 1.0 - replaced / np.maximum(brain, 1e-6), 0.0)
    scale = np.where(les + nec + oed > 0, replaced / np.maximum(les + nec + oed, 1e-6), 0.0)
    hu = keep * (fractions["gm"] * TISSUE_HU["gm"] + fractions["wm"] * TISSUE_HU["wm"]
                 + fractions["csf"] * TISSUE_HU["csf"])
    hu += scale * (les * TISSUE_HU["lesion"] + nec * TISSUE_HU["necrosis"] + oed * TISSUE_HU["oedema"])
    hu += fractions["skull"] * TISSUE_HU["skull"] + fractions["scalp"] * TISSUE_HU["scalp"]
    tissue = np.clip(brain + fractions["skull"] + fractions["scalp"], 0.0, 1.0)
    return (hu + (1.0 - tissue) * TISSUE_HU["air"]).astype(np.float32)


def mr_images(fractions: dict[str, np.ndarray], lesion_sample: LesionSample,
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """T1 (post-contrast), T2 and FLAIR intensities from tissue fractions (arbitrary units)."""
    contrast = {  # gm, wm, csf, skull, scalp, lesion, necrosis, oedema
        "T1": (0.55, 0.80, 0.15, 0.05, 0.70, 0.95, 0.20, 0.45),
        "T2": (0.60, 0.45, 1.00, 0.05, 0.55, 0.75, 0.95, 0.85),
        "FLAIR": (0.60, 0.45, 0.08, 0.05, 0.55, 0.80, 0.30, 0.95),
    }
    les, nec, oed = lesion_sample.lesion_fraction, lesion_sample.necrosis_fraction, lesion_sample.oedema_fraction
    brain = fractions["gm"] + fractions["wm"] + fractions["csf"]
    replaced = np.minimum(les + nec + oed, brain)
    keep = np.where(brain > 0, 1.0 - replaced / np.maximum(brain, 1e-6), 0.0)
    scale = np.where(les + nec + oed > 0, replaced / np.maximum(les + nec + oed, 1e-6), 0.0)
    out = {}
    for name, (gm, wm, csf, skull, scalp, lesion, necrosis, oedema) in contrast.items():
        img = keep * (fractions["gm"] * gm + fractions["wm"] * wm + fractions["csf"] * csf)
        img += scale * (les * lesion + nec * necrosis + oed * oedema)
        img += fractions["skull"] * skull + fractions["scalp"] * scalp
        img = np.abs(img + rng.normal(0.0, 0.015, size=img.shape))  # magnitude noise
        out[name] = img.astype(np.float32)
    return out
