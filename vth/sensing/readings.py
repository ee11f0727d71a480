"""A reading: one value of one quantity of one sensor at one time, in canonical units."""

from __future__ import annotations

from typing import NamedTuple


class Reading(NamedTuple):
    """One decoded sample, already in the canonical unit of its quantity.

    ``time_ns`` is nanoseconds since the Unix epoch, UTC.
    """

    sensor_id: str
    quantity: str
    time_ns: int
    value: float
    unit: str
