"""Methane plumes in Sentinel-2-style SWIR images, rated by IME against the permit."""

from vth.detectors.plumes.detector import DETECTION_LIMIT, MethanePlumeDetector
from vth.detectors.plumes.ime import PlumeMask, RateEstimate, ime_rate, mask_plume
from vth.detectors.plumes.retrieval import airmass, column_enhancement, mbmp, mbsp

__all__ = [
    "DETECTION_LIMIT",
    "MethanePlumeDetector",
    "PlumeMask",
    "RateEstimate",
    "airmass",
    "column_enhancement",
    "ime_rate",
    "mask_plume",
    "mbmp",
    "mbsp",
]
