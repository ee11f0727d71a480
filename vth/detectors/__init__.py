"""Vectorised detectors, registered by name; each compares data with the MBA profile."""

from vth.detectors.base import Detector
from vth.detectors.errors import DetectorError, NotFittedError, UnknownDetectorError
from vth.detectors.registry import create, get, names, register

__all__ = [
    "Detector",
    "DetectorError",
    "NotFittedError",
    "UnknownDetectorError",
    "create",
    "get",
    "names",
    "register",
]
