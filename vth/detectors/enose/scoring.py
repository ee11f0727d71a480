"""A robust multivariate deviation score per e-nose, and thresholds set by a false-alarm rate.

Each e-nose gets a robust location and covariance of its channel deviations
(scikit-learn :class:`~sklearn.covariance.MinCovDet`, fitted on history, so the odd
incident in the history does not shape it). The score of a minute is the squared
Mahalanobis distance from that location, for all sensors and minutes at once.

An *alarm* is a run of at least ``min_duration`` minutes with the score above the
sensor's threshold. Each threshold is set so the sensor raises ``target`` alarms per
month on its history: the alarm rates at a ladder of high quantiles are fitted with
an exponential tail (log rate linear in threshold), which is then solved for the
target. A month of history is not needed to aim at one alarm a month.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.covariance import LedoitWolf, MinCovDet

from vth.sensing.masks import long_run_bounds, long_runs

MINUTES_PER_MONTH = 30.44 * 1440
#: Quantiles of the history's scores tried as thresholds for the tail fit.
LADDER = (0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9998, 0.9999)


@dataclass(frozen=True)
class RobustFit:
    """Per sensor, the robust location ``(sensor, channel)`` and precision matrix."""

    location: np.ndarray
    precision: np.ndarray
    samples: np.ndarray


def fit_robust(
    z: np.ndarray, max_samples: int, min_samples: int, random_state: int = 0
) -> RobustFit:
    """Fit a :class:`MinCovDet` per sensor on its valid minutes of ``z`` (sensor, time, channel).

    Sensors with fewer than ``min_samples`` valid minutes get NaN (they are not scored).
    At most ``max_samples`` evenly spaced minutes are used per sensor.
    """
    n_sensors, _, n_channels = z.shape
    location = np.full((n_sensors, n_channels), np.nan)
    precision = np.full((n_sensors, n_channels, n_channels), np.nan)
    used = np.zeros(n_sensors, dtype=np.int64)
    for s in range(n_sensors):  # one fit per sensor, vectorised inside
        rows = z[s][~np.isnan(z[s]).any(axis=1)].astype(np.float64)
        if len(rows) < min_samples:
            continue
        if len(rows) > max_samples:
            rows = rows[np.linspace(0, len(rows) - 1, max_samples).astype(np.intp)]
        used[s] = len(rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MCD warns on near-singular subsets
            try:
                fit = MinCovDet(random_state=random_state).fit(rows)
                location[s], covariance = fit.location_, fit.covariance_
            except (ValueError, np.linalg.LinAlgError):
                shrunk = LedoitWolf().fit(rows)
                location[s], covariance = shrunk.location_, shrunk.covariance_
        # a floor on the variances keeps a nearly constant channel from dominating
        floor = max(float(np.trace(covariance)) / n_channels * 1e-3, 1e-10)
        precision[s] = np.linalg.pinv(covariance + floor * np.eye(n_channels))
    return RobustFit(location, precision, used)


def mahalanobis_squared(z: np.ndarray, fit: RobustFit) -> np.ndarray:
    """Squared Mahalanobis distance of every minute, ``(sensor, time)``; NaN where unknown."""
    centred = z - fit.location[:, None, :].astype(np.float32)
    precision = fit.precision.astype(np.float32)
    result: np.ndarray = np.einsum("stc,scd,std->st", centred, precision, centred)
    return result


def _above(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        above: np.ndarray = scores > thresholds[:, None]
    return above


def alarm_mask(scores: np.ndarray, thresholds: np.ndarray, min_duration: int) -> np.ndarray:
    """True on runs of at least ``min_duration`` minutes with the score above the threshold."""
    return long_runs(_above(scores, thresholds), min_duration)


def alarm_counts(scores: np.ndarray, thresholds: np.ndarray, min_duration: int) -> np.ndarray:
    """Per sensor, the number of alarms (runs of >= ``min_duration`` above threshold)."""
    rows, _, _ = long_run_bounds(_above(scores, thresholds), min_duration)
    return np.bincount(rows, minlength=scores.shape[0])


def calibrate_thresholds(
    scores: np.ndarray,
    false_alarms_per_month: float,
    min_duration: int,
    n_channels: int,
    min_count: int = 3,
) -> np.ndarray:
    """Per sensor, the threshold giving ``false_alarms_per_month`` alarms on these scores.

    Parameters
    ----------
    scores
        Squared Mahalanobis distances on history, ``(sensor, time)``.
    false_alarms_per_month
        Target alarm rate per sensor.
    min_duration
        Minutes above threshold an alarm needs.
    n_channels
        Channels per e-nose (degrees of freedom of the chi-square floor).
    min_count
        Ladder steps with fewer alarms than this are too noisy for the tail fit.
    """
    n_sensors = scores.shape[0]
    valid_minutes = (~np.isnan(scores)).sum(axis=1)
    months = np.maximum(valid_minutes, 1) / MINUTES_PER_MONTH
    step = max(1, scores.shape[1] // 50_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN sensors
        ladder = np.nanquantile(scores[:, ::step], LADDER, axis=1).T  # (sensor, step)
        scale = np.nanmedian(scores[:, ::step], axis=1) / stats.chi2.median(n_channels)
    counts = np.stack(
        [alarm_counts(scores, ladder[:, k], min_duration) for k in range(len(LADDER))], axis=1
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rate = np.log(counts / months[:, None])
    usable = (counts >= min_count) & np.isfinite(ladder)
    # the upper four usable steps describe the tail
    order = np.cumsum(usable[:, ::-1], axis=1)[:, ::-1]
    usable &= order <= 4
    w = np.where(usable, np.sqrt(np.maximum(counts, 1)), 0.0)
    x = np.where(usable, ladder, 0.0)
    y = np.where(usable, log_rate, 0.0)
    sw, sx, sy = w.sum(1), (w * x).sum(1), (w * y).sum(1)
    sxx, sxy = (w * x * x).sum(1), (w * x * y).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx)
        intercept = (sy - slope * sx) / sw
        solved = (np.log(false_alarms_per_month) - intercept) / slope
    fitted = (usable.sum(1) >= 2) & (slope < 0) & np.isfinite(solved)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    fallback = stats.chi2.isf(1e-6, n_channels) * scale
    floor = stats.chi2.isf(1e-3, n_channels) * scale
    thresholds = np.where(fitted, solved, fallback)
    # never below the highest step that already gives no more than the target
    ok_steps = np.where(np.exp(log_rate) <= false_alarms_per_month, ladder, np.inf)
    thresholds = np.where(fitted, thresholds, np.minimum(thresholds, ok_steps.min(axis=1)))
    result: np.ndarray = np.maximum(thresholds, floor)
    result[valid_minutes == 0] = np.nan
    return result[:n_sensors]
