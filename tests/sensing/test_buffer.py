"""A gateway appends readings as they arrive; detectors take labelled datasets from it."""

from __future__ import annotations

import threading

import numpy as np

from vth.sensing import Reading, StreamBuffer

T0 = int(np.datetime64("2026-01-05T10:00", "ns").astype(np.int64))
MINUTE = 60 * 10**9


def nox(sensor: str, minute: int, value: float, unit: str = "mg/m3") -> Reading:
    return Reading(sensor, "NOx", T0 + minute * MINUTE, value, unit)


def test_readings_are_accepted_and_counted():
    buffer = StreamBuffer()

    result = buffer.append("avi-rozenburg", [nox("cems-l1", 0, 120.0), nox("cems-l1", 1, 125.0)])

    assert (result.accepted, result.duplicates, result.rejected) == (2, 0, [])
    assert len(buffer) == 2
    assert buffer.mba_ids() == ["avi-rozenburg"]


def test_an_mqtt_redelivery_is_counted_as_duplicate_and_stored_once():
    buffer = StreamBuffer()
    buffer.append("avi-rozenburg", [nox("cems-l1", 0, 120.0)])

    result = buffer.append("avi-rozenburg", [nox("cems-l1", 0, 120.0), nox("cems-l1", 1, 121.0)])

    assert (result.accepted, result.duplicates, result.rejected) == (1, 1, [])
    assert len(buffer) == 2


def test_a_conflicting_value_for_the_same_time_is_rejected_and_the_first_kept():
    buffer = StreamBuffer()
    buffer.append("avi-rozenburg", [nox("cems-l1", 0, 120.0)])

    result = buffer.append("avi-rozenburg", [nox("cems-l1", 0, 999.0)])

    assert result.accepted == 0
    [reason] = result.rejected
    assert reason.startswith("cems-l1/NOx at 2026-01-05T10:00:00")
    assert "value 999.0 conflicts with the stored 120.0" in reason
    assert buffer.to_dataset("avi-rozenburg")["NOx"].values.tolist() == [[120.0]]


def test_a_unit_change_within_a_series_is_rejected_with_both_units():
    buffer = StreamBuffer()
    buffer.append("avi-rozenburg", [nox("cems-l1", 0, 120.0)])

    result = buffer.append("avi-rozenburg", [nox("cems-l1", 1, 0.12, unit="g/m3")])

    assert result.rejected == [
        "cems-l1/NOx: unit 'g/m3' differs from 'mg/m3', the unit of NOx at avi-rozenburg"
    ]
    assert len(buffer) == 1


def test_the_same_sensor_and_time_in_two_mbas_are_two_readings():
    buffer = StreamBuffer()
    buffer.append("mba-a", [nox("s1", 0, 1.0)])

    result = buffer.append("mba-b", [nox("s1", 0, 2.0)])

    assert result.accepted == 1
    assert buffer.mba_ids() == ["mba-a", "mba-b"]


def test_to_dataset_has_sensor_by_time_with_nan_where_a_sensor_did_not_report():
    buffer = StreamBuffer()
    buffer.append(
        "avi-rozenburg",
        [
            nox("cems-l2", 1, 80.0),
            nox("cems-l1", 0, 120.0),
            Reading("cems-l1", "O2", T0, 10.5, "%"),
            nox("cems-l1", 2, 122.0),
        ],
    )
    buffer.append("other-mba", [nox("x", 5, 1.0)])

    ds = buffer.to_dataset("avi-rozenburg")

    assert dict(ds.sizes) == {"sensor": 2, "time": 3}
    assert ds["sensor"].values.tolist() == ["cems-l1", "cems-l2"]
    np.testing.assert_array_equal(
        ds["time"].values,
        np.array(["2026-01-05T10:00", "2026-01-05T10:01", "2026-01-05T10:02"], "datetime64[ns]"),
    )
    np.testing.assert_array_equal(
        ds["NOx"].values, [[120.0, np.nan, 122.0], [np.nan, 80.0, np.nan]]
    )
    np.testing.assert_array_equal(ds["O2"].values, [[10.5, np.nan, np.nan], [np.nan] * 3])
    assert ds["NOx"].attrs["units"] == "mg/m3"
    assert ds["O2"].attrs["units"] == "%"
    assert ds["mba_id"].values.tolist() == ["avi-rozenburg", "avi-rozenburg"]
    assert ds["NOx"].dims == ("sensor", "time")


def test_an_mba_without_readings_gives_an_empty_dataset():
    buffer = StreamBuffer()
    buffer.append("avi-rozenburg", [nox("cems-l1", 0, 120.0)])

    ds = buffer.to_dataset("chemie-botlek")

    assert dict(ds.sizes) == {"sensor": 0, "time": 0}
    assert list(ds.data_vars) == []


def test_since_keeps_only_recent_readings():
    buffer = StreamBuffer()
    buffer.append("m", [nox("s1", minute, float(minute)) for minute in range(10)])

    ds = buffer.to_dataset("m", since=np.datetime64("2026-01-05T10:07"))

    assert ds["NOx"].values.tolist() == [[7.0, 8.0, 9.0]]


def test_prune_drops_old_readings_and_forgets_them():
    buffer = StreamBuffer()
    buffer.append("m", [nox("s1", minute, float(minute)) for minute in range(10)])

    dropped = buffer.prune(np.datetime64("2026-01-05T10:06"))

    assert dropped == 6
    assert len(buffer) == 4
    assert buffer.to_dataset("m")["NOx"].values.tolist() == [[6.0, 7.0, 8.0, 9.0]]
    assert buffer.prune(np.datetime64("2026-01-05T10:06")) == 0
    # a pruned reading arriving late is stored again rather than counted as a duplicate
    assert buffer.append("m", [nox("s1", 0, 0.0)]).accepted == 1


def test_latest_time_per_mba_and_overall():
    buffer = StreamBuffer()
    assert buffer.latest_time() is None
    buffer.append("a", [nox("s1", 3, 1.0), nox("s1", 1, 1.0)])
    buffer.append("b", [nox("s2", 9, 1.0)])

    assert buffer.latest_time("a") == np.datetime64("2026-01-05T10:03", "ns")
    assert buffer.latest_time() == np.datetime64("2026-01-05T10:09", "ns")
    assert buffer.latest_time("nobody") is None


def test_the_buffer_grows_past_its_initial_capacity():
    buffer = StreamBuffer()
    n = 10_000

    buffer.append("m", [nox("s1", i, float(i)) for i in range(n)])

    values = buffer.to_dataset("m")["NOx"].values
    assert values.shape == (1, n)
    assert values[0, -1] == n - 1


def test_four_threads_appending_disjoint_readings_lose_nothing():
    buffer = StreamBuffer()
    per_thread, batch = 3000, 50
    barrier = threading.Barrier(4)

    def gateway(sensor: str) -> None:
        barrier.wait()
        for first in range(0, per_thread, batch):
            buffer.append("m", [nox(sensor, i, float(i)) for i in range(first, first + batch)])

    threads = [threading.Thread(target=gateway, args=(f"s{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(buffer) == 4 * per_thread
    ds = buffer.to_dataset("m")
    assert int(np.isfinite(ds["NOx"].values).sum()) == 4 * per_thread
    np.testing.assert_array_equal(ds["NOx"].values, np.tile(np.arange(per_thread), (4, 1)))


def test_two_sensors_reporting_one_quantity_in_different_units_are_not_mixed_up():
    buffer = StreamBuffer()

    result = buffer.append(
        "m", [Reading("s1", "NOx", T0, 1.0, "mg/m3"), Reading("s2", "NOx", T0, 1000.0, "ug/m3")]
    )

    ds = buffer.to_dataset("m")
    # either the odd unit is refused, or the value is stored in the dataset's unit
    assert result.rejected or (
        ds["NOx"].attrs["units"] == "mg/m3" and ds["NOx"].sel(sensor="s2").item() == 1.0
    )
