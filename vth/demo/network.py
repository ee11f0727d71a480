"""The e-nose part of the demo: a gas release in the Botlek, seen by the e-nose network.

The demo's e-noses and weather stations (those of the MBA profiles and of the public
network files) are simulated with :mod:`vth.sensing.scenario`: a release from the
chemical plant's ground flare an hour ago, carried north-east by the wind over the
e-noses downwind, and a stuck public e-nose. The e-nose detector is fitted on two
clean simulated days of the same sensors, as an agency would fit it on its archive.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import xarray as xr

from vth.demo.simulator import Publisher, floor_minutes
from vth.detectors.enose import EnoseIncidentDetector
from vth.gateways.topics import TopicTemplate
from vth.models import MbaProfile, Sensor, SensorNetwork, network_of
from vth.sensing.scenario import Fault, Release, Scenario, SensorSite, clean_history, simulate
from vth.sensing.scenario import senml_packs as scenario_packs

log = logging.getLogger(__name__)

#: Kinds of sensor the scenario simulates (the stream simulator does the others).
NETWORK_KINDS = ("enose", "weather")
DEMO_SEED = 11


@dataclass(frozen=True)
class NetworkDemo:
    """The simulated network: its scenario and the stream dataset to publish."""

    scenario: Scenario
    dataset: xr.Dataset


def network_sites(
    profiles: dict[str, MbaProfile], networks: dict[str, SensorNetwork]
) -> tuple[list[SensorSite], dict[str, str]]:
    """E-noses and weather stations with a location, and the MBA or network of each."""
    sites: list[SensorSite] = []
    group: dict[str, str] = {}
    registers: list[tuple[str, list[Sensor]]] = [
        *((p.id, p.sensors) for p in profiles.values()),
        *((n.id, n.sensors) for n in networks.values()),
    ]
    for owner, sensors in registers:
        for sensor in sensors:
            if sensor.kind in NETWORK_KINDS and sensor.location and sensor.id not in group:
                kind: Literal["enose", "weather"] = "enose" if sensor.kind == "enose" else "weather"
                sites.append(SensorSite(sensor.id, kind, sensor.location.lat, sensor.location.lon))
                group[sensor.id] = owner
    return sites, group


def demo_network(
    profiles: dict[str, MbaProfile],
    networks: dict[str, SensorNetwork],
    now: datetime,
    history: timedelta = timedelta(hours=4),
    ahead: timedelta = timedelta(hours=12),
) -> NetworkDemo:
    """The demo scenario from ``now - history`` to ``now + ahead``."""
    sites, group = network_sites(profiles, networks)
    start = floor_minutes(now - history, 1)
    minutes = int((ahead + history) / timedelta(minutes=1))
    t0 = np.datetime64(start.replace(tzinfo=None), "ns")

    def at(minutes_before_now: int) -> np.datetime64:
        moment = floor_minutes(now - timedelta(minutes=minutes_before_now), 1)
        return np.datetime64(moment.replace(tzinfo=None), "ns")

    releases = (
        (Release("chemie-botlek", "flare-1", at(75), 45, 150.0),)
        if "chemie-botlek" in profiles
        else ()
    )
    stuck = next((s.id for s in sites if s.id == "en-rozenburg-w"), None)
    faults = (Fault(stuck, "flatline", at(200), 90),) if stuck else ()
    scenario = Scenario(
        network=network_of(profiles, networks),
        sites=tuple(sites),
        start=t0,
        minutes=minutes,
        releases=releases,
        faults=faults,
        seed=DEMO_SEED,
        wind_from_deg=230.0,
        wind_speed_m_s=4.5,
    )
    dataset = simulate(scenario)
    owners = np.array([group[str(s)] for s in dataset["sensor"].values], dtype=object)
    return NetworkDemo(scenario, dataset.assign_coords(mba_id=("sensor", owners)))


def fitted_enose_detector(demo: NetworkDemo, days: int = 2) -> EnoseIncidentDetector:
    """The e-nose detector fitted on ``days`` of clean history of the demo's sensors."""
    history = clean_history(demo.scenario, days * 1440)
    owners = demo.dataset["mba_id"].values
    history = history.assign_coords(mba_id=("sensor", owners))
    detector = EnoseIncidentDetector()
    detector.fit(history, demo.scenario.network)
    return detector


def run_network_simulation(
    demo: NetworkDemo, topics: TopicTemplate, broker_url: str, stop: threading.Event
) -> None:
    """Publish the scenario up to now at once, then each new minute as it comes."""
    publisher = Publisher(broker_url, client_id="vth-network-simulator")
    times = demo.dataset["time"].values
    try:
        now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "ns")
        done = int(np.searchsorted(times, now, side="right"))
        n = publisher.publish(list(scenario_packs(demo.dataset.isel(time=slice(0, done)), topics)))
        log.info("network simulator: published %d backfilled packs", n)
        while not stop.is_set() and done < len(times):
            now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "ns")
            due = int(np.searchsorted(times, now, side="right"))
            if due > done:
                publisher.publish(
                    list(scenario_packs(demo.dataset.isel(time=slice(done, due)), topics))
                )
                done = due
            stop.wait(1.0)
    finally:
        publisher.close()
