"""Detection over datasets: the step from sensing datasets to alerts.

Shared by the service (live buffers) and ``vth detect`` (files).
"""

from __future__ import annotations

import xarray as xr

from vth.detectors import Detector, create, get, names
from vth.errors import VthError
from vth.models import Alert, MbaProfile
from vth.sensing.streams import annotate


def stream_detectors(selected: list[str] | None = None) -> list[Detector]:
    """New instances of the detectors to run on streams.

    With ``selected`` those detectors (an unknown name raises
    :class:`~vth.detectors.UnknownDetectorError`); otherwise every registered detector
    that reads streams and needs no fitting.
    """
    if selected is not None:
        return [create(n) for n in selected]
    return [
        create(n)
        for n in names()
        if not get(n).requires_fit and any(i.startswith("stream") for i in get(n).inputs)
    ]


def run_detectors(
    dataset: xr.Dataset,
    profile: MbaProfile,
    detectors: list[Detector],
    errors: list[str] | None = None,
) -> list[Alert]:
    """Annotate one MBA's stream dataset from its profile and turn detections into alerts.

    Parameters
    ----------
    dataset
        The ``(sensor, time)`` streams of one MBA.
    profile
        That MBA's permitted profile.
    detectors
        The detectors to run, in order.
    errors
        When given, a detector that fails adds ``"<detector> on <mba>: <reason>"``
        here and the other detectors still run; otherwise the error propagates.

    Raises
    ------
    VthError
        When a detector cannot run on the data (e.g. O2 needed but missing) and
        ``errors`` is None.
    """
    annotated = annotate(dataset, profile)
    alerts: list[Alert] = []
    for detector in detectors:
        try:
            alerts.extend(Alert.from_detection(d) for d in detector.detect(annotated, profile))
        except VthError as exc:
            if errors is None:
                raise
            errors.append(f"{detector.name} on {profile.id}: {exc}")
    return alerts
