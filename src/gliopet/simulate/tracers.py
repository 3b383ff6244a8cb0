"""The simulation tracer table: nuclides and tissue uptake (SUV) per time point.

The table is data, not code: ``gliopet/data/tracers/tracers.json``. Uptake of
each phantom tissue is an SUVbw (g/mL) at each listed time after injection;
between time points it is interpolated linearly and held constant outside.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ..errors import InputError

__all__ = ["Nuclide", "Tracer", "load_tracer", "tracer_names", "TISSUES"]

logger = logging.getLogger(__name__)

#: Tissue classes of the head phantom that carry a table uptake.
TISSUES = ("gm", "wm", "csf", "scalp", "skull", "oedema")

_TABLE = "tracers.json"


@dataclass(frozen=True)
class Nuclide:
    """A positron emitter: half-life, positron fraction, positron-range blur, DICOM code."""

    name: str
    half_life_s: float
    positron_fraction: float
    positron_range_fwhm_mm: float
    code_value: str
    code_scheme: str
    code_meaning: str


@dataclass(frozen=True)
class Tracer:
    """A tracer: its nuclide and the uptake of each tissue over time."""

    name: str
    radiopharmaceutical: str
    nuclide: Nuclide
    reference_time_min: float
    times_min: tuple[float, ...]
    suv: Mapping[str, tuple[float, ...]]
    lesion_time_factor: tuple[float, ...]
    lesion_default_suv: float
    necrosis_relative: float

    def tissue_suv(self, time_min: float) -> dict[str, float]:
        """SUVbw of every tissue at ``time_min`` after injection (linear interpolation)."""
        return {t: float(np.interp(time_min, self.times_min, self.suv[t])) for t in TISSUES}

    def lesion_factor(self, time_min: float) -> float:
        """Lesion uptake at ``time_min`` relative to the reference time."""
        return float(np.interp(time_min, self.times_min, self.lesion_time_factor))


@lru_cache(maxsize=1)
def _table() -> dict:
    text = resources.files("gliopet").joinpath("data", "tracers", _TABLE).read_text(encoding="utf-8")
    return json.loads(text)


def tracer_names() -> tuple[str, ...]:
    """Names of the tracers in the table."""
    return tuple(sorted(_table()["tracers"]))


def load_tracer(name: str) -> Tracer:
    """The tracer ``name`` (``pentixafor``, ``fet``, ``fdg``, ``fdopa``) from the table.

    Raises
    ------
    InputError
        When the tracer is not in the table or an entry is malformed.
    """
    table = _table()
    key = name.lower()
    if key not in table["tracers"]:
        raise InputError(f"{_TABLE}: tracer {name!r} not in the table; choose one of {', '.join(tracer_names())}")
    entry = table["tracers"][key]
    nuc = table["nuclides"][entry["nuclide"]]
    times = tuple(float(t) for t in entry["times_min"])
    suv = {}
    for tissue in TISSUES:
        values = tuple(float(v) for v in entry["suv"][tissue])
        if len(values) != len(times):
            raise InputError(f"{_TABLE}: tracer {key!r} tissue {tissue!r} has {len(values)} values "
                             f"for {len(times)} time points")
        suv[tissue] = values
    return Tracer(
        name=key,
        radiopharmaceutical=entry["radiopharmaceutical"],
        nuclide=Nuclide(name=entry["nuclide"], half_life_s=float(nuc["half_life_s"]),
                        positron_fraction=float(nuc["positron_fraction"]),
                        positron_range_fwhm_mm=float(nuc["positron_range_fwhm_mm"]),
                        code_value=nuc["code"]["value"], code_scheme=nuc["code"]["scheme"],
                        code_meaning=nuc["code"]["meaning"]),
        reference_time_min=float(entry["reference_time_min"]),
        times_min=times,
        suv=MappingProxyType(suv),
        lesion_time_factor=tuple(float(v) for v in entry["lesion_time_factor"]),
        lesion_default_suv=float(entry["lesion_default_suv"]),
        necrosis_relative=float(entry["necrosis_relative"]),
    )
