"""Property: whatever arrives, the buffer holds exactly the distinct valid readings.

Arbitrary interleavings of valid SenML messages, exact resends of them, garbage bytes,
random JSON (and SenML packs without a single value), readings too far in the future,
messages for an unknown MBA and messages mixing a good reading with a skewed one. Every
message that is (partly) refused is quarantined exactly once; no exception escapes the
ingestor.
"""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vth.gateways.mqtt import Ingestor
from vth.gateways.quarantine import Quarantine
from vth.gateways.topics import TopicTemplate
from vth.sensing.buffer import StreamBuffer

BT = 1_763_805_600
NOW = (BT + 86_400) * 10**9
SENSORS = ("cems-l1", "cems-l2")
#: Fields any decoder reads; random JSON avoids them, so it can never be a valid reading.
_FIELDS = {"bn", "bt", "bu", "bv", "bs", "bver", "n", "u", "v", "vs", "vb", "vd", "s", "t"}
_FIELDS |= {"ut", "sensor", "time", "values", "units"}

Reading = tuple[str, int, float]  # sensor, time (ns), value


def value_of(sensor: str, i: int) -> float:
    """The one value reading ``i`` of ``sensor`` has, so resends never conflict."""
    return 10.0 * i + SENSORS.index(sensor) + 0.5


def pack(sensor: str, first: int, count: int) -> tuple[bytes, list[Reading]]:
    records: list[dict[str, Any]] = []
    readings: list[Reading] = []
    for k in range(count):
        i = first + k
        record: dict[str, Any] = {"n": "NOx", "t": 60 * i, "v": value_of(sensor, i)}
        if k == 0:
            record.update(bn=f"{sensor}:", bt=BT, u="mg/m3")
        records.append(record)
        readings.append((sensor, (BT + 60 * i) * 10**9, value_of(sensor, i)))
    return json.dumps(records).encode(), readings


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_keys = st.text(max_size=4).filter(lambda k: k not in _FIELDS)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(json_keys, inner, max_size=4),
    max_leaves=20,
)
#: SenML packs whose records carry base or extension fields only, no value.
valueless = st.lists(
    st.dictionaries(st.sampled_from(["bn", "bt", "bu", "bver", "x_"]), json_scalars, max_size=4),
    max_size=4,
)
sensors = st.sampled_from(SENSORS)
valid = st.tuples(st.just("valid"), sensors, st.integers(0, 30), st.integers(1, 4))
message_kinds = st.one_of(
    valid,
    st.tuples(st.just("resend"), st.integers(0, 10_000)),
    st.tuples(st.just("garbage"), st.binary(max_size=40)),
    st.tuples(st.just("json"), json_values | valueless),
    st.tuples(st.just("future"), sensors, st.integers(301, 10**6)),
    st.tuples(st.just("mixed"), sensors, st.integers(0, 30)),
    st.tuples(st.just("unknown-mba"), sensors, st.integers(0, 30)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(message_kinds, max_size=40))
def test_buffer_holds_exactly_the_distinct_valid_readings(kinds: list[tuple[Any, ...]]):
    ingestor = Ingestor(
        StreamBuffer(),
        Quarantine(None),
        TopicTemplate("vth/{mba_id}/{sensor_id}"),
        known_mba_ids={"avi"},
        max_future_s=300,
    )
    sent: list[tuple[str, bytes, list[Reading]]] = []  # valid messages, for resends
    delivered: list[Reading] = []
    refused = 0
    for kind, *args in kinds:
        topic = "vth/avi/cems-l1"
        readings: list[Reading] = []
        if kind == "valid":
            sensor, first, count = args
            payload, readings = pack(sensor, first, count)
            sent.append((topic, payload, readings))
        elif kind == "resend":
            if not sent:
                continue
            topic, payload, readings = sent[args[0] % len(sent)]
        elif kind == "garbage":
            payload = args[0]
            refused += 1
        elif kind == "json":
            payload = json.dumps(args[0]).encode()
            refused += 1
        elif kind == "future":
            sensor, ahead = args
            t = NOW // 10**9 + ahead
            payload = json.dumps(
                [{"bn": f"{sensor}:", "bt": t, "n": "NOx", "u": "mg/m3", "v": 1.0}]
            ).encode()
            refused += 1
        elif kind == "mixed":  # a good reading and a skewed one: the good one is kept
            sensor, i = args
            good, readings = pack(sensor, i, 1)
            skewed = {"bt": NOW // 10**9 + 3600, "n": "NOx", "v": 1.0}
            payload = json.dumps([*json.loads(good), skewed]).encode()
            refused += 1
        else:  # unknown MBA: a valid pack refused whole
            sensor, i = args
            payload, _ = pack(sensor, i, 1)
            topic = "vth/elsewhere/cems-l1"
            refused += 1
        outcome = ingestor.ingest(topic, payload, NOW)  # never raises
        assert outcome.accepted + outcome.duplicates == len(readings)
        assert bool(outcome.problems) == (kind not in ("valid", "resend"))
        delivered += readings
    expected = set(delivered)
    stored = stored_readings(ingestor.buffer)
    assert sorted(stored) == sorted(expected)  # no reading twice, none missing
    assert len(ingestor.buffer) == len(expected) == ingestor.stats.readings
    assert ingestor.stats.duplicates == len(delivered) - len(expected)
    assert ingestor.quarantine.count == ingestor.stats.quarantined == refused


def stored_readings(buffer: StreamBuffer) -> list[Reading]:
    if "avi" not in buffer.mba_ids():
        return []
    ds = buffer.to_dataset("avi")
    out = []
    times = ds["time"].values.astype("datetime64[ns]").astype("int64")
    for s, sensor in enumerate(ds["sensor"].values.tolist()):
        for t, value in zip(times.tolist(), ds["NOx"].values[s].tolist(), strict=True):
            if not math.isnan(value):
                out.append((sensor, t, value))
    return out
