"""E-nose features: each channel's log resistance minus its own trailing baseline.

Metal-oxide elements respond to gas with a change in resistance by a factor, drift
slowly over weeks and differ between units, so each channel is compared with its own
recent past on a log scale. The baseline trails (see
:func:`vth.sensing.baseline.trailing_baseline`): an incident never raises its own
baseline, and the same minute gets the same feature on every later run.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np
import xarray as xr

from vth.sensing.baseline import trailing_baseline
from vth.sensing.streams import DIMS


def channel_names(ds: xr.Dataset) -> list[str]:
    """The e-nose channels of ``ds``: its ``(sensor, time)`` variables in Ohm, sorted."""
    return sorted(
        str(name)
        for name, var in ds.data_vars.items()
        if var.attrs.get("units") == "Ohm" and set(var.dims) == set(DIMS)
    )


def log_resistance(ds: xr.Dataset, channels: list[str], unusable: np.ndarray) -> np.ndarray:
    """``log(R)`` as float32 ``(sensor, time, channel)``; NaN where unusable or not positive."""
    out = np.empty((ds.sizes["sensor"], ds.sizes["time"], len(channels)), dtype=np.float32)
    for c, name in enumerate(channels):
        values = ds[name].transpose(*DIMS).values.astype(np.float32)
        values[unusable | ~(values > 0)] = np.nan
        out[:, :, c] = np.log(values)
    return out


def deviations(log_r: np.ndarray, baseline_hours: int, min_baseline_hours: int) -> np.ndarray:
    """Each channel's ``log(R)`` minus its trailing baseline (hourly blocks of 1-minute data).

    Minutes where any channel is missing, or the baseline has fewer than
    ``min_baseline_hours`` hours of history, are NaN on every channel.
    """
    channels_first = np.moveaxis(log_r, 2, 1)  # (sensor, channel, time)
    baseline = trailing_baseline(channels_first, 60, baseline_hours, min_baseline_hours)
    z = np.moveaxis(channels_first - baseline, 1, 2)
    z[np.isnan(z).any(axis=2)] = np.nan
    return np.ascontiguousarray(z)


def common_mode(z: np.ndarray, min_sensors: int) -> np.ndarray:
    """The network's median deviation per minute and channel, ``(time, channel)``.

    Temperature and humidity move every e-nose of a region at once; a plume reaches a
    few. Minutes with fewer than ``min_sensors`` e-noses give 0 (no correction).
    """
    with np.errstate(invalid="ignore"):
        median = bn.nanmedian(z, axis=0)
    enough = (~np.isnan(z[:, :, 0])).sum(axis=0) >= min_sensors
    median[~enough] = 0.0
    result: np.ndarray = np.nan_to_num(median, nan=0.0).astype(np.float32)
    return result


def common_mode_gain(z: np.ndarray, common: np.ndarray) -> np.ndarray:
    """Per e-nose and channel, the least-squares gain of its deviation on the common mode."""
    m = np.broadcast_to(common[None, :, :], z.shape)
    valid = ~np.isnan(z)
    num = np.where(valid, z * m, 0.0).sum(axis=1, dtype=np.float64)
    den = np.where(valid, m * m, 0.0).sum(axis=1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(den > 0, num / den, 0.0)
    result: np.ndarray = np.clip(gain, 0.0, 3.0)
    return result


def without_common_mode(z: np.ndarray, gain: np.ndarray, common: np.ndarray) -> np.ndarray:
    """``z`` minus each e-nose's ``gain`` (sensor, channel) times the ``common`` mode."""
    corrected: np.ndarray = z - gain[:, None, :].astype(np.float32) * common[None, :, :]
    return corrected
