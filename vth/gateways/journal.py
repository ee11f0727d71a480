"""A write-ahead journal of accepted messages, so a restart loses no buffered data.

The gateway appends each batch of messages (and fsyncs) before acknowledging them to
the broker; on start the journal is replayed into the buffer. Compaction drops
messages older than the buffer's retention.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path


class Journal:
    """Append-only JSON-lines journal of ``(received_ns, topic, payload)``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, messages: list[tuple[int, str, bytes]]) -> None:
        """Durably append a batch of messages (one write, one fsync)."""
        if not messages:
            return
        lines = "".join(
            json.dumps({"r": r, "t": topic, "p": base64.b64encode(payload).decode("ascii")}) + "\n"
            for r, topic, payload in messages
        )
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(lines)
            f.flush()
            os.fsync(f.fileno())

    def replay(self) -> Iterator[tuple[int, str, bytes]]:
        """The journalled messages, oldest first; a torn last line is skipped."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    item = json.loads(line)
                    yield int(item["r"]), str(item["t"]), base64.b64decode(item["p"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a crash mid-write

    def compact(self, keep_after_ns: int, archive_dir: Path | None = None) -> int:
        """Rewrite the journal without messages received before ``keep_after_ns``.

        With ``archive_dir`` the dropped messages are first appended (and fsynced) to
        ``journal-YYYY-MM-DD.jsonl`` files there, one per UTC day of receipt: the
        gateway's history, which ``vth archive import`` turns into an archive.
        """
        with self._lock:
            if not self.path.exists():
                return 0
            kept, dropped = [], 0
            by_day: dict[str, list[str]] = {}
            with self.path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        received = int(json.loads(line)["r"])
                    except (ValueError, KeyError, TypeError):
                        dropped += 1
                        continue
                    if received >= keep_after_ns:
                        kept.append(line)
                    else:
                        dropped += 1
                        day = time.strftime("%Y-%m-%d", time.gmtime(received / 1e9))
                        by_day.setdefault(day, []).append(line)
            if archive_dir is not None and by_day:
                archive_dir.mkdir(parents=True, exist_ok=True)
                for day, lines in sorted(by_day.items()):
                    with (archive_dir / f"journal-{day}.jsonl").open("a", encoding="utf-8") as out:
                        out.write("".join(lines))
                        out.flush()
                        os.fsync(out.fileno())
            if dropped:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text("".join(kept), encoding="utf-8")
                tmp.replace(self.path)
            return dropped
