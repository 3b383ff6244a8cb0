"""The one JSON encoder hook of gliopet: NumPy values, dates and paths as plain JSON."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["json_default", "dataclass_dict"]


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: NumPy scalars and arrays, dates, times and paths.

    Examples
    --------
    >>> import json
    >>> json.dumps({"v": np.float32(0.5), "a": np.arange(2), "d": date(2019, 1, 2)}, default=json_default)
    '{"v": 0.5, "a": [0, 1], "d": "2019-01-02"}'
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dataclass_dict(result: Any) -> dict:
    """A dataclass as a dict (:func:`dataclasses.asdict`) with its top-level tuples as lists (JSON arrays).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class R:
    ...     n: int
    ...     ci95: tuple | None
    >>> dataclass_dict(R(3, (0.1, 0.9))), dataclass_dict(R(3, None))
    ({'n': 3, 'ci95': [0.1, 0.9]}, {'n': 3, 'ci95': None})
    """
    return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(result).items()}
