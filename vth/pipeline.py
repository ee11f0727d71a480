"""Detection over datasets: the step from sensing datasets to alerts.

Shared by the service (live buffers) and ``vth detect`` (files). MBA detectors run on
each MBA's streams with its profile; network detectors run once on the e-noses and
weather stations of every MBA and public network together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import xarray as xr

from vth.detectors import BaseDetector, Detector, NetworkDetector, create, get, names
from vth.errors import VthError
from vth.models import Alert, MbaProfile
from vth.sensing.network import Network

__all__ = [
    "NETWORK_KINDS",
    "history_warnings",
    "network_dataset",
    "network_detectors",
    "run_detectors",
    "run_network_detectors",
    "stream_detectors",
]
from vth.sensing.combine import NETWORK_KINDS, network_dataset
from vth.sensing.streams import annotate


def stream_detectors(
    selected: list[str] | None = None, params: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Detector]:
    """New instances of the detectors to run on each MBA's streams.

    With ``selected`` the MBA detectors among those names (an unknown name raises
    :class:`~vth.detectors.UnknownDetectorError`); otherwise every registered MBA
    detector that reads streams, runs by default and needs no fitting, plus those
    ``params`` names. ``params`` (detector name -> parameters, e.g. from a detector
    settings file) configures the instances.
    """
    if selected is None:
        selected = [
            n
            for n in names()
            if get(n).scope == "mba"
            and (get(n).default or n in (params or {}))
            and not get(n).requires_fit
            and any(i.startswith("stream") for i in get(n).inputs)
        ]
    return [d for d in _create(selected, params) if isinstance(d, Detector)]


def network_detectors(
    selected: list[str] | None = None, params: Mapping[str, Mapping[str, Any]] | None = None
) -> list[NetworkDetector]:
    """New instances of the network detectors: the ``selected`` ones, or all of them.

    Detectors that need fitting come unfitted; the caller fits them on history.
    ``params`` configures them as in :func:`stream_detectors`.
    """
    if selected is None:
        selected = [
            n
            for n in names()
            if get(n).scope == "network" and (get(n).default or n in (params or {}))
        ]
    return [d for d in _create(selected, params) if isinstance(d, NetworkDetector)]


def history_warnings(detectors: Sequence[BaseDetector], retention_h: float) -> list[str]:
    """Warnings for detectors that need more recent data than the buffer keeps."""
    return [
        f"{d.name} needs {d.history_needed_h():g} h of data before it can detect; the buffer "
        f"keeps {retention_h:g} h: raise VTH_BUFFER_RETENTION_H (buffer_retention_h)"
        for d in detectors
        if d.history_needed_h() > retention_h
    ]


def _create(
    selected: list[str], params: Mapping[str, Mapping[str, Any]] | None
) -> list[BaseDetector]:
    return [create(n, **dict((params or {}).get(n, {}))) for n in selected]


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


def run_network_detectors(
    dataset: xr.Dataset,
    network: Network,
    detectors: list[NetworkDetector],
    errors: list[str] | None = None,
) -> list[Alert]:
    """Run network detectors on a network dataset (see :func:`network_dataset`).

    Detectors that need fitting and are not fitted are skipped with a note in
    ``errors`` (when given).
    """
    alerts: list[Alert] = []
    if dataset.sizes["sensor"] == 0 or dataset.sizes["time"] == 0:
        return alerts
    for detector in detectors:
        if detector.requires_fit and not getattr(detector, "is_fitted_", False):
            if errors is not None:
                errors.append(f"{detector.name} on {network.id}: not fitted on history yet")
            continue
        try:
            alerts.extend(Alert.from_detection(d) for d in detector.detect(dataset, network))
        except VthError as exc:
            if errors is None:
                raise
            errors.append(f"{detector.name} on {network.id}: {exc}")
    return alerts
