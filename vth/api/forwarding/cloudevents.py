"""Alerts as CloudEvents 1.0 in structured JSON mode (the webhook body)."""

from __future__ import annotations

from typing import Any

from vth.models import Alert

#: The CloudEvents ``type`` of an alert that opened an incident or was forwarded.
ALERT_EVENT_TYPE = "nl.vth-sensing.alert"
#: Media type of a structured-mode CloudEvent in JSON.
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


def alert_event(alert: Alert, source: str) -> dict[str, Any]:
    """The CloudEvent of an alert: its id is the alert id, so receivers deduplicate by it.

    Parameters
    ----------
    alert
        The alert; it is the event's ``data``.
    source
        URI reference of this service (``source`` attribute), e.g. ``urn:vth-sensing:dcmr``.
    """
    return {
        "specversion": "1.0",
        "id": alert.id,
        "source": source,
        "type": ALERT_EVENT_TYPE,
        "subject": alert.mba_id,
        "time": alert.created_at.isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "data": alert.model_dump(mode="json"),
    }
