"""The quality detector: a broken sensor raises a ``sensor_fault`` alert, not a gas alert."""

from __future__ import annotations

from typing import Any

import bottleneck as bn
import numpy as np
import xarray as xr

from vth import __version__
from vth.detectors.base import NetworkDetector
from vth.detectors.compliance.detections import utc
from vth.detectors.quality.assessment import (
    FaultLimits,
    QualityAssessment,
    SensorFault,
    assess_quality,
)
from vth.detectors.quality.flags import DEFAULT_RULES, QcSettings
from vth.detectors.registry import register
from vth.models.detection import Detection, Severity
from vth.sensing.grid import regular_grid
from vth.sensing.network import Network
from vth.sensing.streams import DIMS

_DESCRIPTIONS = {
    "out_of_range": "values outside the physical range (open or shorted element?)",
    "flatline": "values stuck at one value",
    "drift": "level drifted away from its long reference (recalibrate)",
    "spike": "isolated spikes (loose contact or interference)",
    "gap": "no data (offline)",
}


@register
class QualityDetector(NetworkDetector):
    """Sensor quality control: gaps, flatlines, spikes, out-of-range values and drift.

    Parameters
    ----------
    kinds
        Sensor kinds to check (the ``kind`` coordinate).
    spike_threshold
        A spike departs from both neighbours by this many robust standard deviations
        of the sensor's minute-to-minute changes.
    drift_limit
        Drift flagged beyond this distance from the reference level (log units for
        resistances: 0.4 is a factor 1.5).
    drift_hours
        The level compared with the reference is the median of this many hours.
    max_gap_minutes, min_spikes, merge_minutes
        See :class:`~vth.detectors.quality.assessment.FaultLimits`.
    """

    name = "quality"
    kind = "sensor_fault"
    technologies = ("e-noses", "sensors")
    tasks = ("supervision", "environmental_monitoring")
    inputs = ("stream:ch* (e-nose resistances)", "stream:wind_direction", "stream:wind_speed")
    detection_limit = (
        "stuck values over 30 min (e-noses), gaps over 1 h, 2 spikes within 1 h, "
        "drift beyond a factor 1.5 of the reference resistance"
    )

    def __init__(
        self,
        kinds: tuple[str, ...] = ("enose", "weather"),
        spike_threshold: float = 10.0,
        drift_limit: float = 0.4,
        drift_hours: int = 6,
        max_gap_minutes: int = 60,
        min_spikes: int = 2,
        merge_minutes: int = 30,
    ) -> None:
        self.kinds = kinds
        self.spike_threshold = spike_threshold
        self.drift_limit = drift_limit
        self.drift_hours = drift_hours
        self.max_gap_minutes = max_gap_minutes
        self.min_spikes = min_spikes
        self.merge_minutes = merge_minutes

    def select(self, ds: xr.Dataset) -> xr.Dataset:
        """The sensors of ``kinds``, on a regular 1-minute grid."""
        if "kind" in ds.coords:
            ds = ds.isel(sensor=np.isin(ds["kind"].values.astype(str), list(self.kinds)))
        return regular_grid(ds)

    def assess(self, ds: xr.Dataset) -> QualityAssessment:
        """Flags and faults of ``ds`` (already selected and on a regular grid)."""
        return assess_quality(
            ds,
            DEFAULT_RULES,
            QcSettings(self.spike_threshold, self.drift_limit, self.drift_hours),
            FaultLimits(self.max_gap_minutes, self.min_spikes, self.merge_minutes),
            self._references(ds),
        )

    def _fit(self, dataset: xr.Dataset, network: Network | None) -> None:
        ds = self.select(dataset)
        references: dict[str, dict[str, float]] = {}
        for name, var in ds.data_vars.items():
            rule = DEFAULT_RULES.get(str(var.attrs.get("units", "")))
            if rule is None or not rule.drift or set(var.dims) != set(DIMS):
                continue
            values = var.transpose(*DIMS).values.astype(np.float32)
            with np.errstate(divide="ignore", invalid="ignore"):
                level = np.where(
                    (values >= rule.low) & (values <= rule.high), np.log(values), np.nan
                )
                median = bn.nanmedian(level, axis=1)
            references[str(name)] = {
                str(s): float(m)
                for s, m in zip(ds["sensor"].values, median, strict=True)
                if np.isfinite(m)
            }
        self.references_ = references

    def _references(self, ds: xr.Dataset) -> dict[str, np.ndarray] | None:
        learned: dict[str, dict[str, float]] | None = getattr(self, "references_", None)
        if not learned:
            return None
        sensors = [str(s) for s in ds["sensor"].values]
        return {
            name: np.array([levels.get(s, np.nan) for s in sensors])
            for name, levels in learned.items()
        }

    def _detect(self, dataset: xr.Dataset, network: Network) -> list[Detection]:
        ds = self.select(dataset)
        if ds.sizes["sensor"] == 0 or ds.sizes["time"] == 0:
            return []
        assessment = self.assess(ds)
        return [fault_detection(ds, f, self.name, self.get_params()) for f in assessment.faults]


def fault_detection(
    ds: xr.Dataset, fault: SensorFault, detector: str, parameters: dict[str, Any]
) -> Detection:
    """A ``sensor_fault`` detection of one fault of ``ds``."""
    times = ds["time"].values
    sensor = str(ds["sensor"].values[fault.sensor])
    minutes = fault.stop - fault.start
    main = max(fault.flags, key=lambda flag: fault.flags[flag]) if fault.flags else "gap"
    reason = (
        f"{sensor}: {_DESCRIPTIONS.get(main, main)} on {', '.join(fault.variables) or 'all'} "
        f"for {minutes} min; its samples are excluded from gas detection"
    )
    lat, lon = float(ds["lat"].values[fault.sensor]), float(ds["lon"].values[fault.sensor])
    severity: Severity = "medium" if minutes >= 360 else "low"
    return Detection(
        detector=detector,
        kind="sensor_fault",
        mba_id=str(ds["mba_id"].values[fault.sensor]),
        sensor_id=sensor,
        start=utc(times[fault.start]),
        end=utc(times[fault.stop - 1] + np.timedelta64(1, "m")),
        lat=None if np.isnan(lat) else lat,
        lon=None if np.isnan(lon) else lon,
        severity=severity,
        evidence={
            "reason": reason,
            "fault": main,
            "flagged_samples": fault.flags,
            "variables": list(fault.variables),
            "parameters": parameters,
            "version": __version__,
        },
    )
