"""Thermal anomalies in satellite and drone images, against permitted heat sources."""

from vth.detectors.heat.contextual import ContextualResult, contextual_test, scene_level
from vth.detectors.heat.detector import HeatAnomalyDetector, temperature_k
from vth.detectors.heat.hotspots import HotSpot, Judgement, cluster, judge

__all__ = [
    "ContextualResult",
    "HeatAnomalyDetector",
    "HotSpot",
    "Judgement",
    "cluster",
    "contextual_test",
    "judge",
    "scene_level",
    "temperature_k",
]
