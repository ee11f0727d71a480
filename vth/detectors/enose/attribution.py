"""Source attribution by wind: which emission points could have sent this plume.

For each candidate emission point, the e-noses that responded should lie downwind of
it, near its plume axis, and the e-noses that stayed quiet should not. The plume
footprint is a Gaussian cone around the wind direction: its width grows with distance
as the Briggs rural class D spread (Pasquill-Gifford neutral), widened by the
uncertainty of the wind direction and its spread over the incident. Each e-nose
responds with probability ``p`` inside the footprint and ``background`` outside::

    p(x, y) = background + (p_max * exp(-x / range_m) - background) * exp(-y^2 / (2 sigma(x)^2))
    sigma(x)^2 = sigma_y(x)^2 + (x * tan(sigma_theta))^2         for x > 0 (downwind)

with ``x`` downwind and ``y`` crosswind of the candidate. The log-likelihood of a
candidate sums ``log p`` over responding e-noses and ``log(1 - p)`` over quiet ones;
an *unknown source* hypothesis (every e-nose responds with ``unknown_p``) competes, so
scores are posterior probabilities (uniform prior) that need not add up to one among
the registered candidates when none of them explains the pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from vth.sensing.network import EmissionPoint
from vth.sensing.streams import DIMS

_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def compass(degrees: float) -> str:
    """Eight-point compass name of a direction in degrees."""
    return _COMPASS[int(((degrees % 360) + 22.5) // 45) % 8]


@dataclass(frozen=True)
class WindEstimate:
    """The wind over an incident at one weather station."""

    from_deg: float
    speed_m_s: float
    spread_deg: float
    station: str
    samples: int


def estimate_wind(
    ds: xr.Dataset,
    start: int,
    stop: int,
    near_x: float,
    near_y: float,
    x: np.ndarray,
    y: np.ndarray,
    min_samples: int = 5,
) -> WindEstimate | None:
    """Vector-mean wind over minutes ``[start, stop)`` at the station nearest ``(near_x, near_y)``.

    Stations need ``wind_direction`` (degrees the wind comes from) and ``wind_speed``
    with at least ``min_samples`` valid minutes in the span. The spread is the circular
    standard deviation of the direction.
    """
    if "wind_direction" not in ds or "wind_speed" not in ds:
        return None
    direction = ds["wind_direction"].transpose(*DIMS).values[:, start:stop]
    speed = ds["wind_speed"].transpose(*DIMS).values[:, start:stop]
    ok = ~(np.isnan(direction) | np.isnan(speed))
    counts = ok.sum(axis=1)
    stations = np.flatnonzero(counts >= min_samples)
    if len(stations) == 0:
        return None
    distance = np.hypot(x[stations] - near_x, y[stations] - near_y)
    distance = np.where(np.isnan(distance), np.inf, distance)
    s = int(stations[np.argmin(distance)])
    d = np.radians(direction[s, ok[s]])
    v = speed[s, ok[s]]
    # the vector mean of the wind (from-direction components, weighted by speed)
    east, north = float((v * np.sin(d)).mean()), float((v * np.cos(d)).mean())
    from_deg = float(np.degrees(np.arctan2(east, north)) % 360)
    resultant = float(np.hypot(np.sin(d).mean(), np.cos(d).mean()))
    spread = float(np.degrees(np.sqrt(-2 * np.log(min(max(resultant, 1e-9), 1.0)))))
    return WindEstimate(
        from_deg=from_deg,
        speed_m_s=float(v.mean()),
        spread_deg=spread,
        station=str(ds["sensor"].values[s]),
        samples=int(counts[s]),
    )


@dataclass(frozen=True)
class PlumeModel:
    """Parameters of the plume footprint (see the module docstring)."""

    direction_uncertainty_deg: float = 15.0
    p_max: float = 0.9
    range_m: float = 6000.0
    background: float = 0.02
    unknown_p: float = 0.15
    max_distance_m: float = 15000.0


def sigma_y_class_d(x: np.ndarray) -> np.ndarray:
    """Briggs rural crosswind spread for neutral stability (class D), metres."""
    result: np.ndarray = 0.08 * x / np.sqrt(1 + 0.0001 * x)
    return result


def hit_probability(
    dx: np.ndarray,
    dy: np.ndarray,
    from_deg: np.ndarray | float,
    spread_deg: np.ndarray | float,
    model: PlumeModel,
) -> np.ndarray:
    """Probability that an e-nose at ``(dx, dy)`` metres from a source responds to it.

    ``from_deg`` and ``spread_deg`` (the wind over the time that counts for each
    e-nose) broadcast with ``dx``/``dy``.
    """
    to = np.radians(np.asarray(from_deg, dtype=float) + 180.0)
    ux, uy = np.sin(to), np.cos(to)
    down = dx * ux + dy * uy
    cross = dx * uy - dy * ux
    theta = np.radians(np.hypot(model.direction_uncertainty_deg, spread_deg))
    xd = np.maximum(down, 1.0)
    sigma2 = sigma_y_class_d(xd) ** 2 + (xd * np.tan(np.minimum(theta, 1.4))) ** 2
    inside = np.exp(-(cross**2) / (2 * sigma2))
    peak = model.p_max * np.exp(-xd / model.range_m)
    p = model.background + np.maximum(peak - model.background, 0.0) * inside
    p = np.where(down > 0, p, model.background)
    result: np.ndarray = np.clip(p, model.background, 1 - model.background)
    return result


@dataclass(frozen=True)
class Ranking:
    """Candidates ranked by posterior score, with what supports each."""

    points: list[EmissionPoint]
    scores: np.ndarray
    unknown_score: float
    in_plume_responding: np.ndarray
    in_plume_quiet: np.ndarray
    distance_m: np.ndarray
    bearing_deg: np.ndarray


def rank_sources(
    points: list[EmissionPoint],
    point_x: np.ndarray,
    point_y: np.ndarray,
    responding_x: np.ndarray,
    responding_y: np.ndarray,
    responding_wind: list[WindEstimate],
    quiet_x: np.ndarray,
    quiet_y: np.ndarray,
    quiet_winds: list[WindEstimate],
    model: PlumeModel = PlumeModel(),
) -> Ranking:
    """Rank emission points by how well a plume from each explains who responded.

    Each responding e-nose is judged with the wind of its own alarm (the wind turns
    during an incident and the plume sweeps with it); each quiet e-nose with every
    wind of the incident, taking the one under which the candidate's plume covered it
    most. All candidates and e-noses at once: arrays are ``(candidate, e-nose)``.
    """
    cx, cy = float(responding_x.mean()), float(responding_y.mean())
    distance = np.hypot(point_x - cx, point_y - cy)
    bearing = np.degrees(np.arctan2(point_x - cx, point_y - cy)) % 360
    keep = np.flatnonzero(distance <= model.max_distance_m)
    points = [points[i] for i in keep]
    px, py = point_x[keep][:, None], point_y[keep][:, None]
    r_from = np.array([w.from_deg for w in responding_wind])[None, :]
    r_spread = np.array([w.spread_deg for w in responding_wind])[None, :]
    p_resp = hit_probability(
        responding_x[None, :] - px, responding_y[None, :] - py, r_from, r_spread, model
    )
    p_quiet = np.full((len(points), len(quiet_x)), model.background)
    for wind in quiet_winds:  # a few time slots of the incident
        p_quiet = np.maximum(
            p_quiet,
            hit_probability(
                quiet_x[None, :] - px, quiet_y[None, :] - py, wind.from_deg, wind.spread_deg, model
            ),
        )
    log_l = np.log(p_resp).sum(axis=1) + np.log1p(-p_quiet).sum(axis=1)
    log_unknown = len(responding_x) * np.log(model.unknown_p) + len(quiet_x) * np.log1p(
        -model.unknown_p
    )
    everything = np.concatenate((log_l, [log_unknown]))
    posterior = np.exp(everything - everything.max())
    posterior /= posterior.sum()
    order = np.argsort(-posterior[:-1], kind="stable")
    return Ranking(
        points=[points[i] for i in order],
        scores=posterior[:-1][order],
        unknown_score=float(posterior[-1]),
        in_plume_responding=(p_resp >= 0.3).sum(axis=1)[order],
        in_plume_quiet=(p_quiet >= 0.3).sum(axis=1)[order],
        distance_m=distance[keep][order],
        bearing_deg=bearing[keep][order],
    )
