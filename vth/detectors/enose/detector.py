"""The e-nose network detector: gas incidents with wind-based source attribution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from sklearn.base import clone

from vth import __version__
from vth.detectors.base import NetworkDetector
from vth.detectors.compliance.detections import utc
from vth.detectors.enose.attribution import (
    PlumeModel,
    Ranking,
    WindEstimate,
    compass,
    estimate_wind,
    rank_sources,
)
from vth.detectors.enose.features import (
    channel_names,
    common_mode,
    common_mode_gain,
    deviations,
    log_resistance,
    without_common_mode,
)
from vth.detectors.enose.incidents import Alarms, alarm_runs, group_alarms
from vth.detectors.enose.scoring import (
    RobustFit,
    alarm_mask,
    calibrate_thresholds,
    fit_robust,
    mahalanobis_squared,
)
from vth.detectors.errors import DetectorError
from vth.detectors.quality import QualityDetector
from vth.detectors.registry import register
from vth.models.detection import Candidate, Detection, Severity
from vth.sensing.network import LocalProjection, Network

#: Quiet e-noses are checked against the wind of each slot this long of an incident.
WIND_SLOT_MINUTES = 15


@register
class EnoseIncidentDetector(NetworkDetector):
    """Gas incidents in an e-nose network, with the likely source ranked by wind.

    Each e-nose's channels are compared with their own trailing baseline (log
    resistance), scored with a robust Mahalanobis distance fitted on history, and
    alarm when the score stays above a threshold set for ``false_alarms_per_month``.
    Alarms of nearby e-noses that coincide are one incident; the emission points of
    the network's MBAs are ranked by how well a plume from each, carried by the
    measured wind, explains which e-noses responded and which stayed quiet.
    Samples flagged by quality control never count (a broken sensor raises a
    ``sensor_fault`` alert from the ``quality`` detector instead).

    Parameters
    ----------
    baseline_hours
        Hours of history in each channel's trailing baseline.
    min_baseline_hours
        Hours of history needed before a minute is scored.
    false_alarms_per_month
        Target alarm rate of one e-nose on its history; sets its threshold.
    min_duration
        Minutes above threshold an alarm needs.
    min_sensors
        E-noses an incident needs (one e-nose alone may be a local smell or an
        undetected fault).
    merge_minutes
        Alarms this close in time belong to one incident.
    max_sensor_distance_m
        Alarms of e-noses further apart are separate incidents.
    wind_lead_minutes
        The wind is averaged from this long before the incident (travel time).
    direction_uncertainty_deg
        Uncertainty of the measured wind direction for the plume footprint.
    max_source_distance_m
        Emission points further from the responding e-noses are not candidates.
    max_candidates
        Candidates listed in the alert.
    min_attribution_score
        The alert names the top candidate's MBA only when it scores at least this;
        otherwise the network's id.
    min_common_sensors
        With at least this many e-noses, the network's median deviation (weather moves
        every e-nose at once) is taken out of each e-nose's deviation, scaled by a
        gain fitted per e-nose and channel.
    max_fit_samples, min_fit_samples
        Minutes per e-nose the robust covariance is fitted on (at most; evenly spaced
        over the history) and needs.
    quality
        The quality-control detector whose flags exclude samples; a default
        :class:`~vth.detectors.quality.QualityDetector` when None.
    random_state
        Seed of the robust covariance fit.
    """

    name = "enose"
    kind = "gas_incident"
    technologies = ("e-noses",)
    tasks = ("supervision", "enforcement", "environmental_monitoring")
    obligations = ("gas_release",)
    inputs = ("stream:ch* of e-noses (Ohm)", "stream:wind_direction", "stream:wind_speed")
    detection_limit = (
        "a deviation from an e-nose's own baseline lasting 3 minutes at two or more "
        "e-noses; thresholds set for 1 false alarm per e-nose per month"
    )
    requires_fit = True

    def __init__(
        self,
        baseline_hours: int = 6,
        min_baseline_hours: int = 2,
        false_alarms_per_month: float = 1.0,
        min_duration: int = 3,
        min_sensors: int = 2,
        merge_minutes: int = 20,
        max_sensor_distance_m: float = 4000.0,
        wind_lead_minutes: int = 15,
        direction_uncertainty_deg: float = 15.0,
        max_source_distance_m: float = 15000.0,
        max_candidates: int = 5,
        min_attribution_score: float = 0.3,
        min_common_sensors: int = 5,
        max_fit_samples: int = 500,
        min_fit_samples: int = 240,
        quality: QualityDetector | None = None,
        random_state: int = 0,
    ) -> None:
        self.baseline_hours = baseline_hours
        self.min_baseline_hours = min_baseline_hours
        self.false_alarms_per_month = false_alarms_per_month
        self.min_duration = min_duration
        self.min_sensors = min_sensors
        self.merge_minutes = merge_minutes
        self.max_sensor_distance_m = max_sensor_distance_m
        self.wind_lead_minutes = wind_lead_minutes
        self.direction_uncertainty_deg = direction_uncertainty_deg
        self.max_source_distance_m = max_source_distance_m
        self.max_candidates = max_candidates
        self.min_attribution_score = min_attribution_score
        self.min_common_sensors = min_common_sensors
        self.max_fit_samples = max_fit_samples
        self.min_fit_samples = min_fit_samples
        self.quality = quality
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------

    def _fit(self, dataset: xr.Dataset, network: Network | None) -> None:
        # a clone: fitting must not change the parameter it was given (scikit-learn)
        quality = clone(self.quality) if self.quality is not None else QualityDetector()
        ds = quality.select(dataset)
        quality.fit(ds)
        enoses = _enoses(ds)
        channels = channel_names(enoses)
        if not channels or enoses.sizes["sensor"] == 0:
            raise DetectorError(
                "no e-nose channels to fit on: the history needs sensors of kind 'enose' "
                "with resistance variables in Ohm (ch1..ch4)"
            )
        unusable = quality.assess(ds).unusable[_rows(ds, enoses)]
        z = self._deviations(enoses, channels, unusable)
        gain = np.zeros((z.shape[0], z.shape[2]), dtype=np.float32)
        if z.shape[0] >= self.min_common_sensors:
            common = common_mode(z, self.min_common_sensors)
            gain = common_mode_gain(z, common)
            z = without_common_mode(z, gain, common)
        robust = fit_robust(z, self.max_fit_samples, self.min_fit_samples, self.random_state)
        scores = mahalanobis_squared(z, robust)
        thresholds = calibrate_thresholds(
            scores, self.false_alarms_per_month, self.min_duration, len(channels)
        )
        fitted = np.isfinite(robust.location).all(axis=1) & np.isfinite(thresholds)
        self.quality_ = quality
        self.channels_ = channels
        self.sensors_ = enoses["sensor"].values.astype(str)[fitted]
        self.location_ = robust.location[fitted]
        self.precision_ = robust.precision[fitted]
        self.threshold_ = thresholds[fitted]
        self.common_gain_ = gain[fitted]
        self.fit_samples_ = robust.samples[fitted]
        self.unfitted_sensors_ = enoses["sensor"].values.astype(str)[~fitted].tolist()

    def _corrected(self, z: np.ndarray, gain: np.ndarray) -> np.ndarray:
        """``z`` minus each e-nose's share of the network's common mode."""
        if z.shape[0] < self.min_common_sensors:
            return z
        return without_common_mode(z, gain, common_mode(z, self.min_common_sensors))

    def _deviations(
        self, enoses: xr.Dataset, channels: list[str], unusable: np.ndarray
    ) -> np.ndarray:
        log_r = log_resistance(enoses, channels, unusable)
        return deviations(log_r, self.baseline_hours, self.min_baseline_hours)

    # -- detection -------------------------------------------------------------------

    def score(self, dataset: xr.Dataset) -> xr.Dataset:
        """Scores of every fitted e-nose minute on a 1-minute grid.

        Variables: ``score`` (squared Mahalanobis distance), ``ratio`` (score /
        threshold) and ``alarm`` (part of an alarm run).
        """
        self._check_fitted()
        ds = self.quality_.select(dataset)
        scored = self._score(ds)
        return xr.Dataset(
            {
                "score": (("sensor", "time"), scored.scores),
                "ratio": (("sensor", "time"), scored.ratio),
                "alarm": (("sensor", "time"), scored.alarm),
            },
            coords={"sensor": scored.enoses["sensor"].values, "time": ds["time"].values},
        )

    def _score(self, ds: xr.Dataset) -> _Scored:
        missing = [c for c in self.channels_ if c not in ds]
        if missing:
            raise DetectorError(f"e-nose channels {missing} are missing from the streams")
        ids = ds["sensor"].values.astype(str)
        known = {s: i for i, s in enumerate(self.sensors_.tolist())}
        kinds = ds["kind"].values.astype(str)
        rows = np.array([i for i, s in enumerate(ids) if kinds[i] == "enose" and s in known])
        rows = rows.astype(np.intp)
        enoses = ds.isel(sensor=rows)
        fitted_rows = np.array([known[s] for s in ids[rows]], dtype=np.intp)
        unusable = self.quality_.assess(ds).unusable[rows]
        z = self._corrected(
            self._deviations(enoses, self.channels_, unusable), self.common_gain_[fitted_rows]
        )
        robust = RobustFit(
            self.location_[fitted_rows], self.precision_[fitted_rows], self.fit_samples_
        )
        scores = mahalanobis_squared(z, robust)
        thresholds = self.threshold_[fitted_rows]
        ratio = scores / thresholds[:, None]
        alarm = alarm_mask(scores, thresholds, self.min_duration)
        unfitted = [s for i, s in enumerate(ids) if kinds[i] == "enose" and s not in known]
        return _Scored(enoses, z, scores, ratio, alarm, unfitted)

    def _detect(self, dataset: xr.Dataset, network: Network) -> list[Detection]:
        ds = self.quality_.select(dataset)
        if ds.sizes["time"] == 0 or not (ds["kind"].values.astype(str) == "enose").any():
            return []
        scored = self._score(ds)
        enoses = scored.enoses
        alarms = alarm_runs(scored.alarm, scored.ratio)
        points = list(network.emission_points)
        projection = LocalProjection.around(
            np.concatenate((ds["lat"].values.astype(float), [p.lat for p in points])),
            np.concatenate((ds["lon"].values.astype(float), [p.lon for p in points])),
        )
        sx, sy = projection.to_xy(enoses["lat"].values, enoses["lon"].values)
        wx, wy = projection.to_xy(ds["lat"].values, ds["lon"].values)
        px, py = projection.to_xy([p.lat for p in points], [p.lon for p in points])
        found = []
        for group in group_alarms(alarms, sx, sy, self.merge_minutes, self.max_sensor_distance_m):
            responders = np.unique(alarms.sensors[group])
            if len(responders) < self.min_sensors:
                continue
            incident = _Incident(alarms, group, responders)
            quiet = self._quiet(scored, incident, sx, sy)
            cx, cy = float(np.nanmean(sx[responders])), float(np.nanmean(sy[responders]))
            wind = estimate_wind(
                ds, max(0, incident.start - self.wind_lead_minutes), incident.stop, cx, cy, wx, wy
            )
            ranking = None
            if wind is not None and points:
                ranking = rank_sources(
                    points,
                    px,
                    py,
                    sx[responders],
                    sy[responders],
                    [
                        self._wind_of(ds, alarms, incident, s, wx, wy, sx, sy) or wind
                        for s in responders.tolist()
                    ],
                    sx[quiet],
                    sy[quiet],
                    self._slot_winds(ds, incident, cx, cy, wx, wy) or [wind],
                    PlumeModel(
                        direction_uncertainty_deg=self.direction_uncertainty_deg,
                        max_distance_m=self.max_source_distance_m,
                    ),
                )
            found.append(
                self._detection(ds, scored, network, incident, quiet, wind, ranking, projection)
            )
        return found

    def _wind_of(
        self,
        ds: xr.Dataset,
        alarms: Alarms,
        incident: _Incident,
        sensor: int,
        wx: np.ndarray,
        wy: np.ndarray,
        sx: np.ndarray,
        sy: np.ndarray,
    ) -> WindEstimate | None:
        """The wind while one e-nose alarmed (from ``wind_lead_minutes`` before)."""
        runs = incident.group[alarms.sensors[incident.group] == sensor]
        start = max(0, int(alarms.starts[runs].min()) - self.wind_lead_minutes)
        return estimate_wind(
            ds, start, int(alarms.stops[runs].max()), sx[sensor], sy[sensor], wx, wy
        )

    def _slot_winds(
        self,
        ds: xr.Dataset,
        incident: _Incident,
        cx: float,
        cy: float,
        wx: np.ndarray,
        wy: np.ndarray,
    ) -> list[WindEstimate]:
        """The wind in consecutive 15-minute slots of the incident."""
        winds = []
        first = max(0, incident.start - self.wind_lead_minutes)
        for a in range(first, incident.stop, WIND_SLOT_MINUTES):
            wind = estimate_wind(ds, a, min(a + WIND_SLOT_MINUTES, incident.stop), cx, cy, wx, wy)
            if wind is not None:
                winds.append(wind)
        return winds

    def _quiet(
        self, scored: _Scored, incident: _Incident, sx: np.ndarray, sy: np.ndarray
    ) -> np.ndarray:
        """E-noses that were scored over most of the incident and did not alarm near it."""
        a = max(0, incident.start - self.merge_minutes)
        b = incident.stop + self.merge_minutes
        alarmed = scored.alarm[:, a:b].any(axis=1)
        span = scored.scores[:, incident.start : incident.stop]
        observed = (~np.isnan(span)).mean(axis=1) >= 0.5
        cx, cy = np.nanmean(sx[incident.responders]), np.nanmean(sy[incident.responders])
        near = np.hypot(sx - cx, sy - cy) <= self.max_source_distance_m
        return np.flatnonzero(observed & ~alarmed & near)

    def _detection(
        self,
        ds: xr.Dataset,
        scored: _Scored,
        network: Network,
        incident: _Incident,
        quiet: np.ndarray,
        wind: WindEstimate | None,
        ranking: Ranking | None,
        projection: LocalProjection,
    ) -> Detection:
        enoses = scored.enoses
        times = ds["time"].values
        ids = enoses["sensor"].values.astype(str)
        responders = incident.responders
        peak = float(np.sqrt(incident.peak))
        candidates = _candidates(ranking, self.max_candidates)
        top = candidates[0] if candidates else None
        blamed = top is not None and top.score >= self.min_attribution_score
        lat = float(np.nanmean(enoses["lat"].values[responders]))
        lon = float(np.nanmean(enoses["lon"].values[responders]))
        severity: Severity = (
            "high"
            if len(responders) >= 5 or peak >= 4
            else "medium"
            if len(responders) >= 3 or peak >= 2
            else "low"
        )
        start = utc(times[incident.start])
        return Detection(
            detector=self.name,
            kind="gas_incident",
            mba_id=top.mba_id if blamed and top is not None else network.id,
            source_id=top.source_id if blamed and top is not None else None,
            start=start,
            end=utc(times[incident.stop - 1] + np.timedelta64(1, "m")),
            value=round(peak, 3),
            unit="x alarm threshold",
            lat=None if np.isnan(lat) else lat,
            lon=None if np.isnan(lon) else lon,
            severity=severity,
            candidates=candidates,
            key=f"{network.id}|{start.isoformat()}",
            evidence={
                "reasoning": _reasoning(ids, responders, quiet, wind, ranking, candidates),
                "network": network.id,
                "responding": _responding(scored, incident, times, self.channels_),
                "quiet": ids[quiet].tolist()[:100],
                "wind": None
                if wind is None
                else {
                    "from_deg": round(wind.from_deg, 1),
                    "speed_m_s": round(wind.speed_m_s, 2),
                    "spread_deg": round(wind.spread_deg, 1),
                    "station": wind.station,
                    "samples": wind.samples,
                },
                "unexplained_score": None if ranking is None else round(ranking.unknown_score, 4),
                "not_fitted": scored.unfitted[:50],
                "parameters": {
                    k: v for k, v in self.get_params(deep=False).items() if k != "quality"
                },
                "version": __version__,
            },
        )


@dataclass(frozen=True)
class _Scored:
    """Scores of the fitted e-noses of one dataset, ``(sensor, time)``."""

    enoses: xr.Dataset
    z: np.ndarray
    scores: np.ndarray
    ratio: np.ndarray
    alarm: np.ndarray
    unfitted: list[str]


class _Incident:
    """One group of alarms: its span (minute indices) and responding e-noses."""

    def __init__(self, alarms: Alarms, group: np.ndarray, responders: np.ndarray) -> None:
        self.alarms = alarms
        self.group = group
        self.responders = responders
        self.start = int(alarms.starts[group].min())
        self.stop = int(alarms.stops[group].max())
        self.peak = float(alarms.peaks[group].max())


def _enoses(ds: xr.Dataset) -> xr.Dataset:
    return ds.isel(sensor=np.flatnonzero(ds["kind"].values.astype(str) == "enose"))


def _rows(ds: xr.Dataset, subset: xr.Dataset) -> np.ndarray:
    position = {s: i for i, s in enumerate(ds["sensor"].values.astype(str))}
    return np.array([position[s] for s in subset["sensor"].values.astype(str)], dtype=np.intp)


def _candidates(ranking: Ranking | None, limit: int) -> list[Candidate]:
    """The MBAs ranked by the summed score of their emission points.

    Emission points of one MBA a few hundred metres apart are hard to tell apart from
    e-noses kilometres away; the company is what the control room needs first, so each
    MBA scores the sum of its points and names its most likely one.
    """
    if ranking is None:
        return []
    members: dict[str, list[int]] = {}
    for i, point in enumerate(ranking.points):  # ranking order: best point first
        members.setdefault(point.mba_id, []).append(i)
    totals = {mba: float(ranking.scores[idx].sum()) for mba, idx in members.items()}
    out: list[Candidate] = []
    for mba in sorted(totals, key=lambda m: -totals[m])[:limit]:
        if totals[mba] < 1e-3 and out:
            break
        best = members[mba][0]
        point = ranking.points[best]
        parts = ", ".join(
            f"{ranking.points[i].source_id or 'site'} {ranking.scores[i]:.2f}"
            for i in members[mba][:4]
        )
        out.append(
            Candidate(
                mba_id=mba,
                source_id=point.source_id,
                score=round(min(max(totals[mba], 0.0), 1.0), 4),
                reason=(
                    f"{mba} ({parts}): {point.label} lies "
                    f"{ranking.distance_m[best] / 1000:.1f} km "
                    f"{compass(float(ranking.bearing_deg[best]))} of the responding e-noses; "
                    f"{int(ranking.in_plume_responding[best])} responding and "
                    f"{int(ranking.in_plume_quiet[best])} quiet e-noses in its plume"
                ),
            )
        )
    return out


def _responding(
    scored: _Scored, incident: _Incident, times: np.ndarray, channels: list[str]
) -> list[dict[str, Any]]:
    ids = scored.enoses["sensor"].values.astype(str)
    a = incident.alarms
    out = []
    for s in incident.responders.tolist():
        runs = incident.group[a.sensors[incident.group] == s]
        start, stop = int(a.starts[runs].min()), int(a.stops[runs].max())
        window = scored.ratio[s, start:stop]
        at = start + int(np.nanargmax(window)) if np.isfinite(window).any() else start
        change = (np.exp(scored.z[s, at].astype(np.float64)) - 1) * 100
        out.append(
            {
                "sensor": ids[s],
                "mba_id": str(scored.enoses["mba_id"].values[s]),
                "start": str(np.datetime_as_string(times[start], unit="m")) + "Z",
                "end": str(np.datetime_as_string(times[stop - 1], unit="m")) + "Z",
                "peak_x_threshold": round(float(np.sqrt(a.peaks[runs].max())), 3),
                "change_pct_at_peak": {
                    c: None if np.isnan(v) else round(float(v), 2)
                    for c, v in zip(channels, change, strict=True)
                },
            }
        )
    out.sort(key=lambda r: r["start"])
    return out


def _reasoning(
    ids: np.ndarray,
    responders: np.ndarray,
    quiet: np.ndarray,
    wind: WindEstimate | None,
    ranking: Ranking | None,
    candidates: list[Candidate],
) -> str:
    names = ", ".join(ids[responders].tolist()[:10])
    more = f" and {len(responders) - 10} more" if len(responders) > 10 else ""
    text = f"{len(responders)} e-noses responded together ({names}{more}); "
    text += f"{len(quiet)} e-noses nearby stayed quiet. "
    if wind is None:
        return text + "No wind data near the incident, so no source attribution."
    text += (
        f"Wind from {wind.from_deg:.0f} deg ({compass(wind.from_deg)}) at "
        f"{wind.speed_m_s:.1f} m/s at {wind.station}, direction spread {wind.spread_deg:.0f} deg. "
    )
    if ranking is None or not candidates:
        return text + "No registered emission point within range of the responding e-noses."
    top = candidates[0]
    text += f"Most likely: {top.reason} (score {top.score:.2f})."
    if ranking.unknown_score > 0.3:
        text += (
            f" No registered source explains the pattern well (unexplained "
            f"{ranking.unknown_score:.2f}): consider an unregistered source."
        )
    return text
