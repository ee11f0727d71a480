"""Synthetic scenarios for an e-nose network: sensors, wind, drift, faults and gas releases.

A :class:`Scenario` places e-noses (four metal-oxide channels ``ch1``..``ch4``, resistance
in Ohm) and weather stations around the emission points of MBAs, and lists gas releases
and sensor faults with known source and time: the ground truth. :func:`simulate` turns
it into a stream dataset ``(sensor, time)`` at one sample a minute; :func:`clean_history`
gives the same sensors before the scenario, without events, to fit detectors on;
:func:`senml_packs` turns a dataset into the SenML messages the gateway receives.

The physics is meant to be realistic, not convenient for a detector:

- Wind: the mean direction plus a slow AR(1) meander (about 3 degrees from minute to
  minute, wandering 20-30 degrees over hours), speed an AR(1) in log around the mean.
  Every weather station measures the same wind plus its own small noise.
- Gas: a ground-level Gaussian plume (Briggs rural, stability class D) from the source
  to each e-nose, with the plume direction jittering a few degrees a minute about the
  wind, so hits are intermittent, and the travel time ``x / u`` included.
- Channels: ``log R = log R0 + drift * days + environment + AR(1) noise
  - beta * log(1 + C / c_half)``. The environment (temperature and humidity, a diurnal
  cycle plus slow weather) is common to the region; each sensor and channel weighs it
  differently. Each channel has its own sensitivity, so a gas moves ``log R`` in a
  direction in channel space.
- Faults act on all four channels of an e-nose after the gas response.

Per-sensor parameters come from the scenario seed and the sensor id before any time
series is drawn, so a scenario and its history share them; the environment is a
function of absolute time, so the two join up.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr
from numpy.typing import NDArray
from scipy.signal import lfilter

from vth.sensing.network import EmissionPoint, LocalProjection, Network
from vth.sensing.streams import make_stream_dataset

if TYPE_CHECKING:  # gateways import sensing; keep the runtime import one way
    from vth.gateways.topics import TopicTemplate

__all__ = [
    "CHANNELS",
    "FAULT_KINDS",
    "Fault",
    "Release",
    "Scenario",
    "SensorSite",
    "clean_history",
    "plume_concentration",
    "random_scenario",
    "senml_packs",
    "simulate",
]

FloatArray = NDArray[np.float64]
F32Array = NDArray[np.float32]

#: The metal-oxide channels of an e-nose.
CHANNELS = ("ch1", "ch2", "ch3", "ch4")
FAULT_KINDS: tuple[Literal["flatline", "gap", "spike", "out_of_range", "drift"], ...] = (
    "flatline",
    "gap",
    "spike",
    "out_of_range",
    "drift",
)
MINUTE = np.timedelta64(1, "m")
DAY = np.timedelta64(1, "D")

# --- wind --------------------------------------------------------------------------------
WIND_MEANDER_SD_DEG = 25.0  # stationary spread of the direction about its mean
WIND_MEANDER_TAU_MIN = 120.0  # correlation time: ~3 deg minute-to-minute steps
WIND_SPEED_LOG_SD = 0.3  # stationary spread of log(speed)
WIND_SPEED_TAU_MIN = 180.0
WIND_SPEED_MIN_M_S = 0.5
STATION_DIRECTION_NOISE_DEG = 2.5  # per-station measurement noise
STATION_SPEED_NOISE = 0.04  # relative
PLUME_JITTER_SD_DEG = 7.0  # plume direction about the true wind (stations add 2.5 deg)
PLUME_JITTER_PHI = 0.5

# --- metal-oxide channels (per channel: ch1..ch4) ------------------------------------------
R0_MEDIAN_OHM = (18e3, 12e3, 30e3, 45e3)
R0_LOG_SD = 0.3
DRIFT_SD_PER_DAY = 0.003  # in log R: about +-0.3 %/day
NOISE_SD_RANGE = (0.005, 0.010)  # in log R
NOISE_PHI = 0.7  # lag-1 correlation of the channel noise
NOISE_COMMON_SHARE = 0.5  # share of the noise variance common to a sensor's channels
BETA_TYPICAL = (0.8, 0.5, 0.65, 0.35)  # response slope of each channel type
BETA_RANGE = (0.3, 0.9)
C_HALF_TYPICAL_UG_M3 = (300.0, 800.0, 500.0, 1500.0)
C_HALF_RANGE_UG_M3 = (200.0, 2000.0)
ENV_TEMPERATURE_WEIGHT = (-0.008, 0.004)  # mean, sd of d log R per unit temperature anomaly
ENV_HUMIDITY_WEIGHT = (0.010, 0.025)  # range of -d log R per unit humidity anomaly

# --- faults --------------------------------------------------------------------------------
#: Time constant of a metal-oxide element's response (minutes): gas diffuses into the
#: sensing layer and out again, so a 1-minute puff fades over the following minutes.
MOX_TIME_CONSTANT_MIN = 1.5
OPEN_CIRCUIT_OHM = 1e10
DRIFT_FAULT_LOG = 0.8


@dataclass(frozen=True)
class SensorSite:
    """An e-nose or a weather station at a place.

    Parameters
    ----------
    id
        Sensor id, unique in the scenario.
    kind
        ``"enose"`` (channels ``ch1``..``ch4``) or ``"weather"`` (wind).
    lat, lon
        Position (WGS84 degrees).
    """

    id: str
    kind: Literal["enose", "weather"]
    lat: float
    lon: float


@dataclass(frozen=True)
class Release:
    """A gas release with known source and time: the ground truth of an incident.

    Parameters
    ----------
    mba_id
        The MBA releasing.
    source_id
        Its emission point; None for the MBA as a whole (the centroid of its points).
    start
        First minute of the release (UTC); stored as ``datetime64[ns]``.
    minutes
        Length in minutes.
    rate_g_s
        Emission rate, g/s.
    """

    mba_id: str
    source_id: str | None
    start: np.datetime64
    minutes: int
    rate_g_s: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _whole_minute(self.start, "release start"))
        if self.minutes < 1:
            raise ValueError(f"release of {self.mba_id}: minutes must be >= 1, got {self.minutes}")
        if not self.rate_g_s >= 0:
            raise ValueError(f"release of {self.mba_id}: rate_g_s must be >= 0")


@dataclass(frozen=True)
class Fault:
    """A fault of an e-nose over a span: the ground truth of a sensor-fault alert.

    Parameters
    ----------
    sensor_id
        The e-nose.
    kind
        ``flatline`` (values frozen at the last value before the span), ``gap`` (no data),
        ``spike`` (a few isolated single-minute glitches, factor 3-10 up or down),
        ``out_of_range`` (open circuit 1e10 Ohm or short 0 Ohm), ``drift`` (a ramp in
        ``log R`` reaching +-0.8 at the end of the span and staying afterwards).
    start
        First minute (UTC); stored as ``datetime64[ns]``.
    minutes
        Length in minutes.
    """

    sensor_id: str
    kind: Literal["flatline", "gap", "spike", "out_of_range", "drift"]
    start: np.datetime64
    minutes: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _whole_minute(self.start, "fault start"))
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"fault of {self.sensor_id}: kind {self.kind!r} is not one of {FAULT_KINDS}"
            )
        if self.minutes < 1:
            raise ValueError(f"fault of {self.sensor_id}: minutes must be >= 1")


@dataclass(frozen=True)
class Scenario:
    """A network, its sensors, a time span and the events in it.

    Parameters
    ----------
    network
        The network; its emission points are the candidate sources.
    sites
        E-noses and weather stations.
    start
        First minute (UTC); stored as ``datetime64[ns]``.
    minutes
        Length: one sample a minute.
    releases
        Gas releases (ground truth).
    faults
        Sensor faults (ground truth).
    seed
        Seed of every random draw of the simulation.
    wind_from_deg
        Mean direction the wind comes FROM (meteorological, degrees).
    wind_speed_m_s
        Mean wind speed.
    """

    network: Network
    sites: tuple[SensorSite, ...]
    start: np.datetime64
    minutes: int
    releases: tuple[Release, ...] = ()
    faults: tuple[Fault, ...] = ()
    seed: int = 0
    wind_from_deg: float = 230.0
    wind_speed_m_s: float = 5.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _whole_minute(self.start, "scenario start"))
        if self.minutes < 1:
            raise ValueError(f"scenario minutes must be >= 1, got {self.minutes}")
        ids = [s.id for s in self.sites]
        if len(set(ids)) != len(ids):
            raise ValueError("scenario sites must have unique ids")
        if not self.wind_speed_m_s > 0:
            raise ValueError("wind_speed_m_s must be > 0")

    @property
    def end(self) -> np.datetime64:
        """The minute after the last sample."""
        return self.start + self.minutes * MINUTE


# --- random scenarios ----------------------------------------------------------------------


def random_scenario(
    seed: int,
    *,
    n_enoses: int = 30,
    n_mbas: int = 8,
    n_weather: int = 1,
    area_km: float = 8.0,
    minutes: int = 3 * 1440,
    n_releases: int = 1,
    n_faults: int = 0,
    start: np.datetime64 | str = "2026-03-02T00:00",
    centre: tuple[float, float] = (51.90, 4.30),
    network_id: str = "rijnmond-enose",
    release_rate_g_s: tuple[float, float] = (30.0, 300.0),
) -> Scenario:
    """A random scenario, deterministic in ``seed``.

    MBAs (``mba-01``...) get 1-2 emission points (``stack-1``, ``flare-1``...) in the
    central 60 % of a square ``area_km`` wide around ``centre``, at least 400 m apart;
    e-noses (``enose-001``...) sit on a jittered square grid over the whole square;
    weather stations (``meteo-1``...) in its central 80 %. The mean wind has a random
    direction and a speed of 2.5-8 m/s. Releases start on whole minutes in the second
    half of the scenario, after at least a day when there is room (so a baseline
    exists), last 20-90 minutes at a rate drawn log-uniformly from
    ``release_rate_g_s``, and are at least 3 h apart. Faults hit random e-noses, kinds
    cycling through flatline, gap, spike, out_of_range and drift, 30-240 minutes long.

    Parameters
    ----------
    seed
        Seed of the layout, the events and (as ``Scenario.seed``) the simulation.
    n_enoses, n_mbas, n_weather
        How many e-noses, MBAs and weather stations.
    area_km
        Width of the square area.
    minutes
        Length of the scenario.
    n_releases, n_faults
        How many releases and faults.
    start
        First minute (UTC).
    centre
        ``(lat, lon)`` of the area's centre.
    network_id
        Id of the network (and the ``mba_id`` of its sensors in the dataset).
    release_rate_g_s
        ``(low, high)`` of the emission rate.

    Returns
    -------
    Scenario

    Raises
    ------
    ValueError
        When the counts do not fit the area or the time span.
    """
    if n_enoses < 1 or n_mbas < 1 or n_weather < 0:
        raise ValueError("random_scenario needs n_enoses >= 1, n_mbas >= 1 and n_weather >= 0")
    lo, hi = release_rate_g_s
    if not 0 < lo <= hi:
        raise ValueError(f"release_rate_g_s must be 0 < low <= high, got {release_rate_g_s}")
    rng = np.random.default_rng(seed)
    side = area_km * 1000.0
    proj = LocalProjection(centre[0], centre[1])

    points = _random_emission_points(rng, proj, n_mbas, side)
    network = Network(id=network_id, emission_points=tuple(points))

    # e-noses on a jittered grid over the whole area
    cols = math.ceil(math.sqrt(n_enoses))
    rows = math.ceil(n_enoses / cols)
    cells = np.sort(rng.choice(rows * cols, size=n_enoses, replace=False))
    dx, dy = side / cols, side / rows
    ex = -side / 2 + (cells % cols + 0.5) * dx + rng.uniform(-0.35, 0.35, n_enoses) * dx
    ey = -side / 2 + (cells // cols + 0.5) * dy + rng.uniform(-0.35, 0.35, n_enoses) * dy
    elat, elon = proj.to_latlon(ex, ey)
    sites = [
        SensorSite(f"enose-{i + 1:03d}", "enose", float(elat[i]), float(elon[i]))
        for i in range(n_enoses)
    ]
    wx, wy = rng.uniform(-0.4 * side, 0.4 * side, (2, n_weather))
    wlat, wlon = proj.to_latlon(wx, wy)
    sites += [
        SensorSite(f"meteo-{i + 1}", "weather", float(wlat[i]), float(wlon[i]))
        for i in range(n_weather)
    ]

    wind_from = float(rng.uniform(0.0, 360.0))
    wind_speed = float(rng.uniform(2.5, 8.0))
    t0 = _whole_minute(start, "start")

    releases = []
    for offset, length in _release_spans(rng, n_releases, minutes):
        point = points[int(rng.integers(len(points)))]
        rate = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        releases.append(Release(point.mba_id, point.source_id, t0 + offset * MINUTE, length, rate))

    faults = []
    for i in range(n_faults):
        length = min(int(rng.integers(30, 241)), minutes)
        offset = int(rng.integers(0, minutes - length + 1))
        sensor = sites[int(rng.integers(n_enoses))].id
        faults.append(
            Fault(sensor, FAULT_KINDS[i % len(FAULT_KINDS)], t0 + offset * MINUTE, length)
        )

    return Scenario(
        network=network,
        sites=tuple(sites),
        start=t0,
        minutes=minutes,
        releases=tuple(releases),
        faults=tuple(faults),
        seed=seed,
        wind_from_deg=wind_from,
        wind_speed_m_s=wind_speed,
    )


def _random_emission_points(
    rng: np.random.Generator, proj: LocalProjection, n_mbas: int, side: float
) -> list[EmissionPoint]:
    counts = rng.integers(1, 3, n_mbas)
    placed: list[tuple[float, float]] = []
    for _ in range(200 * int(counts.sum())):
        if len(placed) == counts.sum():
            break
        x, y = rng.uniform(-0.3 * side, 0.3 * side, 2)
        if all(math.hypot(x - px, y - py) >= 400.0 for px, py in placed):
            placed.append((float(x), float(y)))
    else:
        if len(placed) < counts.sum():
            raise ValueError(
                f"cannot place {counts.sum()} emission points 400 m apart in the central 60 % "
                f"of {side / 1000:g} km; use fewer MBAs or a larger area"
            )
    lats, lons = proj.to_latlon([p[0] for p in placed], [p[1] for p in placed])
    points = []
    k = 0
    for m, count in enumerate(counts):
        numbers: dict[str, int] = {}
        for _ in range(int(count)):
            kind = str(rng.choice(["stack", "flare", "tank"], p=[0.6, 0.25, 0.15]))
            numbers[kind] = numbers.get(kind, 0) + 1
            points.append(
                EmissionPoint(
                    f"mba-{m + 1:02d}",
                    f"{kind}-{numbers[kind]}",
                    float(lats[k]),
                    float(lons[k]),
                    kind,
                )
            )
            k += 1
    return points


def _release_spans(
    rng: np.random.Generator, n_releases: int, minutes: int
) -> list[tuple[int, int]]:
    """``(offset, length)`` of releases in the second half, 3 h apart, sorted."""
    spans: list[tuple[int, int]] = []
    gap = 180
    for _ in range(1000 * max(n_releases, 1)):
        if len(spans) == n_releases:
            break
        length = int(rng.integers(20, 91))
        earliest = max(minutes // 2, 1440)
        if earliest + length > minutes:
            earliest = minutes // 2
        latest = minutes - length
        if latest < earliest:
            continue
        offset = int(rng.integers(earliest, latest + 1))
        if all(offset >= s + n + gap or offset + length + gap <= s for s, n in spans):
            spans.append((offset, length))
    if len(spans) < n_releases:
        raise ValueError(
            f"cannot place {n_releases} releases of 20-90 minutes, 3 h apart, in the second "
            f"half of a {minutes}-minute scenario; make it longer or ask for fewer releases"
        )
    return sorted(spans)


# --- simulation ----------------------------------------------------------------------------


def simulate(scenario: Scenario) -> xr.Dataset:
    """The stream dataset of a scenario.

    Parameters
    ----------
    scenario
        What to simulate.

    Returns
    -------
    xr.Dataset
        Dims ``(sensor, time)`` (one sample a minute, ``datetime64[ns]`` UTC);
        variables ``ch1``..``ch4`` (Ohm; NaN for weather stations), ``wind_direction``
        (deg, where the wind comes from) and ``wind_speed`` (m/s) (NaN for e-noses);
        coords ``mba_id`` (the network id), ``kind``, ``lat``, ``lon``. The ground
        truth is in ``attrs["releases"]`` and ``attrs["faults"]`` as JSON, the
        candidate sources in ``attrs["emission_points"]``.

    Raises
    ------
    ValueError
        When a release names an unknown source or a fault an unknown sensor or a
        weather station.
    """
    return _simulate(scenario, scenario.start, scenario.minutes, part=0, events=True)


def clean_history(scenario: Scenario, minutes: int) -> xr.Dataset:
    """The same sensors over ``minutes`` before ``scenario.start``, without events.

    Baselines, drift, sensitivities and noise character are those of
    :func:`simulate`; the noise and the wind are drawn independently; there are no
    releases and no faults. This is the history detectors are fitted on.

    Parameters
    ----------
    scenario
        The scenario whose sensors to simulate.
    minutes
        Length of the history, ending just before ``scenario.start``.

    Returns
    -------
    xr.Dataset
        As :func:`simulate`, with empty ground truth.
    """
    if minutes < 1:
        raise ValueError(f"clean_history needs minutes >= 1, got {minutes}")
    start = scenario.start - minutes * MINUTE
    return _simulate(scenario, start, minutes, part=1, events=False)


@dataclass(frozen=True)
class _ChannelParams:
    """Per e-nose and channel, arrays of shape (enose, channel)."""

    log_r0: FloatArray
    drift_per_day: FloatArray
    w_temperature: FloatArray
    w_humidity: FloatArray
    noise_sd: FloatArray
    beta: FloatArray
    c_half: FloatArray


_PARAM_FIELDS = (
    "log_r0",
    "drift_per_day",
    "w_temperature",
    "w_humidity",
    "noise_sd",
    "beta",
    "c_half",
)


def _channel_params(seed: int, sensor_ids: list[str]) -> _ChannelParams:
    """Parameters of each e-nose, from the seed and its id only."""
    n = len(sensor_ids)
    rows: dict[str, FloatArray] = {name: np.empty((n, len(CHANNELS))) for name in _PARAM_FIELDS}
    r0 = np.log(np.asarray(R0_MEDIAN_OHM))
    beta_typ = np.asarray(BETA_TYPICAL)
    c_half_typ = np.log(np.asarray(C_HALF_TYPICAL_UG_M3))
    for i, sensor_id in enumerate(sensor_ids):
        rng = np.random.default_rng([seed, 1, zlib.crc32(sensor_id.encode())])
        rows["log_r0"][i] = r0 + R0_LOG_SD * rng.standard_normal(4)
        rows["drift_per_day"][i] = DRIFT_SD_PER_DAY * rng.standard_normal(4)
        rows["w_temperature"][i] = rng.normal(*ENV_TEMPERATURE_WEIGHT, 4)
        rows["w_humidity"][i] = -rng.uniform(*ENV_HUMIDITY_WEIGHT, 4)
        rows["noise_sd"][i] = rng.uniform(*NOISE_SD_RANGE, 4)
        rows["beta"][i] = np.clip(beta_typ + 0.1 * rng.standard_normal(4), *BETA_RANGE)
        rows["c_half"][i] = np.clip(
            np.exp(c_half_typ + 0.3 * rng.standard_normal(4)), *C_HALF_RANGE_UG_M3
        )
    return _ChannelParams(**rows)


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float, sd: float) -> F32Array:
    """Stationary AR(1) series along the last axis, marginal sd ``sd`` (float32)."""
    e = rng.standard_normal(shape, dtype=np.float32)
    e[..., 1:] *= np.float32(math.sqrt(1.0 - phi * phi))
    b = np.asarray([1.0], dtype=np.float32)
    a = np.asarray([1.0, -phi], dtype=np.float32)
    out = np.asarray(lfilter(b, a, e, axis=-1), dtype=np.float32)
    out *= np.float32(sd)
    return out


def _environment(seed: int, times: NDArray[np.datetime64]) -> tuple[FloatArray, FloatArray]:
    """Regional temperature and humidity anomalies (unitless, order 1) at ``times``.

    A diurnal cycle (warmest at 14 UTC) whose amplitude varies from day to day, plus
    slow weather: sums of sinusoids with periods of 1.5-15 days, fixed by the seed, so
    the series is a function of absolute time and any two windows join up.
    """
    days = (times - np.datetime64("1970-01-01", "ns")) / DAY
    rng = np.random.default_rng([seed, 7])

    def slow(sd: float) -> FloatArray:
        k = 6
        periods = np.exp(rng.uniform(np.log(1.5), np.log(15.0), k))
        phases = rng.uniform(0, 2 * np.pi, k)
        amp = sd * math.sqrt(2.0 / k)
        return np.asarray(
            amp * np.sin(2 * np.pi * days[:, None] / periods + phases).sum(axis=1),
            dtype=np.float64,
        )

    diurnal = np.cos(2 * np.pi * (days - 14.0 / 24.0)) * np.clip(1.0 + slow(0.4), 0.2, 1.8)
    temperature = diurnal + slow(0.5)
    humidity = -0.8 * diurnal + slow(0.5)
    return temperature, humidity


def _wind(scenario: Scenario, rng: np.random.Generator, n: int) -> tuple[FloatArray, FloatArray]:
    """True wind direction (deg, from) and speed (m/s) per minute."""
    phi_d = math.exp(-1.0 / WIND_MEANDER_TAU_MIN)
    phi_u = math.exp(-1.0 / WIND_SPEED_TAU_MIN)
    meander = _ar1(rng, (n,), phi_d, WIND_MEANDER_SD_DEG).astype(np.float64)
    log_u = _ar1(rng, (n,), phi_u, WIND_SPEED_LOG_SD).astype(np.float64)
    direction = (scenario.wind_from_deg + meander) % 360.0
    speed = scenario.wind_speed_m_s * np.exp(log_u - 0.5 * WIND_SPEED_LOG_SD**2)
    return direction, np.maximum(speed, WIND_SPEED_MIN_M_S)


def _source_xy(scenario: Scenario, release: Release, proj: LocalProjection) -> tuple[float, float]:
    points = scenario.network.emission_points
    match = [p for p in points if p.mba_id == release.mba_id and p.source_id == release.source_id]
    if not match and release.source_id is None:
        match = [p for p in points if p.mba_id == release.mba_id]
    if not match:
        known = ", ".join(p.label for p in points) or "none"
        raise ValueError(
            f"release source {release.mba_id}/{release.source_id} is not an emission point of "
            f"network {scenario.network.id!r} (known: {known})"
        )
    x, y = proj.to_xy([p.lat for p in match], [p.lon for p in match])
    return float(np.mean(x)), float(np.mean(y))


def plume_concentration(
    rate_g_s: float, speed_m_s: FloatArray, downwind_m: FloatArray, crosswind_m: FloatArray
) -> FloatArray:
    """Ground-level concentration (ug/m3) of a ground-level Gaussian plume.

    Briggs rural dispersion, stability class D:
    ``sigma_y = 0.08 x (1 + 0.0001 x)^-0.5``, ``sigma_z = 0.06 x (1 + 0.0015 x)^-0.5``,
    ``C = Q / (pi u sigma_y sigma_z) exp(-y^2 / (2 sigma_y^2))`` downwind (x > 1 m),
    zero elsewhere. Arrays broadcast.

    Parameters
    ----------
    rate_g_s
        Emission rate Q.
    speed_m_s
        Wind speed u.
    downwind_m, crosswind_m
        Receptor position x, y in the wind frame.

    Returns
    -------
    np.ndarray
        Concentration in ug/m3, the broadcast shape of the inputs.
    """
    x = np.maximum(downwind_m, 1.0)
    sigma_y = 0.08 * x / np.sqrt(1.0 + 0.0001 * x)
    sigma_z = 0.06 * x / np.sqrt(1.0 + 0.0015 * x)
    c = (
        rate_g_s
        / (np.pi * speed_m_s * sigma_y * sigma_z)
        * np.exp(-(crosswind_m**2) / (2.0 * sigma_y**2))
    )
    return np.where(downwind_m > 1.0, c * 1e6, 0.0)


def _add_release(
    conc: F32Array,
    scenario: Scenario,
    k: int,
    release: Release,
    t0: np.datetime64,
    xy: tuple[FloatArray, FloatArray],
    proj: LocalProjection,
    wind: tuple[FloatArray, FloatArray],
) -> None:
    """Add the concentration of one release at every e-nose to ``conc`` (enose, time)."""
    n_t = conc.shape[1]
    i0 = int((release.start - t0) // MINUTE)
    i1 = i0 + release.minutes
    sx, sy = _source_xy(scenario, release, proj)
    if i0 >= n_t or conc.shape[0] == 0 or release.rate_g_s == 0:
        return
    dx, dy = xy[0] - sx, xy[1] - sy
    direction, speed = wind
    # gas emitted before the window may still be on its way (at the lowest wind speed)
    travel = math.ceil(float(np.hypot(dx, dy).max()) / (60.0 * WIND_SPEED_MIN_M_S)) + 1
    lo, hi = max(i0, 0), min(i1 + travel, n_t)
    if hi <= lo:
        return
    rng = np.random.default_rng([scenario.seed, 5, k])
    jitter = _ar1(rng, (hi - lo,), PLUME_JITTER_PHI, PLUME_JITTER_SD_DEG).astype(np.float64)
    toward = np.radians(direction[lo:hi] + 180.0 + jitter)
    sin_t, cos_t = np.sin(toward), np.cos(toward)
    downwind = dx[:, None] * sin_t + dy[:, None] * cos_t
    crosswind = dx[:, None] * cos_t - dy[:, None] * sin_t
    u = speed[lo:hi]
    # the air reaching a receptor at minute t left the source x / u earlier
    emitted = np.arange(lo, hi, dtype=np.float64) - downwind / (60.0 * u)
    on = (emitted >= i0) & (emitted < i1) & (downwind > 1.0)
    c = plume_concentration(release.rate_g_s, u, downwind, crosswind)
    conc[:, lo:hi] += np.where(on, c, 0.0).astype(np.float32)


def _simulate(
    scenario: Scenario, start: np.datetime64, minutes: int, *, part: int, events: bool
) -> xr.Dataset:
    seed = scenario.seed
    times = (start + np.arange(minutes) * MINUTE).astype("datetime64[ns]")
    sites = scenario.sites
    ids = [s.id for s in sites]
    kinds = np.asarray([s.kind for s in sites], dtype=object)
    is_enose = kinds == "enose"
    enose_idx = np.flatnonzero(is_enose)
    weather_idx = np.flatnonzero(kinds == "weather")
    n_s, n_e = len(sites), len(enose_idx)

    lats = np.asarray([s.lat for s in sites], dtype=float)
    lons = np.asarray([s.lon for s in sites], dtype=float)
    points = scenario.network.emission_points
    proj = LocalProjection.around(
        np.concatenate([lats, [p.lat for p in points]]),
        np.concatenate([lons, [p.lon for p in points]]),
    )
    ex, ey = proj.to_xy(lats[enose_idx], lons[enose_idx])

    params = _channel_params(seed, [ids[i] for i in enose_idx])
    rng_wind = np.random.default_rng([seed, 2, part])
    rng_noise = np.random.default_rng([seed, 3, part])
    rng_station = np.random.default_rng([seed, 4, part])

    # wind: one field, measured by every station with its own noise
    direction, speed = _wind(scenario, rng_wind, minutes)
    wind_dir = np.full((n_s, minutes), np.nan)
    wind_speed = np.full((n_s, minutes), np.nan)
    n_w = len(weather_idx)
    if n_w:
        noise_d = STATION_DIRECTION_NOISE_DEG * rng_station.standard_normal((n_w, minutes))
        noise_u = 1.0 + STATION_SPEED_NOISE * rng_station.standard_normal((n_w, minutes))
        wind_dir[weather_idx] = (direction + noise_d) % 360.0
        wind_speed[weather_idx] = np.maximum(speed * noise_u, WIND_SPEED_MIN_M_S)

    # gas at each e-nose
    conc = np.zeros((n_e, minutes), dtype=np.float32)
    releases = scenario.releases if events else ()
    for k, release in enumerate(releases):
        _add_release(conc, scenario, k, release, start, (ex, ey), proj, (direction, speed))
    if releases and MOX_TIME_CONSTANT_MIN > 0:
        keep = math.exp(-1.0 / MOX_TIME_CONSTANT_MIN)
        conc = np.asarray(lfilter([1.0 - keep], [1.0, -keep], conc, axis=1), dtype=np.float32)

    # channels, in float32 (log R ~ 10 keeps ~1e-6 absolute precision, noise is ~1e-2)
    t_days = ((times - scenario.start) / DAY).astype(np.float32)
    temperature, humidity = (a.astype(np.float32) for a in _environment(seed, times))
    gassed = np.flatnonzero(conc.any(axis=0))  # minutes with gas at some e-nose
    conc_gassed = conc[:, gassed]
    common = _ar1(rng_noise, (n_e, minutes), NOISE_PHI, 1.0)
    common *= np.float32(math.sqrt(NOISE_COMMON_SHARE))
    own = math.sqrt(1.0 - NOISE_COMMON_SHARE)
    channels: dict[str, FloatArray] = {}
    for c, name in enumerate(CHANNELS):
        p = {f: getattr(params, f)[:, c, None].astype(np.float32) for f in _PARAM_FIELDS}
        log_r = _ar1(rng_noise, (n_e, minutes), NOISE_PHI, own)
        log_r += common
        log_r *= p["noise_sd"]
        log_r += p["log_r0"]
        log_r += p["drift_per_day"] * t_days
        log_r += p["w_temperature"] * temperature
        log_r += p["w_humidity"] * humidity
        if gassed.size:
            log_r[:, gassed] -= p["beta"] * np.log1p(conc_gassed / p["c_half"])
        values = np.full((n_s, minutes), np.nan)
        values[enose_idx] = np.exp(log_r)
        channels[name] = values
    del conc, conc_gassed, common

    faults = scenario.faults if events else ()
    for k, fault in enumerate(faults):
        _apply_fault(channels, scenario, k, fault, ids, kinds, start, minutes)

    variables: dict[str, tuple[np.ndarray, str]] = {
        name: (values, "Ohm") for name, values in channels.items()
    }
    variables["wind_direction"] = (wind_dir, "deg")
    variables["wind_speed"] = (wind_speed, "m/s")
    ds = make_stream_dataset(scenario.network.id, ids, times, variables)
    ds = ds.assign_coords(kind=("sensor", kinds), lat=("sensor", lats), lon=("sensor", lons))
    ds.attrs.update(_ground_truth_attrs(scenario, releases, faults, proj))
    return ds


def _apply_fault(
    channels: dict[str, FloatArray],
    scenario: Scenario,
    k: int,
    fault: Fault,
    ids: list[str],
    kinds: NDArray[np.object_],
    t0: np.datetime64,
    n_t: int,
) -> None:
    """Apply a fault to all channels of its e-nose, in place."""
    if fault.sensor_id not in ids:
        raise ValueError(f"fault on unknown sensor {fault.sensor_id!r}")
    s = ids.index(fault.sensor_id)
    if kinds[s] != "enose":
        raise ValueError(
            f"fault on {fault.sensor_id!r}: faults are simulated on e-noses only, "
            f"not on {kinds[s]} sensors"
        )
    i0 = int((fault.start - t0) // MINUTE)
    i1 = i0 + fault.minutes
    lo, hi = max(i0, 0), min(i1, n_t)
    rng = np.random.default_rng([scenario.seed, 6, k])
    if fault.kind == "drift":
        # the ramp reaches +-0.8 at the end of the span and stays there
        sign = 1.0 if rng.random() < 0.5 else -1.0
        steps = np.clip((np.arange(n_t) - i0 + 1) / fault.minutes, 0.0, 1.0)
        factor = np.exp(sign * DRIFT_FAULT_LOG * steps)
        for values in channels.values():
            values[s] *= factor
        return
    if hi <= lo:
        return
    if fault.kind == "gap":
        for values in channels.values():
            values[s, lo:hi] = np.nan
    elif fault.kind == "flatline":
        for values in channels.values():
            values[s, lo:hi] = values[s, max(lo - 1, 0)]
    elif fault.kind == "out_of_range":
        level = OPEN_CIRCUIT_OHM if rng.random() < 0.5 else 0.0
        for values in channels.values():
            values[s, lo:hi] = level
    elif fault.kind == "spike":
        span = hi - lo
        count = min(int(rng.integers(3, 7)), (span + 1) // 2)
        # even offsets only: the glitches are isolated single minutes
        at = lo + 2 * rng.choice((span + 1) // 2, size=count, replace=False)
        factor = rng.uniform(3.0, 10.0, count) ** rng.choice([-1.0, 1.0], count)
        for values in channels.values():
            values[s, at] *= factor


def _iso(t: np.datetime64) -> str:
    return str(np.datetime_as_string(t, unit="s")) + "Z"


def _ground_truth_attrs(
    scenario: Scenario,
    releases: tuple[Release, ...],
    faults: tuple[Fault, ...],
    proj: LocalProjection,
) -> dict[str, Any]:
    rows = []
    for r in releases:
        x, y = _source_xy(scenario, r, proj)
        lat, lon = proj.to_latlon([x], [y])
        rows.append(
            {
                "mba_id": r.mba_id,
                "source_id": r.source_id,
                "start": _iso(r.start),
                "end": _iso(r.start + r.minutes * MINUTE),
                "minutes": r.minutes,
                "rate_g_s": r.rate_g_s,
                "lat": float(lat[0]),
                "lon": float(lon[0]),
            }
        )
    return {
        "title": "vth synthetic e-nose network scenario",
        "network_id": scenario.network.id,
        "seed": scenario.seed,
        "wind_from_deg": scenario.wind_from_deg,
        "wind_speed_m_s": scenario.wind_speed_m_s,
        "releases": json.dumps(rows),
        "faults": json.dumps(
            [
                {
                    "sensor_id": f.sensor_id,
                    "kind": f.kind,
                    "start": _iso(f.start),
                    "end": _iso(f.start + f.minutes * MINUTE),
                    "minutes": f.minutes,
                }
                for f in faults
            ]
        ),
        "emission_points": json.dumps(
            [
                {
                    "mba_id": p.mba_id,
                    "source_id": p.source_id,
                    "lat": p.lat,
                    "lon": p.lon,
                    "kind": p.kind,
                }
                for p in scenario.network.emission_points
            ]
        ),
    }


def _whole_minute(t: np.datetime64 | str, what: str) -> np.datetime64:
    value = np.datetime64(t, "ns") if isinstance(t, str) else t.astype("datetime64[ns]")
    if np.isnat(value):
        raise ValueError(f"{what} is not a time: {t!r}")
    if value != value.astype("datetime64[m]"):
        raise ValueError(f"{what} {t!r} is not on a whole minute")
    return value


# --- SenML ---------------------------------------------------------------------------------


def senml_packs(dataset: xr.Dataset, topics: TopicTemplate) -> Iterator[tuple[str, bytes]]:
    """The SenML messages of a stream dataset, one per sensor and minute.

    Each pack holds the sensor's finite values at that time, the first record with
    ``bn`` (``"<sensor>:"``) and ``bt`` (integer Unix seconds); values are rounded to 6
    significant digits. Sensor-minutes without any value are skipped.

    Parameters
    ----------
    dataset
        A stream dataset (dims ``sensor``, ``time``; coord ``mba_id``).
    topics
        The gateway's topic template.

    Yields
    ------
    tuple[str, bytes]
        ``(topic, payload)``, sorted by time then by sensor order.
    """
    names = [
        str(name) for name, var in dataset.data_vars.items() if set(var.dims) == {"sensor", "time"}
    ]
    units = [str(dataset[name].attrs.get("units", "")) for name in names]
    sensors = [str(s) for s in dataset["sensor"].values]
    mbas = [str(m) for m in dataset["mba_id"].values]
    topic_of = [topics.format(m, s) for m, s in zip(mbas, sensors, strict=True)]
    seconds = dataset["time"].values.astype("datetime64[s]").astype(np.int64)
    chunk = 1440
    for c0 in range(0, len(seconds), chunk):
        sl = slice(c0, c0 + chunk)
        block = np.stack(
            [
                dataset[name].isel(time=sl).transpose("time", "sensor").values.astype(float)
                for name in names
            ],
            axis=-1,
        )  # (time, sensor, variable)
        finite = np.isfinite(block)
        for j in range(block.shape[0]):
            bt = int(seconds[c0 + j])
            for s in np.flatnonzero(finite[j].any(axis=1)):
                records: list[dict[str, object]] = []
                for v in np.flatnonzero(finite[j, s]):
                    record: dict[str, object] = {
                        "n": names[v],
                        "u": units[v],
                        "v": float(f"{block[j, s, v]:.6g}"),
                    }
                    if not records:
                        record = {"bn": f"{sensors[s]}:", "bt": bt, **record}
                    records.append(record)
                yield topic_of[s], json.dumps(records, separators=(",", ":")).encode()
