"""gliopet: semi-quantitative glioma PET from DICOM to publishable tables."""

from ._version import __version__
from .errors import DicomError, GeometryError, GliopetError, InputError, MeasurementError, SuvError
from .volume import Volume

__all__ = [
    "__version__",
    "Volume",
    "GliopetError",
    "DicomError",
    "GeometryError",
    "SuvError",
    "MeasurementError",
    "InputError",
]
