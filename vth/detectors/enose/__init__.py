"""E-nose network: deviation scores, incidents and source attribution by wind."""

from vth.detectors.enose.attribution import PlumeModel, Ranking, WindEstimate, rank_sources
from vth.detectors.enose.detector import EnoseIncidentDetector

__all__ = ["EnoseIncidentDetector", "PlumeModel", "Ranking", "WindEstimate", "rank_sources"]
