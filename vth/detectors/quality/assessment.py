"""From per-sample flags to sensor faults: which sensor is broken, when, and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from vth.detectors.quality.flags import (
    DEFAULT_RULES,
    QcFlag,
    QcRule,
    QcSettings,
    quality_flags,
)
from vth.sensing.masks import close_gaps, long_runs, mark_runs, run_bounds, run_counts

#: Flags that make a sensor faulty while they last.
FAULTY = QcFlag.OUT_OF_RANGE | QcFlag.FLATLINE | QcFlag.DRIFT


@dataclass(frozen=True)
class FaultLimits:
    """When flagged samples make a sensor fault.

    Parameters
    ----------
    max_gap_minutes
        A gap this long is a fault (the sensor is offline); shorter gaps are lost
        messages.
    min_spikes
        This many spikes less than an hour apart are a fault (a loose contact).
    merge_minutes
        Faulty stretches closer than this are one fault.
    """

    max_gap_minutes: int = 60
    min_spikes: int = 2
    merge_minutes: int = 30


@dataclass(frozen=True)
class SensorFault:
    """A stretch of time a sensor was faulty, with the flags that made it so."""

    sensor: int
    start: int
    stop: int
    flags: dict[str, int] = field(default_factory=dict)
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class QualityAssessment:
    """Flags of every sample, and the faults they add up to.

    ``unusable`` is ``(sensor, time)``: True where a sensor's samples must not be
    used (inside a fault, or any sample flagged other than a gap).
    """

    flags: xr.Dataset
    unusable: np.ndarray
    faults: list[SensorFault]


def assess_quality(
    ds: xr.Dataset,
    rules: dict[str, QcRule] | None = None,
    settings: QcSettings | None = None,
    limits: FaultLimits | None = None,
    references: dict[str, np.ndarray] | None = None,
) -> QualityAssessment:
    """Flag every sample of ``ds`` (regular 1-minute grid) and find the sensor faults."""
    settings = settings or QcSettings()
    limits = limits or FaultLimits()
    flags = quality_flags(ds, DEFAULT_RULES if rules is None else rules, settings, references)
    shape = (ds.sizes["sensor"], ds.sizes["time"])
    faulty = np.zeros(shape, dtype=bool)
    flagged = np.zeros(shape, dtype=bool)
    spikes = np.zeros(shape, dtype=bool)
    for name in flags.data_vars:
        f = flags[name].values
        faulty |= (f & FAULTY) != 0
        faulty |= long_runs((f & QcFlag.GAP) != 0, limits.max_gap_minutes)
        flagged |= (f & ~np.uint8(QcFlag.GAP)) != 0
        spikes |= (f & QcFlag.SPIKE) != 0
    faulty |= _spike_bursts(spikes, limits.min_spikes)
    faulty = close_gaps(faulty, limits.merge_minutes)
    rows, starts, stops = run_bounds(faulty)
    faults = [
        _fault(flags, int(r), int(a), int(b))
        for r, a, b in zip(rows.tolist(), starts.tolist(), stops.tolist(), strict=True)
    ]
    return QualityAssessment(flags=flags, unusable=faulty | flagged, faults=faults)


def _spike_bursts(spikes: np.ndarray, min_spikes: int) -> np.ndarray:
    joined = close_gaps(spikes, 60)
    rows, starts, stops = run_bounds(joined)
    keep = run_counts(spikes, rows, starts, stops) >= min_spikes
    return mark_runs(spikes.shape, rows[keep], starts[keep], stops[keep])


def _fault(flags: xr.Dataset, row: int, start: int, stop: int) -> SensorFault:
    counts: dict[str, int] = {}
    bad: list[str] = []
    missing: list[str] = []
    for name in flags.data_vars:
        f = flags[name].values[row, start:stop]
        for flag in QcFlag:
            n = int(((f & flag) != 0).sum())
            if n:
                key = str(flag.name).lower()
                counts[key] = counts.get(key, 0) + n
        if ((f & ~np.uint8(QcFlag.GAP)) != 0).any():
            bad.append(str(name))
        elif ((f & QcFlag.GAP) != 0).any():
            missing.append(str(name))
    # the variables that were wrong; for a sensor that went offline, the missing ones
    return SensorFault(row, start, stop, counts, tuple(bad or missing))
