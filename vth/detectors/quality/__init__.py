"""Sensor quality control: flags per sample, faults per sensor, ``sensor_fault`` alerts."""

from vth.detectors.quality.assessment import (
    FaultLimits,
    QualityAssessment,
    SensorFault,
    assess_quality,
)
from vth.detectors.quality.detector import QualityDetector
from vth.detectors.quality.flags import (
    BAD,
    DEFAULT_RULES,
    QcFlag,
    QcRule,
    QcSettings,
    flag_variable,
    mask_flagged,
    quality_flags,
    with_flags,
)

__all__ = [
    "BAD",
    "DEFAULT_RULES",
    "FaultLimits",
    "QcFlag",
    "QcRule",
    "QcSettings",
    "QualityAssessment",
    "QualityDetector",
    "SensorFault",
    "assess_quality",
    "flag_variable",
    "mask_flagged",
    "quality_flags",
    "with_flags",
]
