"""Put streams on a regular clock-aligned time grid (1-minute by default).

Network detectors compare sensors minute by minute, so they need every sensor on one
grid with NaN where a sensor has no sample. Streams from the gateway usually are on
whole minutes already; anything else is averaged into clock-aligned windows.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from vth.sensing.streams import DIMS
from vth.sensing.windows import PERIOD_NS, grid_ids, window_averages, window_bounds, window_ids


def regular_grid(ds: xr.Dataset, period: str = "1min") -> xr.Dataset:
    """``ds`` with a ``time`` axis of every window start of ``period`` between its ends.

    Samples on window starts are kept as they are; otherwise each window holds the mean
    of its samples. Windows without samples hold NaN.

    Parameters
    ----------
    ds
        A stream dataset with dims ``(sensor, time)``.
    period
        A fixed-length period of :data:`vth.sensing.windows.PERIOD_NS`, e.g. ``1min``.
    """
    step = PERIOD_NS[period]
    times = ds["time"].values.astype("datetime64[ns]")
    if len(times) == 0:
        return ds
    t = times.astype(np.int64)
    if bool((t % step == 0).all()) and (len(t) == 1 or bool((np.diff(t) == step).all())):
        return ds
    first, last = window_ids(times[[0, -1]], period)
    start = window_bounds(np.array([first]), period)[0][0]
    end = window_bounds(np.array([last]), period)[1][0]
    index = grid_ids(start, end, period)
    grid = window_bounds(index, period)[0]
    if bool((t % step == 0).all()):
        # samples on window starts, some windows missing: scatter, no averaging
        return ds.reindex(time=grid)
    interval = np.full(ds.sizes["sensor"], step, dtype=np.int64)
    data_vars = {}
    for name, var in ds.data_vars.items():
        if set(var.dims) != set(DIMS):
            continue
        values = var.transpose(*DIMS).values.astype(np.float64)
        mean = window_averages(values, times, period, interval, span=(start, end)).mean
        data_vars[name] = xr.Variable(DIMS, mean, attrs=var.attrs)
    out = xr.Dataset(data_vars, coords={"time": ("time", grid)}, attrs=ds.attrs)
    return out.assign_coords({k: v for k, v in ds.coords.items() if "time" not in v.dims})
