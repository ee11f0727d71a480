"""The running service: gateway -> buffer -> detectors -> alerts -> store, plus the API.

:class:`Service` wires the parts of one deployment together from :class:`Settings`:
the MQTT broker (embedded when no URL is configured), the gateway, the periodic
detection loop over every MBA with a profile, and the alert store behind the API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from fastapi import FastAPI

from vth.api.app import create_app
from vth.api.store import AlertStore
from vth.detectors import Detector
from vth.gateways.broker import EmbeddedBroker
from vth.gateways.journal import Journal
from vth.gateways.mqtt import Ingestor, MqttGateway
from vth.gateways.quarantine import Quarantine
from vth.gateways.topics import TopicTemplate
from vth.models import Alert, MbaProfile, load_profiles
from vth.pipeline import run_detectors, stream_detectors
from vth.sensing.buffer import StreamBuffer
from vth.settings import Settings

log = logging.getLogger(__name__)


def detect_alerts(
    buffer: StreamBuffer,
    profiles: dict[str, MbaProfile],
    detectors: list[Detector],
    since: np.datetime64 | None = None,
) -> tuple[list[Alert], list[str]]:
    """Run the detectors over every buffered MBA that has a profile.

    Returns the alerts and the errors (one per MBA and detector that failed); a
    failing MBA does not stop the others.
    """
    alerts: list[Alert] = []
    errors: list[str] = []
    for mba_id in buffer.mba_ids():
        profile = profiles.get(mba_id)
        if profile is None:
            continue
        dataset = buffer.to_dataset(mba_id, since=since)
        alerts.extend(run_detectors(dataset, profile, detectors, errors))
    return alerts, errors


class Service:
    """One deployment: broker (embedded or external), gateway, detection loop and store.

    Parameters
    ----------
    settings
        Configuration; see :class:`vth.settings.Settings`.
    profiles
        MBA profiles; read from ``settings.profiles_dir`` when None.
    store
        Alert store; opened from ``settings.database_url`` when None.
    detectors
        Names of the detectors to run; every stream detector when None.
    """

    def __init__(
        self,
        settings: Settings,
        profiles: dict[str, MbaProfile] | None = None,
        store: AlertStore | None = None,
        detectors: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.profiles = profiles if profiles is not None else load_profiles(settings.profiles_dir)
        self._owns_store = store is None
        self.store = store if store is not None else AlertStore(settings.database_url)
        self.detectors = stream_detectors(detectors)
        self.buffer = StreamBuffer()
        self.quarantine = Quarantine(settings.quarantine_path)
        self.topics = TopicTemplate(settings.topic_template)
        self.ingestor = Ingestor(
            self.buffer,
            self.quarantine,
            self.topics,
            known_mba_ids=self.profiles,
            max_future_s=settings.max_future_s,
        )
        self.journal = Journal(settings.journal_path) if settings.journal_path else None
        self.broker: EmbeddedBroker | None = None
        self.gateway: MqttGateway | None = None
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self.detection_runs = 0
        self.last_errors: list[str] = []
        self.alerts_created = 0

    @property
    def broker_url(self) -> str:
        """The broker in use (the embedded one's URL once started)."""
        if self.settings.broker_url:
            return self.settings.broker_url
        if self.broker is None:
            return f"mqtt://127.0.0.1:{self.settings.embedded_broker_port}"
        return self.broker.url

    def start(self) -> None:
        """Start the broker if embedded, replay the journal, connect, start detecting."""
        if not self.settings.broker_url:
            self.broker = EmbeddedBroker(port=self.settings.embedded_broker_port)
            self.broker.start()
        password = (
            self.settings.mqtt_password.get_secret_value() if self.settings.mqtt_password else None
        )
        self.gateway = MqttGateway(
            self.ingestor,
            self.broker_url,
            client_id=self.settings.mqtt_client_id,
            protocol=self.settings.mqtt_protocol,
            username=self.settings.mqtt_username,
            password=password,
            ca_file=self.settings.mqtt_ca_file,
            journal=self.journal,
        )
        self.gateway.replay_journal()
        self.gateway.start(wait=10.0)
        self._stop.clear()
        self._loop = threading.Thread(
            target=self._detection_loop, name="vth-detection", daemon=True
        )
        self._loop.start()

    def stop(self) -> None:
        """Stop detecting, drain and disconnect the gateway, stop an embedded broker."""
        self._stop.set()
        if self._loop is not None:
            self._loop.join(30)
        if self.gateway is not None:
            self.gateway.stop()
        if self.broker is not None:
            self.broker.stop()
        if self._owns_store:
            self.store.close()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Context manager form of :meth:`start` / :meth:`stop` (an API lifespan hook)."""
        self.start()
        try:
            yield
        finally:
            self.stop()

    def run_detection_once(self) -> int:
        """Run every detector over the buffer and store the alerts; return how many are new."""
        retention = np.timedelta64(int(self.settings.buffer_retention_h * 3600), "s")
        since = np.datetime64(time.time_ns(), "ns") - retention
        alerts, errors = detect_alerts(self.buffer, self.profiles, self.detectors, since)
        new = self.store.upsert_many(alerts)
        self.detection_runs += 1
        self.alerts_created += new
        self.last_errors = errors
        for error in errors:
            log.error("detection: %s", error)
        return new

    def _detection_loop(self) -> None:
        while not self._stop.wait(self.settings.detect_interval_s):
            try:
                self.run_detection_once()
                self._prune()
            except Exception:  # the loop must survive a bad round; the error is logged
                log.exception("detection round failed")

    def _prune(self) -> None:
        keep_ns = time.time_ns() - int(self.settings.buffer_retention_h * 3600 * 1e9)
        self.buffer.prune(np.datetime64(keep_ns, "ns"))
        if self.journal is not None and self.detection_runs % 720 == 0:
            self.journal.compact(keep_ns)

    def health(self) -> dict[str, Any]:
        """Gateway and detection state for ``GET /health``."""
        stats = self.ingestor.stats
        return {
            "ok": stats.connected and not self.last_errors,
            "broker": self.broker_url,
            "connected": stats.connected,
            "messages": stats.messages,
            "readings": stats.readings,
            "duplicates": stats.duplicates,
            "quarantined": stats.quarantined,
            "detection_runs": self.detection_runs,
            "detection_errors": self.last_errors[:10],
        }

    def create_app(self) -> FastAPI:
        """The API app; its lifespan starts and stops this service."""
        app = create_app(store=self.store, profiles=self.profiles, lifespan_hooks=[self.running])
        app.state.health_checks["pipeline"] = self.health
        return app
