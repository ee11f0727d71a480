"""Detection over datasets: the step from sensing datasets to alerts.

Shared by the service (live buffers) and ``vth detect`` (files). MBA detectors run on
each MBA's streams with its profile; network detectors run once on the e-noses and
weather stations of every MBA and public network together.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from vth.detectors import Detector, NetworkDetector, create, get, names
from vth.errors import VthError
from vth.models import Alert, MbaProfile, SensorNetwork
from vth.sensing.network import Network
from vth.sensing.streams import DIMS, annotate, make_stream_dataset

#: Sensor kinds the network detectors look at.
NETWORK_KINDS = ("enose", "weather")


def stream_detectors(selected: list[str] | None = None) -> list[Detector]:
    """New instances of the detectors to run on each MBA's streams.

    With ``selected`` the MBA detectors among those names (an unknown name raises
    :class:`~vth.detectors.UnknownDetectorError`); otherwise every registered MBA
    detector that reads streams and needs no fitting.
    """
    if selected is None:
        selected = [
            n
            for n in names()
            if get(n).scope == "mba"
            and not get(n).requires_fit
            and any(i.startswith("stream") for i in get(n).inputs)
        ]
    return [d for d in (create(n) for n in selected) if isinstance(d, Detector)]


def network_detectors(selected: list[str] | None = None) -> list[NetworkDetector]:
    """New instances of the network detectors: the ``selected`` ones, or all of them.

    Detectors that need fitting come unfitted; the caller fits them on history.
    """
    if selected is None:
        selected = [n for n in names() if get(n).scope == "network"]
    return [d for d in (create(n) for n in selected) if isinstance(d, NetworkDetector)]


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


def network_dataset(
    datasets: Mapping[str, xr.Dataset],
    registers: Mapping[str, MbaProfile | SensorNetwork],
    kinds: tuple[str, ...] = NETWORK_KINDS,
) -> xr.Dataset:
    """The sensors of ``kinds`` of every group (MBA or network) in one dataset.

    Each group's sensors are annotated from its profile or network file (sensors not
    registered there keep unknown kind and are left out). Times are the union of all
    groups' times; a sensor id used by two groups becomes ``<group>/<sensor>``.
    """
    parts = []
    for group, ds in datasets.items():
        register = registers.get(group)
        if register is None or ds.sizes["sensor"] == 0:
            continue
        annotated = annotate(ds, register)
        keep = np.isin(annotated["kind"].values.astype(str), list(kinds))
        if keep.any():
            parts.append(annotated.isel(sensor=np.flatnonzero(keep)))
    times: np.ndarray = (
        np.unique(np.concatenate([p["time"].values for p in parts]))
        if parts
        else np.zeros(0, dtype="datetime64[ns]")
    )
    sensors: list[str] = []
    units: dict[str, str] = {}
    for part in parts:
        for name, var in part.data_vars.items():
            if set(var.dims) == set(DIMS):
                units.setdefault(str(name), str(var.attrs.get("units", "")))
    seen: set[str] = set()
    for part in parts:
        group = str(part["mba_id"].values[0])
        for s in part["sensor"].values.astype(str):
            sensors.append(f"{group}/{s}" if s in seen else s)
            seen.add(s)
    grids = {name: np.full((len(sensors), len(times)), np.nan) for name in units}
    row = 0
    columns: list[np.ndarray] = []
    for part in parts:
        n = part.sizes["sensor"]
        at = np.searchsorted(times, part["time"].values)
        for name in units:
            if name in part:
                grids[name][row : row + n][:, at] = part[name].transpose(*DIMS).values
        columns.append(part["kind"].values)
        row += n
    merged = make_stream_dataset(
        [g for p in parts for g in p["mba_id"].values.astype(str)],
        sensors,
        np.asarray(times, dtype="datetime64[ns]"),
        {name: (grid, units[name]) for name, grid in grids.items()},
    )
    return merged.assign_coords(
        kind=("sensor", np.concatenate(columns) if columns else np.zeros(0, dtype=object)),
        lat=("sensor", np.concatenate([p["lat"].values for p in parts]) if parts else []),
        lon=("sensor", np.concatenate([p["lon"].values for p in parts]) if parts else []),
    )


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
