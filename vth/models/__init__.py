"""Domain models: MBA profiles and emission limits, sensors, detections and alerts."""

from vth.models.alert import WORKFLOW_FIELDS, Alert, AlertReview, Verdict, verdict_of
from vth.models.detection import AlertKind, Candidate, Detection, Severity, severity_for
from vth.models.errors import FieldProblem, ProfileError
from vth.models.lhso import LhsoRules, LhsoSuggestion, suggest_lhso
from vth.models.loading import (
    load_network,
    load_networks,
    load_profile,
    load_profiles,
    parse_profile,
)
from vth.models.network import SensorNetwork, emission_points, network_of
from vth.models.profile import (
    EmissionLimit,
    HeatSource,
    Location,
    MbaProfile,
    OperatingHours,
    PeakLimit,
    PercentileRule,
    Sensor,
    Source,
)

__all__ = [
    "WORKFLOW_FIELDS",
    "Alert",
    "AlertKind",
    "AlertReview",
    "Candidate",
    "Detection",
    "EmissionLimit",
    "FieldProblem",
    "HeatSource",
    "LhsoRules",
    "LhsoSuggestion",
    "Location",
    "MbaProfile",
    "OperatingHours",
    "PeakLimit",
    "PercentileRule",
    "ProfileError",
    "Sensor",
    "SensorNetwork",
    "Severity",
    "Source",
    "Verdict",
    "emission_points",
    "load_network",
    "load_networks",
    "load_profile",
    "load_profiles",
    "network_of",
    "parse_profile",
    "severity_for",
    "suggest_lhso",
    "verdict_of",
]
