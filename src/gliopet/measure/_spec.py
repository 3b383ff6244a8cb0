"""Where the ROIs come from: typed lesion and background specifications (pure).

The command line's ``--lesion auto|X,Y,Z|MASK`` and ``--background
auto|X,Y,Z|crescent`` are parsed once, in :mod:`gliopet.study`, into these
values; the core never looks at option text. Python callers may pass the
plain forms (``"auto"``, a point, a mask array or :class:`Volume`): they are
converted once by :meth:`LesionSpec.of` and :meth:`BackgroundSpec.of`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import MeasurementError
from ..volume import Volume

__all__ = ["LesionMethod", "BackgroundMethod", "LesionSpec", "BackgroundSpec"]


class LesionMethod(str, enum.Enum):
    """How the lesion VOI is found."""

    AUTO = "auto"     #: the hottest focus inside the brain
    POINT = "point"   #: the hottest voxel near a given LPS point
    MASK = "mask"     #: a drawn mask (PET grid, or an MRI's with ``mri``)


class BackgroundMethod(str, enum.Enum):
    """How the background ROI is placed."""

    AUTO = "auto"           #: 25 mm circle, contralateral centrum semiovale (template fit)
    POINT = "point"         #: 25 mm circle centred on a given LPS point
    CRESCENT = "crescent"   #: contralateral crescent region (amino-acid PET guideline)


def _point(value: Any, what: str) -> tuple[float, float, float]:
    point = np.asarray(value, dtype=np.float64)
    if point.shape != (3,) or not all(math.isfinite(v) for v in point):
        raise MeasurementError(f"{what} point must be X,Y,Z in LPS mm (three finite numbers), got {value!r}")
    return (float(point[0]), float(point[1]), float(point[2]))


@dataclass(frozen=True)
class LesionSpec:
    """The lesion: automatic, a point (LPS mm) or a mask (bool array on the PET grid, or a Volume)."""

    method: LesionMethod
    point_lps_mm: tuple[float, float, float] | None = None
    mask: np.ndarray | Volume | None = None
    #: How the lesion was given, for messages (a file name, never an identifier).
    name: str = "lesion"

    @classmethod
    def of(cls, value: Any, *, name: str = "lesion") -> LesionSpec:
        """A spec from ``"auto"``, a point, a mask array or Volume (or a spec, returned as is).

        Raises
        ------
        MeasurementError
            Any other string, or a point that is not three finite numbers.
        """
        if isinstance(value, LesionSpec):
            return value
        if isinstance(value, (str, LesionMethod)):
            if value != LesionMethod.AUTO.value:
                raise MeasurementError(f"lesion must be 'auto', X,Y,Z or a mask, got {str(value)!r}")
            return cls(LesionMethod.AUTO, name=name)
        if isinstance(value, Volume) or (isinstance(value, np.ndarray) and value.ndim == 3):
            return cls(LesionMethod.MASK, mask=value, name=name)
        return cls(LesionMethod.POINT, point_lps_mm=_point(value, "lesion"), name=name)


@dataclass(frozen=True)
class BackgroundSpec:
    """The background: automatic circle, a circle at a point (LPS mm), or the crescent."""

    method: BackgroundMethod
    point_lps_mm: tuple[float, float, float] | None = None

    @classmethod
    def of(cls, value: Any) -> BackgroundSpec:
        """A spec from ``"auto"``, ``"crescent"`` or a point (or a spec, returned as is).

        Raises
        ------
        MeasurementError
            Any other string, or a point that is not three finite numbers.
        """
        if isinstance(value, BackgroundSpec):
            return value
        if isinstance(value, (str, BackgroundMethod)):
            if value not in (BackgroundMethod.AUTO.value, BackgroundMethod.CRESCENT.value):
                raise MeasurementError(f"background must be 'auto', 'crescent' or X,Y,Z, got {str(value)!r}")
            return cls(BackgroundMethod(value))
        return cls(BackgroundMethod.POINT, point_lps_mm=_point(value, "background"))
