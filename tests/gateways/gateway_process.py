"""Child processes for the fault tests: a gateway that can be killed, and a fast publisher.

``python -m tests.gateways.gateway_process --url URL --client-id ID --journal PATH
--quarantine PATH --status PATH`` replays the journal, then runs an :class:`MqttGateway`
until SIGTERM (or SIGINT), writing a small JSON status (readings, duplicates, messages,
...) every 50 ms and once more after a graceful stop. ``--stall-after N``: the journal
append that brings the journal to N lines or more hangs after its fsync, so that batch
is journalled but never acknowledged (a gateway hung or killed between the two).

:func:`publish_main` (run with ``python -c``) publishes numbered one-reading SenML
messages at QoS 1 as fast as the broker takes them; it imports no more of vth than
the journal, so it starts quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from vth.gateways.journal import Journal

if TYPE_CHECKING:
    from vth.gateways.mqtt import MqttGateway

TOPIC = "vth/avi/cems-l1"
#: Readings of the numbered messages lie in the past: one per second from here.
BT = 1_700_000_000


def numbered_pack(i: int) -> bytes:
    """The SenML message number ``i``: one NOx reading, value ``i``, at ``BT + i`` s."""
    record = f'{{"bn":"cems-l1:","bt":{BT + i},"n":"NOx","u":"mg/m3","v":{float(i)}}}'
    return f"[{record}]".encode()


class StallingJournal(Journal):
    """A journal that hangs after the fsync of the append reaching ``stall_after`` lines."""

    def __init__(self, path: Path, stall_after: int | None) -> None:
        super().__init__(path)
        self.stall_after = stall_after
        self.lines = sum(1 for _ in self.replay())
        #: Lines journalled before the stalled append: all of them were acknowledged.
        self.lines_before_stall: int | None = None

    def append(self, messages: list[tuple[int, str, bytes]]) -> None:
        before = self.lines
        super().append(messages)
        self.lines += len(messages)
        if self.stall_after is not None and messages and self.lines >= self.stall_after:
            self.lines_before_stall = before
            threading.Event().wait()  # until the process is killed


def write_status(
    path: Path, gateway: MqttGateway, journal: StallingJournal, replayed: int, state: str
) -> None:
    """Write the gateway's counters atomically as JSON."""
    stats = gateway.stats
    status = {
        "journalled": journal.lines,
        "lines_before_stall": journal.lines_before_stall,
        "idle": gateway._queue.unfinished_tasks == 0,
        "pid": os.getpid(),
        "state": state,
        "connected": stats.connected,
        "connects": stats.connects,
        "replayed": replayed,
        "messages": stats.messages,
        "readings": stats.readings,
        "duplicates": stats.duplicates,
        "quarantined": stats.quarantined,
        "buffered": len(gateway.ingestor.buffer),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Run a gateway until SIGTERM; exit 0 after a graceful stop."""
    from vth.gateways.mqtt import Ingestor, MqttGateway
    from vth.gateways.quarantine import Quarantine
    from vth.gateways.topics import TopicTemplate
    from vth.sensing.buffer import StreamBuffer

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--quarantine", type=Path, required=True)
    parser.add_argument("--status", type=Path, required=True)
    parser.add_argument("--stall-after", type=int, default=None)
    args = parser.parse_args(argv)

    ingestor = Ingestor(
        StreamBuffer(), Quarantine(args.quarantine), TopicTemplate("vth/{mba_id}/{sensor_id}")
    )
    journal = StallingJournal(args.journal, args.stall_after)
    gateway = MqttGateway(ingestor, args.url, client_id=args.client_id, journal=journal)
    replayed = gateway.replay_journal()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    write_status(args.status, gateway, journal, replayed, "starting")
    gateway.start(wait=None)
    while not stop.wait(0.05):
        write_status(args.status, gateway, journal, replayed, "running")
    gateway.wait_idle(10)
    gateway.stop()
    write_status(args.status, gateway, journal, replayed, "stopped")
    return 0


def publish_main(argv: list[str]) -> int:
    """Publish messages ``--start`` to ``--stop`` (exclusive) at QoS 1; print the seconds.

    At most ``--window`` messages are unacknowledged at a time: paho scans all its
    pending messages on every PUBACK, so a deep queue of them is quadratic.
    """
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--stop", type=int, required=True)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    url = urlparse(args.url)  # no vth import: the publisher starts fast
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=args.client_id)
    client.max_inflight_messages_set(0)  # the window below limits; paho would scan per ack
    window = threading.Semaphore(args.window)
    client.on_publish = lambda *_: window.release()
    client.connect(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30)
    client.loop_start()
    started = time.monotonic()
    deadline = started + args.timeout
    for i in range(args.start, args.stop):
        if not window.acquire(timeout=max(0.0, deadline - time.monotonic())):
            print(f"timeout after {i - args.start} messages", file=sys.stderr)
            return 1
        client.publish(TOPIC, numbered_pack(i), qos=1)
    for _ in range(args.window):  # the last ones acknowledged
        if not window.acquire(timeout=max(0.0, deadline - time.monotonic())):
            print("timeout waiting for the last acknowledgements", file=sys.stderr)
            return 1
    print(f"{time.monotonic() - started:.3f}")
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
