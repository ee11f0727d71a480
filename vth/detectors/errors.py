"""Errors of detectors and their registry."""

from vth.errors import VthError


class DetectorError(VthError):
    """A detector cannot run on the data or profile it was given."""


class NotFittedError(DetectorError):
    """``detect`` was called on a detector that must be fitted first."""


class UnknownDetectorError(DetectorError, KeyError):
    """No detector is registered under the requested name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown detector"


class PeriodError(DetectorError, ValueError):
    """A report period that cannot be read."""


class DetectorConfigError(DetectorError, ValueError):
    """A detector's parameters are invalid (e.g. an even window size)."""
