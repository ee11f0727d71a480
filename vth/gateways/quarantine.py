"""Quarantine of bad messages: kept with topic, payload and reason, never silently dropped."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined message."""

    received_at: str
    topic: str
    reason: str
    payload: str
    payload_encoding: str


class Quarantine:
    """Append-only store of bad messages: a JSON-lines file, plus the latest in memory.

    Parameters
    ----------
    path
        JSON-lines file to append to (created with its directory); ``None`` keeps
        entries in memory only.
    keep
        How many of the latest entries to keep in memory for the API.
    max_inline_bytes
        Larger payloads (rasters) are written to their own file in the folder
        ``<name>-payloads`` next to ``path``, and the entry names that file
        (``payload_encoding`` ``"file"``); without ``path`` they are cut to this size
        (``"base64-truncated"``).
    """

    def __init__(
        self, path: Path | None = None, keep: int = 1000, max_inline_bytes: int = 65_536
    ) -> None:
        self.path = path
        self.max_inline_bytes = max_inline_bytes
        self._lock = threading.Lock()
        self._recent: deque[QuarantineEntry] = deque(maxlen=keep)
        self.count = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def put(self, topic: str, payload: bytes, reason: str) -> QuarantineEntry:
        """Quarantine a message with the reason it was (partly) refused."""
        if len(payload) > self.max_inline_bytes:
            text, encoding = self._keep_large(payload)
        else:
            try:
                text, encoding = payload.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
        entry = QuarantineEntry(
            received_at=datetime.fromtimestamp(time.time(), UTC).isoformat(),
            topic=topic,
            reason=reason,
            payload=text,
            payload_encoding=encoding,
        )
        line = json.dumps(asdict(entry), ensure_ascii=False) + "\n"
        with self._lock:
            self._recent.append(entry)
            self.count += 1
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line)
        return entry

    def _keep_large(self, payload: bytes) -> tuple[str, str]:
        if self.path is None:
            cut = payload[: self.max_inline_bytes]
            return base64.b64encode(cut).decode("ascii"), "base64-truncated"
        folder = self.path.parent / f"{self.path.stem}-payloads"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{hashlib.sha1(payload).hexdigest()}.bin"
        if not target.exists():
            target.write_bytes(payload)
        return str(target), "file"

    def recent(self) -> list[QuarantineEntry]:
        """The latest entries, oldest first."""
        with self._lock:
            return list(self._recent)
