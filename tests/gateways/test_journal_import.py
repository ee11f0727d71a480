"""History from the gateway journal: accepted messages decoded again into one dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vth.gateways.journal import Journal
from vth.gateways.journal_import import import_journal
from vth.sensing import StreamFormatError
from vth.sensing.archive import open_archive, write_archive

BT = 1_763_805_600  # 2025-11-22 10:00 UTC
S = 10**9
T0 = np.datetime64("2025-11-22T10:00", "ns")
MINUTE = np.timedelta64(1, "m")


def senml(records: list[dict[str, object]]) -> bytes:
    return json.dumps(records).encode()


def received(seconds_after_bt: int) -> int:
    return (BT + seconds_after_bt) * S


def avi_message(minute: int, nox: float, o2: float, nox_unit: str = "mg/m3") -> bytes:
    return senml(
        [
            {"bn": "cems-1:", "bt": BT + 60 * minute, "n": "NOx", "u": nox_unit, "v": nox},
            {"n": "O2", "u": "%", "v": o2},
        ]
    )


def enose_message(minute: int, ch1: float, ch2: float) -> bytes:
    return senml(
        [
            {"bn": "enose-12:", "bt": BT + 60 * minute, "n": "ch1", "u": "Ohm", "v": ch1},
            {"n": "ch2", "v": ch2},
        ]
    )


AVI = "vth/avi-rozenburg/cems-1"
BOTLEK = "vth/chemie-botlek/enose-12"


def two_mba_journal(path: Path) -> Path:
    """Two minutes of a CEMS and an e-nose at two MBAs, and one malformed message."""
    Journal(path).append(
        [
            (received(5), AVI, avi_message(0, 120.0, 11.0)),
            (received(6), BOTLEK, enose_message(0, 12100.0, 9800.0)),
            (received(7), BOTLEK, b'{"broken'),
            (received(65), AVI, avi_message(1, 125000.0, 10.5, nox_unit="ug/m3")),
            (received(66), BOTLEK, enose_message(1, 12000.0, 9700.0)),
        ]
    )
    return path


def test_a_journal_of_two_mbas_imports_as_one_dataset(tmp_path: Path):
    result = import_journal([two_mba_journal(tmp_path / "journal.jsonl")])

    ds = result.dataset
    assert ds["sensor"].values.tolist() == ["cems-1", "enose-12"]
    assert ds["mba_id"].values.tolist() == ["avi-rozenburg", "chemie-botlek"]
    np.testing.assert_array_equal(ds["time"].values, [T0, T0 + MINUTE])
    nan = np.nan
    np.testing.assert_allclose(ds["NOx"].values, [[120.0, 125.0], [nan, nan]])
    np.testing.assert_allclose(ds["O2"].values, [[11.0, 10.5], [nan, nan]])
    np.testing.assert_allclose(ds["ch1"].values, [[nan, nan], [12100.0, 12000.0]])
    np.testing.assert_allclose(ds["ch2"].values, [[nan, nan], [9800.0, 9700.0]])
    assert ds["NOx"].attrs["units"] == "mg/m3"
    assert ds["ch1"].attrs["units"] == "Ohm"


def test_the_import_counts_messages_readings_and_quarantined(tmp_path: Path):
    result = import_journal([two_mba_journal(tmp_path / "journal.jsonl")])

    assert result.messages == 5
    assert result.readings == 8
    assert result.quarantined == 1
    assert len(result.problems) == 1
    assert result.problems[0].startswith(f"{BOTLEK}: payload is not JSON")


def test_refused_messages_go_to_the_quarantine_file_with_the_reason(tmp_path: Path):
    quarantine = tmp_path / "var" / "quarantine.jsonl"

    import_journal([two_mba_journal(tmp_path / "journal.jsonl")], quarantine_path=quarantine)

    entries = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert len(entries) == 1
    assert entries[0]["topic"] == BOTLEK
    assert entries[0]["payload"] == '{"broken'
    assert entries[0]["payload_encoding"] == "utf-8"
    assert entries[0]["reason"].startswith("payload is not JSON")


def test_without_a_quarantine_path_nothing_is_written(tmp_path: Path):
    journal = two_mba_journal(tmp_path / "journal.jsonl")

    import_journal([journal])

    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.jsonl"]


def test_a_partly_refused_message_keeps_its_good_readings(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    Journal(path).append(
        [
            (
                received(5),
                AVI,
                senml(
                    [
                        {"bn": "cems-1:", "bt": BT, "n": "NOx", "u": "mg/m3", "v": 120.0},
                        {"n": "SO2", "u": "furlong", "v": 1.0},
                    ]
                ),
            ),
            (received(6), "not/a/vth/topic/at/all", avi_message(0, 1.0, 1.0)),
        ]
    )
    quarantine = tmp_path / "q.jsonl"

    result = import_journal([path], quarantine_path=quarantine)

    assert (result.messages, result.readings, result.quarantined) == (2, 1, 2)
    assert list(result.dataset.data_vars) == ["NOx"]
    assert "unknown unit 'furlong'" in result.problems[0]
    assert "does not match 'vth/{mba_id}/{sensor_id}'" in result.problems[1]
    assert len(quarantine.read_text().splitlines()) == 2


def test_a_redelivered_message_is_imported_once_and_not_quarantined(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    message = (received(5), AVI, avi_message(0, 120.0, 11.0))
    Journal(path).append([message, message])

    result = import_journal([path])

    assert (result.messages, result.readings, result.quarantined) == (2, 2, 0)
    np.testing.assert_allclose(result.dataset["NOx"].values, [[120.0]])


def test_several_journal_files_in_any_order_combine(tmp_path: Path):
    later = tmp_path / "journal-2.jsonl"
    earlier = tmp_path / "journal-1.jsonl"
    Journal(later).append([(received(65), AVI, avi_message(1, 130.0, 10.0))])
    Journal(earlier).append(
        [
            (received(5), AVI, avi_message(0, 120.0, 11.0)),
            (received(6), BOTLEK, enose_message(0, 1.0, 2.0)),
        ]
    )

    result = import_journal([later, str(earlier)])

    assert result.messages == 3
    np.testing.assert_array_equal(result.dataset["time"].values, [T0, T0 + MINUTE])
    np.testing.assert_allclose(result.dataset["NOx"].values[0], [120.0, 130.0])


def test_readings_are_checked_against_the_time_they_were_received(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    Journal(path).append(
        [
            # stamped 2 minutes after receipt: clock skew within the tolerance
            (received(-120), AVI, avi_message(0, 120.0, 11.0)),
            # stamped an hour after receipt: refused
            (received(-3600), AVI, avi_message(1, 130.0, 11.0)),
        ]
    )

    result = import_journal([path])

    assert (result.readings, result.quarantined) == (2, 1)
    assert "ahead of the gateway clock" in result.problems[0]
    np.testing.assert_array_equal(result.dataset["time"].values, [T0])


def test_another_topic_template_is_honoured(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    Journal(path).append([(received(5), "plants/avi-rozenburg/cems-1/data", avi_message(0, 1, 2))])

    result = import_journal([path], topic_template="plants/{mba_id}/{sensor_id}/data")

    assert result.dataset["mba_id"].values.tolist() == ["avi-rozenburg"]
    assert result.readings == 2


def test_a_torn_last_line_is_skipped(tmp_path: Path):
    path = two_mba_journal(tmp_path / "journal.jsonl")
    with path.open("a", encoding="utf-8") as f:
        f.write('{"r": 1, "t": "vth/avi-rozenburg/cems-1", "p": "W3si')

    result = import_journal([path])

    assert result.messages == 5
    assert result.readings == 8


def test_the_imported_dataset_is_a_stream_archive(tmp_path: Path):
    result = import_journal([two_mba_journal(tmp_path / "journal.jsonl")])

    archive = open_archive(write_archive(result.dataset, tmp_path / "history.zarr"))

    assert archive.mba_ids == ["avi-rozenburg", "chemie-botlek"]
    loaded = archive.load(mba_ids=["chemie-botlek"])
    np.testing.assert_allclose(loaded["ch1"].values, [[12100.0, 12000.0]])


def test_at_most_twenty_problems_are_kept_but_all_are_counted(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    Journal(path).append(
        [(received(5), AVI, avi_message(0, 1.0, 1.0))]
        + [(received(6 + i), AVI, b"garbage") for i in range(25)]
    )

    result = import_journal([path])

    assert result.quarantined == 25
    assert len(result.problems) == 20


# --- errors --------------------------------------------------------------------------------


def test_a_journal_without_a_valid_message_is_refused_with_the_first_problem(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    Journal(path).append(
        [(received(5), BOTLEK, b'{"broken'), (received(6), "elsewhere", avi_message(0, 1, 2))]
    )

    with pytest.raises(StreamFormatError) as exc:
        import_journal([path])

    message = str(exc.value)
    assert message.startswith(f"{path}: no readings in 2 journalled message(s)")
    assert f"first problem: {BOTLEK}: payload is not JSON" in message


def test_an_empty_journal_is_refused(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    path.write_text("")

    with pytest.raises(StreamFormatError, match=r"no readings in 0 journalled message\(s\)"):
        import_journal([path])


def test_no_journal_files_at_all_is_refused():
    with pytest.raises(StreamFormatError, match="no readings"):
        import_journal([])


def test_a_missing_journal_file_is_named(tmp_path: Path):
    good = two_mba_journal(tmp_path / "journal.jsonl")
    absent = tmp_path / "journal-old.jsonl"

    with pytest.raises(StreamFormatError) as exc:
        import_journal([good, absent])

    assert str(exc.value) == f"{absent}: no such journal file"


def test_one_sensor_id_at_two_mbas_is_named(tmp_path: Path):
    path = tmp_path / "journal.jsonl"
    Journal(path).append(
        [
            (received(5), "vth/avi-rozenburg/cems-1", avi_message(0, 120.0, 11.0)),
            (received(6), "vth/chemie-botlek/cems-1", avi_message(0, 60.0, 9.0)),
        ]
    )

    with pytest.raises(StreamFormatError) as exc:
        import_journal([path])

    assert "cems-1" in str(exc.value)
