"""Network incidents: e-nose alarms that coincide in time and place are one incident.

Twenty e-noses smelling one plume are one incident for the control room, not twenty.
Alarms are linked when they overlap in time (within ``merge_minutes``, the time a
plume takes between neighbouring e-noses) and the e-noses are within
``max_distance_m`` of each other; each connected group is an incident.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from vth.sensing.masks import run_bounds


@dataclass(frozen=True)
class Alarms:
    """Alarm runs of all e-noses: one entry per run, ``stops`` exclusive (minute indices)."""

    sensors: np.ndarray
    starts: np.ndarray
    stops: np.ndarray
    peaks: np.ndarray

    def __len__(self) -> int:
        return len(self.sensors)


def alarm_runs(alarm: np.ndarray, ratio: np.ndarray) -> Alarms:
    """The runs of an alarm mask ``(sensor, time)`` with each run's peak ``ratio``."""
    rows, starts, stops = run_bounds(alarm)
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Alarms(empty, empty, empty, np.zeros(0))
    filled = np.where(alarm, np.nan_to_num(ratio, nan=0.0), 0.0)
    flat = filled.ravel()
    n = alarm.shape[1]
    peaks = np.array(  # a loop over alarm runs, few, not over samples
        [flat[r * n + a : r * n + b].max() for r, a, b in zip(rows, starts, stops, strict=True)]
    )
    return Alarms(rows, starts, stops, peaks)


def group_alarms(
    alarms: Alarms, x: np.ndarray, y: np.ndarray, merge_minutes: int, max_distance_m: float
) -> list[np.ndarray]:
    """Groups of alarm indices that form one incident each, ordered by start.

    Parameters
    ----------
    alarms
        Alarm runs of all e-noses.
    x, y
        Positions of the sensors (metres), indexed by ``alarms.sensors``.
    merge_minutes
        Alarms less than this apart in time are linked.
    max_distance_m
        Alarms of e-noses further apart than this are not linked.
    """
    n = len(alarms)
    if n == 0:
        return []
    a_start, a_stop = alarms.starts, alarms.stops
    overlap = (a_start[:, None] < a_stop[None, :] + merge_minutes) & (
        a_start[None, :] < a_stop[:, None] + merge_minutes
    )
    sx, sy = x[alarms.sensors], y[alarms.sensors]
    distance = np.hypot(sx[:, None] - sx[None, :], sy[:, None] - sy[None, :])
    near = ~(distance > max_distance_m)  # unknown positions do not split a group
    i, j = np.nonzero(overlap & near)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    groups = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    groups.sort(key=lambda g: int(a_start[g].min()))
    return groups
