"""Time conventions of the models: every timestamp is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """Return an aware datetime converted to UTC (validator for pydantic fields)."""
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone (ISO-8601 with Z or an offset)")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("timestamp is out of range once converted to UTC") from None


def as_utc_or_none(value: datetime | None) -> datetime | None:
    """:func:`as_utc` for optional fields."""
    return None if value is None else as_utc(value)
