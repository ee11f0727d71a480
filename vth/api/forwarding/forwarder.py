"""The forwarder: a thread that delivers what the outbox holds, with retries.

It claims due deliveries from the store, hands each alert to its target, and records
the outcome; a failure is tried again after an exponentially growing wait (the
store's :class:`~vth.api.outbox.RetryPolicy`). Since the outbox is in the database,
alerts queued while the service was down, or while a receiver was, go out when both
are back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from vth.api.errors import StoreError
from vth.api.forwarding.base import DeliveryError, ForwardingTarget
from vth.api.outbox import Claim, RetryPolicy
from vth.api.store import AlertStore
from vth.models import MbaProfile

log = logging.getLogger(__name__)


@dataclass
class ForwarderStats:
    """Counts since start, for the health report."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0
    last_error: str | None = None
    errors_by_target: dict[str, int] = field(default_factory=dict)


class Forwarder:
    """Delivers queued alerts to their targets.

    Parameters
    ----------
    store
        The store whose outbox is read.
    targets
        The targets by name; a queued delivery for a name not here waits (it is
        delivered once a target of that name is configured again).
    profiles
        MBA profiles by id, given to targets (a ZGW zaak names the operator).
    retry
        Backoff and attempts of failed deliveries.
    poll_s
        Seconds between looks at the outbox when it has nothing due.
    """

    def __init__(
        self,
        store: AlertStore,
        targets: Sequence[ForwardingTarget],
        profiles: Mapping[str, MbaProfile],
        *,
        retry: RetryPolicy | None = None,
        poll_s: float = 1.0,
    ) -> None:
        self.store = store
        self.targets = {t.name: t for t in targets}
        self.profiles = profiles
        self.retry = retry if retry is not None else RetryPolicy()
        self.poll_s = poll_s
        self.stats = ForwarderStats()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Deliver every delivery that is due now; return how many were attempted."""
        if not self.targets:
            return 0
        claims = self.store.claim_deliveries(self.retry, sorted(self.targets))
        for claim in claims:
            self._deliver(claim)
        return len(claims)

    def wake(self) -> None:
        """Look at the outbox now (new alerts were stored)."""
        self._wake.set()

    def start(self) -> None:
        """Start delivering in a background thread."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="vth-forwarder", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (a delivery under way finishes); :meth:`start` may follow."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        """Stop and release the targets' connections (no restart afterwards)."""
        self.stop()
        for target in self.targets.values():
            target.close()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Deliver in the background while the block runs (a lifespan hook)."""
        self.start()
        try:
            yield
        finally:
            self.close()

    def health(self) -> dict[str, object]:
        """What the forwarder did so far."""
        alive = self._thread is not None and self._thread.is_alive()
        return {
            "ok": alive,
            "targets": sorted(self.targets),
            "delivered": self.stats.delivered,
            "retried": self.stats.retried,
            "failed": self.stats.failed,
            "last_error": self.stats.last_error,
        }

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except StoreError as exc:
                log.warning("forwarder: %s", exc)
                busy = 0
            if not busy:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def _deliver(self, claim: Claim) -> None:
        target = self.targets[claim.target]
        alert = self.store.get(claim.alert_id)
        if alert is None:
            self.store.delivery_failed(
                claim, "the alert is gone from the store", self.retry, permanent=True
            )
            return
        try:
            result = target.deliver(alert, self.profiles.get(alert.mba_id), dict(claim.result))
        except DeliveryError as exc:
            self._failed(claim, str(exc), permanent=exc.permanent, progress=exc.progress)
            return
        except Exception as exc:  # a target's bug must not stop the other deliveries
            log.exception("forwarder: target %s failed on alert %s", claim.target, alert.id)
            self._failed(claim, f"{type(exc).__name__}: {exc}", permanent=False, progress=None)
            return
        self.store.delivered(claim, result)
        self.stats.delivered += 1

    def _failed(
        self, claim: Claim, error: str, *, permanent: bool, progress: dict[str, object] | None
    ) -> None:
        self.stats.last_error = error
        counts = self.stats.errors_by_target
        counts[claim.target] = counts.get(claim.target, 0) + 1
        retry = self.store.delivery_failed(
            claim, error, self.retry, permanent=permanent, result=progress
        )
        if retry:
            self.stats.retried += 1
            log.info(
                "forwarder: alert %s to %s: %s; will retry", claim.alert_id, claim.target, error
            )
        else:
            self.stats.failed += 1
            log.warning("forwarder: alert %s to %s failed: %s", claim.alert_id, claim.target, error)
