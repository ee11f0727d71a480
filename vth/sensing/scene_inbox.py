"""Scenes waiting for detection, spooled to disk until they have been judged.

The raster gateway decodes a message into scenes (one per MBA it covers) and puts them
here together with the raw message. With a spool folder, the message is written there
(and fsynced) before the gateway acknowledges it, and removed only once the detectors
have run on its scenes; after a restart the spooled messages are decoded again, so an
image is never lost between the broker and the alert store.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import xarray as xr


@dataclass
class Delivery:
    """One raster message and the scenes decoded from it, per MBA."""

    id: str
    topic: str
    received_ns: int
    scenes: dict[str, xr.DataArray]
    path: Path | None = None


class SceneInbox:
    """Pending deliveries of scenes, optionally spooled to a folder.

    Parameters
    ----------
    spool_dir
        Folder for the raw messages of pending deliveries; None keeps them in memory only.
    """

    def __init__(self, spool_dir: Path | None = None) -> None:
        self.spool_dir = spool_dir
        self._pending: list[Delivery] = []
        self._lock = threading.Lock()
        if spool_dir is not None:
            spool_dir.mkdir(parents=True, exist_ok=True)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def put(
        self,
        topic: str,
        payload: bytes,
        received_ns: int,
        scenes: dict[str, xr.DataArray],
        spooled: Path | None = None,
    ) -> Delivery:
        """Add a delivery; spool its message first (unless it comes from the spool)."""
        digest = hashlib.sha1(payload).hexdigest()[:16]
        ident = f"{received_ns}-{digest}"
        path = spooled
        if path is None and self.spool_dir is not None:
            path = self.spool_dir / f"{ident}.raster"
            _write_synced(path, payload)
            _write_synced(
                path.with_suffix(".json"),
                json.dumps({"topic": topic, "received_ns": received_ns}).encode(),
            )
        delivery = Delivery(ident, topic, received_ns, scenes, path)
        with self._lock:
            self._pending.append(delivery)
        return delivery

    def take(self) -> list[Delivery]:
        """The pending deliveries, oldest first; they stay spooled until :meth:`done`."""
        with self._lock:
            taken, self._pending = self._pending, []
        return taken

    def done(self, delivery: Delivery) -> None:
        """Forget a judged delivery: remove its spooled message."""
        if delivery.path is not None:
            self.forget(delivery.path)

    @staticmethod
    def forget(path: Path) -> None:
        """Remove a spooled message and its metadata (judged, or never to be judged)."""
        path.unlink(missing_ok=True)
        path.with_suffix(".json").unlink(missing_ok=True)

    def spooled(self) -> Iterator[tuple[Path, str, int, bytes]]:
        """Messages left in the spool (by an earlier run), oldest first.

        Yields ``(path, topic, received_ns, payload)``.
        """
        if self.spool_dir is None:
            return
        for path in sorted(self.spool_dir.glob("*.raster")):
            meta_path = path.with_suffix(".json")
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                yield path, str(meta["topic"]), int(meta["received_ns"]), path.read_bytes()
            except (OSError, ValueError, KeyError):
                # half-written when the process died, so never acknowledged: the broker
                # redelivers it; this copy is only clutter
                self.forget(path)
                continue


def _write_synced(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
