"""Faults on the stream path, each counted exactly: what was delivered is stored once.

Broker restart mid-stream, a gateway killed with SIGKILL and restarted, clock skew and
out-of-order messages, a burst of 100k messages and oversized messages, all through a
real Mosquitto on a loopback port.
"""

from __future__ import annotations

import getpass
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import ValidationError

from tests.conftest import ROOT, Mosquitto
from tests.gateways.gateway_process import BT, TOPIC, numbered_pack
from tests.gateways.test_mqtt_gateway import wait_for
from vth.gateways.journal import Journal
from vth.gateways.mqtt import BrokerAddress, Ingestor, MqttGateway
from vth.gateways.quarantine import Quarantine
from vth.gateways.raster_ingest import RasterIngestor
from vth.gateways.topics import TopicTemplate
from vth.sensing.buffer import StreamBuffer
from vth.settings import Settings

LIMIT_REASON = (
    "message of {size} bytes is larger than the {limit}-byte limit (VTH_MAX_MESSAGE_BYTES)"
)


def make_ingestor(tmp_path: Path, **kwargs: Any) -> Ingestor:
    return Ingestor(
        StreamBuffer(),
        Quarantine(tmp_path / "q.jsonl"),
        TopicTemplate("vth/{mba_id}/{sensor_id}"),
        **kwargs,
    )


def quarantined(ingestor: Ingestor) -> list[dict[str, str]]:
    path = ingestor.quarantine.path
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def nox_values(buffer: StreamBuffer) -> list[float]:
    return cast(list[float], buffer.to_dataset("avi")["NOx"].values.ravel().tolist())


def journal_lines(path: Path) -> int:
    return sum(1 for _ in Journal(path).replay())


class SessionPublisher:
    """A sensor's QoS 1 client with a persistent session (clean session off).

    paho keeps every unacknowledged QoS 1 message and sends it again after a reconnect,
    and queues what is published while the connection is down.
    """

    def __init__(self, url: str, client_id: str, inflight: int = 100) -> None:
        address = BrokerAddress.parse(url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False
        )
        self.client.max_inflight_messages_set(inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self._lock = threading.Lock()
        self.published = 0
        self.acked = 0
        self.client.on_publish = self._on_publish
        self.client.connect(address.host, address.port, keepalive=30)
        self.client.loop_start()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            self.acked += 1

    def publish(self, messages: Iterable[tuple[str, bytes]]) -> None:
        for topic, payload in messages:
            self.client.publish(topic, payload, qos=1)
            self.published += 1

    def wait_acked(self, timeout: float = 30.0) -> bool:
        return wait_for(lambda: self.acked == self.published, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def numbered(start: int, stop: int) -> Iterator[tuple[str, bytes]]:
    return ((TOPIC, numbered_pack(i)) for i in range(start, stop))


def restart_with(mosquitto: Mosquitto, config: str) -> None:
    mosquitto.stop()
    with mosquitto.config.open("a") as f:
        f.write(config)
    mosquitto.start()


def persistent_broker(mosquitto: Mosquitto, tmp_path: Path) -> None:
    """Mosquitto keeping sessions and queued messages across a restart (in a tmp dir)."""
    store = tmp_path / "mosquitto-db"
    store.mkdir()
    restart_with(
        mosquitto,
        f"persistence true\npersistence_location {store}/\nautosave_interval 1\n"
        # as root Mosquitto would switch to user mosquitto, who cannot write to tmp_path
        f"user {getpass.getuser()}\n"
        # the default: the broker holds what is beyond 20 unacknowledged messages
        "max_inflight_messages 20\n",
    )


@pytest.mark.broker
def test_broker_restart_mid_stream_loses_and_doubles_nothing(mosquitto: Mosquitto, tmp_path: Path):
    n = 3000
    persistent_broker(mosquitto, tmp_path)
    url = mosquitto.info.url
    gateway = MqttGateway(
        make_ingestor(tmp_path, known_mba_ids={"avi"}),
        url,
        client_id="fault-restart-gw",
        journal=Journal(tmp_path / "j.jsonl"),
    )
    journal = gateway.journal
    assert journal is not None
    gateway.start()
    publisher = SessionPublisher(url, "fault-restart-pub")
    phases = [threading.Event() for _ in range(3)]
    proceed = [threading.Event() for _ in range(2)]

    def publish() -> None:
        publisher.publish(numbered(0, 500))
        phases[0].set()
        proceed[0].wait(30)
        publisher.publish(numbered(500, 1500))
        phases[1].set()
        proceed[1].wait(30)
        publisher.publish(numbered(1500, n))  # while the broker is down: paho queues them
        phases[2].set()

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    try:
        assert phases[0].wait(30)
        assert wait_for(lambda: len(gateway.ingestor.buffer) == 500) and gateway.wait_idle()
        # a stalled disk: the worker blocks journalling a batch, which stays unacknowledged
        with journal._lock:
            proceed[0].set()
            assert phases[1].wait(30) and publisher.wait_acked()  # the broker has them all
            assert wait_for(lambda: gateway.stats.messages > 500)
            mosquitto.stop()  # SIGTERM: Mosquitto saves sessions and queued messages
            assert wait_for(lambda: not gateway.stats.connected)
            # what the gateway got of 500..1499: all of it unacknowledged
            received = gateway.stats.messages - 500 + gateway._queue.qsize()
            stored_before = len(gateway.ingestor.buffer)
            proceed[1].set()
            assert phases[2].wait(30)
        assert gateway.wait_idle()  # the stalled batch is journalled; its acks go nowhere
        mosquitto.start()
        assert wait_for(lambda: len(gateway.ingestor.buffer) == n, timeout=30), gateway.stats
        assert publisher.wait_acked() and gateway.wait_idle()
        time.sleep(0.3)  # would-be late redeliveries get a chance to arrive
        assert gateway.wait_idle()
    finally:
        proceed[0].set()
        proceed[1].set()
        thread.join(10)
        publisher.close()
        gateway.stop()
    # the restart really was mid-stream, with messages held by the broker and by the gateway
    assert 500 < stored_before < n
    assert 0 < received < 1000, "the broker should have held part of messages 500..1499"
    assert publisher.published == publisher.acked == n
    assert gateway.stats.connects == 2
    stats = gateway.stats
    assert len(gateway.ingestor.buffer) == n
    assert nox_values(gateway.ingestor.buffer) == [float(i) for i in range(n)]
    # what the gateway had not acknowledged was redelivered: counted, not stored twice
    print(f"restart: {received} messages redelivered, {stored_before} stored before")
    assert stats.duplicates == received
    assert stats.messages == n + stats.duplicates
    assert stats.readings == n
    assert stats.quarantined == 0 and quarantined(gateway.ingestor) == []
    assert journal_lines(tmp_path / "j.jsonl") == n  # duplicates are not journalled


def start_gateway_process(
    url: str, tmp_path: Path, stall_after: int | None = None
) -> tuple[subprocess.Popen[bytes], Path]:
    status = tmp_path / "status.json"
    status.unlink(missing_ok=True)
    args = [
        sys.executable,
        "-m",
        "tests.gateways.gateway_process",
        "--url",
        url,
        "--client-id",
        "fault-killed-gw",
        "--journal",
        str(tmp_path / "j.jsonl"),
        "--quarantine",
        str(tmp_path / "q.jsonl"),
        "--status",
        str(status),
    ]
    if stall_after is not None:
        args += ["--stall-after", str(stall_after)]
    with (tmp_path / "gateway.log").open("ab") as log:
        process = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    return process, status


def read_status(path: Path) -> dict[str, Any]:
    try:
        return cast(dict[str, Any], json.loads(path.read_text()))
    except (FileNotFoundError, ValueError):
        return {}


@pytest.mark.broker
def test_gateway_killed_and_restarted_resumes_its_session(mosquitto: Mosquitto, tmp_path: Path):
    n = 2000
    url = mosquitto.info.url
    publisher = SessionPublisher(url, "fault-kill-pub")
    first, status = start_gateway_process(url, tmp_path, stall_after=501)
    second = None
    try:
        log = tmp_path / "gateway.log"
        assert wait_for(lambda: read_status(status).get("connected") is True, 30), log.read_text()
        publisher.publish(numbered(0, 500))
        assert publisher.wait_acked()
        assert wait_for(lambda: read_status(status).get("journalled") == 500)
        assert wait_for(lambda: read_status(status).get("idle") is True)  # acknowledged
        publisher.publish(numbered(500, 1000))
        # the next batch is journalled (fsync) and hangs before its acknowledgement
        assert wait_for(lambda: read_status(status).get("lines_before_stall") == 500)
        first.send_signal(signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        at_kill = read_status(status)
        journalled = journal_lines(tmp_path / "j.jsonl")
        publisher.publish(numbered(1000, n))  # queued by the broker in the gateway's session
        assert publisher.wait_acked()

        second, status = start_gateway_process(url, tmp_path)
        assert wait_for(lambda: read_status(status).get("buffered") == n, timeout=30)
        assert wait_for(lambda: read_status(status).get("idle") is True)
        second.send_signal(signal.SIGTERM)
        assert second.wait(20) == 0
    finally:
        publisher.close()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(10)
    final = read_status(status)
    assert final["state"] == "stopped"
    # killed mid-stream: 500 messages acknowledged, one batch journalled but not
    # acknowledged, the rest of 500..999 received (or not) but not journalled, and
    # 1000..1999 published while the gateway was down
    unacked = journalled - 500
    assert 500 < journalled <= 1000 and at_kill["messages"] >= journalled
    assert final["replayed"] == journalled
    assert final["buffered"] == n and final["readings"] == n  # replayed ones included
    # the broker redelivered exactly the unacknowledged journalled batch: deduplicated
    assert final["duplicates"] == unacked
    assert final["messages"] == n + unacked  # replayed + received, redeliveries included
    assert final["quarantined"] == 0
    # the journal: every message exactly once, replayed as MqttGateway.replay_journal does
    assert journal_lines(tmp_path / "j.jsonl") == n
    ingestor = make_ingestor(tmp_path / "check")
    for received_ns, topic, payload in Journal(tmp_path / "j.jsonl").replay():
        ingestor.ingest(topic, payload, received_ns, quarantine=False)
    assert len(ingestor.buffer) == n and ingestor.stats.duplicates == 0
    assert nox_values(ingestor.buffer) == [float(i) for i in range(n)]


def senml(t: int, value: float, sensor: str = "cems-l1") -> bytes:
    return json.dumps(
        [{"bn": f"{sensor}:", "bt": t, "n": "NOx", "u": "mg/m3", "v": value}]
    ).encode()


@pytest.mark.broker
def test_clock_skew_is_quarantined_and_out_of_order_readings_end_up_sorted(
    mosquitto: Mosquitto, tmp_path: Path
):
    now = int(time.time())
    past = [now - 12 * 3600 + 60 * i for i in range(300)]
    rng = random.Random(7)
    shuffled = list(range(300))
    rng.shuffle(shuffled)
    messages = [(TOPIC, senml(past[i], float(i))) for i in shuffled]
    future = [(TOPIC, senml(now + 3600 + i, -1.0)) for i in range(20)]  # an hour ahead
    for k, message in enumerate(future):
        messages.insert(15 * k + 7, message)
    mixed = json.dumps(  # one good reading, one skewed: the good one is kept
        [
            {"bn": "cems-l1:", "bt": now - 13 * 3600, "n": "NOx", "u": "mg/m3", "v": 300.0},
            {"bt": now + 7200, "n": "NOx", "u": "mg/m3", "v": -2.0},
        ]
    ).encode()
    messages.append((TOPIC, mixed))
    gateway = MqttGateway(make_ingestor(tmp_path, max_future_s=300), mosquitto.info.url)
    gateway.start()
    publisher = SessionPublisher(mosquitto.info.url, "fault-skew-pub")
    try:
        publisher.publish(messages)
        assert publisher.wait_acked()
        assert wait_for(lambda: gateway.stats.messages == len(messages)) and gateway.wait_idle()
    finally:
        publisher.close()
        gateway.stop()
    ds = gateway.ingestor.buffer.to_dataset("avi")
    times = ds["time"].values.astype("datetime64[s]").astype(np.int64)
    assert times.tolist() == [now - 13 * 3600, *past]
    assert ds["NOx"].values.ravel().tolist() == [300.0] + [float(i) for i in range(300)]
    stats = gateway.stats
    assert (stats.messages, stats.readings, stats.duplicates) == (321, 301, 0)
    entries = quarantined(gateway.ingestor)
    assert len(entries) == 21 == stats.quarantined
    assert all("clock skew" in e["reason"] for e in entries)
    assert all("ahead of the gateway clock (more than 300 s)" in e["reason"] for e in entries)
    assert entries[-1]["payload"] == mixed.decode()
    assert entries[-1]["reason"].startswith("cems-l1/NOx: time is 7")  # ~7200 s ahead


@pytest.mark.broker
def test_a_burst_of_100k_messages_arrives_exactly_once(mosquitto: Mosquitto, tmp_path: Path):
    n = 100_000
    gateway = MqttGateway(
        make_ingestor(tmp_path), mosquitto.info.url, journal=Journal(tmp_path / "j.jsonl")
    )
    gateway.start()
    started = time.monotonic()
    try:
        publisher = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from tests.gateways.gateway_process import publish_main; "
                "sys.exit(publish_main(sys.argv[1:]))",
                "--url",
                mosquitto.info.url,
                "--client-id",
                "fault-burst-pub",
                "--stop",
                str(n),
                "--timeout",
                "40",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert publisher.returncode == 0, publisher.stderr
        assert wait_for(lambda: len(gateway.ingestor.buffer) == n, timeout=40), gateway.stats
        assert gateway.wait_idle()
    finally:
        gateway.stop()
    elapsed = time.monotonic() - started
    print(f"burst: published in {publisher.stdout.strip()} s, stored in {elapsed:.1f} s")
    stats = gateway.stats
    assert (stats.messages, stats.readings, stats.duplicates, stats.quarantined) == (n, n, 0, 0)
    ds = gateway.ingestor.buffer.to_dataset("avi")
    values = ds["NOx"].values.ravel()
    assert values.shape == (n,)
    assert np.array_equal(values, np.arange(n, dtype=np.float64))
    times = ds["time"].values.astype("datetime64[s]").astype(np.int64)
    assert np.array_equal(times, BT + np.arange(n))
    assert journal_lines(tmp_path / "j.jsonl") == n
    assert elapsed < 40


def big_pack(size: int, t0: int) -> bytes:
    """A valid SenML pack of many readings, padded with JSON whitespace to ``size`` bytes."""
    records: list[dict[str, object]] = [
        {"bn": "cems-l1:", "bt": t0, "n": "NOx", "u": "mg/m3", "v": 1.0}
    ]
    records += [{"n": "NOx", "t": i, "v": float(i)} for i in range(1, 60_000)]
    text = json.dumps(records).encode()
    assert len(text) <= size
    return text + b" " * (size - len(text))


@pytest.mark.broker
def test_an_oversized_message_is_quarantined_and_the_next_ones_flow(
    mosquitto: Mosquitto, tmp_path: Path
):
    size, limit = 5 * 2**20, 2**20
    t0 = int(time.time()) - 12 * 3600
    oversized = big_pack(size, t0 - 86_400)
    good = [senml(t0, 1.0), senml(t0 + 60, 2.0)]
    gateway = MqttGateway(make_ingestor(tmp_path), mosquitto.info.url)
    assert gateway.ingestor.max_message_bytes == limit  # the default
    gateway.start()
    publisher = SessionPublisher(mosquitto.info.url, "fault-size-pub")
    try:
        publisher.publish([(TOPIC, good[0]), (TOPIC, oversized), (TOPIC, good[1])])
        assert publisher.wait_acked()
        assert wait_for(lambda: gateway.stats.messages == 3) and gateway.wait_idle()
    finally:
        publisher.close()
        gateway.stop()
    assert nox_values(gateway.ingestor.buffer) == [1.0, 2.0]
    assert (gateway.stats.readings, gateway.stats.quarantined) == (2, 1)
    [entry] = quarantined(gateway.ingestor)
    assert entry["reason"] == LIMIT_REASON.format(size=size, limit=limit)
    assert entry["topic"] == TOPIC
    # kept whole in a side file, not inline in the JSON-lines file
    assert entry["payload_encoding"] == "file"
    assert Path(entry["payload"]).read_bytes() == oversized
    assert (tmp_path / "q.jsonl").stat().st_size < 4096


def test_ingestor_refuses_messages_over_the_limit_before_decoding(tmp_path: Path):
    ingestor = make_ingestor(tmp_path, max_message_bytes=1000, known_mba_ids={"avi"})
    t0 = 1_763_805_600
    at_limit = senml(t0, 1.0)
    at_limit += b" " * (1000 - len(at_limit))
    over = at_limit + b" "
    now = (t0 + 3600) * 10**9
    assert ingestor.ingest(TOPIC, at_limit, now).accepted == 1
    outcome = ingestor.ingest(TOPIC, over, now)
    assert (outcome.accepted, outcome.problems) == (0, [LIMIT_REASON.format(size=1001, limit=1000)])
    # checked first: an unknown MBA or a broken payload over the limit is refused for size
    assert ingestor.ingest("vth/nowhere/x", b"{" * 2000, now).problems == [
        LIMIT_REASON.format(size=2000, limit=1000)
    ]
    assert ingestor.ingest(TOPIC, senml(t0 + 60, 2.0), now).accepted == 1
    assert len(ingestor.buffer) == 2
    entries = quarantined(ingestor)
    assert len(entries) == 2 == ingestor.stats.quarantined
    assert entries[0]["payload"] == over.decode()  # small enough to stay inline
    assert (ingestor.stats.messages, ingestor.stats.readings) == (4, 2)


def test_the_limit_leaves_raster_topics_to_their_own(tmp_path: Path):
    class Rasters:
        def __init__(self) -> None:
            self.sizes: list[int] = []

        def matches(self, topic: str) -> bool:
            return topic.startswith("vth/rasters/")

        def ingest(self, topic: str, payload: bytes, now_ns: int) -> int:
            self.sizes.append(len(payload))
            return 1

    rasters = Rasters()
    ingestor = make_ingestor(tmp_path, max_message_bytes=100, rasters=cast(RasterIngestor, rasters))
    outcome = ingestor.ingest("vth/rasters/drone-1", b"\x00" * 5000, 0)
    assert outcome.accepted == 1 and outcome.problems == []
    assert rasters.sizes == [5000] and ingestor.quarantine.count == 0


def test_in_memory_quarantine_truncates_an_oversized_payload(tmp_path: Path):
    ingestor = Ingestor(
        StreamBuffer(),
        Quarantine(None, max_inline_bytes=64),
        TopicTemplate("vth/{mba_id}/{sensor_id}"),
        max_message_bytes=128,
    )
    ingestor.ingest(TOPIC, b"[" + b" " * 200 + b"]", 0)
    [entry] = ingestor.quarantine.recent()
    assert entry.payload_encoding == "base64-truncated"
    assert entry.reason == LIMIT_REASON.format(size=202, limit=128)


def test_the_message_size_limit_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    assert Settings().max_message_bytes == 1_048_576
    monkeypatch.setenv("VTH_MAX_MESSAGE_BYTES", "4096")
    assert Settings().max_message_bytes == 4096
    monkeypatch.setenv("VTH_MAX_MESSAGE_BYTES", "0")
    with pytest.raises(ValidationError, match="greater than 0"):
        Settings()
    with pytest.raises(ValueError, match="must be positive"):
        make_ingestor(tmp_path, max_message_bytes=0)
