"""One dataset of the sensors of many MBAs and networks, for the network detectors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from vth.sensing.streams import DIMS, annotate, make_stream_dataset

if TYPE_CHECKING:  # models import sensing.units; keep the runtime import one way
    from vth.models.network import SensorNetwork
    from vth.models.profile import MbaProfile

#: Sensor kinds the network detectors look at.
NETWORK_KINDS = ("enose", "weather")


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
