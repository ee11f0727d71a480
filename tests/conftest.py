"""Shared fixtures: MQTT brokers (Mosquitto when installed, else embedded) and profiles."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vth.gateways.broker import EmbeddedBroker, free_port
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


def mosquitto_executable() -> str | None:
    """Path of the mosquitto binary, if installed (Debian puts it in /usr/sbin)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"broker did not listen on 127.0.0.1:{port} within {timeout} s")


class Mosquitto:
    """A Mosquitto process on a loopback port, restartable on the same port."""

    def __init__(self, executable: str, workdir: Path) -> None:
        self.executable = executable
        self.port = free_port()
        self.config = workdir / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 200000\n"
            "max_inflight_messages 0\n"
        )
        self.log = workdir / "mosquitto.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [self.executable, "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None

    @property
    def info(self) -> BrokerInfo:
        return BrokerInfo(f"mqtt://127.0.0.1:{self.port}", "127.0.0.1", self.port, "mosquitto")


def _require_mosquitto() -> str | None:
    exe = mosquitto_executable()
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
