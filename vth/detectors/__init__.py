"""Vectorised detectors, registered by name; each compares data with the MBA profile."""

from vth.detectors.base import BaseDetector, Detector, NetworkDetector, RasterDetector
from vth.detectors.errors import DetectorError, NotFittedError, UnknownDetectorError
from vth.detectors.registry import create, get, names, register

__all__ = [
    "BaseDetector",
    "Detector",
    "DetectorError",
    "NetworkDetector",
    "NotFittedError",
    "RasterDetector",
    "UnknownDetectorError",
    "create",
    "get",
    "names",
    "register",
]
