"""The stream dataset contract: ``xr.Dataset`` with dims ``(sensor, time)``.

One data variable per quantity (``NOx``, ``O2``, ``ch1``, ``wind_speed``...), each with a
``units`` attribute; coordinates ``sensor``, ``time`` (UTC, ``datetime64[ns]``, sorted,
unique), and per sensor ``mba_id``, ``kind``, ``lat`` and ``lon``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import xarray as xr

from vth.sensing.errors import StreamFormatError, UnitError
from vth.sensing.units import canonical_unit, to_canonical

if TYPE_CHECKING:  # models import sensing.units; keep the runtime import one way
    from vth.models.network import SensorNetwork
    from vth.models.profile import MbaProfile

DIMS = ("sensor", "time")


def make_stream_dataset(
    mba_id: str | Sequence[str],
    sensors: Sequence[str],
    times: np.ndarray,
    variables: dict[str, tuple[np.ndarray, str]],
) -> xr.Dataset:
    """Build a stream dataset.

    Parameters
    ----------
    mba_id
        The MBA of all sensors, or one MBA id per sensor.
    sensors
        Sensor ids, the ``sensor`` coordinate.
    times
        UTC times as ``datetime64``, sorted and unique.
    variables
        Quantity name -> (array of shape (sensor, time), unit).
    """
    mba = [mba_id] * len(sensors) if isinstance(mba_id, str) else list(mba_id)
    data_vars = {
        name: xr.Variable(DIMS, np.asarray(values, dtype=np.float64), attrs={"units": unit})
        for name, (values, unit) in variables.items()
    }
    n = len(sensors)
    ds = xr.Dataset(
        data_vars,
        coords={
            "sensor": ("sensor", np.asarray(sensors, dtype=object)),
            "time": ("time", np.asarray(times, dtype="datetime64[ns]")),
            "mba_id": ("sensor", np.asarray(mba, dtype=object)),
            "kind": ("sensor", np.asarray(["unknown"] * n, dtype=object)),
            "lat": ("sensor", np.full(n, np.nan)),
            "lon": ("sensor", np.full(n, np.nan)),
        },
    )
    return ds


def validate_stream_dataset(ds: xr.Dataset, origin: str = "dataset") -> xr.Dataset:
    """Check a dataset against the stream contract and return it in canonical units.

    Variables are converted to the canonical unit of their quantity; a missing
    ``mba_id`` coordinate or a non-time ``time`` axis is an error.

    Raises
    ------
    StreamFormatError
        Naming the file (``origin``) and what is wrong.
    """
    ds = check_stream_structure(ds, origin)
    converted = {}
    for name, var in ds.data_vars.items():
        if set(var.dims) != set(DIMS) or "flag_masks" in var.attrs:
            continue  # quality flags (CF flag variables) stay as they are
        unit = var.attrs.get("units")
        try:
            target = canonical_unit(str(name), unit)
            values = to_canonical(var.transpose(*DIMS).values.astype(np.float64), unit)
        except UnitError as exc:
            raise StreamFormatError(f"{origin}: variable {name!r}: {exc}") from None
        converted[name] = var.transpose(*DIMS).copy(data=values)
        converted[name].attrs = {**var.attrs, "units": target}
    out = ds.assign(converted)
    for coord, fill in (("kind", "unknown"), ("lat", np.nan), ("lon", np.nan)):
        if coord not in out.coords:
            out = out.assign_coords(
                {
                    coord: (
                        "sensor",
                        np.full(
                            out.sizes["sensor"],
                            fill,
                            dtype=object if isinstance(fill, str) else float,
                        ),
                    )
                }
            )
    return out


def check_stream_structure(ds: xr.Dataset, origin: str = "dataset") -> xr.Dataset:
    """The checks of the stream contract that read no values; returns ``ds`` sorted by time.

    Dims ``(sensor, time)``, an ``mba_id`` coordinate, a datetime ``time`` axis without
    duplicates. Cheap on lazily opened archives: only coordinates are read.

    Raises
    ------
    StreamFormatError
        Naming the file (``origin``) and what is wrong.
    """
    for dim in DIMS:
        if dim not in ds.dims:
            raise StreamFormatError(
                f"{origin}: missing dimension {dim!r}; stream datasets have dims (sensor, time), "
                f"found {tuple(ds.dims)}"
            )
    if "mba_id" not in ds.coords:
        raise StreamFormatError(f"{origin}: missing coordinate 'mba_id' (the MBA of each sensor)")
    if not np.issubdtype(ds["time"].dtype, np.datetime64):
        raise StreamFormatError(f"{origin}: coordinate 'time' is {ds['time'].dtype}, not datetime")
    if ds.sizes["time"] > 1 and not bool((np.diff(ds["time"].values) > np.timedelta64(0)).all()):
        ds = ds.sortby("time")
        if bool((np.diff(ds["time"].values) == np.timedelta64(0)).any()):
            raise StreamFormatError(f"{origin}: duplicate times on the 'time' axis")
    return ds


def annotate(ds: xr.Dataset, profile: MbaProfile | SensorNetwork) -> xr.Dataset:
    """Fill ``kind``, ``lat`` and ``lon`` of registered sensors from a profile or network."""
    kinds = ds["kind"].values.copy()
    lats = ds["lat"].values.astype(float).copy()
    lons = ds["lon"].values.astype(float).copy()
    for i, sensor_id in enumerate(ds["sensor"].values):
        sensor = profile.sensor(str(sensor_id))
        if sensor is None:
            source = profile.source(str(sensor_id))
            if source is not None and source.location is not None:
                kinds[i], lats[i], lons[i] = "cems", source.location.lat, source.location.lon
            continue
        kinds[i] = sensor.kind
        if sensor.location is not None:
            lats[i], lons[i] = sensor.location.lat, sensor.location.lon
    return ds.assign_coords(kind=("sensor", kinds), lat=("sensor", lats), lon=("sensor", lons))


def split_by_mba(ds: xr.Dataset) -> dict[str, xr.Dataset]:
    """One dataset per MBA, from a dataset whose sensors belong to several MBAs."""
    mba = ds["mba_id"].values.astype(str)
    return {str(m): ds.isel(sensor=np.flatnonzero(mba == m)) for m in np.unique(mba)}
