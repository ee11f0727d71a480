"""What a ZGW case says about an alert: identificaties, texts, geometry, objects.

Pure functions from an alert and its MBA profile to the values of the Zaken and
Documenten API request bodies (in Dutch, as inspectors read them), and the matchers
that recognise an object an earlier attempt made.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from vth.models import Alert, MbaProfile

#: Links are left out of texts a case system may show as HTML.
_URL_LIKE = re.compile(r"\b(?:https?|ftp)://\S+", re.IGNORECASE)

#: ``objectTypeOverige`` of the MBA's zaakobject (the API's pattern is ``[a-z_]+``).
MBA_OBJECT_TYPE = "milieubelastende_activiteit"


#: ``objectIdentificatie.type`` of the sensor's zaakobject (``objectType: inrichtingselement``).
SENSOR_OBJECT_TYPE = "sensor"


_KIND_LABELS = {
    "exceedance": "Overschrijding",
    "peak": "Piek",
    "gas_incident": "Gasincident",
    "heat_anomaly": "Warmteafwijking",
    "methane_plume": "Methaanpluim",
    "sensor_fault": "Sensorstoring",
}


_SENSOR_KIND_LABELS = {
    "cems": "CEMS-analyser",
    "enose": "e-neus",
    "fenceline": "hekmeting",
    "weather": "weerstation",
    "other": "sensor",
}


_SEVERITY_LABELS = {"low": "laag", "medium": "middel", "high": "hoog", "critical": "kritiek"}


def zaak_identificatie(alert_id: str) -> str:
    """The zaak's (and document's) ``identificatie``: ``VTH-`` and the alert id.

    At most 40 characters (the API's limit): a longer alert id is replaced by a UUID
    derived from it, so the same alert always gets the same identificatie.

    Examples
    --------
    >>> zaak_identificatie("6f1c7e36-6c55-4c8e-9d2a-3f1f0b2a9e11")
    'VTH-6f1c7e36-6c55-4c8e-9d2a-3f1f0b2a9e11'
    >>> len(zaak_identificatie("x" * 64))
    40
    """
    identificatie = f"VTH-{alert_id}"
    if len(identificatie) <= 40:
        return identificatie
    return f"VTH-{uuid.uuid5(uuid.NAMESPACE_URL, 'vth-sensing:alert:' + alert_id)}"


def clip(text: str, limit: int) -> str:
    """The text cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def zaak_geometry(alert: Alert, profile: MbaProfile | None) -> dict[str, Any] | None:
    """The ``zaakgeometrie``: where the alert is, as GeoJSON in WGS84 ``[lon, lat]``.

    The alert's own position as a Point; without one, the MBA's footprint Polygon, else
    the MBA's location as a Point; None when neither the alert nor a profile says.
    """
    if alert.lat is not None and alert.lon is not None:
        return {"type": "Point", "coordinates": [alert.lon, alert.lat]}
    if profile is None:
        return None
    if profile.footprint is not None:
        return {"type": "Polygon", "coordinates": profile.footprint["coordinates"]}
    return {"type": "Point", "coordinates": [profile.location.lon, profile.location.lat]}


def zaak_omschrijving(alert: Alert, profile: MbaProfile | None) -> str:
    """Short description (at most 80 characters): kind, substance and MBA name."""
    parts = [_KIND_LABELS.get(alert.kind, alert.kind)]
    if alert.substance:
        parts.append(alert.substance)
    subject = " ".join(parts)
    return clip(f"{subject} - {profile.name if profile else alert.mba_id}", 80)


def zaak_toelichting(alert: Alert, profile: MbaProfile | None) -> str:
    """Explanation (at most 1000 characters, no links): what was measured and suggested."""
    mba = f"{profile.name} ({alert.mba_id})" if profile else alert.mba_id
    lines = [f"Melding van vth-sensing ({alert.detector}) bij {mba}."]
    if alert.value is not None or alert.limit is not None:
        unit = f" {alert.unit}" if alert.unit else ""
        measured = f"Gemeten: {_number(alert.value)}{unit}"
        if alert.average:
            measured += f" (gemiddelde over {alert.average})"
        measured += f"; grenswaarde: {_number(alert.limit)}{unit}"
        if alert.rule:
            measured += f" (regel {alert.rule})"
        lines.append(measured + ".")
    lines.append(f"Periode: {_when(alert.start)} tot {_when(alert.end)}.")
    lines.append(f"Ernst: {_SEVERITY_LABELS.get(alert.severity, alert.severity)}.")
    lhso = alert.lhso
    lines.append(
        f"LHSO-suggestie (advies): gevolg {lhso.consequence}, gedrag {lhso.behaviour}; "
        f"{lhso.reason}"
    )
    where = [f"bron {alert.source_id}"] if alert.source_id else []
    if alert.sensor_id:
        where.append(f"sensor {alert.sensor_id}")
    where.append(f"alert {alert.id}")
    context = ", ".join(where)
    lines.append(context[0].upper() + context[1:] + ".")
    text = _URL_LIKE.sub("[link weggelaten]", "\n".join(lines))
    return clip(text, 1000)


def sensor_identificatie(sensor_id: str) -> str:
    """The sensor zaakobject's ``identificatie``: the sensor id (at most 100 characters).

    A longer id is replaced by a ``sensor-`` UUID derived from it, so the same sensor
    always gets the same identificatie; the full id stays in the ``naam``.

    Examples
    --------
    >>> sensor_identificatie("cems-l1")
    'cems-l1'
    >>> len(sensor_identificatie("s" * 101))
    43
    """
    if len(sensor_id) <= 100:
        return sensor_id
    return f"sensor-{uuid.uuid5(uuid.NAMESPACE_URL, 'vth-sensing:sensor:' + sensor_id)}"


def sensor_naam(sensor_id: str, mba_id: str, profile: MbaProfile | None) -> str:
    """The sensor zaakobject's ``naam`` (at most 500 characters): sensor and MBA.

    With the profile's sensors entry, its kind and the source it measures are named too,
    e.g. ``Sensor cems-l1 (CEMS-analyser, bron line-1) bij AVI Rozenburg (avi-rozenburg)``.
    """
    sensor = profile.sensor(sensor_id) if profile is not None else None
    details = []
    if sensor is not None:
        details.append(_SENSOR_KIND_LABELS.get(sensor.kind, sensor.kind))
        if sensor.source_id:
            details.append(f"bron {sensor.source_id}")
    described = f"Sensor {sensor_id}" + (f" ({', '.join(details)})" if details else "")
    mba = f"{profile.name} ({mba_id})" if profile is not None else mba_id
    return clip(f"{described} bij {mba}", 500)


def evidence_json(alert: Alert) -> bytes:
    """The evidence document's content: the alert as JSON (UTF-8)."""
    return json.dumps(
        alert.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True
    ).encode()


def same_rol(body: dict[str, Any], item: dict[str, Any]) -> bool:
    """A listed rol is ours: same zaak, betrokkeneType, roltype and roltoelichting."""
    keys = ("zaak", "betrokkeneType", "roltype", "roltoelichting")
    return all(bool(item.get(k) == body[k]) for k in keys)


def same_zaakobject(body: dict[str, Any], item: dict[str, Any]) -> bool:
    """A listed zaakobject is ours: same zaak, type and object identity.

    The identity is ``type`` and ``identificatie`` of an inrichtingselement and the
    ``overigeData`` ``id`` of an ``overige`` (with its ``objectTypeOverige``).
    """
    if any(bool(item.get(k) != body[k]) for k in ("zaak", "objectType")):
        return False
    mine: dict[str, Any] = body.get("objectIdentificatie") or {}
    theirs = item.get("objectIdentificatie")
    if not isinstance(theirs, dict):
        return False
    if body["objectType"] == "overige":
        data = theirs.get("overigeData")
        return (
            bool(item.get("objectTypeOverige") == body.get("objectTypeOverige"))
            and isinstance(data, dict)
            and bool(data.get("id") == mine["overigeData"].get("id"))
        )
    return all(bool(theirs.get(k) == mine.get(k)) for k in ("type", "identificatie"))


def same_identificatie(body: dict[str, Any], item: dict[str, Any]) -> bool:
    """A listed zaak or document is ours: the same identificatie."""
    return bool(item.get("identificatie") == body["identificatie"])


def same_zaakinformatieobject(body: dict[str, Any], item: dict[str, Any]) -> bool:
    """A listed zaakinformatieobject is ours: it links the same zaak and document."""
    return all(bool(item.get(k) == body[k]) for k in ("zaak", "informatieobject"))
