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
import struct
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK, topic_matches_sub
from paho.mqtt.enums import CallbackAPIVersion, LogLevel, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from vth.gateways.decoding import decode_payload
from vth.gateways.errors import BrokerError, DecodeError, TopicError
from vth.gateways.journal import Journal
from vth.gateways.quarantine import Quarantine
from vth.gateways.raster_ingest import RasterIngestor
from vth.gateways.topics import TopicTemplate
from vth.hosts import MQTT_TLS_SCHEMES, is_loopback
from vth.models.inventory import Capability
from vth.sensing.buffer import StreamBuffer

log = logging.getLogger(__name__)

_BATCH = 2000
#: How long the worker waits for more messages while they keep coming, and in all.
_LINGER_S = 0.002
_LINGER_MAX_S = 0.02
#: The first two bytes of a PUBACK (type, remaining length 2), above a 16-bit message id.
_PUBACK_HEADER = (PUBACK << 24) | (2 << 16)
_SESSION_EXPIRY_S = 7 * 24 * 3600

#: CONNACK refusals (MQTT 5 reason codes; paho maps the 3.1.1 return codes onto them)
#: that retrying cannot cure: unsupported protocol version, client identifier not valid,
#: bad user name or password, not authorised, banned, bad authentication method.
_FATAL_CONNACK = frozenset({132, 133, 134, 135, 138, 140})


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
        tls = parsed.scheme in MQTT_TLS_SCHEMES
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
    max_message_bytes
        Larger messages on stream topics are quarantined unread (1 MiB by default;
        ``VTH_MAX_MESSAGE_BYTES``). Raster topics have their own limit
        (:class:`~vth.gateways.raster_ingest.RasterIngestor` ``max_bytes``).
    """

    def __init__(
        self,
        buffer: StreamBuffer,
        quarantine: Quarantine,
        topics: TopicTemplate,
        known_mba_ids: Collection[str] | None = None,
        max_future_s: float = 300.0,
        rasters: RasterIngestor | None = None,
        max_message_bytes: int = 1_048_576,
    ) -> None:
        if max_message_bytes <= 0:
            raise ValueError(f"max_message_bytes must be positive, got {max_message_bytes}")
        self.rasters = rasters
        self.max_message_bytes = max_message_bytes
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
            if len(payload) > self.max_message_bytes:
                raise DecodeError(
                    f"message of {len(payload)} bytes is larger than the "
                    f"{self.max_message_bytes}-byte limit (VTH_MAX_MESSAGE_BYTES)"
                )
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
        Broker credentials, if it requires them. The password is never logged.
    ca_file
        CA bundle for TLS (``mqtts://``); the system's when None. The broker's certificate
        must be signed by it and name the broker's host (hostname verification is always on).
    cert_file, key_file
        Client certificate and its (unencrypted) private key, PEM, for brokers that require
        one (mutual TLS, ``mqtts://`` only); both or neither.
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
        cert_file: Path | None = None,
        key_file: Path | None = None,
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
        # set when the first connection attempt is over: subscribed, or failed for good
        self._settled = threading.Event()
        self._marked = False  # this connection already counted as up
        self._failure: str | None = None  # why the broker cannot be used, as the error says
        self._last_error: str | None = None  # the latest transient failure, for the timeout
        self._socket_error: str | None = None  # what paho logged when a read failed
        self._worker: threading.Thread | None = None
        self.username = username
        self.ca_file = ca_file
        self.cert_file = cert_file
        self._client = self._make_client(username, password, ca_file, cert_file, key_file)

    @property
    def stats(self) -> GatewayStats:
        """Counters of the ingestor, with the connection state."""
        return self.ingestor.stats

    def _make_client(
        self,
        username: str | None,
        password: str | None,
        ca_file: Path | None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
    ) -> mqtt.Client:
        where = f"{self.address.host}:{self.address.port}"
        if (cert_file is None) != (key_file is None):
            raise BrokerError(
                "a client certificate for MQTT needs both a certificate file and a key file "
                f"(got cert_file={cert_file}, key_file={key_file})"
            )
        if not self.address.tls and (ca_file or cert_file):
            raise BrokerError(
                f"a CA file or client certificate is set for MQTT broker {where}, but the "
                "broker URL is not mqtts://: TLS would be off; use an mqtts:// URL"
            )
        if password is not None and username is None:
            raise BrokerError("an MQTT password is set without a username")
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
            if password is not None and not self.address.tls and not is_loopback(self.address.host):
                log.warning(
                    "the MQTT password goes unencrypted to %s (mqtt://); use mqtts://", where
                )
        if self.address.tls:
            # PROTOCOL_TLS_CLIENT verifies the chain and the host name; never tls_insecure_set
            try:
                client.tls_set(
                    ca_certs=str(ca_file) if ca_file else None,
                    certfile=str(cert_file) if cert_file else None,
                    keyfile=str(key_file) if key_file else None,
                    tls_version=ssl.PROTOCOL_TLS_CLIENT,
                    # a key file with a passphrase fails here instead of prompting on a tty
                    keyfile_password="" if key_file else None,
                )
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                what = f"CA file {ca_file}" if ca_file else "the system's CA certificates"
                if cert_file:
                    what += (
                        f" or client certificate {cert_file} and key {key_file} "
                        "(PEM; the key unencrypted)"
                    )
                raise BrokerError(
                    f"TLS for MQTT broker {where}: cannot load {what}: {exc}"
                ) from None
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_log = self._on_log  # until the first connection: keeps the errors paho logs
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
        if wait is None:
            return
        self._settled.wait(wait)
        if self._failure is not None:  # refused or TLS failed: retrying will not help
            self.stop(timeout=2.0)
            raise BrokerError(self._failure)
        if not self._settled.is_set():
            last = f"; last error: {self._last_error}" if self._last_error else ""
            raise BrokerError(
                f"cannot connect to MQTT broker {self.address.host}:{self.address.port} "
                f"within {wait:.0f} s{last}; "
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
            who = f"user {self.username!r}" if self.username is not None else "no username given"
            message = (
                f"MQTT broker {self.address.host}:{self.address.port} refused the connection "
                f"({who}): {str(reason).lower()}"
            )
            if reason.value in (134, 135):  # Mosquitto says "not authorized" to a bad password
                message += (
                    "; check the user name and password (VTH_MQTT_USERNAME, VTH_MQTT_PASSWORD)"
                    if self.username is not None
                    else "; the broker requires a login: "
                    "set VTH_MQTT_USERNAME and VTH_MQTT_PASSWORD"
                )
            log.error("%s", message)
            if reason.value in _FATAL_CONNACK:
                self._fail(message)
            else:
                self._last_error = message
            return
        self._marked = False
        if getattr(flags, "session_present", False):
            # the broker kept our session and its subscriptions: we are receiving already, and
            # it sends the SUBACK below only after the queued backlog, which may take longer
            # than start() waits
            self._mark_connected()
        client.subscribe([(s, self.qos) for s in self.subscriptions])

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        # paho calls this inside its `except OSError` around the connect: the error is current
        exc = sys.exc_info()[1]
        detail = str(exc) if exc is not None else "connection failed"
        if isinstance(exc, ssl.SSLError | ssl.CertificateError):
            self._fail(self._tls_failure(detail, verify=isinstance(exc, ssl.CertificateError)))
        elif self.address.tls and (
            isinstance(exc, ConnectionResetError)
            or (isinstance(exc, TimeoutError) and "handshake" in detail)
        ):  # what a plain listener does to a TLS handshake
            self._last_error = f"{detail} in the TLS handshake (not a TLS listener?)"
        else:
            self._last_error = detail

    def _on_log(self, client: mqtt.Client, userdata: Any, level: int, buf: str) -> None:
        if level == LogLevel.MQTT_LOG_ERR and buf.startswith("failed to receive on socket: "):
            self._socket_error = buf.removeprefix("failed to receive on socket: ")

    def _tls_failure(self, detail: str, *, verify: bool = False) -> str:
        trust = f"CA file {self.ca_file}" if self.ca_file else "the system's CA certificates"
        if verify:  # we do not trust the broker
            hint = (
                f"the broker's certificate must be signed by {trust} (VTH_MQTT_CA_FILE) "
                f"and name the host {self.address.host}"
            )
        elif "certificate required" in detail.lower() and self.cert_file is None:
            hint = (
                "the broker requires a client certificate: set VTH_MQTT_CERT_FILE "
                "and VTH_MQTT_KEY_FILE"
            )
        elif "alert" in detail.lower() and self.cert_file is not None:  # it does not trust us
            hint = f"the broker refused the client certificate {self.cert_file}"
        else:
            hint = f"is it a TLS listener? the CA in use is {trust}"
        return (
            f"TLS with MQTT broker {self.address.host}:{self.address.port} failed: {detail}; {hint}"
        )

    def _fail(self, message: str) -> None:
        if not self._settled.is_set():
            self._failure = message
            self._settled.set()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        # connected counts from the SUBACK: until then the broker may drop what is published
        failed = [r for r in reasons if r.is_failure]
        if failed:
            log.error("MQTT subscription to %s refused: %s", self.subscription, failed[0])
            return
        self._mark_connected()

    def _mark_connected(self) -> None:
        """Count a connection as up once per connect: from the SUBACK or a kept session."""
        if self._marked:
            return
        self._marked = True
        self.stats.connected = True
        self.stats.connects += 1
        self._connected.set()
        self._settled.set()
        self._client.on_log = None  # formatting every packet's log line would cost throughput
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
        error, self._socket_error = self._socket_error, None
        if not self._settled.is_set() and error:
            if self.address.tls and "SSL" in error:
                # a TLS alert after the handshake, e.g. "certificate required"
                self._fail(self._tls_failure(error))
            else:
                self._last_error = error
        if reason.is_failure:
            log.warning("MQTT connection lost (%s); reconnecting with backoff", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put(
            (message.mid, message.qos, message.topic, bytes(message.payload), self.clock())
        )

    def _work(self) -> None:
        q = self._queue
        while True:
            item = q.get()
            if item is None:
                q.task_done()
                return
            batch = [item]
            stopping = self._fill(batch)
            self._process(batch)
            for _ in range(len(batch) + stopping):
                q.task_done()
            if stopping:
                return

    def _fill(self, batch: list[tuple[int, int, str, bytes, int]]) -> bool:
        """Add queued messages to ``batch``; True when it took the stop sentinel.

        Up to :data:`_BATCH` messages. While messages keep arriving the worker sleeps
        briefly for more (at most :data:`_LINGER_MAX_S` in all) rather than taking them
        one by one: the network thread then reads without contending for the GIL, and
        the costs per batch (journal fsync, acks) are shared by many messages. A message
        that arrives alone waits one :data:`_LINGER_S`.
        """
        get = self._queue.get_nowait
        grew = True
        deadline = time.monotonic() + _LINGER_MAX_S
        while len(batch) < _BATCH:
            try:
                item = get()
            except queue.Empty:
                if not grew or time.monotonic() >= deadline:
                    return False
                time.sleep(_LINGER_S)
                grew = False
                continue
            if item is None:
                return True
            batch.append(item)
            grew = True
        return False

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
        self._ack(batch)

    def _ack(self, batch: list[tuple[int, int, str, bytes, int]]) -> None:
        """Acknowledge the QoS 1 and 2 messages of a batch (once it is journalled).

        paho's public ``ack`` queues one PUBACK and wakes its network thread with a
        ``send`` on a socket pair, per message. The PUBACKs of a batch go instead as one
        queued packet of their concatenated bytes (4 each; the broker reads a stream):
        one wake-up and one write. That uses paho's private ``_packet_queue`` (2.x);
        without it, or without manual acks, each message takes the public ``ack``.
        """
        client = self._client
        packet_queue = getattr(client, "_packet_queue", None)
        if packet_queue is None or getattr(client, "_manual_ack", None) is not True:
            for mid, qos, _topic, _payload, _received in batch:
                if qos > 0:
                    client.ack(mid, qos)
            return
        pubacks = [_PUBACK_HEADER | mid for mid, qos, _t, _p, _r in batch if qos == 1]
        if pubacks:  # PUBACK: type 0x40, remaining length 2, the message id
            packet_queue(PUBACK, struct.pack(f"!{len(pubacks)}I", *pubacks), 0, 1)
        for mid, qos, _topic, _payload, _received in batch:
            if qos > 1:
                client.ack(mid, qos)
