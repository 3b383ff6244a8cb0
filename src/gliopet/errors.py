"""One exception hierarchy for gliopet.

Every message names the file (when there is one), the DICOM tag and keyword or
the value at fault, and what is needed. The CLI turns any ``GliopetError`` into
a one-line message on stderr and exit code 2. Messages never carry patient
identifiers: they name files and attributes, not their values.
"""

from __future__ import annotations

__all__ = [
    "GliopetError",
    "DicomError",
    "GeometryError",
    "SuvError",
    "MeasurementError",
    "InputError",
]


class GliopetError(Exception):
    """Base of every error gliopet raises on bad input."""


class DicomError(GliopetError):
    """A DICOM file or attribute cannot be used."""


class GeometryError(GliopetError, ValueError):
    """Inconsistent or unsupported image geometry (affine, slices, orientation)."""


class SuvError(GliopetError, ValueError):
    """An SUV input is missing or implausible."""


class MeasurementError(GliopetError, ValueError):
    """A measurement cannot be made (ROI outside the image, empty mask, ...)."""


class InputError(GliopetError, ValueError):
    """A non-image input (CSV, JSON, YAML, command-line value) is invalid."""
