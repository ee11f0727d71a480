"""SenML JSON (RFC 8428) decoder.

A pack is a JSON array of records. Base fields (``bn``, ``bt``, ``bu``, ``bv``) apply
to the records after them. The resolved name ``bn + n`` is split at its last ``:``
into sensor and quantity (``"enose-12:" + "ch1"``); without a ``:`` the sensor is the
topic's. Times below 2**28 are relative to now (RFC 8428 section 4.5.3); a record
without a unit takes the base unit, else the unit of the record before it in the pack
for the same sensor, else the canonical unit of its quantity.
"""

from __future__ import annotations

from typing import Any

from vth.gateways.decoding import RawReading, as_number, register_decoder
from vth.gateways.errors import DecodeError

_RELATIVE_LIMIT = 2**28
_LATEST_S = 2**33  # year 2242: beyond it a time is garbage, not skew
_KNOWN_FIELDS = {
    "bn",
    "bt",
    "bu",
    "bv",
    "bs",
    "bver",
    "n",
    "u",
    "v",
    "vs",
    "vb",
    "vd",
    "s",
    "t",
    "ut",
}
_VALUE_FIELDS = frozenset({"v", "vs", "vb", "vd", "s"})


@register_decoder("senml")
def decode_senml(data: Any, topic_sensor: str, now_ns: int) -> tuple[list[RawReading], list[str]]:
    """Decode a parsed SenML pack into raw readings and per-record problems."""
    if not isinstance(data, list):
        raise DecodeError("SenML pack must be a JSON array of records")
    if not data:
        raise DecodeError("SenML pack is empty")
    readings: list[RawReading] = []
    problems: list[str] = []
    base_name, base_time, base_unit, base_value = "", 0.0, None, 0.0
    last_unit: dict[str, str] = {}
    known = _KNOWN_FIELDS
    for i, record in enumerate(data):
        if not isinstance(record, dict):
            problems.append(f"record {i}: not a JSON object")
            continue
        # The common record (known fields, a numeric "v") takes the straight path: the
        # messages of problems are only formatted when there is one.
        try:
            if "bn" in record:
                base_name = _text(record["bn"], "bn")
            if "bt" in record:
                base_time = as_number(record["bt"], "bt")
            if "bu" in record:
                base_unit = _text(record["bu"], "bu")
            if "bv" in record:
                base_value = as_number(record["bv"], "bv")
            if not record.keys() <= known:
                unknown = sorted(set(record) - known)
                if not all(k.endswith("_") for k in unknown):
                    problems.append(f"record {i}: unknown field(s) {', '.join(unknown)}")
                    continue
            if "v" not in record:
                problem = _valueless(record, base_name)
                if problem is not None:
                    problems.append(f"record {i}: {problem}")
                continue
            n = record.get("n", "")
            name = base_name + (n if isinstance(n, str) else _text(n, "n"))
            if not name:
                problems.append(f"record {i}: record has no name (n or bn)")
                continue
            sensor, _, quantity = name.rpartition(":")
            sensor = sensor or topic_sensor
            v = record["v"]
            value = base_value + (v if type(v) is float else as_number(v, f"{name}.v"))
            if "t" in record:
                rt = record["t"]
                t = base_time + (rt if type(rt) is float else as_number(rt, f"{name}.t"))
            else:
                t = base_time + 0.0
            if not -_LATEST_S <= t <= _LATEST_S:  # also NaN and infinities
                raise ValueError(f"{name}: time {t} is not a plausible SenML time")
            offset_ns = round(t * 1e9)
            time_ns = offset_ns if abs(t) >= _RELATIVE_LIMIT else now_ns + offset_ns
            if "u" in record:
                unit = record["u"]
                if not isinstance(unit, str):
                    unit = _text(unit, "u")
            else:
                unit = base_unit
            if unit is None:
                unit = last_unit.get(sensor)
            elif unit:
                last_unit[sensor] = unit
        except ValueError as exc:
            problems.append(f"record {i}: {exc}")
            continue
        readings.append(RawReading(sensor, quantity, time_ns, value, unit))
    return readings, problems


def _valueless(record: dict[str, Any], base_name: str) -> str | None:
    """What is wrong with a record without a numeric value (None: a base-only record).

    Raises
    ------
    ValueError
        When its name is not a string.
    """
    if _VALUE_FIELDS.isdisjoint(record):
        if "n" in record:
            return f"record {record['n']!r} has no value"
        return None  # a record with only base fields
    name = base_name + _text(record.get("n", ""), "n")
    if not name:
        return "record has no name (n or bn)"
    return f"{name}: only numeric values (v) are supported"


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    return value
