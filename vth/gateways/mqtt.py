"""The MQTT gateway: subscribes to sensor topics and fills stream buffers.

paho-mqtt 2.x with version-2 callbacks. The network thread only queues messages; a
worker thread decodes each batch, appends readings to the :class:`StreamBuffer`,
quarantines what is bad, journals what was accepted (fsync), and only then
acknowledges the QoS 1 messages (``manual_ack``), so the broker redelivers anything
the gateway had not made durable. Sessions are persistent (clean session off) and the
client reconnects with exponential backoff.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.client import topic_matches_sub
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from vth.gateways.decoding import decode_payload
from vth.gateways.errors import BrokerError, DecodeError, TopicError
from vth.gateways.journal import Journal
from vth.gateways.quarantine import Quarantine
from vth.gateways.raster_ingest import RasterIngestor
from vth.gateways.topics import TopicTemplate
from vth.models.inventory import Capability
from vth.sensing.buffer import StreamBuffer

log = logging.getLogger(__name__)

_BATCH = 2000
_SESSION_EXPIRY_S = 7 * 24 * 3600


#: What this gateway brings in, for the technology inventory.
CAPABILITY = Capability(
    name="mqtt-senml",
    component="gateway",
    technologies=("sensors", "e-noses"),
    tasks=("supervision", "enforcement", "environmental_monitoring"),
    inputs=(
        "MQTT vth/<mba_id>/<sensor_id>: SenML JSON (RFC 8428) or plain JSON",
        "CEMS (NOx, SO2, CO, dust, O2, ...), fence-line, e-nose channels, wind",
    ),
    detection_limit="as the sensor measures; readings arrive within seconds (QoS 1)",
)


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, parsed from ``mqtt://host:port`` or ``mqtts://host:port``."""

    host: str
    port: int
    tls: bool

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse a broker URL; the port defaults to 1883 (8883 for mqtts)."""
        parsed = urlparse(url if "://" in url else f"mqtt://{url}")
        if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise BrokerError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
        if not parsed.hostname:
            raise BrokerError(f"broker URL {url!r} has no host")
        tls = parsed.scheme in ("mqtts", "ssl")
        return cls(parsed.hostname, parsed.port or (8883 if tls else 1883), tls)


@dataclass
class IngestOutcome:
    """What became of one message."""

    accepted: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    #: Whether to journal it when accepted (rasters are spooled by the scene inbox instead).
    journal: bool = True


@dataclass
class GatewayStats:
    """Counters for health checks and tests."""

    connected: bool = False
    messages: int = 0
    readings: int = 0
    duplicates: int = 0
    quarantined: int = 0
    connects: int = 0
    last_message_at: float | None = None


class Ingestor:
    """Decodes messages of a topic template into a stream buffer; no network involved.

    Parameters
    ----------
    buffer
        Where accepted readings go.
    quarantine
        Where refused messages (and partly refused ones) go, with the reasons.
    topics
        The topic template, e.g. ``vth/{mba_id}/{sensor_id}``.
    known_mba_ids
        When given, messages for other MBAs are quarantined (no profile, no detection).
    max_future_s
        Readings stamped further ahead of the gateway clock are refused.
    rasters
        Takes the messages on raster topics (images); None: raster topics are treated
        like any other topic.
    """

    def __init__(
        self,
        buffer: StreamBuffer,
        quarantine: Quarantine,
        topics: TopicTemplate,
        known_mba_ids: Collection[str] | None = None,
        max_future_s: float = 300.0,
        rasters: RasterIngestor | None = None,
    ) -> None:
        self.rasters = rasters
        self.buffer = buffer
        self.quarantine = quarantine
        self.topics = topics
        self.known_mba_ids = set(known_mba_ids) if known_mba_ids is not None else None
        self.max_future_ns = int(max_future_s * 1e9)
        self.stats = GatewayStats()

    def ingest(
        self, topic: str, payload: bytes, now_ns: int, *, quarantine: bool = True
    ) -> IngestOutcome:
        """Decode one message into the buffer; quarantine it when anything was refused."""
        outcome = IngestOutcome()
        self.stats.messages += 1
        self.stats.last_message_at = time.time()
        if self.rasters is not None and self.rasters.matches(topic):
            outcome.accepted = self.rasters.ingest(topic, payload, now_ns)
            outcome.journal = False
            return outcome
        try:
            mba_id, sensor_id = self.topics.parse(topic)
            if self.known_mba_ids is not None and mba_id not in self.known_mba_ids:
                raise TopicError(
                    f"unknown MBA {mba_id!r} (no profile); "
                    f"known: {', '.join(sorted(self.known_mba_ids))}"
                )
            decoded = decode_payload(payload, sensor_id, now_ns, max_future_ns=self.max_future_ns)
        except (TopicError, DecodeError) as exc:
            outcome.problems.append(str(exc))
        else:
            outcome.problems.extend(decoded.problems)
            if decoded.readings:
                result = self.buffer.append(mba_id, decoded.readings)
                outcome.accepted, outcome.duplicates = result.accepted, result.duplicates
                outcome.problems.extend(result.rejected)
        self.stats.readings += outcome.accepted
        self.stats.duplicates += outcome.duplicates
        if outcome.problems and quarantine:
            self.quarantine.put(topic, payload, "; ".join(outcome.problems))
            self.stats.quarantined += 1
        return outcome


class MqttGateway:
    """Subscribes to a broker and feeds an :class:`Ingestor`.

    Parameters
    ----------
    ingestor
        Decodes and buffers the messages.
    broker_url
        ``mqtt://host:port`` or ``mqtts://host:port``.
    client_id
        Stable client id: the broker keeps the persistent session under it.
    protocol
        ``"3.1.1"`` or ``"5"``; MQTT 5 allows shared subscriptions (``$share/vth/...``).
    username, password
        Broker credentials, if it requires them.
    ca_file
        CA bundle for TLS (``mqtts://``); the system's when None.
    qos
        Subscription QoS; 1 by default (at least once, deduplicated by the buffer).
    journal
        Write-ahead journal; messages are journalled before they are acknowledged.
    subscription
        Topic filter; the template's filter by default.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        broker_url: str,
        *,
        client_id: str = "vth-gateway",
        protocol: str = "3.1.1",
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        qos: int = 1,
        journal: Journal | None = None,
        subscription: str | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.ingestor = ingestor
        self.address = BrokerAddress.parse(broker_url)
        self.client_id = client_id
        self.protocol = protocol
        self.qos = qos
        self.journal = journal
        self.subscription = subscription or ingestor.topics.subscription
        self.subscriptions = [self.subscription]
        rasters = ingestor.rasters
        if rasters is not None and not topic_matches_sub(
            self.subscription, rasters.topic.format("probe")
        ):  # a second filter only when the stream filter does not already cover rasters
            self.subscriptions.append(rasters.topic.subscription)
        self.clock = clock
        self._queue: queue.Queue[tuple[int, int, str, bytes, int] | None] = queue.Queue(
            maxsize=100_000
        )
        self._connected = threading.Event()
        self._worker: threading.Thread | None = None
        self._client = self._make_client(username, password, ca_file)

    @property
    def stats(self) -> GatewayStats:
        """Counters of the ingestor, with the connection state."""
        return self.ingestor.stats

    def _make_client(
        self, username: str | None, password: str | None, ca_file: Path | None
    ) -> mqtt.Client:
        v5 = self.protocol == "5"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=None if v5 else False,
            protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
            manual_ack=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(1000)
        if username is not None:
            client.username_pw_set(username, password)
        if self.address.tls:
            client.tls_set(
                ca_certs=str(ca_file) if ca_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT
            )
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def replay_journal(self) -> int:
        """Feed journalled messages back into the buffer (after a restart)."""
        if self.journal is None:
            return 0
        n = 0
        for received_ns, topic, payload in self.journal.replay():
            self.ingestor.ingest(topic, payload, received_ns, quarantine=False)
            n += 1
        if n:
            log.info("replayed %d journalled messages", n)
        return n

    def start(self, wait: float | None = 10.0) -> None:
        """Connect (in the background) and start the worker; optionally wait for the connection."""
        self._worker = threading.Thread(target=self._work, name="vth-gateway-worker", daemon=True)
        self._worker.start()
        kwargs: dict[str, Any] = {}
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = _SESSION_EXPIRY_S
            kwargs = {"clean_start": False, "properties": props}
        self._client.connect_async(self.address.host, self.address.port, keepalive=30, **kwargs)
        self._client.loop_start()
        if wait is not None and not self._connected.wait(wait):
            raise BrokerError(
                f"cannot connect to MQTT broker {self.address.host}:{self.address.port} "
                f"within {wait:.0f} s; "
                f"is it running? (the gateway keeps retrying)"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Process what was received, then disconnect."""
        self._client.disconnect()
        self._client.loop_stop()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout)
        self.stats.connected = False

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every received message has been processed (for tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    # paho callbacks: run on the network thread; no blocking work here.
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connect refused: %s", reason)
            return
        client.subscribe([(s, self.qos) for s in self.subscriptions])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        # connected counts from the SUBACK: until then the broker may drop what is published
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("MQTT subscription to %s refused: %s", self.subscription, failed[0])
            return
        self.stats.connected = True
        self.stats.connects += 1
        self._connected.set()
        log.info(
            "connected to %s:%s, subscribed to %s",
            self.address.host,
            self.address.port,
            self.subscription,
        )

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.stats.connected = False
        self._connected.clear()
        if reason.is_failure:
            log.warning("MQTT connection lost (%s); reconnecting with backoff", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put(
            (message.mid, message.qos, message.topic, bytes(message.payload), self.clock())
        )

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.task_done()
                return
            batch = [item]
            while len(batch) < _BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._process(batch)
                    for _ in range(len(batch) + 1):
                        self._queue.task_done()
                    return
                batch.append(nxt)
            self._process(batch)
            for _ in batch:
                self._queue.task_done()

    def _process(self, batch: list[tuple[int, int, str, bytes, int]]) -> None:
        accepted: list[tuple[int, str, bytes]] = []
        for _mid, _qos, topic, payload, received_ns in batch:
            try:
                outcome = self.ingestor.ingest(topic, payload, received_ns)
            except Exception as exc:  # one bad message must not stop the gateway
                log.exception("unexpected error ingesting a message on %s", topic)
                self.ingestor.quarantine.put(topic, payload, f"internal error: {exc!r}")
                continue
            if outcome.accepted and outcome.journal:
                accepted.append((received_ns, topic, payload))
        if self.journal is not None:
            self.journal.append(accepted)
        for mid, qos, _topic, _payload, _received in batch:
            if qos > 0:
                self._client.ack(mid, qos)
