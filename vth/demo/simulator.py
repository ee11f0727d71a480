"""A simulator that publishes realistic SenML streams for MBA profiles over MQTT.

For every registered sensor of each profile it generates one SenML pack per minute:
CEMS analysers report their source's limited substances (baseline at about a third of
the strictest limit, with noise) and O2 near the reference; e-noses report four
metal-oxide channels in Ohm; weather stations report wind and temperature; fence-line
sensors report their substances. Injected peaks raise one quantity of one sensor for
a known span, so the demo and tests know which alert to expect.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from vth.gateways.errors import BrokerError
from vth.gateways.mqtt import BrokerAddress
from vth.gateways.topics import TopicTemplate
from vth.models import MbaProfile, Sensor
from vth.sensing.units import CANONICAL, QUANTITY_DIMENSIONS, convert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InjectedPeak:
    """One quantity of one sensor set to ``value`` (canonical unit) for a span of minutes."""

    mba_id: str
    sensor_id: str
    quantity: str
    start: datetime
    minutes: int
    value: float

    def covers(self, t: datetime) -> bool:
        """Whether minute ``t`` lies within the peak."""
        return self.start <= t < self.start + timedelta(minutes=self.minutes)


def floor_minutes(t: datetime, minutes: int) -> datetime:
    """``t`` rounded down to a multiple of ``minutes`` past the hour (UTC)."""
    t = t.astimezone(UTC).replace(second=0, microsecond=0)
    return t - timedelta(minutes=t.minute % minutes)


def demo_peaks(now: datetime) -> list[InjectedPeak]:
    """The peaks of the demo.

    NOx at the incinerator; benzene at the chemical plant's fence: a half-hour above
    the limit and a short burst above the peak check.
    """
    return [
        InjectedPeak(
            "avi-rozenburg",
            "cems-l1",
            "NOx",
            floor_minutes(now - timedelta(hours=2), 30),
            45,
            520.0,
        ),
        InjectedPeak(
            "chemie-botlek",
            "fl-east",
            "benzene",
            floor_minutes(now - timedelta(minutes=80), 10),
            25,
            0.09,
        ),
        # a 3-minute burst above the fence-line peak check (4 x 50 ug/m3)
        InjectedPeak(
            "chemie-botlek",
            "fl-east",
            "benzene",
            floor_minutes(now - timedelta(minutes=40), 10) + timedelta(minutes=4),
            3,
            0.3,
        ),
    ]


class StreamSimulator:
    """Generates SenML packs for the sensors of MBA profiles.

    Parameters
    ----------
    profiles
        The MBAs to simulate.
    topics
        Topic template of the gateway.
    peaks
        Injected peaks.
    seed
        Seed of the noise.
    skip_kinds
        Sensor kinds left to another simulator (the demo simulates e-noses and weather
        stations as a network scenario).
    """

    def __init__(
        self,
        profiles: dict[str, MbaProfile],
        topics: TopicTemplate,
        peaks: list[InjectedPeak] | None = None,
        seed: int = 0,
        skip_kinds: tuple[str, ...] = (),
    ) -> None:
        self.profiles = profiles
        self.topics = topics
        self.peaks = peaks or []
        self.skip_kinds = skip_kinds
        self.rng = np.random.default_rng(seed)

    def packs_at(self, t: datetime) -> list[tuple[str, bytes]]:
        """One ``(topic, SenML payload)`` per sensor for minute ``t``."""
        out = []
        for profile in self.profiles.values():
            for sensor in profile.sensors:
                if sensor.kind in self.skip_kinds:
                    continue
                records = self._records(profile, sensor, t)
                if records:
                    out.append(
                        (self.topics.format(profile.id, sensor.id), json.dumps(records).encode())
                    )
        return out

    def history(self, start: datetime, end: datetime) -> Iterator[tuple[str, bytes]]:
        """Packs for every minute in ``[start, end)``."""
        t = floor_minutes(start, 1)
        while t < end:
            yield from self.packs_at(t)
            t += timedelta(minutes=1)

    def _records(self, profile: MbaProfile, sensor: Sensor, t: datetime) -> list[dict[str, object]]:
        values: dict[str, tuple[float, str]] = {}
        if sensor.kind in ("cems", "fenceline"):
            source = profile.source_of_sensor(sensor.id)
            limits = source.limits if source is not None else []
            strictest: dict[str, float] = {}
            reference_o2 = None
            for limit in limits:
                mg = float(convert(np.array(limit.value), limit.unit, "mg/m3"))
                strictest[limit.substance] = min(strictest.get(limit.substance, mg), mg)
                reference_o2 = (
                    limit.reference_o2 if limit.reference_o2 is not None else reference_o2
                )
            for substance, limit_mg in strictest.items():
                values[substance] = (
                    max(0.0, limit_mg * (0.33 + 0.04 * self.rng.standard_normal())),
                    "mg/m3",
                )
            if reference_o2 is not None:
                values["O2"] = (
                    float(np.clip(reference_o2 + 0.3 * self.rng.standard_normal(), 0.5, 20)),
                    "%",
                )
        elif sensor.kind == "enose":
            for ch, base in zip(
                ("ch1", "ch2", "ch3", "ch4"), (12000, 9800, 15500, 21000), strict=True
            ):
                values[ch] = (base * (1 + 0.01 * self.rng.standard_normal()), "Ohm")
        elif sensor.kind == "weather":
            hour = t.hour + t.minute / 60
            values["wind_direction"] = (
                float(
                    (230 + 20 * np.sin(hour / 24 * 2 * np.pi) + 5 * self.rng.standard_normal())
                    % 360
                ),
                "deg",
            )
            values["wind_speed"] = (float(max(0.0, 5 + self.rng.standard_normal())), "m/s")
            values["temperature"] = (float(9 + 3 * np.sin((hour - 9) / 24 * 2 * np.pi)), "Cel")
        for peak in self.peaks:
            if peak.mba_id == profile.id and peak.sensor_id == sensor.id and peak.covers(t):
                unit = CANONICAL.get(QUANTITY_DIMENSIONS.get(peak.quantity, ""), "")
                values[peak.quantity] = (peak.value * (1 + 0.01 * self.rng.standard_normal()), unit)
        records: list[dict[str, object]] = []
        for i, (quantity, (value, unit)) in enumerate(values.items()):
            record: dict[str, object] = {"n": quantity, "v": round(value, 5)}
            if i == 0:
                record = {"bn": f"{sensor.id}:", "bt": int(t.timestamp()), **record}
            if unit and not (sensor.kind == "enose" and i > 0):
                record["u"] = unit
            records.append(record)
        return records


class Publisher:
    """A small paho client publishing QoS 1 messages (the sensors' side of the demo)."""

    #: Messages sent and not yet acknowledged, at most. paho's message ids wrap at 65535,
    #: and paho scans all its pending messages on every acknowledgement, so the window
    #: stays small; the broker's acknowledgements pace the sending.
    WINDOW = 1000
    #: Seconds to wait for an acknowledgement before giving up.
    TIMEOUT_S = 30.0

    def __init__(self, broker_url: str, client_id: str = "vth-simulator") -> None:
        address = BrokerAddress.parse(broker_url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.max_inflight_messages_set(0)  # the window limits instead of paho's queue
        self._window = threading.Semaphore(self.WINDOW)
        self.client.on_publish = lambda *_: self._window.release()
        self.client.connect(address.host, address.port, keepalive=30)
        self.client.loop_start()

    def publish(
        self, messages: Iterator[tuple[str, bytes]] | list[tuple[str, bytes]], qos: int = 1
    ) -> int:
        """Publish and wait until the broker has every message; return the count.

        Raises
        ------
        BrokerError
            When the broker has not acknowledged a message within :attr:`TIMEOUT_S`.
        """
        count = 0
        for topic, payload in messages:
            self._acquire()
            self.client.publish(topic, payload, qos=qos)
            count += 1
        for _ in range(self.WINDOW):  # every message sent is acknowledged
            self._acquire()
        for _ in range(self.WINDOW):
            self._window.release()
        return count

    def _acquire(self) -> None:
        if not self._window.acquire(timeout=self.TIMEOUT_S):
            raise BrokerError(
                f"the MQTT broker did not acknowledge a message within {self.TIMEOUT_S:g} s"
            )

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def run_simulation(
    simulator: StreamSimulator,
    broker_url: str,
    stop: threading.Event,
    history: timedelta = timedelta(hours=3),
    bad_examples: bool = True,
) -> None:
    """Publish ``history`` of backfilled minutes, then one pack per sensor each new minute."""
    publisher = Publisher(broker_url)
    try:
        now = datetime.now(UTC)
        n = publisher.publish(simulator.history(now - history, floor_minutes(now, 1)))
        log.info("simulator: published %d backfilled packs", n)
        if bad_examples:
            publisher.publish(bad_messages(simulator))
        last_minute = None
        while not stop.is_set():
            minute = floor_minutes(datetime.now(UTC), 1)
            if minute != last_minute:
                publisher.publish(simulator.packs_at(minute))
                last_minute = minute
            stop.wait(1.0)
    finally:
        publisher.close()


def bad_messages(simulator: StreamSimulator) -> list[tuple[str, bytes]]:
    """A few malformed messages that the gateway must quarantine (shown in the demo)."""
    profile = next(iter(simulator.profiles.values()))
    sensor = profile.sensors[0].id if profile.sensors else "unknown-sensor"
    topic = simulator.topics.format(profile.id, sensor)
    now = int(time.time())
    return [
        (topic, b'{"not json'),
        (
            topic,
            json.dumps(
                [{"bn": f"{sensor}:", "bt": now, "n": "NOx", "u": "furlong", "v": 1.0}]
            ).encode(),
        ),
        (
            topic,
            json.dumps(
                [{"bn": f"{sensor}:", "bt": now + 86400, "n": "NOx", "u": "mg/m3", "v": 1.0}]
            ).encode(),
        ),
        (simulator.topics.format("no-such-mba", sensor), b'[{"n":"NOx","u":"mg/m3","v":1}]'),
    ]
