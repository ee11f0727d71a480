"""Shared fixtures: MQTT brokers (Mosquitto when installed, else embedded) and profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vth.gateways.broker import EmbeddedBroker, free_port
from vth.gateways.mosquitto import MosquittoProcess, find_mosquitto
from vth.models import MbaProfile, load_profiles

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PROFILES = ROOT / "examples" / "profiles"


@dataclass(frozen=True)
class BrokerInfo:
    """A running broker for a test."""

    url: str
    host: str
    port: int
    kind: str  # "mosquitto" or "embedded"


class Mosquitto(MosquittoProcess):
    """A Mosquitto process on a loopback port, restartable on the same port."""

    def __init__(self, executable: str, workdir: Path) -> None:
        port = free_port()
        config = workdir / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 200000\n"
            "max_inflight_messages 0\n"
        )
        super().__init__(executable, config, [port])

    @property
    def info(self) -> BrokerInfo:
        return BrokerInfo(self.url, "127.0.0.1", self.port, "mosquitto")


def _require_mosquitto() -> str | None:
    exe = find_mosquitto()
    if exe is None and os.environ.get("VTH_REQUIRE_MOSQUITTO") == "1":
        pytest.fail("VTH_REQUIRE_MOSQUITTO=1 but mosquitto is not installed")
    return exe


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A real Mosquitto broker; skipped (or failed, in CI) when it is not installed."""
    exe = _require_mosquitto()
    if exe is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto); CI installs it")
    broker = Mosquitto(exe, tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def mqtt_broker(tmp_path: Path) -> Iterator[BrokerInfo]:
    """Mosquitto where installed, else the embedded broker: the test always runs."""
    exe = _require_mosquitto()
    if exe is not None:
        broker = Mosquitto(exe, tmp_path)
        broker.start()
        try:
            yield broker.info
        finally:
            broker.stop()
        return
    with EmbeddedBroker(port=0) as embedded:
        yield BrokerInfo(embedded.url, embedded.host, embedded.port, "embedded")


@pytest.fixture
def embedded_broker() -> Iterator[BrokerInfo]:
    """The embedded (amqtt) broker, the zero-setup default."""
    with EmbeddedBroker(port=0) as embedded:
        yield BrokerInfo(embedded.url, embedded.host, embedded.port, "embedded")


@pytest.fixture(scope="session")
def example_profiles() -> dict[str, MbaProfile]:
    """The example MBA profiles shipped in examples/profiles."""
    return load_profiles(EXAMPLE_PROFILES)
