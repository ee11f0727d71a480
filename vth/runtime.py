"""The running service: gateway -> buffer -> detectors -> alerts -> store, plus the API.

:class:`Service` wires the parts of one deployment together from :class:`Settings`:
the MQTT broker (embedded when no URL is configured), the gateway, the periodic
detection loop over every MBA with a profile, and the alert store behind the API.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import xarray as xr
from fastapi import FastAPI

from vth.api.app import access_control, create_app
from vth.api.errors import StoreError
from vth.api.forwarding.forwarder import Forwarder
from vth.api.store import AlertStore
from vth.api.workflow_config import load_workflow_config
from vth.detectors import Detector, NetworkDetector, RasterDetector
from vth.detectors.settings_file import load_detector_params
from vth.errors import VthError
from vth.gateways.broker import EmbeddedBroker
from vth.gateways.journal import Journal
from vth.gateways.mqtt import Ingestor, MqttGateway
from vth.gateways.quarantine import Quarantine
from vth.gateways.raster_ingest import RasterIngestor, RasterTopic
from vth.gateways.topics import TopicTemplate
from vth.inventory.catalogue import load_catalogue
from vth.models import Alert, MbaProfile, SensorNetwork, load_profiles, network_of
from vth.models.detection import Detection
from vth.models.loading import load_deployment_networks
from vth.pipeline import (
    history_warnings,
    network_dataset,
    run_detectors,
    run_network_detectors,
    stream_detectors,
)
from vth.pipeline import network_detectors as default_network_detectors
from vth.raster_pipeline import mba_regions, run_raster_detectors
from vth.raster_pipeline import raster_detectors as default_raster_detectors
from vth.sensing.buffer import StreamBuffer
from vth.sensing.scene_inbox import Delivery, SceneInbox
from vth.settings import Settings

log = logging.getLogger(__name__)

#: Alerts kept in memory while the store refuses them (locked, full, down), at most;
#: beyond it the oldest are dropped (stream alerts are found again as long as the
#: buffer holds their data; an image stays spooled until its alerts are stored).
MAX_UNSTORED_ALERTS = 10_000


def mba_alerts(
    datasets: dict[str, Any], profiles: dict[str, MbaProfile], detectors: list[Detector]
) -> tuple[list[Alert], list[str]]:
    """Run the MBA detectors over each MBA's dataset that has a profile.

    Returns the alerts and the errors (one per MBA and detector that failed); a
    failing MBA does not stop the others.
    """
    alerts: list[Alert] = []
    errors: list[str] = []
    for mba_id, dataset in datasets.items():
        profile = profiles.get(mba_id)
        if profile is not None:
            alerts.extend(run_detectors(dataset, profile, detectors, errors))
    return alerts, errors


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
    datasets = {m: buffer.to_dataset(m, since=since) for m in buffer.mba_ids() if m in profiles}
    return mba_alerts(datasets, profiles, detectors)


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
        Names of the MBA detectors to run; every stream detector when None.
    networks
        Sensor networks (public e-noses); read from ``settings.networks_dir`` (or the
        ``networks`` folder of the profiles) when None.
    network_detectors
        Network detectors (e-nose incidents, quality control), fitted or not; all
        registered ones when None. Unfitted ones fit themselves on the buffer once it
        holds ``settings.network_fit_history_h`` hours and refit every
        ``settings.network_refit_h`` hours.
    raster_detectors
        Detectors of images (heat, methane); all registered ones when None.
    """

    def __init__(
        self,
        settings: Settings,
        profiles: dict[str, MbaProfile] | None = None,
        store: AlertStore | None = None,
        detectors: list[str] | None = None,
        networks: dict[str, SensorNetwork] | None = None,
        network_detectors: list[NetworkDetector] | None = None,
        raster_detectors: list[RasterDetector] | None = None,
    ) -> None:
        self.settings = settings
        self.profiles = profiles if profiles is not None else load_profiles(settings.profiles_dir)
        self.networks = (
            networks
            if networks is not None
            else load_deployment_networks(settings.profiles_dir, settings.networks_dir)
        )
        self.network = network_of(self.profiles, self.networks)
        self.detector_params = (
            load_detector_params(settings.detector_params_file)
            if settings.detector_params_file is not None
            else {}
        )
        self.network_detectors = (
            network_detectors
            if network_detectors is not None
            else default_network_detectors(params=self.detector_params)
        )
        self._self_fitted: dict[int, float] = {
            id(d): -1.0
            for d in self.network_detectors
            if d.requires_fit and not getattr(d, "is_fitted_", False)
        }
        self.network_notes: list[str] = []
        self.workflow = load_workflow_config(settings.workflow_file)
        self.catalogue = load_catalogue(settings.inventory_file)
        self.access = access_control(settings)
        self._owns_store = store is None
        self.store = (
            store
            if store is not None
            else AlertStore(settings.database_url, self.workflow.policy())
        )
        self.forwarder = Forwarder(
            self.store, self.workflow.targets(), self.profiles, retry=self.workflow.retry_policy()
        )
        self.detectors = stream_detectors(detectors, self.detector_params)
        for warning in history_warnings(self.detectors, settings.buffer_retention_h):
            log.warning("%s", warning)
        self.buffer = StreamBuffer()
        self.quarantine = Quarantine(settings.quarantine_path)
        self.topics = TopicTemplate(settings.topic_template)
        self.raster_detectors = (
            raster_detectors
            if raster_detectors is not None
            else default_raster_detectors(params=self.detector_params)
        )
        self.scenes = SceneInbox(settings.raster_spool_dir)
        self.raster_ingestor = RasterIngestor(
            self.scenes,
            self.quarantine,
            mba_regions(self.profiles),
            RasterTopic(settings.raster_topic_template),
            crs=settings.local_crs,
            max_bytes=settings.raster_max_bytes,
            band_roles=settings.raster_band_roles,
        )
        #: Latest scene without a plume per (MBA, platform): the MBMP reference.
        self.references: dict[tuple[str, str], xr.DataArray] = {}
        self.recent_scenes: deque[dict[str, Any]] = deque(maxlen=50)
        self.records = 0
        self.ingestor = Ingestor(
            self.buffer,
            self.quarantine,
            self.topics,
            known_mba_ids=[*self.profiles, *self.networks],
            max_future_s=settings.max_future_s,
            max_message_bytes=settings.max_message_bytes,
            rasters=self.raster_ingestor,
        )
        self.journal = Journal(settings.journal_path) if settings.journal_path else None
        self.broker: EmbeddedBroker | None = None
        self.gateway: MqttGateway | None = None
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None
        self.detection_runs = 0
        self.last_errors: list[str] = []
        self.alerts_created = 0
        #: Alerts of rounds whose storing failed, by id, stored with the next round's.
        self.unstored: dict[str, Alert] = {}
        #: Images judged in those rounds: unspooled once their alerts are stored.
        self._unstored_deliveries: list[Delivery] = []

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
            cert_file=self.settings.mqtt_cert_file,
            key_file=self.settings.mqtt_key_file,
            journal=self.journal,
        )
        self.gateway.replay_journal()
        self.raster_ingestor.replay_spool()
        self.gateway.start(wait=10.0)
        self._stop.clear()
        self._loop = threading.Thread(
            target=self._detection_loop, name="vth-detection", daemon=True
        )
        self._loop.start()
        self.forwarder.start()

    def stop(self) -> None:
        """Stop detecting, drain and disconnect the gateway, stop an embedded broker."""
        self._stop.set()
        if self._loop is not None:
            self._loop.join(30)
        if self.gateway is not None:
            self.gateway.stop()
        if self.broker is not None:
            self.broker.stop()
        self.forwarder.stop()
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
        """Run every detector over the buffer and store the alerts; return how many are new.

        When the store refuses them (locked, full, unreachable) the round's alerts are
        kept and stored with the next round's, the images judged stay spooled until
        then, and the failure is in :attr:`last_errors` (so ``/health`` reports it);
        the round then returns 0. Alert ids are deterministic, so an alert detected
        again meanwhile is stored once.
        """
        retention = np.timedelta64(int(self.settings.buffer_retention_h * 3600), "s")
        since = np.datetime64(time.time_ns(), "ns") - retention
        datasets = {g: self.buffer.to_dataset(g, since=since) for g in self.buffer.mba_ids()}
        alerts, errors = mba_alerts(datasets, self.profiles, self.detectors)
        if self.network_detectors:
            merged = network_dataset(datasets, {**self.profiles, **self.networks})
            ready = self._fitted_network_detectors(merged, errors)
            alerts.extend(run_network_detectors(merged, self.network, ready, errors))
        deliveries = self.scenes.take()
        for delivery in deliveries:
            alerts.extend(self._judge(delivery, datasets, errors))
        new = self._store(alerts, deliveries, errors)
        self.detection_runs += 1
        self.alerts_created += new
        self.last_errors = errors
        for error in errors:
            log.error("detection: %s", error)
        return new

    def _store(self, alerts: list[Alert], deliveries: list[Delivery], errors: list[str]) -> int:
        """Store this round's alerts and those kept from failed rounds; how many are new."""
        pending = dict(self.unstored)
        pending.update((alert.id, alert) for alert in alerts)  # the newest detection wins
        self._unstored_deliveries.extend(deliveries)
        try:
            new = self.store.upsert_many(pending.values())
        except StoreError as exc:
            dropped = max(0, len(pending) - MAX_UNSTORED_ALERTS)
            self.unstored = dict(list(pending.items())[dropped:])
            message = (
                f"alert store unavailable ({exc}); {len(self.unstored)} alert(s) kept "
                "for the next round"
            )
            if dropped:
                message += f", {dropped} older one(s) dropped"
            errors.append(message)
            return 0
        self.unstored = {}
        for delivery in self._unstored_deliveries:  # judged and stored: the image can go
            self.scenes.done(delivery)
        self._unstored_deliveries = []
        return new

    def _judge(
        self, delivery: Delivery, datasets: dict[str, Any], errors: list[str]
    ) -> list[Alert]:
        """Run the raster detectors on the scenes of one image, per MBA it covers."""
        alerts: list[Alert] = []
        records: list[Detection] = []
        # references per topic platform: one satellite family, e.g. sentinel-2 A and B
        platform = self.raster_ingestor.topic.platform(delivery.topic) or "unknown"
        for mba_id, scene in delivery.scenes.items():
            profile = self.profiles.get(mba_id)
            if profile is None:
                continue
            reference = self.references.get((mba_id, platform))
            outcome = run_raster_detectors(
                scene,
                profile,
                self.raster_detectors,
                references={"methane": reference} if reference is not None else None,
                streams=datasets.get(mba_id),
            )
            errors.extend(outcome.errors)
            alerts.extend(outcome.alerts)
            records.extend(outcome.records)
            if outcome.clean.get("methane"):  # it ran (so the SWIR bands are there) and saw none
                self.references[(mba_id, platform)] = scene
            self.recent_scenes.append(
                {
                    "mba_id": mba_id,
                    "scene_id": scene.attrs.get("scene_id"),
                    "platform": platform,
                    "time": scene.attrs.get("time"),
                    "bands": [str(b) for b in scene["band"].values],
                    "alerts": len(outcome.alerts),
                    "records": [
                        {"kind": r.kind, "source_id": r.source_id, "value": r.value, "unit": r.unit}
                        for r in outcome.records
                    ],
                }
            )
        self._write_records(records)
        return alerts

    def _write_records(self, records: list[Detection]) -> None:
        self.records += len(records)
        path = self.settings.records_path
        if not records or path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            for record in records:
                evidence = {k: v for k, v in record.evidence.items() if k != "quicklook_png"}
                f.write(record.model_copy(update={"evidence": evidence}).model_dump_json() + "\n")

    def _fitted_network_detectors(self, merged: Any, errors: list[str]) -> list[NetworkDetector]:
        """The network detectors ready to run, fitting self-fitted ones when due."""
        ready = []
        notes = []
        hours = 0.0
        if merged.sizes["time"] > 1:
            span = merged["time"].values[-1] - merged["time"].values[0]
            hours = float(span / np.timedelta64(1, "h"))
        for detector in self.network_detectors:
            last_fit = self._self_fitted.get(id(detector))
            if last_fit is not None:
                due = (
                    last_fit < 0
                    or time.monotonic() - last_fit > self.settings.network_refit_h * 3600
                )
                if due and hours >= self.settings.network_fit_history_h:
                    try:
                        detector.fit(merged, self.network)
                        self._self_fitted[id(detector)] = time.monotonic()
                        log.info("%s fitted on %.1f h of buffered data", detector.name, hours)
                    except VthError as exc:
                        errors.append(f"fitting {detector.name} on {self.network.id}: {exc}")
            if detector.requires_fit and not getattr(detector, "is_fitted_", False):
                notes.append(
                    f"{detector.name}: waiting for {self.settings.network_fit_history_h:g} h of "
                    f"network data to fit on (have {hours:.1f} h)"
                )
                continue
            ready.append(detector)
        self.network_notes = notes
        return ready

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
            self.journal.compact(keep_ns, self.settings.journal_archive_dir)

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
            "unstored_alerts": len(self.unstored),
            "rasters": {
                "messages": self.raster_ingestor.stats.messages,
                "scenes": self.raster_ingestor.stats.scenes,
                "quarantined": self.raster_ingestor.stats.quarantined,
                "outside_mbas": self.raster_ingestor.stats.outside,
                "pending": len(self.scenes),
                "records": self.records,
                "detectors": [d.name for d in self.raster_detectors],
                "recent": list(self.recent_scenes)[-10:],
            },
            "network": {
                "id": self.network.id,
                "networks": sorted(self.networks),
                "detectors": [d.name for d in self.network_detectors],
                "notes": self.network_notes,
            },
        }

    def create_app(self) -> FastAPI:
        """The API app; its lifespan starts and stops this service."""
        app = create_app(
            store=self.store,
            profiles=self.profiles,
            lifespan_hooks=[self.running],
            access=self.access,
            catalogue=self.catalogue,
            networks=self.networks,
            tile_url=self.settings.map_tile_url,
        )
        app.state.health_checks["pipeline"] = self.health
        app.state.health_checks["forwarder"] = self.forwarder.health
        return app
