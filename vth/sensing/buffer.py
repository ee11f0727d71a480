"""In-memory stream buffers that become ``xr.Dataset`` with dims ``(sensor, time)``.

Samples are stored columnar in preallocated numpy arrays that grow by doubling, so a
gateway can append at high rates and a detector can take a labelled dataset at any time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from vth.sensing.readings import Reading
from vth.sensing.streams import make_stream_dataset

_INITIAL_CAPACITY = 4096


@dataclass
class AppendResult:
    """What happened to the readings given to :meth:`StreamBuffer.append`."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)


class StreamBuffer:
    """Thread-safe buffer of readings for many MBAs, sensors and quantities.

    A reading is identified by (MBA, sensor, quantity, time). The same reading
    arriving twice (an MQTT redelivery) is counted as a duplicate and stored once; a
    different value for the same key, or a unit other than the series' first, is
    rejected with the reason, and the stored value is kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._series: dict[tuple[str, str, str], int] = {}
        self._series_keys: list[tuple[str, str, str]] = []
        self._quantity_unit: dict[tuple[str, str], str] = {}
        self._seen: dict[tuple[int, int], float] = {}
        self._n = 0
        self._series_idx = np.empty(_INITIAL_CAPACITY, dtype=np.int32)
        self._time = np.empty(_INITIAL_CAPACITY, dtype=np.int64)
        self._value = np.empty(_INITIAL_CAPACITY, dtype=np.float64)

    def __len__(self) -> int:
        return self._n

    def mba_ids(self) -> list[str]:
        """The MBAs with at least one series, sorted."""
        with self._lock:
            return sorted({k[0] for k in self._series_keys})

    def append(self, mba_id: str, readings: list[Reading]) -> AppendResult:
        """Add readings of one MBA; duplicates are dropped, conflicts rejected."""
        result = AppendResult()
        with self._lock:
            self._reserve(self._n + len(readings))
            for r in readings:
                unit = self._quantity_unit.setdefault((mba_id, r.quantity), r.unit)
                if unit != r.unit:
                    result.rejected.append(
                        f"{r.sensor_id}/{r.quantity}: unit {r.unit!r} differs from {unit!r}, "
                        f"the unit of {r.quantity} at {mba_id}"
                    )
                    continue
                key = (mba_id, r.sensor_id, r.quantity)
                idx = self._series.get(key)
                if idx is None:
                    idx = len(self._series_keys)
                    self._series[key] = idx
                    self._series_keys.append(key)
                previous = self._seen.get((idx, r.time_ns))
                if previous is not None:
                    if previous == r.value:
                        result.duplicates += 1
                    else:
                        when = np.datetime64(r.time_ns, "ns")
                        result.rejected.append(
                            f"{r.sensor_id}/{r.quantity} at {when}: value {r.value} conflicts "
                            f"with the stored {previous}"
                        )
                    continue
                self._seen[(idx, r.time_ns)] = r.value
                n = self._n
                self._series_idx[n] = idx
                self._time[n] = r.time_ns
                self._value[n] = r.value
                self._n = n + 1
                result.accepted += 1
        return result

    def _reserve(self, needed: int) -> None:
        capacity = len(self._time)
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        for name in ("_series_idx", "_time", "_value"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, name, new)

    def prune(self, before: np.datetime64) -> int:
        """Drop readings older than ``before``; return how many were dropped."""
        cutoff = _ns(before)
        with self._lock:
            keep = self._time[: self._n] >= cutoff
            dropped = int(self._n - keep.sum())
            if dropped == 0:
                return 0
            kept = int(keep.sum())
            self._series_idx[:kept] = self._series_idx[: self._n][keep]
            self._time[:kept] = self._time[: self._n][keep]
            self._value[:kept] = self._value[: self._n][keep]
            self._n = kept
            self._seen = {k: v for k, v in self._seen.items() if k[1] >= cutoff}
            return dropped

    def latest_time(self, mba_id: str | None = None) -> np.datetime64 | None:
        """The newest reading's time (of one MBA, or of all)."""
        with self._lock:
            _, times, _ = self._rows(mba_id)
            if len(times) == 0:
                return None
            return np.datetime64(int(times.max()), "ns")

    def _rows(self, mba_id: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = self._series_idx[: self._n]
        times = self._time[: self._n]
        values = self._value[: self._n]
        if mba_id is not None:
            wanted = np.array(
                [i for i, k in enumerate(self._series_keys) if k[0] == mba_id], dtype=np.int32
            )
            mask = np.isin(idx, wanted)
            return idx[mask], times[mask], values[mask]
        return idx, times, values

    def to_dataset(self, mba_id: str, since: np.datetime64 | None = None) -> xr.Dataset:
        """The readings of one MBA as a ``(sensor, time)`` dataset, one variable per quantity.

        Sensors that did not report a quantity at a time hold NaN there.
        """
        with self._lock:
            idx, times, values = self._rows(mba_id)
            if since is not None:
                recent = times >= _ns(since)
                idx, times, values = idx[recent], times[recent], values[recent]
            keys = list(self._series_keys)
            units = {q: u for (m, q), u in self._quantity_unit.items() if m == mba_id}
        used = np.unique(idx)
        sensors = sorted({keys[i][1] for i in used})
        quantities = sorted({keys[i][2] for i in used})
        time_axis, time_pos = np.unique(times, return_inverse=True)
        sensor_pos = {s: i for i, s in enumerate(sensors)}
        quantity_pos = {q: i for i, q in enumerate(quantities)}
        # per series: its row in the grid and its variable (-1: another MBA's series)
        sensor_of = np.array([sensor_pos.get(k[1], -1) for k in keys], dtype=np.int64)
        quantity_of = np.array([quantity_pos.get(k[2], -1) for k in keys], dtype=np.int64)
        variables: dict[str, tuple[np.ndarray, str]] = {}
        for q, quantity in enumerate(quantities):
            rows = quantity_of[idx] == q
            grid = np.full((len(sensors), len(time_axis)), np.nan)
            grid[sensor_of[idx[rows]], time_pos[rows]] = values[rows]
            variables[quantity] = (grid, units[quantity])
        return make_stream_dataset(
            mba_id=mba_id,
            sensors=sensors,
            times=time_axis.astype("datetime64[ns]"),
            variables=variables,
        )


def _ns(t: np.datetime64) -> int:
    """Nanoseconds since the epoch of a ``datetime64`` of any unit."""
    return int(np.asarray(t, dtype="datetime64[ns]").astype(np.int64))
