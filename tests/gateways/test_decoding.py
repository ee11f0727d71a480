"""SenML and plain-JSON decoding: good records flow, bad ones are named."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vth.gateways.decoding import decode_payload, decoder_names
from vth.gateways.errors import DecodeError

NOW = 1_763_805_900 * 10**9  # 2025-11-22 10:05 UTC
BT = 1_763_805_600


def senml(records: list[Any]) -> bytes:
    return json.dumps(records).encode()


def test_design_example_senml_pack_decodes_both_channels_with_carried_unit():
    payload = (
        b'[{"bn":"enose-12:","bt":1763805600,"n":"ch1","u":"Ohm","v":12100.0},'
        b'{"n":"ch2","v":9800.0}]'
    )
    decoded = decode_payload(payload, "topic-sensor", NOW)
    assert decoded.problems == []
    assert [(r.sensor_id, r.quantity, r.value, r.unit) for r in decoded.readings] == [
        ("enose-12", "ch1", 12100.0, "Ohm"),
        ("enose-12", "ch2", 9800.0, "Ohm"),
    ]
    assert all(r.time_ns == BT * 10**9 for r in decoded.readings)


def test_cems_values_are_converted_to_canonical_units():
    payload = senml(
        [
            {"bn": "cems-l1:", "bt": BT, "n": "NOx", "u": "ug/m3", "v": 120000},
            {"n": "O2", "u": "ppm", "v": 110000},
            {"n": "temperature", "u": "Cel", "v": 20},
        ]
    )
    readings = {r.quantity: r for r in decode_payload(payload, "x", NOW).readings}
    assert readings["NOx"].value == pytest.approx(120.0)
    assert readings["NOx"].unit == "mg/m3"
    assert readings["O2"].value == pytest.approx(11.0)
    assert readings["temperature"].value == pytest.approx(293.15)
    assert readings["temperature"].unit == "K"


def test_base_value_base_unit_and_relative_times_follow_rfc8428():
    payload = senml(
        [
            {"bn": "s1:", "bt": BT, "bu": "mg/m3", "bv": 10, "n": "CO", "v": 1, "t": 60},
            {"n": "CO", "v": 2, "t": 120},
        ]
    )
    decoded = decode_payload(payload, "x", NOW)
    assert [(r.value, r.time_ns) for r in decoded.readings] == [
        (11.0, (BT + 60) * 10**9),
        (12.0, (BT + 120) * 10**9),
    ]
    relative = decode_payload(
        senml([{"n": "CO", "u": "mg/m3", "v": 1, "t": -30}]), "topic-sensor", NOW
    )
    assert relative.readings[0].time_ns == NOW - 30 * 10**9
    assert relative.readings[0].sensor_id == "topic-sensor"


def test_one_bad_record_is_named_and_the_rest_flow():
    payload = senml(
        [
            {"bn": "cems-l1:", "bt": BT, "n": "NOx", "u": "mg/m3", "v": 120},
            {"n": "SO2", "u": "Ohm", "v": 1},
            {"n": "CO", "u": "furlong", "v": 1},
            {"n": "dust", "u": "mg/m3", "v": "high"},
            {"n": "HCl", "u": "mg/m3", "vs": "text"},
            {"n": "HF", "u": "mg/m3"},
            "not a record",
            {"n": "TOC", "u": "mg/m3", "v": 3, "unexpected": 1},
        ]
    )
    decoded = decode_payload(payload, "x", NOW)
    assert [r.quantity for r in decoded.readings] == ["NOx"]
    text = "\n".join(decoded.problems)
    assert len(decoded.problems) == 7
    assert "SO2 given in 'Ohm'" in text and "mass concentration" in text
    assert "unknown unit 'furlong'" in text
    assert "must be a number" in text
    assert "only numeric values" in text
    assert "has no value" in text
    assert "not a JSON object" in text
    assert "unknown field(s) unexpected" in text


def test_nan_and_infinite_values_are_refused():
    payload = (
        b'[{"bn":"s:","bt":1763805600,"n":"NOx","u":"mg/m3","v":NaN},'
        b'{"n":"CO","u":"mg/m3","v":Infinity},{"n":"SO2","u":"mg/m3","v":3}]'
    )
    decoded = decode_payload(payload, "x", NOW)
    assert [r.quantity for r in decoded.readings] == ["SO2"]
    assert any("nan" in p for p in decoded.problems)
    assert any("inf" in p for p in decoded.problems)


def test_timestamps_far_in_the_future_or_before_2000_are_clock_skew():
    payload = senml(
        [
            {"bn": "s:", "n": "NOx", "u": "mg/m3", "v": 1, "t": BT + 86400},
            {"n": "NOx", "u": "mg/m3", "v": 2, "t": 915_148_800},  # 1999
            {"n": "NOx", "u": "mg/m3", "v": 3, "t": BT + 200},  # within 300 s tolerance
        ]
    )
    decoded = decode_payload(payload, "x", NOW)
    assert [r.value for r in decoded.readings] == [3.0]
    assert "ahead of the gateway clock" in decoded.problems[0]
    assert "before 2000" in decoded.problems[1]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not JSON"),
        (b"", "empty"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "SenML pack is empty"),
        (b"42", "must be an object"),
        (b'{"sensor":"s","values":{}}', "non-empty object"),
        (b'{"sensor":"s","time":"2025-11-22T10:00:00","values":{"NOx":1}}', "no UTC offset"),
        (b'{"sensor":"s","time":"yesterday","values":{"NOx":1}}', "not ISO-8601"),
    ],
)
def test_unreadable_payloads_raise_a_decode_error_naming_the_problem(payload: bytes, message: str):
    with pytest.raises(DecodeError, match=message):
        decode_payload(payload, "x", NOW)


def test_plain_json_form_with_units_and_value_objects():
    payload = json.dumps(
        {
            "sensor": "cems-l1",
            "time": "2025-11-22T11:00:00+01:00",
            "values": {"NOx": {"value": 0.12, "unit": "g/m3"}, "O2": 9.5, "CO": "x"},
            "units": {"O2": "%"},
        }
    ).encode()
    decoded = decode_payload(payload, "topic-sensor", NOW)
    readings = {r.quantity: r for r in decoded.readings}
    assert readings["NOx"].value == pytest.approx(120.0)
    assert readings["O2"].value == 9.5
    assert readings["NOx"].time_ns == BT * 10**9
    assert decoded.problems == ["cems-l1/CO: CO must be a number, got str 'x'"]


def test_both_decoders_are_registered():
    assert decoder_names() == ["json", "senml"]


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(finite, min_size=1, max_size=20),
    offsets=st.lists(st.integers(min_value=0, max_value=10_000), min_size=20, max_size=20),
)
def test_any_valid_senml_pack_round_trips_every_value(values: list[float], offsets: list[int]):
    records = [
        {
            "n": f"ch{i}",
            "v": v,
            "t": BT + offsets[i],
            **({"bn": "en:", "u": "Ohm"} if i == 0 else {}),
        }
        for i, v in enumerate(values)
    ]
    decoded = decode_payload(senml(records), "x", (BT + 20_000) * 10**9)
    assert decoded.problems == []
    assert [r.value for r in decoded.readings] == pytest.approx(values)
    assert [r.time_ns for r in decoded.readings] == [
        (BT + offsets[i]) * 10**9 for i in range(len(values))
    ]


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["bn", "bt", "bu", "bv", "n", "u", "v", "t", "vs", "x"]),
            json_values,
            max_size=6,
        ),
        max_size=6,
    )
)
def test_arbitrary_senml_like_input_never_crashes_and_every_reading_is_finite(
    records: list[dict[str, object]],
):
    payload = json.dumps(records, allow_nan=True).encode()
    try:
        decoded = decode_payload(payload, "x", NOW)
    except DecodeError:
        return
    for r in decoded.readings:
        assert math.isfinite(r.value)
        assert r.time_ns <= NOW + 300 * 10**9


def test_absurd_senml_times_are_refused_not_crashing():
    payload = (
        b'[{"bn":"s:","bt":1e300,"n":"NOx","u":"mg/m3","v":1},'
        b'{"bt":Infinity,"n":"CO","u":"mg/m3","v":1}]'
    )
    decoded = decode_payload(payload, "x", NOW)
    assert decoded.readings == []
    assert len(decoded.problems) == 2
    assert all("not a plausible SenML time" in p for p in decoded.problems)
