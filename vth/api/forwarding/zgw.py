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
import logging
import re
import time
from collections.abc import Callable, Collection, Generator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vth.api.forwarding.base import DeliveryError, ForwardingTarget
from vth.api.forwarding.zgw_content import (
    MBA_OBJECT_TYPE,
    SENSOR_OBJECT_TYPE,
    clip,
    evidence_json,
    same_identificatie,
    same_rol,
    same_zaakinformatieobject,
    same_zaakobject,
    sensor_identificatie,
    sensor_naam,
    zaak_geometry,
    zaak_identificatie,
    zaak_omschrijving,
    zaak_toelichting,
)
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
#: How many pages of a list answer a duplicate check reads at most.
_MAX_PAGES = 20
#: Answers after which trying again may help; other 4xx are the API refusing the request.
_RETRYABLE = frozenset({408, 429})
#: ``invalidParams`` codes of an ``identificatie`` that exists already.
_NOT_UNIQUE = ("identificatie-niet-uniek", "unique")
_JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


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
                identificatie=identificatie,
            )
        zaak = done["zaak"]
        if "rol" not in done:
            done["rol"] = (
                None
                if profile is None
                else self._made_once(
                    "rol",
                    f"{zaken}/rollen",
                    self._rol_body(zaak, profile),
                    same_rol,
                    retry=retry,
                    zaak=zaak,
                )
            )
        objects = self._zaakobject_bodies(zaak, alert, profile)
        for i, body in enumerate(objects):
            if i < len(done["zaakobjecten"]):
                continue
            made = self._made_once(
                f"zaakobject {i + 1}",
                f"{zaken}/zaakobjecten",
                body,
                same_zaakobject,
                retry=retry,
                exclude=done["zaakobjecten"],
                zaak=zaak,
            )
            done["zaakobjecten"].append(made)
        if not done.get("document"):
            done["document"] = self._create_once(
                "document",
                f"{self.config.documenten_api}/enkelvoudiginformatieobjecten",
                self._document_body(alert, profile, identificatie),
                identificatie=identificatie,
            )
        if not done.get("zaakinformatieobject"):
            body = {
                "zaak": zaak,
                "informatieobject": done["document"],
                "titel": clip(self._document_title(alert, profile), 200),
                "beschrijving": "Meetgegevens en parameters van de melding (bewijs).",
            }
            done["zaakinformatieobject"] = self._made_once(
                "zaakinformatieobject",
                f"{zaken}/zaakinformatieobjecten",
                body,
                same_zaakinformatieobject,
                retry=retry,
                zaak=zaak,
                informatieobject=done["document"],
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
            "roltoelichting": clip(
                f"Exploitant van {profile.name} ({profile.activity}), waar de melding over gaat.",
                1000,
            ),
            "betrokkeneIdentificatie": {"handelsnaam": [clip(profile.operator, 625)]},
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
            "titel": clip(self._document_title(alert, profile), 200),
            "vertrouwelijkheidaanduiding": self.config.vertrouwelijkheidaanduiding,
            "auteur": USER,
            "status": "definitief",
            "formaat": "application/json",
            "taal": "dut",  # ISO 639-2/B, as the Documenten API asks
            "bestandsnaam": clip(f"melding-{filename}.json", 255),
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

    def _create_once(self, step: str, url: str, body: dict[str, Any], *, identificatie: str) -> str:
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
            found = self._find(step, url, identificatie)
            if found is not None:
                return found
        raise self._refused(step, "POST", url, response)

    def _find(self, step: str, url: str, identificatie: str) -> str | None:
        """The object of this identificatie (unique per bronorganisatie), else None."""
        return self._existing(
            step,
            url,
            {"identificatie": identificatie},
            same_identificatie,
            identificatie=identificatie,
            bronorganisatie=self.config.bronorganisatie,
        )

    def _made_once(
        self,
        step: str,
        url: str,
        body: dict[str, Any],
        same: Callable[[dict[str, Any], dict[str, Any]], bool],
        *,
        retry: bool,
        exclude: Collection[str] = (),
        **params: str,
    ) -> str:
        """POST, unless on a retry the list at ``url?params`` holds a match already."""
        found = self._existing(step, url, body, same, exclude=exclude, **params) if retry else None
        return found or self._create(step, url, body)

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
