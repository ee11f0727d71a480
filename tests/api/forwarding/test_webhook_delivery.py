"""Webhook forwarding end to end: a real receiver process on loopback, killed and restarted.

The store is a SQLite file, the forwarder a real thread, the receiver its own process
that records each acknowledged CloudEvent id on disk.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.api.conftest import T0, build_alert
from vth.api.forwarding.forwarder import Forwarder
from vth.api.forwarding.webhook import WebhookConfig, WebhookTarget, sign, verify
from vth.api.outbox import RetryPolicy
from vth.api.store import AlertStore
from vth.api.workflow import WorkflowPolicy
from vth.models import Alert, MbaProfile

ROOT = Path(__file__).parents[3]
SECRET = "test-secret-for-hmac"
FAST_RETRY = RetryPolicy(base_s=0.05, max_s=0.4, max_attempts=10_000, jitter=0.0, lease_s=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """The receiver process: start, kill (SIGKILL), start again on the same port."""

    def __init__(self, port: int, out: Path, fail_first: int = 0) -> None:
        self.port, self.out, self.fail_first = port, out, fail_first
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.api.forwarding.receiver",
                str(self.port),
                str(self.out),
                SECRET,
                str(self.fail_first),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def received(self) -> list[str]:
        if not self.out.exists():
            return []
        return self.out.read_text().split()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    rx = Receiver(free_port(), tmp_path / "received.txt")
    yield rx
    if rx.process is not None:
        rx.kill()


def hourly_alerts(n: int, first_hour: int = 0) -> list[Alert]:
    """Alerts an hour apart (never grouped into one incident)."""
    return [
        build_alert(
            start=T0 + timedelta(hours=first_hour + i),
            end=T0 + timedelta(hours=first_hour + i, minutes=30),
        )
        for i in range(n)
    ]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def make_forwarder(
    store: AlertStore, url: str, profiles: dict[str, MbaProfile], secret: str = SECRET
) -> Forwarder:
    target = WebhookTarget(WebhookConfig(name="hook", url=url, secret=SecretStr(secret)))
    return Forwarder(store, [target], profiles, retry=FAST_RETRY, poll_s=0.05)


def delivered(store: AlertStore, alerts: list[Alert]) -> int:
    return sum(1 for a in alerts for d in store.deliveries(a.id) if d.status == "delivered")


def test_receiver_killed_and_restarted_gets_every_alert_exactly_once(
    tmp_path: Path, receiver: Receiver, profiles: dict[str, MbaProfile]
) -> None:
    policy = WorkflowPolicy(quiet_period_s=0, targets={"hook": "new"})
    with AlertStore(f"sqlite:///{tmp_path / 'vth.db'}", policy) as store:
        receiver.start()
        forwarder = make_forwarder(store, receiver.url, profiles)
        before, during = hourly_alerts(5), hourly_alerts(7, first_hour=10)
        with forwarder.running():
            store.upsert_many(before)
            wait_for(lambda: delivered(store, before) == 5)
            receiver.kill()
            store.upsert_many(during)
            # every new alert has failed at least twice against the dead receiver
            wait_for(
                lambda: all(
                    d.attempts >= 2 and d.status == "pending"
                    for a in during
                    for d in store.deliveries(a.id)
                )
            )
            receiver.start()
            wait_for(lambda: delivered(store, before + during) == 12)
        counts = Counter(receiver.received())
        assert "!bad" not in counts
        assert set(counts) == {a.id for a in before + during}
        assert set(counts.values()) == {1}
        for alert in during:
            [delivery] = store.deliveries(alert.id)
            assert delivery.attempts >= 3 and delivery.last_error is None
            assert delivery.delivered_at is not None


def test_alerts_stored_while_the_forwarder_is_down_go_out_when_it_is_back(
    tmp_path: Path, receiver: Receiver, profiles: dict[str, MbaProfile]
) -> None:
    url = f"sqlite:///{tmp_path / 'vth.db'}"
    policy = WorkflowPolicy(quiet_period_s=0, targets={"hook": "new"})
    alerts = hourly_alerts(4)
    with AlertStore(url, policy) as store:
        store.upsert_many(alerts)  # the service stops before forwarding anything
        assert {d.status for a in alerts for d in store.deliveries(a.id)} == {"pending"}
    receiver.start()
    with AlertStore(url, policy) as store:  # the service again, from the same database
        with make_forwarder(store, receiver.url, profiles).running():
            wait_for(lambda: delivered(store, alerts) == 4)
        # stored again (e.g. the alert grew): queued once per id, not sent again
        store.upsert_many(alerts)
        with make_forwarder(store, receiver.url, profiles).running():
            time.sleep(0.3)
    assert sorted(receiver.received()) == sorted(a.id for a in alerts)


def test_a_receiver_refusing_the_signature_fails_for_good_and_can_be_retried(
    tmp_path: Path, receiver: Receiver, profiles: dict[str, MbaProfile]
) -> None:
    policy = WorkflowPolicy(quiet_period_s=0, targets={"hook": "new"})
    [alert] = hourly_alerts(1)
    with AlertStore(f"sqlite:///{tmp_path / 'vth.db'}", policy) as store:
        receiver.start()
        with make_forwarder(store, receiver.url, profiles, secret="wrong").running():
            store.upsert(alert)
            wait_for(lambda: store.deliveries(alert.id)[0].status == "failed")
        [failed] = store.deliveries(alert.id)
        assert failed.attempts == 1  # a 401 is not retried
        assert failed.last_error is not None and "401" in failed.last_error
        assert "wrong" not in failed.last_error
        actions = [(e.action, e.detail.get("status")) for e in store.events(alert.id)]
        assert ("delivery", "failed") in actions

        assert store.retry_delivery(alert.id, "hook")
        assert not store.retry_delivery(alert.id, "hook")  # pending now, not failed
        with make_forwarder(store, receiver.url, profiles).running():
            wait_for(lambda: store.deliveries(alert.id)[0].status == "delivered")
    assert receiver.received() == ["!bad", alert.id]


def test_server_errors_are_retried_with_growing_waits(
    tmp_path: Path, profiles: dict[str, MbaProfile]
) -> None:
    rx = Receiver(free_port(), tmp_path / "received.txt", fail_first=3)
    policy = WorkflowPolicy(quiet_period_s=0, targets={"hook": "new"})
    [alert] = hourly_alerts(1)
    rx.start()
    try:
        with AlertStore(f"sqlite:///{tmp_path / 'vth.db'}", policy) as store:
            with make_forwarder(store, rx.url, profiles).running():
                store.upsert(alert)
                wait_for(lambda: store.deliveries(alert.id)[0].status == "delivered")
            [delivery] = store.deliveries(alert.id)
            assert delivery.attempts == 4
    finally:
        rx.kill()
    assert rx.received() == [alert.id]


def test_backoff_doubles_up_to_the_maximum() -> None:
    policy = RetryPolicy(base_s=2, max_s=30, jitter=0)
    waits = [policy.delay(n).total_seconds() for n in range(1, 7)]
    assert waits == [2, 4, 8, 16, 30, 30]
    jittered = RetryPolicy(base_s=10, max_s=100, jitter=0.2)
    assert all(8 <= jittered.delay(1).total_seconds() <= 10 for _ in range(50))


def test_cloudevent_body_and_signature(profiles: dict[str, MbaProfile]) -> None:
    [alert] = hourly_alerts(1)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202)

    config = WebhookConfig(
        name="hook", url="http://receiver.invalid/e", secret=SecretStr(SECRET), source="urn:t"
    )
    target = WebhookTarget(config, transport=httpx.MockTransport(handler))
    assert target.deliver(alert, profiles[alert.mba_id], {}) == {"http_status": 202}
    [request] = seen
    event = json.loads(request.content)
    assert request.headers["content-type"].startswith("application/cloudevents+json")
    assert {k: event[k] for k in ("specversion", "id", "source", "subject")} == {
        "specversion": "1.0",
        "id": alert.id,
        "source": "urn:t",
        "subject": alert.mba_id,
    }
    assert event["type"] == "nl.vth-sensing.alert"
    assert event["datacontenttype"] == "application/json"
    assert Alert.model_validate(event["data"]) == alert
    timestamp = request.headers["x-vth-timestamp"]
    assert verify(SECRET, timestamp, request.content, request.headers["x-vth-signature"])
    assert not verify(SECRET, timestamp, request.content + b" ", sign(SECRET, "0", b""))


def test_webhook_config_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        WebhookConfig(name="hook", url="ftp://x/y")


def test_the_service_app_forwards_posted_alerts_to_the_configured_webhook(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from tests.api.conftest import EXAMPLE_PROFILES
    from vth.api.app import create_app_from_settings
    from vth.settings import Settings

    workflow = tmp_path / "workflow.yaml"
    workflow.write_text(
        "quiet_period_s: 0\n"
        "retry: {base_s: 0.05, max_s: 0.2}\n"
        "webhooks:\n"
        "  - {name: meldkamer, url: '${HOOK_URL}', secret: '${HOOK_SECRET}'}\n"
    )
    monkeypatch.setenv("HOOK_URL", receiver.url)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'vth.db'}",
        profiles_dir=EXAMPLE_PROFILES,
        workflow_file=workflow,
    )
    alerts = hourly_alerts(3)
    receiver.start()
    with TestClient(create_app_from_settings(settings)) as client:
        for alert in alerts:
            assert client.post("/alerts", json=alert.model_dump(mode="json")).status_code == 201

        def all_delivered() -> bool:
            return all(
                [d["status"] for d in client.get(f"/alerts/{a.id}/deliveries").json()]
                == ["delivered"]
                for a in alerts
            )

        wait_for(all_delivered)
        forwarder = client.get("/health").json()["components"]["forwarder"]
        assert forwarder["ok"] is True and forwarder["delivered"] == 3
    assert sorted(receiver.received()) == sorted(a.id for a in alerts)
