"""Exceedance of emission limits: clock-aligned averages compared against the permit.

For every source of the MBA and every emission limit with rule ``all``, the samples
of the sensors measuring that source are (1) brought to the limit's reference O2,
(2) masked outside operating hours where the limit says so, (3) averaged over
clock-aligned windows of the limit's ``average``, (4) kept only where the window is
complete and has at least ``min_coverage`` valid samples, (5) reduced by the
confidence interval, and (6) compared with the limit. Consecutive exceeding windows
become one detection. Percentile rules are periodic verdicts, not alerts per window;
they belong to the compliance engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vth import __version__
from vth.detectors.base import Detector
from vth.detectors.errors import DetectorError
from vth.detectors.registry import register
from vth.models.detection import Detection, severity_for
from vth.models.profile import EmissionLimit, MbaProfile, Source
from vth.sensing.errors import ReferenceConditionError, UnitError
from vth.sensing.reference import to_reference_o2
from vth.sensing.units import convert
from vth.sensing.windows import PERIOD_NS, WindowAverages, runs, window_averages

#: At most this many windows are copied into an alert's evidence.
MAX_EVIDENCE_WINDOWS = 48


@register
class ExceedanceDetector(Detector):
    """Averages over the permit's averaging periods that exceed the emission limit.

    Parameters
    ----------
    min_coverage
        Overrides every limit's ``min_coverage`` when set.
    sampling_interval
        Sampling interval for coverage (e.g. ``"1min"``); inferred per sensor when None.
    substances
        Only check these substances; all limits when None.
    """

    name = "exceedance"
    kind = "exceedance"
    technology = "sensors"
    tasks = ("supervision", "enforcement")
    inputs = ("stream:<substance>", "stream:O2 (when a limit has reference_o2)")
    detection_limit = (
        "one averaging period above the limit after the confidence interval; "
        "needs min_coverage valid samples per window"
    )

    def __init__(
        self,
        min_coverage: float | None = None,
        sampling_interval: str | None = None,
        substances: list[str] | None = None,
    ) -> None:
        self.min_coverage = min_coverage
        self.sampling_interval = sampling_interval
        self.substances = substances

    def _detect(self, dataset: xr.Dataset, profile: MbaProfile) -> list[Detection]:
        detections: list[Detection] = []
        sensors = [str(s) for s in dataset["sensor"].values]
        for source in profile.sources:
            measuring = [i for i, s in enumerate(sensors) if _measures(profile, s, source)]
            if not measuring:
                continue
            for limit in source.limits:
                if limit.rule != "all" or limit.substance not in dataset.data_vars:
                    continue
                if self.substances is not None and limit.substance not in self.substances:
                    continue
                detections.extend(self._check_limit(dataset, profile, source, limit, measuring))
        return sorted(detections, key=lambda d: (d.start, d.source_id or "", d.substance or ""))

    def _check_limit(
        self,
        ds: xr.Dataset,
        profile: MbaProfile,
        source: Source,
        limit: EmissionLimit,
        sensor_idx: list[int],
    ) -> list[Detection]:
        var = ds[limit.substance].transpose("sensor", "time")
        unit = str(var.attrs.get("units", ""))
        try:
            limit_value = float(convert(np.array(limit.value), limit.unit, unit))
        except UnitError as exc:
            raise DetectorError(
                f"{profile.id}/{source.id}: {limit.substance} limit in {limit.unit!r} cannot be "
                f"compared with the stream's {unit!r}: {exc}"
            ) from None
        times = ds["time"].values
        values = var.values[sensor_idx]
        values = self._at_reference_o2(ds, profile, source, limit, sensor_idx, values)
        if limit.operating_time_only:
            values = np.where(profile.operating_mask(times)[None, :], values, np.nan)
        interval = None
        if self.sampling_interval is not None:
            interval = np.full(len(sensor_idx), int(pd.Timedelta(self.sampling_interval).value))
        active = profile.operating_mask if limit.operating_time_only else None
        windows = window_averages(values, times, limit.average, interval, active)
        min_coverage = self.min_coverage if self.min_coverage is not None else limit.min_coverage
        ci = limit.confidence_interval / 100 * limit_value
        validated = windows.mean - ci
        valid = windows.complete & (windows.coverage >= min_coverage) & ~np.isnan(windows.mean)
        exceeding = valid & (validated > limit_value)
        found = []
        for row, s in enumerate(sensor_idx):
            for first, last in runs(exceeding[row], windows.index):
                found.append(
                    self._detection(
                        ds,
                        profile,
                        source,
                        limit,
                        s,
                        windows,
                        row,
                        first,
                        last,
                        validated,
                        limit_value,
                        unit,
                        ci,
                        min_coverage,
                    )
                )
        return found

    @staticmethod
    def _at_reference_o2(
        ds: xr.Dataset,
        profile: MbaProfile,
        source: Source,
        limit: EmissionLimit,
        sensor_idx: list[int],
        values: np.ndarray,
    ) -> np.ndarray:
        if limit.reference_o2 is None:
            return values
        declared = ds[limit.substance].attrs.get("reference_o2")
        if declared is not None:
            if float(declared) == limit.reference_o2:
                return values
            raise ReferenceConditionError(
                f"{profile.id}/{source.id}: {limit.substance} is at {declared}% O2 but the limit "
                f"applies at {limit.reference_o2}% O2; send measured O2 instead"
            )
        if "O2" not in ds.data_vars:
            sensors = ", ".join(str(ds["sensor"].values[i]) for i in sensor_idx)
            raise ReferenceConditionError(
                f"{profile.id}/{source.id}: the {limit.substance} limit applies at "
                f"{limit.reference_o2}% O2, but the stream of {sensors} has no O2; add O2, or set "
                f"attrs reference_o2={limit.reference_o2} on {limit.substance} if its values are "
                f"already at reference O2"
            )
        o2 = ds["O2"].transpose("sensor", "time").values[sensor_idx]
        return to_reference_o2(values, o2, limit.reference_o2)

    def _detection(
        self,
        ds: xr.Dataset,
        profile: MbaProfile,
        source: Source,
        limit: EmissionLimit,
        s: int,
        w: WindowAverages,
        row: int,
        first: int,
        last: int,
        validated: np.ndarray,
        limit_value: float,
        unit: str,
        ci: float,
        min_coverage: float,
    ) -> Detection:
        span = slice(first, last + 1)
        worst = float(np.nanmax(validated[row, span]))
        lat, lon = _position(ds, s, source)
        windows = [
            {
                "start": _iso(w.start[i]),
                "end": _iso(w.end[i]),
                "average": _round(w.mean[row, i]),
                "validated": _round(validated[row, i]),
                "max_sample": _round(w.maximum[row, i]),
                "samples": int(w.count[row, i]),
                "coverage": _round(w.coverage[row, i]),
            }
            for i in range(first, min(last + 1, first + MAX_EVIDENCE_WINDOWS))
        ]
        evidence: dict[str, Any] = {
            "limit": limit.model_dump(mode="json"),
            "limit_in_stream_unit": limit_value,
            "confidence_interval_subtracted": ci,
            "min_coverage": min_coverage,
            "windows": windows,
            "n_windows": last - first + 1,
            "parameters": self.get_params(),
            "versions": {"vth": __version__},
        }
        return Detection(
            detector=self.name,
            kind=self.kind,
            mba_id=profile.id,
            source_id=source.id,
            sensor_id=str(ds["sensor"].values[s]),
            substance=limit.substance,
            average=limit.average,
            start=pd.Timestamp(w.start[first]).tz_localize("UTC").to_pydatetime(),
            end=pd.Timestamp(w.end[last]).tz_localize("UTC").to_pydatetime(),
            value=worst,
            limit=limit_value,
            unit=unit,
            lat=lat,
            lon=lon,
            severity=severity_for(worst / limit_value),
            evidence=evidence,
        )


def _measures(profile: MbaProfile, sensor_id: str, source: Source) -> bool:
    found = profile.source_of_sensor(sensor_id)
    return found is not None and found.id == source.id


def _position(ds: xr.Dataset, s: int, source: Source) -> tuple[float | None, float | None]:
    if source.location is not None:
        return source.location.lat, source.location.lon
    lat, lon = float(ds["lat"].values[s]), float(ds["lon"].values[s])
    if np.isnan(lat) or np.isnan(lon):
        return None, None
    return lat, lon


def _iso(t: np.datetime64) -> str:
    return str(pd.Timestamp(t).tz_localize("UTC").isoformat())


def _round(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 4)


__all__ = ["PERIOD_NS", "ExceedanceDetector"]
