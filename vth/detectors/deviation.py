"""Deviations from a sensor's own recent past: a trailing rolling z-score.

Emission limits say when a value breaks the permit; many events that matter to an
inspector stay below the limit but are unusual for that stack or fence-line sensor
(a filter starting to fail, a leak at night). This detector compares each sample with
the mean and standard deviation of the samples in the ``window`` before it (never
including itself, so an event does not lift its own baseline) and reports runs of
samples more than ``threshold`` standard deviations away. It has no permit to lean on,
so its settings are what data scientists tune on history (``vth backtest``); it runs
only when named or configured.
"""

from __future__ import annotations

from typing import Literal

import bottleneck as bn
import numpy as np
import pandas as pd
import xarray as xr

from vth.detectors.base import Detector
from vth.detectors.errors import DetectorConfigError
from vth.detectors.registry import register
from vth.models.detection import Detection, Severity
from vth.models.profile import MbaProfile
from vth.sensing.grid import regular_grid
from vth.sensing.masks import close_gaps, long_run_bounds
from vth.sensing.streams import DIMS
from vth.sensing.windows import PERIOD_NS

#: Quantities that describe the weather or the flue gas, not an emission.
NOT_EMISSIONS = frozenset(
    {"wind_direction", "wind_speed", "O2", "H2O", "temperature", "humidity", "pressure"}
)

Direction = Literal["up", "down", "both"]


@register
class DeviationDetector(Detector):
    """Runs of samples far from the sensor's trailing mean (rolling z-score).

    Parameters
    ----------
    window
        Length of the trailing baseline, e.g. ``"24h"``.
    threshold
        How many trailing standard deviations a sample must be from the trailing mean.
    min_duration
        Shortest run of deviating samples that counts, e.g. ``"1h"`` (at least one sample).
    merge_gap
        Runs of one sensor this close together become one detection.
    min_coverage
        Fraction of the window that must hold valid samples for a baseline.
    direction
        ``"up"`` (rises only, the default), ``"down"`` or ``"both"``.
    quantities
        The variables to watch; by default every variable but weather and flue-gas
        conditions (wind, O2, humidity, ...).
    grid
        Sampling grid the streams are put on (``"1min"``, ``"10min"``, ``"30min"``,
        ``"1h"``, ``"1d"``); inferred from the median sample interval when None.
    """

    name = "deviation"
    kind = "peak"
    technologies = ("sensors",)
    tasks = ("supervision", "environmental_monitoring")
    inputs = ("stream:<any quantity>",)
    detection_limit = (
        "a run of at least min_duration samples more than threshold trailing standard "
        "deviations from the trailing mean over window"
    )
    default = False

    def __init__(
        self,
        window: str = "24h",
        threshold: float = 4.0,
        min_duration: str = "1h",
        merge_gap: str = "1h",
        min_coverage: float = 0.5,
        direction: Direction = "up",
        quantities: list[str] | str | None = None,
        grid: str | None = None,
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.min_duration = min_duration
        self.merge_gap = merge_gap
        self.min_coverage = min_coverage
        self.direction = direction
        self.quantities = quantities
        self.grid = grid

    def history_needed_h(self) -> float:
        """The part of the window that must hold data before a baseline exists."""
        try:
            window = pd.Timedelta(self.window)
        except (TypeError, ValueError):
            return 0.0
        return float(window / pd.Timedelta(hours=1)) * float(self.min_coverage)

    def _detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        self.check_params()
        names = self._variables(dataset)
        if not names or dataset.sizes["time"] < 2:
            return []
        if "kind" in dataset.coords:
            keep = dataset["kind"].values.astype(str) != "weather"
            dataset = dataset.isel(sensor=np.flatnonzero(keep))
        if dataset.sizes["sensor"] == 0:
            return []
        period = self.grid or infer_grid(dataset["time"].values)
        gridded = regular_grid(dataset[names], period)
        step = PERIOD_NS[period]
        window = max(2, _samples(self.window, step, "window"))
        min_run = max(1, _samples(self.min_duration, step, "min_duration"))
        gap = _samples(self.merge_gap, step, "merge_gap")
        times = gridded["time"].values
        sensors = gridded["sensor"].values.astype(str)
        detections: list[Detection] = []
        for name in names:
            var = gridded[name]
            values = var.transpose(*DIMS).values.astype(np.float64)
            z, mean, std = trailing_zscore(values, window, self.min_coverage)
            with np.errstate(invalid="ignore"):
                if self.direction == "up":
                    mask = z > self.threshold
                elif self.direction == "down":
                    mask = z < -self.threshold
                else:
                    mask = np.abs(z) > self.threshold
            if gap > 0:
                mask = close_gaps(mask, gap)
            rows, starts, stops = long_run_bounds(mask, min_run)
            unit = str(var.attrs.get("units", "")) or None
            for row, start, stop in zip(rows, starts, stops, strict=True):
                span = slice(int(start), int(stop))
                z_run = np.abs(z[row, span])
                worst = int(start) + int(np.nanargmax(z_run)) if np.isfinite(z_run).any() else start
                z_max = float(np.nanmax(z_run)) if np.isfinite(z_run).any() else float("nan")
                detections.append(
                    Detection(
                        detector=self.name,
                        kind=self.kind,
                        mba_id=profile.id,
                        sensor_id=str(sensors[row]),
                        substance=str(name),
                        start=pd.Timestamp(times[start]).tz_localize("UTC").to_pydatetime(),
                        end=pd.Timestamp(times[stop - 1] + np.timedelta64(step, "ns"))
                        .tz_localize("UTC")
                        .to_pydatetime(),
                        value=_finite(values[row, worst]),
                        unit=unit,
                        severity=_severity(z_max, self.threshold),
                        evidence={
                            "z_max": _finite(z_max),
                            "baseline_mean": _finite(mean[row, worst]),
                            "baseline_std": _finite(std[row, worst]),
                            "grid": period,
                            "samples": int(stop - start),
                            "parameters": self.get_params(),
                        },
                    )
                )
        return sorted(detections, key=lambda d: (d.start, d.sensor_id or "", d.substance or ""))

    def _variables(self, dataset: xr.Dataset) -> list[str]:
        stream_vars = [str(n) for n, v in dataset.data_vars.items() if set(v.dims) == set(DIMS)]
        if self.quantities is None:
            return [n for n in stream_vars if n not in NOT_EMISSIONS]
        wanted: object = self.quantities
        if isinstance(wanted, str):  # one name given as text in a settings file
            wanted = [wanted]
        return [n for n in stream_vars if n in wanted]  # type: ignore[operator]

    def check_params(self) -> None:
        """Refuse thresholds, coverages, directions, grids and durations that make no sense."""
        if not _is_number(self.threshold) or not np.isfinite(self.threshold) or self.threshold <= 0:
            raise DetectorConfigError(f"deviation: threshold must be > 0, got {self.threshold!r}")
        if not _is_number(self.min_coverage) or not 0 < self.min_coverage <= 1:
            raise DetectorConfigError(
                f"deviation: min_coverage must be in (0, 1], got {self.min_coverage!r}"
            )
        for what in ("window", "min_duration", "merge_gap"):
            _samples(getattr(self, what), 1, what)
        if self.direction not in ("up", "down", "both"):
            raise DetectorConfigError(
                f"deviation: direction must be 'up', 'down' or 'both', got {self.direction!r}"
            )
        if self.grid is not None and self.grid not in PERIOD_NS:
            raise DetectorConfigError(
                f"deviation: grid must be one of {', '.join(PERIOD_NS)}, got {self.grid!r}"
            )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def trailing_zscore(
    values: np.ndarray, window: int, min_coverage: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z-score of each sample against the ``window`` samples before it, per row.

    Parameters
    ----------
    values
        ``(sensor, time)`` samples on a regular grid, NaN where missing.
    window
        Number of earlier samples in the baseline.
    min_coverage
        Fraction of the window that must be valid; otherwise the z-score is NaN.

    Returns
    -------
    z, mean, std
        Arrays shaped like ``values``; ``mean``/``std`` are the trailing baseline.
        A flat baseline (std 0) gives NaN, not infinity.
    """
    min_count = max(2, int(np.ceil(window * min_coverage)))
    # data shorter than the window: the window holds all there is (bottleneck refuses more)
    window = min(window, values.shape[-1])
    mean = np.full_like(values, np.nan)
    std = np.full_like(values, np.nan)
    if window >= min_count:
        mean[..., 1:] = bn.move_mean(values, window, min_count=min_count, axis=-1)[..., :-1]
        std[..., 1:] = bn.move_std(values, window, min_count=min_count, axis=-1, ddof=1)[..., :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(std > 0, (values - mean) / std, np.nan)
    return z, mean, std


def infer_grid(times: np.ndarray) -> str:
    """The smallest fixed averaging period at least as long as the median sample interval."""
    t = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    if len(t) < 2:
        return "1min"
    median = float(np.median(np.diff(np.unique(t))))
    for period, length in sorted(PERIOD_NS.items(), key=lambda item: item[1]):
        if length >= median * 0.999:
            return period
    return "1d"


def _samples(text: str, step: int, what: str) -> int:
    try:
        length = pd.Timedelta(text).value
    except (TypeError, ValueError):
        raise DetectorConfigError(
            f"deviation: {what} {text!r} is not a duration like '30min' or '24h'"
        ) from None
    if length < 0:
        raise DetectorConfigError(f"deviation: {what} must not be negative, got {text!r}")
    return int(length // step)


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _severity(z_max: float, threshold: float) -> Severity:
    return "medium" if np.isfinite(z_max) and z_max >= 2 * threshold else "low"
