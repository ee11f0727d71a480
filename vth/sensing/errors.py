"""Errors of the sensing data model."""

from vth.errors import VthError


class SensingError(VthError):
    """Base class of errors in stream datasets and their conversions."""


class UnitError(SensingError):
    """A unit is unknown, or does not fit the quantity it is given for."""


class StreamFormatError(SensingError):
    """A stream file or dataset does not follow the (sensor, time) contract."""


class ReferenceConditionError(SensingError):
    """Values cannot be brought to reference conditions (e.g. O2 is missing)."""


class RasterError(SensingError):
    """A raster scene is unusable: no CRS, missing bands, no time, outside the grid."""
