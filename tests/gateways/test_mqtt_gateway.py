"""The MQTT gateway against a real broker: QoS 1, persistent sessions, quarantine, journal."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import BrokerInfo, Mosquitto
from vth.demo.simulator import Publisher
from vth.gateways.broker import free_port
from vth.gateways.errors import BrokerError
from vth.gateways.journal import Journal
from vth.gateways.mqtt import BrokerAddress, Ingestor, MqttGateway
from vth.gateways.quarantine import Quarantine
from vth.gateways.topics import TopicTemplate
from vth.sensing.buffer import StreamBuffer

BT = int(time.time()) - 12 * 3600  # all test readings lie in the past


def nox_pack(i: int, sensor: str = "cems-l1") -> bytes:
    return json.dumps(
        [{"bn": f"{sensor}:", "bt": BT + 60 * i, "n": "NOx", "u": "mg/m3", "v": float(i)}]
    ).encode()


def make_gateway(
    url: str,
    tmp_path: Path,
    client_id: str = "test-gw",
    journal: bool = False,
    protocol: str = "3.1.1",
) -> MqttGateway:
    ingestor = Ingestor(
        StreamBuffer(),
        Quarantine(tmp_path / "q.jsonl"),
        TopicTemplate("vth/{mba_id}/{sensor_id}"),
        {"avi"},
    )
    return MqttGateway(
        ingestor,
        url,
        client_id=client_id,
        protocol=protocol,
        journal=Journal(tmp_path / "j.jsonl") if journal else None,
    )


def wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def test_gateway_buffers_senml_and_quarantines_bad_messages(
    mqtt_broker: BrokerInfo, tmp_path: Path
):
    gateway = make_gateway(mqtt_broker.url, tmp_path)
    gateway.start()
    publisher = Publisher(mqtt_broker.url, client_id="test-pub")
    try:
        good = [("vth/avi/cems-l1", nox_pack(i)) for i in range(200)]
        bad = [("vth/avi/cems-l1", b"not json"), ("vth/other/cems-l1", nox_pack(0))]
        publisher.publish(good[:100] + bad + good[100:] + good[:10])  # with 10 redeliveries
        assert wait_for(lambda: gateway.stats.messages == 212), gateway.stats
        assert gateway.wait_idle()
    finally:
        publisher.close()
        gateway.stop()
    ds = gateway.ingestor.buffer.to_dataset("avi")
    assert ds["NOx"].values.ravel().tolist() == [float(i) for i in range(200)]
    assert gateway.stats.duplicates == 10
    assert gateway.stats.quarantined == 2
    assert gateway.stats.connects == 1


def test_embedded_broker_carries_the_stream_path(embedded_broker: BrokerInfo, tmp_path: Path):
    gateway = make_gateway(embedded_broker.url, tmp_path)
    gateway.start()
    publisher = Publisher(embedded_broker.url, client_id="test-pub-embedded")
    try:
        publisher.publish([("vth/avi/cems-l1", nox_pack(i)) for i in range(50)])
        assert wait_for(lambda: len(gateway.ingestor.buffer) == 50)
    finally:
        publisher.close()
        gateway.stop()


def test_persistent_session_delivers_what_was_published_while_the_gateway_was_down(
    mosquitto: Mosquitto, tmp_path: Path
):
    url = mosquitto.info.url
    first = make_gateway(url, tmp_path, client_id="persistent-gw")
    first.start()
    first.stop()  # session (and its subscription) stays on the broker
    publisher = Publisher(url, client_id="test-pub-offline")
    try:
        publisher.publish([("vth/avi/cems-l1", nox_pack(i)) for i in range(300)])
    finally:
        publisher.close()
    second = make_gateway(url, tmp_path, client_id="persistent-gw")
    second.start()
    try:
        assert wait_for(lambda: len(second.ingestor.buffer) == 300)
        assert second.wait_idle()
    finally:
        second.stop()
    assert second.ingestor.buffer.to_dataset("avi")["NOx"].values.ravel().tolist() == [
        float(i) for i in range(300)
    ]


def test_journal_restores_the_buffer_after_a_restart(mqtt_broker: BrokerInfo, tmp_path: Path):
    gateway = make_gateway(mqtt_broker.url, tmp_path, client_id="journal-gw", journal=True)
    gateway.start()
    publisher = Publisher(mqtt_broker.url, client_id="test-pub-journal")
    try:
        publisher.publish(
            [("vth/avi/cems-l1", nox_pack(i)) for i in range(40)] + [("vth/avi/x", b"junk")]
        )
        assert wait_for(lambda: gateway.stats.messages == 41)
        assert gateway.wait_idle()
    finally:
        publisher.close()
        gateway.stop()
    restarted = make_gateway(mqtt_broker.url, tmp_path, client_id="journal-gw-2", journal=True)
    assert restarted.replay_journal() == 40  # the junk message was quarantined, not journalled
    assert len(restarted.ingestor.buffer) == 40
    assert restarted.ingestor.quarantine.count == 0


def test_unreachable_broker_gives_a_clear_error(tmp_path: Path):
    gateway = make_gateway(f"mqtt://127.0.0.1:{free_port()}", tmp_path)
    with pytest.raises(BrokerError, match=r"cannot connect to MQTT broker 127\.0\.0\.1"):
        gateway.start(wait=1.5)
    gateway.stop()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.local", BrokerAddress("broker.local", 1883, False)),
        ("mqtts://broker.local", BrokerAddress("broker.local", 8883, True)),
        ("127.0.0.1:1999", BrokerAddress("127.0.0.1", 1999, False)),
    ],
)
def test_broker_urls_parse(url: str, expected: BrokerAddress):
    assert BrokerAddress.parse(url) == expected


def test_broker_url_with_wrong_scheme_is_refused():
    with pytest.raises(BrokerError, match="scheme"):
        BrokerAddress.parse("http://broker")


def test_gateway_reconnects_after_a_broker_restart_and_keeps_receiving(
    mosquitto: Mosquitto, tmp_path: Path
):
    url = mosquitto.info.url
    gateway = make_gateway(url, tmp_path, client_id="reconnect-gw")
    gateway.start()
    try:
        publisher = Publisher(url, client_id="pub-before")
        publisher.publish([("vth/avi/cems-l1", nox_pack(i)) for i in range(20)])
        publisher.close()
        assert wait_for(lambda: len(gateway.ingestor.buffer) == 20)
        mosquitto.stop()
        assert wait_for(lambda: not gateway.stats.connected)
        mosquitto.start()  # same port; the gateway reconnects with backoff and resubscribes
        assert wait_for(lambda: gateway.stats.connects == 2, timeout=30)
        publisher = Publisher(url, client_id="pub-after")
        publisher.publish([("vth/avi/cems-l1", nox_pack(i)) for i in range(20, 40)])
        publisher.close()
        assert wait_for(lambda: len(gateway.ingestor.buffer) == 40)
    finally:
        gateway.stop()
    values = gateway.ingestor.buffer.to_dataset("avi")["NOx"].values.ravel().tolist()
    assert values == [float(i) for i in range(40)]


def test_a_kept_session_counts_as_connected_before_the_suback_arrives(
    mosquitto: Mosquitto, tmp_path: Path
):
    """Regression: Mosquitto answers the SUBACK only after the queued backlog, so start()
    failed ("cannot connect") when the backlog took longer to drain than it waited."""
    url = mosquitto.info.url
    first = make_gateway(url, tmp_path, client_id="backlog-gw")
    first.start()
    first.stop()
    publisher = Publisher(url, client_id="test-pub-backlog")
    try:
        publisher.publish(  # one second apart: all 20 000 lie in the past
            [
                (
                    "vth/avi/cems-l1",
                    json.dumps([{"bn": "cems-l1:", "bt": BT + i, "n": "NOx", "v": 1.0}]).encode(),
                )
                for i in range(20_000)
            ]
        )
    finally:
        publisher.close()
    second = make_gateway(url, tmp_path, client_id="backlog-gw")
    try:
        second.start(wait=0.5)  # the 20 000 queued messages take longer than that
        assert second.stats.connected
        assert wait_for(lambda: len(second.ingestor.buffer) == 20_000, timeout=60)
        assert second.wait_idle()
        assert second.stats.connects == 1  # the later SUBACK does not count a second connect
    finally:
        second.stop()


def test_session_present_marks_connected_once(tmp_path: Path):
    from paho.mqtt.client import ConnectFlags
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    gateway = make_gateway(f"mqtt://127.0.0.1:{free_port()}", tmp_path)
    ok = ReasonCode(PacketTypes.CONNACK, identifier=0)
    gateway._on_connect(gateway._client, None, ConnectFlags(session_present=True), ok, None)
    assert gateway.stats.connected and gateway.stats.connects == 1
    granted = [ReasonCode(PacketTypes.SUBACK, identifier=1)]
    gateway._on_subscribe(gateway._client, None, 1, granted, None)
    assert gateway.stats.connects == 1
    gateway._on_connect(gateway._client, None, ConnectFlags(session_present=False), ok, None)
    assert gateway.stats.connects == 1  # a new session counts from its SUBACK
    gateway._on_subscribe(gateway._client, None, 2, granted, None)
    assert gateway.stats.connects == 2


def test_publisher_sends_more_messages_than_mqtt_has_message_ids(mosquitto: Mosquitto):
    """Regression: over 65535 messages in one publish() failed with ERR_QUEUE_SIZE."""
    url = mosquitto.info.url
    received: list[int] = []
    counter = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="count-all")
    subscribed = threading.Event()
    counter.on_message = lambda client, userdata, message: received.append(1)
    counter.on_subscribe = lambda *args: subscribed.set()
    counter.connect("127.0.0.1", mosquitto.port)
    counter.subscribe("count/#", qos=0)
    counter.loop_start()
    publisher = Publisher(url, client_id="test-pub-many")
    try:
        assert subscribed.wait(10)
        n = 70_000
        assert publisher.publish(("count/x", b"1") for _ in range(n)) == n
        assert wait_for(lambda: len(received) == n, timeout=30)
    finally:
        publisher.close()
        counter.disconnect()
        counter.loop_stop()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_batched_acks_leave_nothing_to_redeliver(mosquitto: Mosquitto, tmp_path: Path, protocol):
    """The gateway acknowledges a batch's QoS 1 messages in one write: after a clean stop
    and a restart on the same session the broker redelivers none of them."""
    url = mosquitto.info.url
    first = make_gateway(url, tmp_path, client_id=f"acks-{protocol}", protocol=protocol)
    first.start()
    publisher = Publisher(url, client_id=f"test-pub-acks-{protocol}")
    try:
        publisher.publish([("vth/avi/cems-l1", nox_pack(i)) for i in range(500)])
        assert wait_for(lambda: len(first.ingestor.buffer) == 500)
        assert first.wait_idle()
        time.sleep(0.5)  # the acks reach the broker before the disconnect
        first.stop()
        publisher.publish([("vth/avi/cems-l1", nox_pack(i)) for i in range(500, 600)])
    finally:
        publisher.close()
    second = make_gateway(url, tmp_path, client_id=f"acks-{protocol}", protocol=protocol)
    second.start()
    try:
        assert wait_for(lambda: second.stats.messages >= 100)
        time.sleep(0.5)  # anything redelivered would arrive meanwhile
        assert second.wait_idle()
    finally:
        second.stop()
    assert second.stats.messages == 100  # exactly those published while it was away
    assert second.stats.duplicates == 0
    assert first.stats.messages == 500 and first.ingestor.quarantine.count == 0
