"""The ingestor: bad messages are quarantined with the reason, good data is never lost."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vth.gateways.errors import TopicError
from vth.gateways.journal import Journal
from vth.gateways.mqtt import Ingestor
from vth.gateways.quarantine import Quarantine
from vth.gateways.topics import TopicTemplate
from vth.sensing.buffer import StreamBuffer

BT = 1_763_805_600
NOW = (BT + 3600) * 10**9
TOPIC = "vth/avi-rozenburg/cems-l1"


def pack(values: dict[str, float], t: int = BT, sensor: str = "cems-l1") -> bytes:
    records: list[dict[str, object]] = []
    for i, (name, v) in enumerate(values.items()):
        rec: dict[str, object] = {"n": name, "v": v, "u": "%" if name == "O2" else "mg/m3"}
        if i == 0:
            rec.update(bn=f"{sensor}:", bt=t)
        records.append(rec)
    return json.dumps(records).encode()


@pytest.fixture
def ingestor(tmp_path: Path) -> Ingestor:
    return Ingestor(
        StreamBuffer(),
        Quarantine(tmp_path / "q.jsonl"),
        TopicTemplate("vth/{mba_id}/{sensor_id}"),
        known_mba_ids={"avi-rozenburg", "chemie-botlek"},
    )


def quarantined(ingestor: Ingestor) -> list[dict[str, str]]:
    path = ingestor.quarantine.path
    assert path is not None
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bad_messages_between_good_ones_lose_no_good_data(ingestor: Ingestor):
    good = [pack({"NOx": 100 + i, "O2": 11}, t=BT + 60 * i) for i in range(10)]
    bad = [
        (TOPIC, b'{"broken'),
        (TOPIC, pack({"NOx": 1}).replace(b"mg/m3", b"furlong")),
        (TOPIC, b'[{"bn":"cems-l1:","bt":1763805600,"n":"NOx","u":"mg/m3","v":NaN}]'),
        (TOPIC, pack({"NOx": 1}, t=BT + 86400)),
        ("vth/unknown-mba/cems-l1", pack({"NOx": 1})),
        ("not/a/vth/topic/at/all", pack({"NOx": 1})),
    ]
    messages = [(TOPIC, g) for g in good[:5]] + bad + [(TOPIC, g) for g in good[5:]]
    for topic, payload in messages:
        ingestor.ingest(topic, payload, NOW)
    ds = ingestor.buffer.to_dataset("avi-rozenburg")
    assert ds["NOx"].sel(sensor="cems-l1").values.tolist() == [100.0 + i for i in range(10)]
    entries = quarantined(ingestor)
    assert len(entries) == 6 == ingestor.stats.quarantined
    reasons = [e["reason"] for e in entries]
    assert "payload is not JSON" in reasons[0]
    assert "unknown unit 'furlong'" in reasons[1]
    assert "value is nan" in reasons[2]
    assert "ahead of the gateway clock" in reasons[3]
    assert "unknown MBA 'unknown-mba'" in reasons[4]
    assert "does not match" in reasons[5]
    assert entries[0]["payload"] == '{"broken' and entries[0]["topic"] == TOPIC
    assert ingestor.stats.readings == 20


def test_duplicate_messages_are_stored_once_and_counted(ingestor: Ingestor):
    payload = pack({"NOx": 120, "O2": 11})
    first = ingestor.ingest(TOPIC, payload, NOW)
    again = ingestor.ingest(TOPIC, payload, NOW)
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates, again.problems) == (0, 2, [])
    assert len(ingestor.buffer) == 2
    assert ingestor.quarantine.count == 0


def test_a_conflicting_resend_is_quarantined_and_the_first_value_kept(ingestor: Ingestor):
    ingestor.ingest(TOPIC, pack({"NOx": 120}), NOW)
    outcome = ingestor.ingest(TOPIC, pack({"NOx": 999}), NOW)
    assert outcome.accepted == 0
    assert "conflicts with the stored 120.0" in outcome.problems[0]
    assert ingestor.buffer.to_dataset("avi-rozenburg")["NOx"].values.ravel().tolist() == [120.0]
    assert ingestor.quarantine.count == 1


def test_binary_payload_is_quarantined_base64(ingestor: Ingestor):
    ingestor.ingest(TOPIC, b"\x00\xff\x10", NOW)
    entry = quarantined(ingestor)[0]
    assert entry["payload_encoding"] == "base64"
    assert "not UTF-8" in entry["reason"]


def test_out_of_order_messages_end_up_sorted_in_the_dataset(ingestor: Ingestor):
    for i in [5, 1, 3, 0, 4, 2]:
        ingestor.ingest(TOPIC, pack({"NOx": float(i)}, t=BT + 60 * i), NOW)
    ds = ingestor.buffer.to_dataset("avi-rozenburg")
    assert ds["NOx"].values.ravel().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert bool((np.diff(ds["time"].values) > np.timedelta64(0)).all())


def test_journal_replays_accepted_messages_and_skips_a_torn_line(tmp_path: Path):
    journal = Journal(tmp_path / "j.jsonl")
    journal.append([(1, "a/b", b"one"), (2, "a/c", b"\x00two")])
    with journal.path.open("a") as f:
        f.write('{"r": 3, "t": "a/d", "p": "tor')  # a crash mid-write
    assert list(journal.replay()) == [(1, "a/b", b"one"), (2, "a/c", b"\x00two")]
    assert journal.compact(keep_after_ns=2) == 2
    assert list(journal.replay()) == [(2, "a/c", b"\x00two")]


def test_topic_template_parses_and_builds_topics():
    template = TopicTemplate("sites/{mba_id}/sensors/{sensor_id}/senml")
    assert template.subscription == "sites/+/sensors/+/senml"
    assert template.parse("sites/avi/sensors/s1/senml") == ("avi", "s1")
    assert template.format("avi", "s1") == "sites/avi/sensors/s1/senml"
    with pytest.raises(TopicError, match="does not match"):
        template.parse("sites/avi/s1")
    with pytest.raises(TopicError, match="sensor_id"):
        TopicTemplate("vth/{mba_id}")


def test_journal_compaction_moves_old_messages_to_daily_archive_files(tmp_path: Path):
    journal = Journal(tmp_path / "j.jsonl")
    day1 = 1772323200 * 10**9  # 2026-03-01T00:00Z
    day2 = day1 + 86_400 * 10**9
    journal.append([(day1 + 1, "a/b", b"one"), (day2 + 1, "a/c", b"two"), (day2 + 9, "a/d", b"3")])
    archive = tmp_path / "archive"
    assert journal.compact(keep_after_ns=day2 + 5, archive_dir=archive) == 2
    assert list(journal.replay()) == [(day2 + 9, "a/d", b"3")]
    files = sorted(p.name for p in archive.iterdir())
    assert files == ["journal-2026-03-01.jsonl", "journal-2026-03-02.jsonl"]
    assert list(Journal(archive / "journal-2026-03-02.jsonl").replay()) == [
        (day2 + 1, "a/c", b"two")
    ]
    journal.append([(day2 + 20, "a/e", b"4")])
    assert journal.compact(keep_after_ns=day2 + 15, archive_dir=archive) == 1  # appends
    assert len(list(Journal(archive / "journal-2026-03-02.jsonl").replay())) == 2
