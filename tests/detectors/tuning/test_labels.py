"""Labels: files analysts write, closed alerts, and spans of a reference instrument."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from vth.detectors.tuning.labels import (
    Label,
    LabelError,
    labels_from_alerts,
    labels_from_threshold,
    read_all_labels,
    read_labels,
    write_labels,
)
from vth.models import Alert, AlertReview, Detection
from vth.sensing.streams import make_stream_dataset

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- CSV ---------------------------------------------------------------------------------


def test_read_csv_with_aliases_truth_values_and_utc_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "labels.csv",
        "mba,sensor_id,start,end,kind,truth,note,extra\n"
        "A,s1,2026-03-02T10:00,2026-03-02T12:00,peak,true,first,x\n"
        "A,,2026-03-02T13:00:00Z,2026-03-02T14:00:00+00:00,,no,,\n"
        ",s2,2026-03-02 15:00,2026-03-02T17:00+01:00,,,,\n"
        'B,s3,2026-03-02T17:00,2026-03-02T18:00,peak,yes,"with, comma",\n',
    )
    labels = read_labels(path)
    assert labels == [
        Label(mba_id="A", sensor="s1", start=at(10), end=at(12), kind="peak", note="first"),
        Label(mba_id="A", sensor=None, start=at(13), end=at(14), truth=False),
        # 17:00+01:00 is 16:00 UTC
        Label(mba_id=None, sensor="s2", start=at(15), end=at(16)),
        Label(mba_id="B", sensor="s3", start=at(17), end=at(18), kind="peak", note="with, comma"),
    ]
    # times without an offset are UTC
    assert labels[0].start.utcoffset() == timedelta(0)
    assert labels[2].start.utcoffset() == timedelta(0)
    # blank cells are None, not empty strings
    assert labels[1].sensor is None and labels[1].kind is None and labels[1].note is None


@pytest.mark.parametrize(
    ("cell", "truth"),
    [
        ("true", True),
        ("false", False),
        ("yes", True),
        ("no", False),
        ("", True),
        ("TRUE", True),
        ("No", False),
        ("1", True),
        ("0", False),
        ("true_alarm", True),
        ("false_alarm", False),
    ],
)
def test_csv_truth_values(tmp_path: Path, cell: str, truth: bool) -> None:
    path = write(
        tmp_path,
        "labels.csv",
        f"mba_id,start,end,truth\nA,2026-03-02T10:00,2026-03-02T11:00,{cell}\n",
    )
    assert [label.truth for label in read_labels(path)] == [truth]


def test_csv_without_truth_column_is_all_true_and_label_alias_is_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "labels.CSV",
        "sensor,start,end,label\ns1,2026-03-02T10:00,2026-03-02T11:00,gas_incident\n",
    )
    [label] = read_labels(path)
    assert label.truth is True
    assert label.kind == "gas_incident"
    assert label.mba_id is None and label.sensor == "s1"


def test_csv_keeps_ids_as_text(tmp_path: Path) -> None:
    # leading zeros and "NA" stay what the analyst wrote
    path = write(
        tmp_path,
        "labels.csv",
        "mba_id,sensor,start,end\n007,NA,2026-03-02T10:00,2026-03-02T11:00\n",
    )
    [label] = read_labels(path)
    assert (label.mba_id, label.sensor) == ("007", "NA")


def test_csv_with_only_a_header_has_no_labels(tmp_path: Path) -> None:
    assert read_labels(write(tmp_path, "labels.csv", "mba_id,sensor,start,end\n")) == []


# --- JSON --------------------------------------------------------------------------------


def test_read_json_list_and_object(tmp_path: Path) -> None:
    entries = [
        {"mba": "A", "sensor_id": "s1", "start": "2026-03-02T10:00", "end": "2026-03-02T12:00"},
        {
            "mba_id": "B",
            "start": "2026-03-02T13:00:00+02:00",
            "end": "2026-03-02T14:00:00Z",
            "kind": "peak",
            "truth": False,
            "note": "closed",
        },
        {"sensor": "s2", "start": "2026-03-02T15:00", "end": "2026-03-02T16:00", "truth": "no"},
    ]
    expected = [
        Label(mba_id="A", sensor="s1", start=at(10), end=at(12)),
        Label(mba_id="B", start=at(11), end=at(14), kind="peak", truth=False, note="closed"),
        Label(sensor="s2", start=at(15), end=at(16), truth=False),
    ]
    as_list = write(tmp_path, "list.json", json.dumps(entries))
    as_object = write(tmp_path, "object.json", json.dumps({"labels": entries}))
    assert read_labels(as_list) == expected
    assert read_labels(as_object) == expected
    assert read_labels(as_list)[0].start.utcoffset() == timedelta(0)
    assert read_labels(write(tmp_path, "empty.json", "[]")) == []


# --- errors ------------------------------------------------------------------------------

_OK = "2026-03-02T10:00,2026-03-02T11:00"


@pytest.mark.parametrize(
    ("name", "text", "fragments"),
    [
        pytest.param(
            "labels.csv",
            "mba_id,start\nA,2026-03-02T10:00\n",
            ["columns start, end and mba_id or sensor", "found mba_id, start"],
            id="csv-missing-end",
        ),
        pytest.param(
            "labels.csv",
            "start,end,kind\n2026-03-02T10:00,2026-03-02T11:00,peak\n",
            ["columns start, end and mba_id or sensor"],
            id="csv-missing-place",
        ),
        pytest.param(
            "labels.csv",
            f"mba_id,start,end\nA,{_OK}\nA,2026-03-02T12:00,2026-03-02T11:00\n",
            ["line 3", "before start"],
            id="csv-end-before-start",
        ),
        pytest.param(
            "labels.csv",
            f"mba_id,sensor,start,end\nA,,{_OK}\n,,{_OK}\n",
            ["line 3", "needs an mba_id or a sensor"],
            id="csv-no-place",
        ),
        pytest.param(
            "labels.csv",
            "mba_id,start,end\nA,yesterday noonish,2026-03-02T11:00\n",
            ["line 2", "start"],
            id="csv-bad-time",
        ),
        pytest.param(
            "labels.csv",
            "mba_id,start,end\nA,,2026-03-02T11:00\n",
            ["line 2", "start"],
            id="csv-blank-time",
        ),
        pytest.param(
            "labels.csv",
            f"mba_id,start,end,truth\nA,{_OK},yes\nA,{_OK},maybe\n",
            ["line 3", "truth 'maybe' is not true or false"],
            id="csv-bad-truth",
        ),
        pytest.param(
            "labels.json",
            json.dumps(
                [
                    {"mba_id": "A", "start": "2026-03-02T10:00", "end": "2026-03-02T11:00"},
                    {"mba_id": "A", "start": "2026-03-02T10:00"},
                ]
            ),
            ["label 2", "end"],
            id="json-missing-end",
        ),
        pytest.param(
            "labels.json",
            json.dumps([{"start": "2026-03-02T10:00", "end": "2026-03-02T11:00"}]),
            ["label 1", "needs an mba_id or a sensor"],
            id="json-no-place",
        ),
        pytest.param(
            "labels.json",
            json.dumps([{"mba_id": "A", "start": "2026-03-02T12:00", "end": "2026-03-02T11:00"}]),
            ["label 1", "before start"],
            id="json-end-before-start",
        ),
        pytest.param(
            "labels.json",
            json.dumps([{"mba_id": "A", "start": "not a time", "end": "2026-03-02T11:00"}]),
            ["label 1", "start"],
            id="json-bad-time",
        ),
        pytest.param(
            "labels.json",
            json.dumps({"labels": [{"mba_id": "A", "start": "x", "end": "y", "truth": "perhaps"}]}),
            ["label 1", "truth 'perhaps'"],
            id="json-bad-truth",
        ),
        pytest.param(
            "labels.json", json.dumps(["A"]), ["label 1 is not an object"], id="json-item"
        ),
        pytest.param(
            "labels.json", json.dumps({"events": []}), ["expected a list"], id="json-shape"
        ),
        pytest.param("labels.json", "[{", ["not readable JSON"], id="json-syntax"),
        pytest.param("labels.txt", f"mba_id,start,end\nA,{_OK}\n", [".csv or .json"], id="suffix"),
    ],
)
def test_read_errors_name_file_and_place(
    tmp_path: Path, name: str, text: str, fragments: list[str]
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(LabelError) as info:
        read_labels(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    with pytest.raises(LabelError, match="no such labels file") as info:
        read_labels(path)
    assert str(path) in str(info.value)
    with pytest.raises(LabelError, match="no such labels file"):
        read_labels(tmp_path)  # a directory is no file


def test_csv_error_line_counts_blank_lines(tmp_path: Path) -> None:
    # line 1 header, line 2 a label, line 3 blank, line 4 the bad row
    path = write(tmp_path, "labels.csv", f"mba_id,start,end\nA,{_OK}\n\nA,2026-03-02T10:00,bad\n")
    with pytest.raises(LabelError, match="line 4"):
        read_labels(path)


# --- writing -----------------------------------------------------------------------------

_ROUND_TRIP = [
    Label(mba_id="A", sensor="s1", start=at(10), end=at(12), kind="peak", note='a "quoted", note'),
    Label(mba_id="B", start=at(13), end=at(13), truth=False),
    Label(sensor="s2", start=at(14.5), end=at(16.25), kind="gas_incident", note="line\nbreak"),
    Label(
        mba_id="C",
        start=datetime(2026, 3, 2, 20, tzinfo=timezone(timedelta(hours=2))),
        end=at(20),
    ),
]


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_write_then_read_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "deeper" / "dir" / f"labels{suffix}"
    assert write_labels(_ROUND_TRIP, path) == path
    back = read_labels(path)
    assert back == _ROUND_TRIP
    assert [label.start for label in back] == [label.start for label in _ROUND_TRIP]
    assert read_all_labels([path, path]) == _ROUND_TRIP * 2


def test_written_csv_is_plain(tmp_path: Path) -> None:
    path = write_labels(_ROUND_TRIP[:2], tmp_path / "labels.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "mba_id,sensor,start,end,kind,truth,note"
    assert lines[2] == "B,,2026-03-02T13:00:00Z,2026-03-02T13:00:00Z,,false,"


def test_write_empty(tmp_path: Path) -> None:
    for suffix in (".csv", ".json"):
        path = write_labels([], tmp_path / f"none{suffix}")
        assert read_labels(path) == []


# --- from alerts -------------------------------------------------------------------------


def _alert(start: float, end: float, *, mba: str, sensor: str | None, kind: str) -> Alert:
    detection = Detection.model_validate(
        {
            "detector": "enose",
            "kind": kind,
            "mba_id": mba,
            "sensor_id": sensor,
            "start": at(start),
            "end": at(end),
        }
    )
    return Alert.from_detection(detection)


def test_labels_from_alerts() -> None:
    true_alarm = _alert(20, 22, mba="A", sensor="s1", kind="peak")
    false_alarm = _alert(10, 11, mba="B", sensor=None, kind="exceedance")
    open_alert = _alert(5, 6, mba="A", sensor="s1", kind="peak")
    alerts = [
        true_alarm.model_copy(
            update={"review": AlertReview(verdict="true_alarm", inspector="jan", note="smelled it")}
        ),
        open_alert,  # nobody judged it yet: no label
        false_alarm.model_copy(update={"review": AlertReview(verdict="false_alarm")}),
    ]
    labels = labels_from_alerts(alerts)
    # sorted by start: the false alarm (10:00) before the true alarm (20:00)
    assert labels == [
        Label(
            mba_id="B",
            sensor=None,
            start=at(10),
            end=at(11),
            kind="exceedance",
            truth=False,
            note=f"alert {false_alarm.id} closed as false_alarm",
        ),
        Label(
            mba_id="A",
            sensor="s1",
            start=at(20),
            end=at(22),
            kind="peak",
            truth=True,
            note=f"alert {true_alarm.id} closed as true_alarm by jan: smelled it",
        ),
    ]
    assert labels_from_alerts([open_alert]) == []
    assert labels_from_alerts([]) == []


# --- from a reference instrument ---------------------------------------------------------

_TIMES = np.datetime64("2026-03-02T00:00", "ns") + np.arange(12) * np.timedelta64(1, "h")
#              0    1    2    3    4    5       6    7    8    9    10   11
_REF = [0.0, 5.0, 5.0, 0.0, 5.0, np.nan, 5.0, 1.0, 0.0, 5.0, 5.0, 5.0]
# above 1 (strictly; NaN and the 1.0 at 07:00 are not): runs [1, 3), [4, 5), [6, 7), [9, 12)


def _dataset() -> xr.Dataset:
    values = np.array([np.zeros(12), _REF])
    return make_stream_dataset(["E", "R"], ["enose", "ref"], _TIMES, {"no2": (values, "ug/m3")})


def _spans(labels: list[Label]) -> list[tuple[float, float]]:
    return [
        ((label.start - T0).total_seconds() / 3600, (label.end - T0).total_seconds() / 3600)
        for label in labels
    ]


def test_threshold_spans_end_an_hour_after_their_last_sample() -> None:
    labels = labels_from_threshold(_dataset(), "ref", "no2", 1.0)
    assert _spans(labels) == [(1, 3), (4, 5), (6, 7), (9, 12)]
    for label in labels:
        assert label.mba_id == "R"  # the reference sensor's MBA, not the first sensor's
        assert label.sensor == "ref"
        assert label.kind is None
        assert label.truth is True
        assert label.note == "ref no2 > 1"
        assert label.start.utcoffset() == timedelta(0)


def test_threshold_nan_never_counts_as_above() -> None:
    # every number is above -1e9; only the NaN at 05:00 splits the run
    labels = labels_from_threshold(_dataset(), "ref", "no2", -1e9)
    assert _spans(labels) == [(0, 5), (6, 12)]


@pytest.mark.parametrize(
    ("min_duration", "spans"),
    [
        ("0s", [(1, 3), (4, 5), (6, 7), (9, 12)]),
        ("1h", [(1, 3), (4, 5), (6, 7), (9, 12)]),  # one sample lasts an hour
        ("90min", [(1, 3), (9, 12)]),
        ("2h", [(1, 3), (9, 12)]),
        ("3h", [(9, 12)]),
        ("4h", []),
    ],
)
def test_threshold_min_duration(min_duration: str, spans: list[tuple[float, float]]) -> None:
    labels = labels_from_threshold(_dataset(), "ref", "no2", 1.0, min_duration=min_duration)
    assert _spans(labels) == spans


@pytest.mark.parametrize(
    ("merge_gap", "spans"),
    [
        ("30min", [(1, 3), (4, 5), (6, 7), (9, 12)]),  # less than one sample: nothing merges
        ("1h", [(1, 7), (9, 12)]),  # one-sample gaps at 03:00 and 05:00 close
        ("2h", [(1, 12)]),  # and the two-sample gap 07:00-08:00
    ],
)
def test_threshold_merge_gap(merge_gap: str, spans: list[tuple[float, float]]) -> None:
    labels = labels_from_threshold(_dataset(), "ref", "no2", 1.0, merge_gap=merge_gap)
    assert _spans(labels) == spans


def test_threshold_merge_before_min_duration() -> None:
    labels = labels_from_threshold(_dataset(), "ref", "no2", 1.0, merge_gap="1h", min_duration="4h")
    assert _spans(labels) == [(1, 7)]


def test_threshold_label_sensor_and_kind() -> None:
    labels = labels_from_threshold(_dataset(), "ref", "no2", 1.0, label_sensor="enose", kind="peak")
    assert len(labels) == 4
    assert {label.sensor for label in labels} == {"enose"}
    assert {label.kind for label in labels} == {"peak"}
    assert {label.note for label in labels} == {"ref no2 > 1"}


def test_threshold_nothing_above() -> None:
    assert labels_from_threshold(_dataset(), "ref", "no2", 5.0) == []  # strictly above
    assert labels_from_threshold(_dataset(), "enose", "no2", 0.0) == []


def test_threshold_empty_time_axis() -> None:
    ds = make_stream_dataset(
        "A", ["ref"], np.array([], dtype="datetime64[ns]"), {"no2": (np.zeros((1, 0)), "ug/m3")}
    )
    assert labels_from_threshold(ds, "ref", "no2", 1.0) == []


def test_threshold_unknown_sensor_or_variable() -> None:
    with pytest.raises(LabelError, match=r"no sensor 'nope'.*enose, ref"):
        labels_from_threshold(_dataset(), "nope", "no2", 1.0)
    with pytest.raises(LabelError, match=r"no variable 'so2'.*no2"):
        labels_from_threshold(_dataset(), "ref", "so2", 1.0)
