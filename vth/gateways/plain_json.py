"""Decoder of the plain JSON form: ``{"sensor", "time", "values", "units"}``.

``time`` is ISO-8601 with a UTC offset; ``values`` maps quantity to a number or to
``{"value": x, "unit": "mg/m3"}``; the optional ``units`` maps quantity to unit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from vth.gateways.decoding import RawReading, as_number, register_decoder
from vth.gateways.errors import DecodeError


@register_decoder("json")
def decode_plain_json(
    data: Any, topic_sensor: str, now_ns: int
) -> tuple[list[RawReading], list[str]]:
    """Decode the plain JSON object form into raw readings and per-value problems."""
    if not isinstance(data, dict):
        raise DecodeError("plain JSON payload must be an object with sensor, time and values")
    sensor = data.get("sensor", topic_sensor)
    if not isinstance(sensor, str) or not sensor:
        raise DecodeError(f"'sensor' must be a non-empty string, got {sensor!r}")
    values = data.get("values")
    if not isinstance(values, dict) or not values:
        raise DecodeError("'values' must be a non-empty object of quantity: number")
    units = data.get("units", {})
    if not isinstance(units, dict):
        raise DecodeError("'units' must be an object of quantity: unit")
    time_ns = _parse_time(data["time"]) if "time" in data else now_ns
    readings, problems = [], []
    for quantity, entry in values.items():
        unit = units.get(quantity)
        try:
            if isinstance(entry, dict):
                unit = entry.get("unit", unit)
                value = as_number(entry.get("value"), f"{quantity}.value")
            else:
                value = as_number(entry, quantity)
            if unit is not None and not isinstance(unit, str):
                raise ValueError(f"unit of {quantity} must be a string, got {unit!r}")
        except ValueError as exc:
            problems.append(f"{sensor}/{quantity}: {exc}")
            continue
        readings.append(RawReading(sensor, str(quantity), time_ns, value, unit))
    return readings, problems


def _parse_time(value: Any) -> int:
    if not isinstance(value, str):
        raise DecodeError(f"'time' must be an ISO-8601 string, got {value!r}")
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise DecodeError(f"'time' {value!r} is not ISO-8601") from None
    if t.tzinfo is None:
        raise DecodeError(
            f"'time' {value!r} has no UTC offset; add Z or +01:00 (local clocks skew)"
        )
    return int(t.timestamp()) * 10**9 + t.microsecond * 1000
