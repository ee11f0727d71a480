"""Alerts as cases in a ZGW Zaken API (VNG standard; Open Zaak is the reference).

One delivery makes, in order:

1. a **zaak** (``POST {zaken_api}/zaken``) with the zaaktype, the agency as
   bronorganisatie, a short omschrijving and a link-free toelichting, and the alert's
   position (or the MBA's footprint) as GeoJSON ``zaakgeometrie`` (WGS84, EPSG:4326);
2. a **rol** for the company establishment (``betrokkeneType: vestiging``) with the
   operator's handelsnaam;
3. **zaakobjecten**: the MBA (milieubelastende activiteit, ``objectType: overige`` with
   ``objectTypeOverige: milieubelastende_activiteit``) and, when the alert names one, the
   sensor (``objectType: inrichtingselement``, ``objectIdentificatie.type: sensor`` with the
   sensor id as ``identificatie`` and a readable ``naam``);
4. the evidence, the alert as JSON, as a **document** in the Documenten API
   (``enkelvoudiginformatieobject``, base64 ``inhoud``);
5. the **zaakinformatieobject** that links the document to the zaak.

Each step's result (the URL of what it created) goes into ``progress``; a failed
delivery hands the progress so far back in its :class:`DeliveryError`, and the next
attempt skips what was done. The zaak and the document carry an ``identificatie``
derived from the alert id, so a creation whose answer got lost is found again
(``identificatie`` is unique per bronorganisatie) instead of made twice. Rollen,
zaakobjecten and the zaakinformatieobject have no such identificatie: on a retry (the
progress names the zaak, so this is not the first attempt) each one still missing is first
looked up with the list endpoint filtered by the zaak (``GET /rollen?zaak=``,
``GET /zaakobjecten?zaak=``, ``GET /zaakinformatieobjecten?zaak=&informatieobject=``) and a
match is reused instead of posted again.

Requests are authorised with a ZGW JWT (HS256 over the client's secret, claims ``iss``,
``client_id``, ``iat``, ``user_id``, ``user_representation``), made afresh per request.
Neither the secret nor a token ever appears in an error message or a log line.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection, Generator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vth.api.forwarding.base import DeliveryError, ForwardingTarget
from vth.models import Alert, MbaProfile

logger = logging.getLogger(__name__)

#: Coordinate reference system of ``zaakgeometrie``: WGS84 longitude/latitude.
CRS = "EPSG:4326"
#: ``user_id`` and ``user_representation`` claims: the audit trail's "who".
USER = "vth-sensing"
#: Vertrouwelijkheidaanduidingen of the Zaken and Documenten API.
VERTROUWELIJKHEID = (
    "openbaar",
    "beperkt_openbaar",
    "intern",
    "zaakvertrouwelijk",
    "vertrouwelijk",
    "confidentieel",
    "geheim",
    "zeer_geheim",
)
#: ``objectTypeOverige`` of the MBA's zaakobject (the API's pattern is ``[a-z_]+``).
MBA_OBJECT_TYPE = "milieubelastende_activiteit"
#: ``objectIdentificatie.type`` of the sensor's zaakobject (``objectType: inrichtingselement``).
SENSOR_OBJECT_TYPE = "sensor"
#: How many pages of a list answer a duplicate check reads at most.
_MAX_PAGES = 20
#: Answers after which trying again may help; other 4xx are the API refusing the request.
_RETRYABLE = frozenset({408, 429})
#: ``invalidParams`` codes of an ``identificatie`` that exists already.
_NOT_UNIQUE = ("identificatie-niet-uniek", "unique")
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_URL_LIKE = re.compile(r"\b(?:https?|ftp)://\S+", re.IGNORECASE)
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")

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


def rsin_valid(value: str) -> bool:
    """Tell whether ``value`` is an RSIN: 9 digits passing the elfproef (11-proef).

    The weighted sum ``9*d1 + 8*d2 + ... + 2*d8 - 1*d9`` must be a multiple of 11 (and
    not zero).

    Examples
    --------
    >>> rsin_valid("002220647"), rsin_valid("002220648"), rsin_valid("12345678")
    (True, False, False)
    """
    if len(value) != 9 or not value.isascii() or not value.isdigit():
        return False
    digits = [int(c) for c in value]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total != 0 and total % 11 == 0


def _http_url(url: str, *, max_length: int = 1000) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold credentials (user:password@); use client_id and secret")
    if len(url) > max_length:
        raise ValueError(f"must be at most {max_length} characters (ZGW limit)")
    return url


class ZgwConfig(BaseModel):
    """Where and as whom to create zaken: the APIs, catalogue URLs and the JWT client.

    ``zaaktype``, ``informatieobjecttype`` and ``roltype`` are URLs in the Catalogi API;
    ``bronorganisatie`` and ``verantwoordelijke_organisatie`` are RSINs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(default="zaken", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    trigger: Literal["new", "forward"] = "forward"
    zaken_api: str = Field(description="Base URL, e.g. https://open-zaak.example/zaken/api/v1")
    documenten_api: str = Field(description="Base URL of the Documenten API.")
    zaaktype: str = Field(description="URL of the zaaktype of alert cases.")
    informatieobjecttype: str = Field(description="URL of the evidence's informatieobjecttype.")
    roltype: str = Field(description="URL of the roltype of the company establishment.")
    bronorganisatie: str = Field(description="RSIN of the agency creating the zaken.")
    verantwoordelijke_organisatie: str = Field(description="RSIN of the responsible agency.")
    client_id: str = Field(min_length=1, description="JWT client id (iss, client_id).")
    secret: SecretStr = Field(description="JWT secret (HS256).")
    vertrouwelijkheidaanduiding: str = "vertrouwelijk"
    timeout_s: float = Field(default=10.0, gt=0)

    @field_validator("zaken_api", "documenten_api")
    @classmethod
    def _api_base(cls, url: str) -> str:
        return _http_url(url).rstrip("/")

    @field_validator("zaaktype", "roltype")
    @classmethod
    def _catalogue_url(cls, url: str) -> str:
        return _http_url(url)

    @field_validator("informatieobjecttype")
    @classmethod
    def _informatieobjecttype_url(cls, url: str) -> str:
        return _http_url(url, max_length=200)  # the Documenten API's limit

    @field_validator("bronorganisatie", "verantwoordelijke_organisatie")
    @classmethod
    def _rsin(cls, value: str) -> str:
        if not rsin_valid(value):
            raise ValueError("must be an RSIN: 9 digits that pass the elfproef")
        return value

    @field_validator("vertrouwelijkheidaanduiding")
    @classmethod
    def _vertrouwelijkheid(cls, value: str) -> str:
        if value not in VERTROUWELIJKHEID:
            raise ValueError(f"must be one of {', '.join(VERTROUWELIJKHEID)}")
        return value

    @field_validator("secret")
    @classmethod
    def _secret_set(cls, secret: SecretStr) -> SecretStr:
        if not secret.get_secret_value():
            raise ValueError("must not be empty")
        return secret


def zgw_token(client_id: str, secret: str, *, now: float | None = None) -> str:
    """A ZGW JWT (HS256) for ``client_id``, issued now.

    Parameters
    ----------
    client_id
        The client's id, also the issuer.
    secret
        The shared secret the API knows the client by.
    now
        Issue time (UNIX seconds); the current time when None.
    """
    claims = {
        "iss": client_id,
        "iat": int(time.time() if now is None else now),
        "client_id": client_id,
        "user_id": USER,
        "user_representation": USER,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class _ZgwAuth(httpx.Auth):
    """Sets a fresh ``Authorization: Bearer <jwt>`` on every request."""

    def __init__(self, client_id: str, secret: SecretStr) -> None:
        self._client_id = client_id
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = zgw_token(self._client_id, self._secret.get_secret_value())
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


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


def _clip(text: str, limit: int) -> str:
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
    return _clip(f"{subject} - {profile.name if profile else alert.mba_id}", 80)


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
    return _clip(text, 1000)


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
    return _clip(f"{described} bij {mba}", 500)


def evidence_json(alert: Alert) -> bytes:
    """The evidence document's content: the alert as JSON (UTF-8)."""
    return json.dumps(
        alert.model_dump(mode="json"), ensure_ascii=False, indent=2, sort_keys=True
    ).encode()


def _invalid_params(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    params = body.get("invalidParams") if isinstance(body, dict) else None
    return [p for p in params if isinstance(p, dict)] if isinstance(params, list) else []


def _summary(response: httpx.Response) -> str:
    params = _invalid_params(response)
    if params:
        return "; ".join(
            f"{p.get('name', '?')}: {p.get('reason') or p.get('code') or '?'}" for p in params[:10]
        )
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or "")[:200]
    return ""


def _same_rol(body: dict[str, Any], item: dict[str, Any]) -> bool:
    """A listed rol is ours: same zaak, betrokkeneType, roltype and roltoelichting."""
    keys = ("zaak", "betrokkeneType", "roltype", "roltoelichting")
    return all(bool(item.get(k) == body[k]) for k in keys)


def _same_zaakobject(body: dict[str, Any], item: dict[str, Any]) -> bool:
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


def _same_zaakinformatieobject(body: dict[str, Any], item: dict[str, Any]) -> bool:
    """A listed zaakinformatieobject is ours: it links the same zaak and document."""
    return all(bool(item.get(k) == body[k]) for k in ("zaak", "informatieobject"))


class ZgwTarget(ForwardingTarget):
    """Creates a zaak per alert in a ZGW Zaken API, with rol, zaakobjecten and evidence.

    Parameters
    ----------
    config
        The APIs, catalogue URLs, RSINs and JWT client.
    transport
        An httpx transport (tests); the default opens real connections.
    """

    def __init__(self, config: ZgwConfig, *, transport: httpx.BaseTransport | None = None):
        self.config = config
        self.name = config.name
        self.trigger = config.trigger
        self._secret = config.secret.get_secret_value()
        self._client = httpx.Client(
            timeout=config.timeout_s,
            transport=transport,
            auth=_ZgwAuth(config.client_id, config.secret),
            headers={"Accept": "application/json"},
        )

    # -- the steps ------------------------------------------------------------------

    def deliver(
        self, alert: Alert, profile: MbaProfile | None, progress: dict[str, Any]
    ) -> dict[str, Any]:
        """Make the zaak and what belongs to it; skip what ``progress`` says is done.

        Parameters
        ----------
        alert
            The alert to open a case for.
        profile
            The MBA's profile (name, operator, footprint), if known.
        progress
            What earlier attempts made (``{}`` on the first); not changed. When it names
            the zaak, a rol, zaakobject or zaakinformatieobject still missing is first
            looked up in the zaak's list (an earlier attempt may have made it but lost the
            answer) and reused when found.

        Returns
        -------
        dict
            ``zaak``, ``rol`` (None without a profile), ``zaakobjecten`` (list),
            ``document`` and ``zaakinformatieobject``: URLs of what was made.

        Raises
        ------
        DeliveryError
            With ``progress`` set to what was made so far; ``permanent`` when the API
            refused a request as invalid (4xx other than 408 and 429).
        """
        done: dict[str, Any] = dict(progress)
        done["zaakobjecten"] = list(progress.get("zaakobjecten") or [])
        # an earlier attempt knew the zaak: what it posted after may exist without our
        # knowing (a lost answer), so look before posting again
        retry = bool(progress.get("zaak"))
        try:
            self._deliver(alert, profile, done, retry=retry)
        except DeliveryError as exc:
            exc.progress = {**done, "zaakobjecten": list(done["zaakobjecten"])}
            raise
        return done

    def _deliver(
        self, alert: Alert, profile: MbaProfile | None, done: dict[str, Any], *, retry: bool
    ) -> None:
        zaken = self.config.zaken_api
        identificatie = zaak_identificatie(alert.id)
        if not done.get("zaak"):
            done["zaak"] = self._create_once(
                "zaak",
                f"{zaken}/zaken",
                self._zaak_body(alert, profile, identificatie),
                lookup=f"{zaken}/zaken",
                identificatie=identificatie,
            )
        zaak = done["zaak"]
        if "rol" not in done:
            if profile is None:
                done["rol"] = None
            else:
                body = self._rol_body(zaak, profile)
                found = (
                    self._existing("rol", f"{zaken}/rollen", body, _same_rol, zaak=zaak)
                    if retry
                    else None
                )
                done["rol"] = found or self._create("rol", f"{zaken}/rollen", body)
        objects = self._zaakobject_bodies(zaak, alert, profile)
        for i, body in enumerate(objects):
            if i < len(done["zaakobjecten"]):
                continue
            step = f"zaakobject {i + 1}"
            found = (
                self._existing(
                    step,
                    f"{zaken}/zaakobjecten",
                    body,
                    _same_zaakobject,
                    exclude=done["zaakobjecten"],
                    zaak=zaak,
                )
                if retry
                else None
            )
            done["zaakobjecten"].append(found or self._create(step, f"{zaken}/zaakobjecten", body))
        if not done.get("document"):
            done["document"] = self._create_once(
                "document",
                f"{self.config.documenten_api}/enkelvoudiginformatieobjecten",
                self._document_body(alert, profile, identificatie),
                lookup=f"{self.config.documenten_api}/enkelvoudiginformatieobjecten",
                identificatie=identificatie,
            )
        if not done.get("zaakinformatieobject"):
            body = {
                "zaak": zaak,
                "informatieobject": done["document"],
                "titel": _clip(self._document_title(alert, profile), 200),
                "beschrijving": "Meetgegevens en parameters van de melding (bewijs).",
            }
            found = (
                self._existing(
                    "zaakinformatieobject",
                    f"{zaken}/zaakinformatieobjecten",
                    body,
                    _same_zaakinformatieobject,
                    zaak=zaak,
                    informatieobject=done["document"],
                )
                if retry
                else None
            )
            done["zaakinformatieobject"] = found or self._create(
                "zaakinformatieobject", f"{zaken}/zaakinformatieobjecten", body
            )

    # -- request bodies -------------------------------------------------------------

    def _zaak_body(
        self, alert: Alert, profile: MbaProfile | None, identificatie: str
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "identificatie": identificatie,
            "bronorganisatie": self.config.bronorganisatie,
            "zaaktype": self.config.zaaktype,
            "verantwoordelijkeOrganisatie": self.config.verantwoordelijke_organisatie,
            "startdatum": alert.start.astimezone(UTC).date().isoformat(),
            "registratiedatum": datetime.now(UTC).date().isoformat(),
            "omschrijving": zaak_omschrijving(alert, profile),
            "toelichting": zaak_toelichting(alert, profile),
            "vertrouwelijkheidaanduiding": self.config.vertrouwelijkheidaanduiding,
        }
        geometry = zaak_geometry(alert, profile)
        if geometry is not None:
            body["zaakgeometrie"] = geometry
        return body

    def _rol_body(self, zaak: str, profile: MbaProfile) -> dict[str, Any]:
        return {
            "zaak": zaak,
            "betrokkeneType": "vestiging",
            "roltype": self.config.roltype,
            "roltoelichting": _clip(
                f"Exploitant van {profile.name} ({profile.activity}), waar de melding over gaat.",
                1000,
            ),
            "betrokkeneIdentificatie": {"handelsnaam": [_clip(profile.operator, 625)]},
        }

    def _zaakobject_bodies(
        self, zaak: str, alert: Alert, profile: MbaProfile | None
    ) -> list[dict[str, Any]]:
        """The MBA as ``overige`` and, with a ``sensor_id``, the sensor as an inrichtingselement.

        The MBA's ``overigeData`` holds its id and, with a profile, name, activity, operator
        and location. The sensor is ``objectType: inrichtingselement`` with
        ``objectIdentificatie`` ``{type: sensor, identificatie: <sensor id>, naam: ...}``
        (see :func:`sensor_identificatie` and :func:`sensor_naam`).
        """
        mba: dict[str, Any] = {"id": alert.mba_id}
        if profile is not None:
            mba |= {
                "naam": profile.name,
                "activiteit": profile.activity,
                "exploitant": profile.operator,
                "locatie": {"lat": profile.location.lat, "lon": profile.location.lon},
            }
        bodies = [
            {
                "zaak": zaak,
                "objectType": "overige",
                "objectTypeOverige": MBA_OBJECT_TYPE,
                "relatieomschrijving": "Milieubelastende activiteit van de melding",
                "objectIdentificatie": {"overigeData": mba},
            }
        ]
        if alert.sensor_id:
            bodies.append(
                {
                    "zaak": zaak,
                    "objectType": "inrichtingselement",
                    "relatieomschrijving": "Sensor die de melding deed",
                    "objectIdentificatie": {
                        "type": SENSOR_OBJECT_TYPE,
                        "identificatie": sensor_identificatie(alert.sensor_id),
                        "naam": sensor_naam(alert.sensor_id, alert.mba_id, profile),
                    },
                }
            )
        return bodies

    def _document_title(self, alert: Alert, profile: MbaProfile | None) -> str:
        return f"Meetgegevens melding: {zaak_omschrijving(alert, profile)}"

    def _document_body(
        self, alert: Alert, profile: MbaProfile | None, identificatie: str
    ) -> dict[str, Any]:
        content = evidence_json(alert)
        filename = _FILENAME_UNSAFE.sub("_", alert.id)
        return {
            "identificatie": identificatie,
            "bronorganisatie": self.config.bronorganisatie,
            "creatiedatum": datetime.now(UTC).date().isoformat(),
            "titel": _clip(self._document_title(alert, profile), 200),
            "vertrouwelijkheidaanduiding": self.config.vertrouwelijkheidaanduiding,
            "auteur": USER,
            "status": "definitief",
            "formaat": "application/json",
            "taal": "dut",  # ISO 639-2/B, as the Documenten API asks
            "bestandsnaam": _clip(f"melding-{filename}.json", 255),
            "inhoud": base64.b64encode(content).decode("ascii"),
            "bestandsomvang": len(content),
            "beschrijving": "De melding als JSON: meetwaarden, grenswaarde, periode, parameters.",
            "indicatieGebruiksrecht": False,
            "informatieobjecttype": self.config.informatieobjecttype,
        }

    # -- HTTP -----------------------------------------------------------------------

    def _headers(self, url: str) -> dict[str, str]:
        if url.startswith(self.config.zaken_api + "/"):
            return {"Accept-Crs": CRS, "Content-Crs": CRS}
        return {}

    def _scrub(self, text: str) -> str:
        text = _JWT_LIKE.sub("***", text)
        return text.replace(self._secret, "***") if self._secret else text

    def _fail(self, step: str, message: str, *, permanent: bool) -> DeliveryError:
        text = self._scrub(f"zgw {self.name}: {step}: {message}")
        logger.warning("%s (%s)", text, "permanent" if permanent else "will retry")
        return DeliveryError(text, permanent=permanent)

    def _send(
        self, step: str, method: str, url: str, body: dict[str, Any] | None = None, **params: str
    ) -> httpx.Response:
        try:
            return self._client.request(
                method, url, json=body, params=params or None, headers=self._headers(url)
            )
        except httpx.TimeoutException as exc:
            raise self._fail(
                step, f"{method} {url}: timeout ({type(exc).__name__})", permanent=False
            ) from None
        except httpx.HTTPError as exc:
            raise self._fail(
                step, f"{method} {url}: {type(exc).__name__}: {exc or 'no answer'}", permanent=False
            ) from None

    def _refused(self, step: str, method: str, url: str, response: httpx.Response) -> DeliveryError:
        status = response.status_code
        retry = status >= 500 or status in _RETRYABLE
        return self._fail(
            step,
            f"{method} {url}: HTTP {status} {response.reason_phrase}: {_summary(response)}",
            permanent=not retry,
        )

    def _url_of(self, step: str, response: httpx.Response) -> str:
        try:
            url = response.json().get("url")
        except (ValueError, AttributeError):
            url = None
        if not isinstance(url, str) or not url:
            raise self._fail(
                step,
                f"HTTP {response.status_code} answer without the object's 'url'",
                permanent=True,
            )
        return url

    def _create(self, step: str, url: str, body: dict[str, Any]) -> str:
        response = self._send(step, "POST", url, body)
        if not response.is_success:
            raise self._refused(step, "POST", url, response)
        created = self._url_of(step, response)
        logger.info("zgw %s: %s created: %s", self.name, step, created)
        return created

    def _create_once(
        self, step: str, url: str, body: dict[str, Any], *, lookup: str, identificatie: str
    ) -> str:
        """POST; when the identificatie exists already, find what an earlier attempt made."""
        response = self._send(step, "POST", url, body)
        if response.is_success:
            created = self._url_of(step, response)
            logger.info("zgw %s: %s created: %s", self.name, step, created)
            return created
        if response.status_code == 400 and any(
            p.get("name") == "identificatie" and p.get("code") in _NOT_UNIQUE
            for p in _invalid_params(response)
        ):
            found = self._find(step, lookup, identificatie)
            if found is not None:
                logger.info("zgw %s: %s existed already: %s", self.name, step, found)
                return found
        raise self._refused(step, "POST", url, response)

    def _find(self, step: str, url: str, identificatie: str) -> str | None:
        params = {"identificatie": identificatie, "bronorganisatie": self.config.bronorganisatie}
        response = self._send(f"{step} lookup", "GET", url, None, **params)
        if not response.is_success:
            raise self._refused(f"{step} lookup", "GET", url, response)
        try:
            body = response.json()
        except ValueError:
            body = None
        results = body.get("results") if isinstance(body, dict) else body
        for item in results if isinstance(results, list) else []:
            if (
                isinstance(item, dict)
                and item.get("identificatie") == identificatie
                and isinstance(item.get("url"), str)
            ):
                return str(item["url"])
        return None

    def _existing(
        self,
        step: str,
        url: str,
        body: dict[str, Any],
        same: Callable[[dict[str, Any], dict[str, Any]], bool],
        *,
        exclude: Collection[str] = (),
        **params: str,
    ) -> str | None:
        """The URL of a listed object that ``same`` matches to ``body``, else None.

        Reads ``GET url?params`` as a plain list or as pages (``results``, ``next``);
        ``next`` is followed only within the same API, at most :data:`_MAX_PAGES` pages.
        URLs in ``exclude`` (already taken by an earlier match) are skipped.
        """
        lookup = f"{step} lookup"
        page_url: str | None = url
        query: dict[str, str] = params
        for _ in range(_MAX_PAGES):
            if page_url is None:
                break
            response = self._send(lookup, "GET", page_url, None, **query)
            if not response.is_success:
                raise self._refused(lookup, "GET", page_url, response)
            try:
                answer = response.json()
            except ValueError:
                answer = None
            items = answer.get("results") if isinstance(answer, dict) else answer
            for item in items if isinstance(items, list) else []:
                found = item.get("url") if isinstance(item, dict) else None
                if isinstance(found, str) and found not in exclude and same(body, item):
                    logger.info("zgw %s: %s existed already: %s", self.name, step, found)
                    return found
            following = answer.get("next") if isinstance(answer, dict) else None
            page_url = (
                following
                if isinstance(following, str) and following.startswith(url.rstrip("/") + "?")
                else None
            )
            query = {}  # the next link carries the query
        return None

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
