"""The permit compliance engine: IED/Bal averaging rules over emission streams.

:func:`evaluate_mba` judges every emission limit of an MBA on its streams;
:class:`ComplianceDetector` turns violations into detections live, and
:func:`compliance_report` summarises a period per MBA, source, substance and limit.
"""

from vth.detectors.compliance.averages import LimitAverages, WindowStatus
from vth.detectors.compliance.detector import ComplianceDetector, LimitDetector
from vth.detectors.compliance.evaluation import (
    LimitCheck,
    LimitEvaluation,
    Unevaluated,
    evaluate_mba,
)

__all__ = [
    "ComplianceDetector",
    "LimitAverages",
    "LimitCheck",
    "LimitDetector",
    "LimitEvaluation",
    "Unevaluated",
    "WindowStatus",
    "evaluate_mba",
]
