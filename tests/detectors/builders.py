"""Small builders of stream datasets and profiles for the detector tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from vth.models import MbaProfile, parse_profile
from vth.sensing import make_stream_dataset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PROFILES = ROOT / "examples" / "profiles"
GASTURBINE_NC = ROOT / "examples" / "data" / "gasturbine-2011.nc"
MINUTE = np.timedelta64(60, "s")


def minute_times(start: str, n: int) -> np.ndarray:
    """``n`` one-minute samples from ``start`` (UTC)."""
    return np.datetime64(start, "ns") + np.arange(n) * MINUTE


def half_hours(*levels: float) -> np.ndarray:
    """One value per minute: 30 minutes at each level (NaN makes a half-hour without data)."""
    return np.repeat(np.asarray(levels, dtype=np.float64), 30)


def stream(
    mba_id: str,
    start: str,
    variables: dict[str, Any],
    sensors: tuple[str, ...] = ("cems-l1",),
    units: dict[str, str] | None = None,
    attrs: dict[str, dict[str, Any]] | None = None,
    times: np.ndarray | None = None,
) -> xr.Dataset:
    """A (sensor, time) dataset of minute samples; 1-d values are given to every sensor."""
    units = units or {}
    arrays = {}
    for name, values in variables.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = np.tile(values, (len(sensors), 1))
        arrays[name] = values
    n = next(iter(arrays.values())).shape[1]
    ds = make_stream_dataset(
        mba_id=mba_id,
        sensors=list(sensors),
        times=minute_times(start, n) if times is None else times,
        variables={
            name: (values, units.get(name, "%" if name == "O2" else "mg/m3"))
            for name, values in arrays.items()
        },
    )
    for name, extra in (attrs or {}).items():
        ds[name].attrs.update(extra)
    return ds


def one_limit_profile(limit: dict[str, Any], **profile: Any) -> MbaProfile:
    """An MBA with one stack ``stack-1`` measured by sensor ``cems-1`` under one limit."""
    data: dict[str, Any] = {
        "id": "test-mba",
        "name": "Test MBA",
        "operator": "Test B.V.",
        "activity": "test",
        "location": {"lat": 52.0, "lon": 4.0},
        "sources": [
            {"id": "stack-1", "location": {"lat": 52.001, "lon": 4.002}, "limits": [limit]}
        ],
        "sensors": [{"id": "cems-1", "kind": "cems", "source_id": "stack-1"}],
    }
    data.update(profile)
    return parse_profile(data)
