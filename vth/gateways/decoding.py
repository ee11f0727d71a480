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
from typing import Any, NamedTuple

from vth.gateways.errors import DecodeError
from vth.sensing.errors import UnitError
from vth.sensing.readings import Reading
from vth.sensing.units import canonical_unit, to_canonical

#: Readings stamped before this (2000-01-01 UTC) are implausible for live sensors.
EARLIEST_NS = 946_684_800 * 10**9


class RawReading(NamedTuple):
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


_builtin_loaded = False


def _load_builtin() -> None:
    global _builtin_loaded
    if not _builtin_loaded:
        from vth.gateways import plain_json, senml  # noqa: F401  (registers on import)

        _builtin_loaded = True


_JSON = json.JSONDecoder()  # what json.loads uses, without its per-call checks


def parse_json(payload: bytes) -> Any:
    """Parse a payload as JSON, naming what is wrong when it is not."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"payload is not UTF-8 text (byte {exc.start})") from None
    if not text or (text[0].isspace() and not text.strip()):
        raise DecodeError("payload is empty")
    try:
        if text[0] == "\ufeff":  # json.loads names the byte-order mark
            return json.loads(text)
        return _JSON.decode(text)
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
    readings, out_problems = out.readings, out.problems
    latest_ns = now_ns + max_future_ns
    isfinite = math.isfinite
    units = _UNITS_CACHE
    for r in raw:
        value, time_ns = r.value, r.time_ns
        if not isfinite(value) or time_ns > latest_ns or time_ns < EARLIEST_NS:
            out_problems.append(_problem(r, now_ns, max_future_ns))
            continue
        quantity, unit = r.quantity, r.unit
        known = units.get((quantity, unit))
        if known is None:
            try:
                known = _canonical(quantity, unit)
            except UnitError as exc:
                out_problems.append(f"{r.sensor_id}/{quantity}: {exc}")
                continue
        canonical, identity = known
        converted = value if identity else to_canonical(value, unit)  # type: ignore[arg-type]
        value = float(converted)
        readings.append(Reading(r.sensor_id, quantity, time_ns, value, canonical))
    return out


#: (quantity, unit) -> (canonical unit, whether values stay as they are); bounded, as
#: quantities come from the payloads.
_UNITS_CACHE: dict[tuple[str, str | None], tuple[str, bool]] = {}
_UNITS_CACHE_MAX = 4096


def _canonical(quantity: str, unit: str | None) -> tuple[str, bool]:
    """``(canonical unit, whether conversion to it is the identity)``, remembered.

    Raises
    ------
    UnitError
        As :func:`~vth.sensing.units.canonical_unit` does.
    """
    canonical = canonical_unit(quantity, unit)
    # to_canonical is affine: the identity exactly when it keeps 0 and 1
    zero, one = (to_canonical(x, unit) for x in (0.0, 1.0))  # type: ignore[arg-type]
    identity = not unit or (zero == 0.0 and one == 1.0)
    known = (canonical, identity)
    if len(_UNITS_CACHE) < _UNITS_CACHE_MAX:
        _UNITS_CACHE[(quantity, unit)] = known
    return known


def _problem(r: RawReading, now_ns: int, max_future_ns: int) -> str:
    """Why a reading failed the checks of :func:`decode_payload` (value, then time)."""
    where = f"{r.sensor_id}/{r.quantity}"
    if not math.isfinite(r.value):
        return f"{where}: value is {r.value} (not a finite number)"
    if r.time_ns > now_ns + max_future_ns:
        ahead = (r.time_ns - now_ns) / 1e9
        return (
            f"{where}: time is {ahead:.0f} s ahead of the gateway clock "
            f"(more than {max_future_ns / 1e9:.0f} s): clock skew; check the sensor's clock"
        )
    seconds = r.time_ns / 1e9  # the one check left: before EARLIEST_NS
    return f"{where}: time {seconds:.0f} s since the epoch is before 2000; check the sensor's clock"


def as_number(value: Any, what: str) -> float:
    """A JSON number as float; booleans and strings are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    return float(value)
