"""MQTT ingest through a real Mosquitto: the gateway next to ``mosquitto_sub``.

Both subscribers are measured the same way. Each first connects once with a
persistent session (clean session off, a fixed client id), subscribes to ``vth/#``
and disconnects; then N SenML packs are published once (QoS 1, so none is lost on
the way in), which the broker queues for every offline session, at the QoS of its
subscription (``queue_qos0_messages true`` also queues QoS 0); then the subscribers
start one at a time, and the clock runs from a subscriber's start until it holds all
N messages. The publisher is therefore not part of the figure, and every subscriber
drains the same queue. Best of three sessions each.

The vth side is :class:`vth.gateways.mqtt.MqttGateway` with an
:class:`~vth.gateways.mqtt.Ingestor` (SenML decode, unit and time checks, the
deduplicating :class:`~vth.sensing.buffer.StreamBuffer`); no journal, so no fsync.
The peer is mosquitto's C client, ``mosquitto_sub -C N``, its output piped and counted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from vth.demo.simulator import Publisher
from vth.gateways.mosquitto import MosquittoProcess, find_mosquitto
from vth.gateways.mqtt import Ingestor, MqttGateway
from vth.gateways.quarantine import Quarantine
from vth.gateways.topics import TopicTemplate
from vth.sensing.buffer import StreamBuffer

Row = tuple[str, str, str, str]

#: Messages published once and queued for every session; each run drains them.
MESSAGES = 60_000
REPEATS = 3
TOPIC = "vth/avi/cems-l1"
TARGETS = {
    0: ">= 50 k msg/s QoS 0 per subscriber process (C clients 230 k)",
    1: ">= 30 k msg/s QoS 1 per subscriber process (C clients 58 k)",
}
INSTALL = "apt-get install mosquitto mosquitto-clients"


#: Broker settings of the runs: queue everything (QoS 0 too) for offline sessions.
BROKER_OPTIONS = (
    "allow_anonymous true\n"
    "persistence false\n"
    "queue_qos0_messages true\n"
    "max_queued_messages 1000000\n"
    "max_queued_bytes 0\n"
    "max_inflight_messages 0\n"
)


def senml_lines(n: int) -> list[bytes]:
    """``n`` two-record SenML packs (NOx + O2), one a second, all in the past."""
    base = int(time.time()) - n - 3600
    return [
        json.dumps(
            [
                {"bn": "cems-l1:", "bt": base + i, "n": "NOx", "u": "mg/m3", "v": 80.0 + i % 7},
                {"n": "O2", "u": "%", "v": 11.0},
            ],
            separators=(",", ":"),
        ).encode()
        for i in range(n)
    ]


def publish(url: str, lines: list[bytes]) -> None:
    """Publish one message per line on :data:`TOPIC` at QoS 1; return once the broker
    has acknowledged them all. (``mosquitto_pub -l`` is not used: from a pipe of 100 k
    lines it delivered about 34 k here.)"""
    publisher = Publisher(url, client_id="bench-publisher")
    try:
        publisher.publish((TOPIC, line) for line in lines)
    finally:
        publisher.close()


def make_gateway(url: str, client_id: str, qos: int) -> MqttGateway:
    """The real gateway (SenML decode, checks, buffer) without a journal."""
    ingestor = Ingestor(
        StreamBuffer(), Quarantine(None), TopicTemplate("vth/{mba_id}/{sensor_id}"), {"avi"}
    )
    return MqttGateway(ingestor, url, client_id=client_id, qos=qos)


def sub_command(exe: str, port: int, client_id: str, qos: int) -> list[str]:
    """``mosquitto_sub`` with a persistent session on ``vth/#``."""
    host = ["-h", "127.0.0.1", "-p", str(port)]
    return [exe, *host, "-i", client_id, "-c", "-q", str(qos), "-t", "vth/#"]


def gateway_session(url: str, client_id: str, qos: int) -> None:
    """Connect a gateway once, so the broker keeps its session and subscription."""
    gateway = make_gateway(url, client_id, qos)
    gateway.start(wait=10.0)
    gateway.stop()


def gateway_drain(url: str, client_id: str, qos: int, n: int) -> float:
    """Seconds for a gateway to ingest the ``n`` messages queued for its session.

    Raises
    ------
    RuntimeError
        When not every message arrived, or some were refused.
    """
    gateway = make_gateway(url, client_id, qos)
    stats = gateway.stats
    start = time.perf_counter()
    # no waiting for the SUBACK: Mosquitto sends it after the queued backlog
    gateway.start(wait=None)
    try:
        deadline = time.monotonic() + 120.0
        while stats.messages < n and time.monotonic() < deadline:
            time.sleep(0.002)
        if not gateway.wait_idle(30.0):
            raise RuntimeError("the gateway did not finish its queue")
        seconds = time.perf_counter() - start
    finally:
        gateway.stop()
    if stats.messages != n or stats.readings != 2 * n or stats.quarantined:
        raise RuntimeError(f"gateway {client_id}: {stats}, expected {n} messages")
    return seconds


def peer_drain(command: list[str], n: int) -> float:
    """Seconds for ``mosquitto_sub`` to receive the ``n`` messages queued for its session.

    Raises
    ------
    RuntimeError
        When ``mosquitto_sub`` did not receive every message.
    """
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "-C", str(n), "-W", "120"], stdout=subprocess.PIPE, check=False, timeout=150
    )
    seconds = time.perf_counter() - start
    received = done.stdout.count(b"\n")
    if done.returncode != 0 or received != n:
        raise RuntimeError(f"mosquitto_sub received {received} of {n} (exit {done.returncode})")
    return seconds


def _what(qos: int) -> str:
    extra = ", ack after processing" if qos else ""
    return (
        f"MQTT ingest via Mosquitto, QoS {qos}, SenML 2-record packs (gateway: decode, checks, "
        f"dedup buffer{extra}, no journal; drain of {MESSAGES // 1000} k messages queued for "
        "a persistent session)"
    )


def mqtt_rows() -> list[Row]:
    """Rows of the results table: gateway msg/s at QoS 0 and 1, next to ``mosquitto_sub``."""
    broker_exe = find_mosquitto()
    if broker_exe is None:
        missing = f"not measured: mosquitto not installed ({INSTALL})"
        return [(_what(q), missing, "-", TARGETS[q]) for q in (0, 1)]
    sub_exe = shutil.which("mosquitto_sub")
    n = MESSAGES
    rows = []
    with tempfile.TemporaryDirectory(prefix="vth-bench-mqtt-") as tmp:
        broker = MosquittoProcess.on_free_port(broker_exe, Path(tmp), BROKER_OPTIONS)
        broker.start()
        try:
            runs = [(q, r) for q in (0, 1) for r in range(REPEATS)]
            for qos, run in runs:
                gateway_session(broker.url, f"bench-gw-q{qos}-{run}", qos)
                if sub_exe is not None:
                    command = sub_command(sub_exe, broker.port, f"bench-sub-q{qos}-{run}", qos)
                    subprocess.run([*command, "-E"], check=True, timeout=30)
            publish(broker.url, senml_lines(n))
            ours: dict[int, list[float]] = {0: [], 1: []}
            theirs: dict[int, list[float]] = {0: [], 1: []}
            for qos, run in runs:
                ours[qos].append(gateway_drain(broker.url, f"bench-gw-q{qos}-{run}", qos, n))
                if sub_exe is not None:
                    command = sub_command(sub_exe, broker.port, f"bench-sub-q{qos}-{run}", qos)
                    theirs[qos].append(peer_drain(command, n))
        finally:
            broker.stop()
    for qos in (0, 1):
        rate = n / min(ours[qos])
        if sub_exe is None:
            peer = f"mosquitto_sub not installed ({INSTALL})"
        else:
            peer_rate = n / min(theirs[qos])
            peer = f"mosquitto_sub {peer_rate / 1e3:.0f} k msg/s (x{rate / peer_rate:.2f})"
        rows.append(
            (
                _what(qos),
                f"{rate / 1e3:.0f} k msg/s ({2 * rate / 1e3:.0f} k readings/s)",
                peer,
                TARGETS[qos],
            )
        )
    return rows
