"""Payload decoders, registered by name, and the checks every decoded reading passes.

A decoder turns one message payload into :class:`~vth.sensing.readings.Reading` records
plus a list of problems with individual records. A payload that cannot be read at all
raises :class:`~vth.gateways.errors.DecodeError`. After decoding, each reading is put in
the canonical unit of its quantity and checked for NaN, implausible times and clock
skew; readings that fail are reported as problems, the others flow on.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vth.gateways.errors import DecodeError
from vth.sensing.errors import UnitError
from vth.sensing.readings import Reading
from vth.sensing.units import canonical_unit, to_canonical

#: Readings stamped before this (2000-01-01 UTC) are implausible for live sensors.
EARLIEST_NS = 946_684_800 * 10**9


@dataclass(frozen=True)
class RawReading:
    """A reading as decoded, before unit conversion and checks."""

    sensor_id: str
    quantity: str
    time_ns: int
    value: float
    unit: str | None


@dataclass
class Decoded:
    """The outcome of decoding one payload."""

    readings: list[Reading] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


Decoder = Callable[[Any, str, int], tuple[list[RawReading], list[str]]]
_DECODERS: dict[str, Decoder] = {}


def register_decoder(name: str) -> Callable[[Decoder], Decoder]:
    """Register a decoder of parsed JSON under ``name``."""

    def wrap(func: Decoder) -> Decoder:
        _DECODERS[name] = func
        return func

    return wrap


def decoder_names() -> list[str]:
    """Names of the registered decoders."""
    _load_builtin()
    return sorted(_DECODERS)


def _load_builtin() -> None:
    from vth.gateways import plain_json, senml  # noqa: F401  (registers on import)


def parse_json(payload: bytes) -> Any:
    """Parse a payload as JSON, naming what is wrong when it is not."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"payload is not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise DecodeError("payload is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DecodeError(
            f"payload is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None


def decode_payload(
    payload: bytes,
    sensor_id: str,
    now_ns: int,
    *,
    max_future_ns: int = 300 * 10**9,
    fmt: str | None = None,
) -> Decoded:
    """Decode a payload into canonical, checked readings.

    Parameters
    ----------
    payload
        The message bytes: a SenML pack (JSON array) or the plain JSON object form.
    sensor_id
        The sensor of the topic, used where the payload does not name one.
    now_ns
        The gateway clock, ns since the epoch (UTC).
    max_future_ns
        Readings stamped further ahead of ``now_ns`` are rejected as clock skew.
    fmt
        A decoder name; chosen from the payload's shape when None.

    Raises
    ------
    DecodeError
        When the payload cannot be read at all.
    """
    _load_builtin()
    data = parse_json(payload)
    if fmt is None:
        fmt = "senml" if isinstance(data, list) else "json"
    try:
        decoder = _DECODERS[fmt]
    except KeyError:
        raise DecodeError(
            f"no decoder named {fmt!r}; known: {', '.join(sorted(_DECODERS))}"
        ) from None
    raw, problems = decoder(data, sensor_id, now_ns)
    if not raw and not problems:  # e.g. a SenML pack of base records only: not silently dropped
        problems = ["payload holds no readings (no record has a value)"]
    out = Decoded(problems=list(problems))
    for r in raw:
        problem = _check(r, now_ns, max_future_ns)
        if problem is not None:
            out.problems.append(problem)
            continue
        try:
            unit = canonical_unit(r.quantity, r.unit)
        except UnitError as exc:
            out.problems.append(f"{r.sensor_id}/{r.quantity}: {exc}")
            continue
        value = float(to_canonical(r.value, r.unit))  # type: ignore[arg-type]
        out.readings.append(Reading(r.sensor_id, r.quantity, r.time_ns, value, unit))
    return out


def _check(r: RawReading, now_ns: int, max_future_ns: int) -> str | None:
    where = f"{r.sensor_id}/{r.quantity}"
    if not math.isfinite(r.value):
        return f"{where}: value is {r.value} (not a finite number)"
    if r.time_ns > now_ns + max_future_ns:
        ahead = (r.time_ns - now_ns) / 1e9
        return (
            f"{where}: time is {ahead:.0f} s ahead of the gateway clock "
            f"(more than {max_future_ns / 1e9:.0f} s): clock skew; check the sensor's clock"
        )
    if r.time_ns < EARLIEST_NS:
        seconds = r.time_ns / 1e9
        return (
            f"{where}: time {seconds:.0f} s since the epoch is before 2000; "
            "check the sensor's clock"
        )
    return None


def as_number(value: Any, what: str) -> float:
    """A JSON number as float; booleans and strings are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    return float(value)
