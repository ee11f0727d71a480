"""Synthetic e-nose scenarios: layout, physics of releases, faults, history and SenML."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from vth.gateways.decoding import decode_payload
from vth.gateways.topics import TopicTemplate
from vth.sensing import open_streams, validate_stream_dataset, write_netcdf
from vth.sensing.network import EmissionPoint, LocalProjection, Network
from vth.sensing.scenario import (
    CHANNELS,
    FAULT_KINDS,
    Fault,
    Release,
    Scenario,
    SensorSite,
    clean_history,
    random_scenario,
    senml_packs,
    simulate,
)

MINUTE = np.timedelta64(1, "m")
CENTRE = (51.90, 4.30)
T0 = np.datetime64("2026-03-02T00:00", "ns")


def log_channels(ds: xr.Dataset):
    """log R of the e-noses, shape (channel, enose, time)."""
    enose = ds["kind"].values == "enose"
    return np.log(np.stack([ds[c].values[enose] for c in CHANNELS]))


def minute_index(ds: xr.Dataset, t: np.datetime64) -> int:
    return int((t - ds["time"].values[0]) // MINUTE)


def ring_scenario(rate_g_s: float, seed: int, wind_from: float, speed: float) -> Scenario:
    """A stack at the centre, e-noses on rings of 0.5-3 km every 10 degrees, a 60-min release."""
    proj = LocalProjection(*CENTRE)
    sites = []
    for dist in (500, 1000, 2000, 3000):
        for bearing in range(0, 360, 10):
            lat, lon = proj.to_latlon(
                [dist * math.sin(math.radians(bearing))], [dist * math.cos(math.radians(bearing))]
            )
            sites.append(
                SensorSite(f"enose-{dist}-{bearing:03d}", "enose", float(lat[0]), float(lon[0]))
            )
    sites.append(SensorSite("meteo-1", "weather", CENTRE[0] + 0.01, CENTRE[1]))
    network = Network("ring", (EmissionPoint("mba-01", "stack-1", *CENTRE, kind="stack"),))
    release = Release("mba-01", "stack-1", T0 + 240 * MINUTE, 60, rate_g_s)
    return Scenario(
        network,
        tuple(sites),
        T0,
        480,
        releases=(release,),
        seed=seed,
        wind_from_deg=wind_from,
        wind_speed_m_s=speed,
    )


# --- random scenarios ----------------------------------------------------------------------


def test_a_random_scenario_and_its_data_are_fixed_by_the_seed():
    a, b = random_scenario(5, minutes=2 * 1440), random_scenario(5, minutes=2 * 1440)
    assert a == b
    assert random_scenario(6, minutes=2 * 1440) != a
    xr.testing.assert_identical(simulate(a), simulate(b))


def test_random_layout_puts_sources_centrally_and_enoses_over_the_whole_area():
    scenario = random_scenario(
        3, n_enoses=49, n_mbas=8, n_weather=2, area_km=8.0, minutes=3 * 1440, n_releases=2
    )
    proj = LocalProjection(*CENTRE)
    points = scenario.network.emission_points
    assert scenario.network.id == "rijnmond-enose"
    mbas = sorted({p.mba_id for p in points})
    assert mbas == [f"mba-{i:02d}" for i in range(1, 9)]
    assert all(1 <= sum(p.mba_id == m for p in points) <= 2 for m in mbas)
    assert all(p.source_id and p.source_id.split("-")[0] == p.kind for p in points)
    px, py = proj.to_xy([p.lat for p in points], [p.lon for p in points])
    assert np.abs(px).max() <= 2400.0 + 1 and np.abs(py).max() <= 2400.0 + 1
    gaps = np.hypot(px[:, None] - px, py[:, None] - py) + np.eye(len(points)) * 1e9
    assert gaps.min() >= 400.0

    enoses = [s for s in scenario.sites if s.kind == "enose"]
    assert [s.id for s in enoses] == [f"enose-{i:03d}" for i in range(1, 50)]
    assert [s.id for s in scenario.sites if s.kind == "weather"] == ["meteo-1", "meteo-2"]
    ex, ey = proj.to_xy([s.lat for s in enoses], [s.lon for s in enoses])
    assert np.abs(ex).max() <= 4000.0 and np.abs(ey).max() <= 4000.0
    assert np.abs(ex).max() > 3000.0 and np.abs(ey).max() > 3000.0  # the edges are covered
    assert 0.0 <= scenario.wind_from_deg < 360.0 and 2.5 <= scenario.wind_speed_m_s <= 8.0


def test_random_releases_come_after_a_baseline_day_and_keep_three_hours_apart():
    for seed in range(10):
        scenario = random_scenario(seed, minutes=3 * 1440, n_releases=3)
        starts = [int((r.start - scenario.start) // MINUTE) for r in scenario.releases]
        assert starts == sorted(starts)
        for r, offset in zip(scenario.releases, starts, strict=True):
            assert offset >= 1440 and offset + r.minutes <= scenario.minutes
            assert 20 <= r.minutes <= 90 and 30.0 <= r.rate_g_s <= 300.0
            assert r.start.dtype == np.dtype("datetime64[ns]")
            assert r.start == r.start.astype("datetime64[m]")
            assert any(
                p.mba_id == r.mba_id and p.source_id == r.source_id
                for p in scenario.network.emission_points
            )
        for a, b, offset_a, offset_b in zip(
            scenario.releases, scenario.releases[1:], starts, starts[1:], strict=False
        ):
            assert offset_b >= offset_a + a.minutes + 180, (seed, a, b)
    short = random_scenario(1, minutes=600)
    assert int((short.releases[0].start - short.start) // MINUTE) >= 300
    with pytest.raises(ValueError, match="releases"):
        random_scenario(1, minutes=600, n_releases=4)


def test_random_faults_cycle_through_every_kind_on_enoses():
    scenario = random_scenario(2, n_faults=7, n_releases=0)
    assert [f.kind for f in scenario.faults] == [
        "flatline",
        "gap",
        "spike",
        "out_of_range",
        "drift",
        "flatline",
        "gap",
    ]
    enoses = {s.id for s in scenario.sites if s.kind == "enose"}
    for fault in scenario.faults:
        assert fault.sensor_id in enoses and 30 <= fault.minutes <= 240
        assert scenario.start <= fault.start
        assert fault.start + fault.minutes * MINUTE <= scenario.end


# --- the dataset -------------------------------------------------------------------------


def test_the_simulated_dataset_follows_the_stream_contract():
    scenario = random_scenario(0, n_enoses=12, n_weather=2, minutes=1440)
    ds = simulate(scenario)

    assert validate_stream_dataset(ds) is not None
    assert dict(ds.sizes) == {"sensor": 14, "time": 1440}
    assert ds["time"].dtype == np.dtype("datetime64[ns]")
    assert ds["time"].values[0] == scenario.start
    assert (np.diff(ds["time"].values) == MINUTE).all()
    assert {str(n): ds[n].attrs["units"] for n in ds.data_vars} == {
        "ch1": "Ohm",
        "ch2": "Ohm",
        "ch3": "Ohm",
        "ch4": "Ohm",
        "wind_direction": "deg",
        "wind_speed": "m/s",
    }
    assert all(ds[n].dims == ("sensor", "time") for n in ds.data_vars)
    assert set(ds["mba_id"].values) == {scenario.network.id}
    kinds = ds["kind"].values
    assert kinds.tolist() == [s.kind for s in scenario.sites]
    np.testing.assert_array_equal(ds["lat"].values, [s.lat for s in scenario.sites])
    np.testing.assert_array_equal(ds["lon"].values, [s.lon for s in scenario.sites])

    enose, weather = kinds == "enose", kinds == "weather"
    for c in CHANNELS:
        r = ds[c].values
        assert np.isnan(r[weather]).all()
        assert np.isfinite(r[enose]).all()
        assert 3e3 < np.median(r[enose]) < 2e5  # tens of kOhm
    direction, speed = ds["wind_direction"].values, ds["wind_speed"].values
    assert np.isnan(direction[enose]).all() and np.isnan(speed[enose]).all()
    assert ((direction[weather] >= 0) & (direction[weather] < 360)).all()
    assert (speed[weather] >= 0.5).all()


def test_wind_meanders_slowly_around_its_mean_and_stations_agree():
    scenario = dataclasses.replace(
        random_scenario(4, n_weather=2, minutes=2 * 1440), wind_from_deg=350.0
    )
    ds = simulate(scenario)
    direction = ds["wind_direction"].values[ds["kind"].values == "weather"]
    speed = ds["wind_speed"].values[ds["kind"].values == "weather"]

    def wrap(d: np.ndarray) -> np.ndarray:
        return (d + 180.0) % 360.0 - 180.0

    steps = wrap(np.diff(direction[0]))
    assert 2.0 < steps.std() < 8.0  # a few degrees from minute to minute
    deviation = wrap(direction[0] - 350.0)
    assert 10.0 < deviation.std() < 40.0 and np.abs(deviation).max() < 120.0
    assert wrap(direction[0] - direction[1]).std() < 5.0  # one wind field, small sensor noise
    assert 0.7 * scenario.wind_speed_m_s < speed[0].mean() < 1.3 * scenario.wind_speed_m_s
    assert np.corrcoef(speed[0], speed[1])[0, 1] > 0.9


def test_ground_truth_travels_in_the_attrs_and_survives_netcdf(tmp_path: Path):
    scenario = random_scenario(8, n_enoses=9, minutes=2 * 1440, n_releases=2, n_faults=2)
    ds = simulate(scenario)
    path = tmp_path / "scenario.nc"
    write_netcdf(ds, path)
    reopened = open_streams(path)[scenario.network.id]

    releases = json.loads(reopened.attrs["releases"])
    faults = json.loads(reopened.attrs["faults"])
    points = json.loads(reopened.attrs["emission_points"])
    assert [(r["mba_id"], r["source_id"], r["minutes"]) for r in releases] == [
        (r.mba_id, r.source_id, r.minutes) for r in scenario.releases
    ]
    assert [np.datetime64(r["start"].rstrip("Z"), "ns") for r in releases] == [
        r.start for r in scenario.releases
    ]
    assert [r["rate_g_s"] for r in releases] == [r.rate_g_s for r in scenario.releases]
    assert [(f["sensor_id"], f["kind"], f["minutes"]) for f in faults] == [
        (f.sensor_id, f.kind, f.minutes) for f in scenario.faults
    ]
    assert len(points) == len(scenario.network.emission_points)


# --- gas releases ------------------------------------------------------------------------


@pytest.mark.parametrize(("rate_g_s", "minimum_sigmas"), [(30.0, 6.0), (300.0, 50.0)])
def test_a_release_makes_enoses_near_the_downwind_axis_drop_by_many_noise_sigmas(
    rate_g_s: float, minimum_sigmas: float
):
    for seed, (wind_from, speed) in enumerate([(270.0, 5.0), (45.0, 8.0), (160.0, 2.5)]):
        ds = simulate(ring_scenario(rate_g_s, seed, wind_from, speed))
        enose = ds["kind"].values == "enose"
        ids = ds["sensor"].values[enose]
        log_r = log_channels(ds).mean(axis=0)  # (enose, time)
        before, during = log_r[:, 180:240], log_r[:, 240:330]  # the hour before; the release
        sigmas = (np.median(before, axis=1)[:, None] - during).max(axis=1) / before.std(axis=1)

        # where the measured wind blew during the release
        measured = np.radians(ds["wind_direction"].values[~enose][0, 240:300])
        wind = math.degrees(math.atan2(np.sin(measured).mean(), np.cos(measured).mean()))
        downwind = (wind + 180.0) % 360.0
        dist = np.array([int(s.split("-")[1]) for s in ids])
        bearing = np.array([int(s.split("-")[2]) for s in ids])
        off_axis = np.abs((bearing - downwind + 180.0) % 360.0 - 180.0)
        for ring in (500, 1000, 2000, 3000):
            on_ring = np.flatnonzero(dist == ring)
            nearest = on_ring[np.argmin(off_axis[on_ring])]
            assert sigmas[nearest] > minimum_sigmas, (seed, ring, ids[nearest], sigmas[nearest])
        # an e-nose far off the axis only sees noise
        assert sigmas[off_axis > 60].max() < 8.0


def test_upwind_and_far_off_axis_enoses_see_nothing_of_a_release():
    scenario = ring_scenario(300.0, 1, 270.0, 5.0)
    with_gas = log_channels(simulate(scenario))
    without = log_channels(simulate(dataclasses.replace(scenario, releases=())))
    response = (without - with_gas).max(axis=(0, 2))  # the gas only lowers log R
    ids = [s.id for s in scenario.sites if s.kind == "enose"]
    bearing = np.array([int(s.split("-")[2]) for s in ids])

    assert (without - with_gas >= 0).all()
    upwind = np.abs((bearing - 270.0 + 180.0) % 360.0 - 180.0) < 60  # the wind comes from W
    assert (response[upwind] == 0).all()
    crosswind = np.isin(bearing, [0, 180])
    assert response[crosswind].max() < 0.005  # below one noise sigma
    downwind = np.isin(bearing, [80, 90, 100])
    assert response[downwind].min() > 0.05


def test_the_gas_arrives_after_the_travel_time_and_the_channels_respond_differently():
    scenario = ring_scenario(100.0, 2, 270.0, 2.5)
    ds = simulate(scenario)
    without = simulate(dataclasses.replace(scenario, releases=()))
    drop = log_channels(without) - log_channels(ds)  # (channel, enose, time)
    ids = ds["sensor"].values[ds["kind"].values == "enose"]
    hit = drop.max(axis=0) > 1e-3
    far = [i for i, s in enumerate(ids) if s.startswith("enose-3000-")]
    first = min(int(np.flatnonzero(hit[i])[0]) for i in far if hit[i].any())
    assert first >= 240 + 3000 / (2.5 * 60) * 0.5  # 3 km at ~2.5 m/s takes ~20 minutes
    assert not hit[:, :240].any()
    # the drop has a direction in channel space: the channels do not respond alike
    best = int(np.argmax(drop.sum(axis=(0, 2))))
    per_channel = drop[:, best].max(axis=1)
    assert per_channel.max() > 1.5 * per_channel.min()


# --- faults ------------------------------------------------------------------------------


def test_faults_appear_in_the_data_as_specified():
    base = random_scenario(11, n_enoses=9, minutes=1440, n_releases=0)
    faults = tuple(
        Fault(f"enose-00{i + 1}", kind, base.start + (300 + 10 * i) * MINUTE, 120)
        for i, kind in enumerate(FAULT_KINDS)
    )
    ds = simulate(dataclasses.replace(base, faults=faults))
    clean = simulate(base)

    def values(data: xr.Dataset, sensor: str) -> np.ndarray:
        return np.stack([data[c].sel(sensor=sensor).values for c in CHANNELS])

    for fault in faults:
        got, ref = values(ds, fault.sensor_id), values(clean, fault.sensor_id)
        i0 = minute_index(ds, fault.start)
        span = slice(i0, i0 + fault.minutes)
        np.testing.assert_array_equal(got[:, :i0], ref[:, :i0])
        if fault.kind != "drift":
            np.testing.assert_array_equal(
                got[:, i0 + fault.minutes :], ref[:, i0 + fault.minutes :]
            )
        if fault.kind == "flatline":
            assert (got[:, span] == got[:, i0 - 1 : i0]).all()
        elif fault.kind == "gap":
            assert np.isnan(got[:, span]).all()
        elif fault.kind == "out_of_range":
            level = got[0, i0]
            assert level in (0.0, 1e10) and (got[:, span] == level).all()
        elif fault.kind == "spike":
            ratio = np.abs(np.log(got[:, span] / ref[:, span]))
            glitches = np.flatnonzero(ratio.max(axis=0) > 0)
            assert 3 <= len(glitches) <= 6 and (np.diff(glitches) > 1).all()
            assert (ratio[:, glitches] >= math.log(3) - 1e-6).all()
            assert (ratio[:, glitches] <= math.log(10) + 1e-6).all()
        else:  # drift: a ramp reaching 0.8 in log R at the end of the span, then staying
            shift = np.log(got / ref)
            assert abs(abs(shift[0, i0 + fault.minutes - 1]) - 0.8) < 1e-4
            np.testing.assert_allclose(shift[:, i0 + fault.minutes :], shift[0, -1], atol=1e-4)
            assert abs(shift[0, i0 + fault.minutes // 2]) == pytest.approx(0.4, abs=0.01)
    untouched = [s for s in ds["sensor"].values if s not in {f.sensor_id for f in faults}]
    xr.testing.assert_identical(
        ds.sel(sensor=untouched).drop_attrs(), clean.sel(sensor=untouched).drop_attrs()
    )


def test_a_scenario_rejects_events_it_cannot_simulate():
    base = random_scenario(0, n_enoses=4, minutes=600, n_releases=0)
    with pytest.raises(ValueError, match="not an emission point"):
        simulate(dataclasses.replace(base, releases=(Release("mba-99", "x", base.start, 10, 1.0),)))
    with pytest.raises(ValueError, match="e-noses only"):
        simulate(dataclasses.replace(base, faults=(Fault("meteo-1", "gap", base.start, 30),)))
    with pytest.raises(ValueError, match="whole minute"):
        Release("mba-01", None, np.datetime64("2026-03-02T00:00:30"), 10, 1.0)


# --- history -----------------------------------------------------------------------------


def test_clean_history_is_the_same_sensors_just_before_the_scenario_without_events():
    scenario = random_scenario(7, n_enoses=20, minutes=2 * 1440, n_releases=1, n_faults=5)
    ds = simulate(scenario)
    history = clean_history(scenario, 1440)

    assert history["time"].values[-1] + MINUTE == scenario.start
    assert history.sizes["time"] == 1440
    assert (history["sensor"].values == ds["sensor"].values).all()
    assert json.loads(history.attrs["releases"]) == [] and json.loads(history.attrs["faults"]) == []
    assert np.isfinite(log_channels(history)).all()  # no faults

    # the levels join up: same baselines within noise, drift and weather
    before = np.median(log_channels(history)[:, :, -180:], axis=2)
    after = np.median(log_channels(ds)[:, :, :180], axis=2)
    assert np.abs(after - before).max() < 0.05
    assert np.std(before) > 0.2  # while the sensors differ much more among themselves
    assert np.corrcoef(before.ravel(), after.ravel())[0, 1] > 0.99
    # independent noise: a second history window is not a copy of the scenario
    assert not np.allclose(log_channels(clean_history(scenario, 180)), log_channels(ds)[:, :, :180])


# --- SenML -------------------------------------------------------------------------------


def test_senml_packs_decode_back_to_the_dataset():
    base = random_scenario(9, n_enoses=3, n_weather=1, minutes=6, n_releases=0)
    gap = Fault("enose-002", "gap", base.start + 2 * MINUTE, 2)
    ds = simulate(dataclasses.replace(base, faults=(gap,)))
    topics = TopicTemplate("vth/{mba_id}/{sensor_id}")

    packs = list(senml_packs(ds, topics))

    assert len(packs) == 4 * 6 - 2  # the gap minutes of enose-002 send nothing
    first = json.loads(packs[0][1])
    assert packs[0][0] == f"vth/{ds['mba_id'].values[0]}/enose-001"
    assert first[0]["bn"] == "enose-001:" and first[0]["bt"] == int(base.start.astype(int) // 10**9)
    assert [r["n"] for r in first] == list(CHANNELS) and all(r["u"] == "Ohm" for r in first)
    assert all("bn" not in r for r in first[1:])
    now_ns = int(ds["time"].values[-1].astype(np.int64)) + 10**9
    decoded = []
    for topic, payload in packs:
        mba_id, sensor_id = topics.parse(topic)
        out = decode_payload(payload, sensor_id, now_ns)
        assert out.problems == [] and mba_id == ds["mba_id"].values[0]
        decoded += out.readings
    times = [r.time_ns for r in decoded]
    assert times == sorted(times)
    for r in decoded:
        expected = float(
            ds[r.quantity].sel(sensor=r.sensor_id, time=np.datetime64(r.time_ns, "ns"))
        )
        assert r.value == pytest.approx(expected, rel=1e-5)
    weather = [r for r in decoded if r.sensor_id == "meteo-1"]
    assert {r.quantity for r in weather} == {"wind_direction", "wind_speed"}
    assert len(decoded) == 3 * 4 * 6 - 4 * 2 + 2 * 6
