"""History from the gateway's journal: the messages it accepted, decoded again.

The journal (``journal_path``) holds every accepted message as it arrived. Decoding
it with the gateway's own decoders gives exactly the readings the service saw, as
one stream dataset for an archive (``vth archive import var/journal.jsonl``).
Messages that do not decode now (a topic template changed, say) are quarantined
with the reason and counted; the others still import.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import xarray as xr

from vth.gateways.journal import Journal
from vth.gateways.mqtt import Ingestor
from vth.gateways.quarantine import Quarantine
from vth.gateways.topics import TopicTemplate
from vth.sensing.archive import merge_streams
from vth.sensing.buffer import StreamBuffer
from vth.sensing.errors import StreamFormatError

#: Accept readings stamped up to this far after their receipt (journals are history).
_MAX_FUTURE_S = 300.0


@dataclass
class JournalImport:
    """The readings of journal files, with counts of what did not import."""

    dataset: xr.Dataset
    messages: int = 0
    readings: int = 0
    quarantined: int = 0
    problems: list[str] = field(default_factory=list)


def import_journal(
    paths: Iterable[Path | str],
    topic_template: str = "vth/{mba_id}/{sensor_id}",
    quarantine_path: Path | None = None,
) -> JournalImport:
    """Decode journal files into one stream dataset (all MBAs).

    Parameters
    ----------
    paths
        Journal files (JSON lines written by the gateway), in any order.
    topic_template
        The topic template the gateway used.
    quarantine_path
        Where refused messages go with their reasons; kept in memory when None.

    Raises
    ------
    StreamFormatError
        When a file is missing or holds no readable message.
    """
    buffer = StreamBuffer()
    quarantine = Quarantine(quarantine_path)
    ingestor = Ingestor(
        buffer, quarantine, TopicTemplate(topic_template), max_future_s=_MAX_FUTURE_S
    )
    result = JournalImport(dataset=xr.Dataset())
    paths = list(paths)
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise StreamFormatError(f"{path}: no such journal file")
        for received_ns, topic, payload in Journal(path).replay():
            outcome = ingestor.ingest(topic, payload, received_ns)
            result.messages += 1
            result.readings += outcome.accepted
            if outcome.problems:
                result.quarantined += 1
                if len(result.problems) < 20:
                    result.problems.append(f"{topic}: {'; '.join(outcome.problems)}")
    if result.readings == 0:
        raise StreamFormatError(
            f"{', '.join(str(p) for p in paths)}: no readings in {result.messages} journalled "
            "message(s)" + (f"; first problem: {result.problems[0]}" if result.problems else "")
        )
    parts = [buffer.to_dataset(mba_id) for mba_id in buffer.mba_ids()]
    result.dataset = merge_streams(parts, "journal")
    return result
