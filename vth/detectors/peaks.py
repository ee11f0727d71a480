"""Short peaks: 1-minute values (or another short average) above a multiple of a limit.

For fence-line and process sensors whose permit limit is an average over a longer
period: a limit with ``peak: {factor: 4, average: 1min}`` raises a ``peak`` alert for
each run of 1-minute averages above four times the limit value. No confidence interval
is subtracted from peaks.
"""

from __future__ import annotations

from vth.detectors.compliance.detector import LimitDetector
from vth.detectors.registry import register


@register
class PeakDetector(LimitDetector):
    """Short averages above ``factor`` x the limit, for limits with a ``peak`` check."""

    name = "peak"
    kind = "peak"
    technologies = ("sensors",)
    tasks = ("supervision", "environmental_monitoring")
    obligations = ("peak_limit",)
    inputs = ("stream:<substance>", "stream:O2 (when a limit has reference_o2)")
    detection_limit = "one short average (1 minute by default) above factor x the limit"
    checks = ("peak",)
