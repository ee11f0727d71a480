"""A fake Zaken + Documenten API on 127.0.0.1 for the ZGW target's tests.

It checks what Open Zaak checks on the way in: the JWT (HS256 signature and claims),
the ``Accept-Crs``/``Content-Crs`` headers of the Zaken API, every request body against
the vendored OpenAPI schemas (``tests/data/zgw``), RSINs, that referenced zaken and
documents exist and that catalogue URLs are known, and that an ``identificatie`` is unique
per bronorganisatie. It stores what it accepts and answers with the object and its
``url``. ``GET`` on a collection lists the stored objects filtered by the query parameters
(``zaak``, ``informatieobject``, ``identificatie``, ...): paginated as the standard has it
(``{count, next, previous, results}``, ``page_size`` per page) except
``/zaakinformatieobjecten``, which the standard answers with a plain list. Tests can make
the next requests to a path fail (``fail``) or lose their answer after the object was
stored (``drop_answer``).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jsonschema
import jwt
import yaml

from vth.api.forwarding.zgw import rsin_valid

SCHEMA_DIR = Path(__file__).parents[2] / "data" / "zgw"
ZAKEN = "/zaken/api/v1"
DOCUMENTEN = "/documenten/api/v1"
CLAIMS = ("iss", "iat", "client_id", "user_id", "user_representation")

# -- OpenAPI 3.0 -> JSON Schema (draft 7) -------------------------------------------------


def _request_schema(node: Any, components: dict[str, Any]) -> Any:
    """One OpenAPI schema as JSON Schema for request bodies."""
    if isinstance(node, list):
        return [_request_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    nullable = node.pop("nullable", False)
    discriminator = node.pop("discriminator", None)
    for key in ("externalDocs", "example", "writeOnly", "readOnly"):
        node.pop(key, None)
    properties = node.get("properties")
    if isinstance(properties, dict):
        read_only = {k for k, v in properties.items() if isinstance(v, dict) and v.get("readOnly")}
        # a readOnly property must not be sent; it is not required in a request
        node["properties"] = {
            k: (False if k in read_only else _request_schema(v, components))
            for k, v in properties.items()
        }
        if "required" in node:
            node["required"] = [k for k in node["required"] if k not in read_only]
    for key in ("items", "allOf", "anyOf", "not", "additionalProperties"):
        if key in node:
            node[key] = _request_schema(node[key], components)
    if "oneOf" in node:
        options = node.pop("oneOf")
        if discriminator is not None:
            # the discriminator value names the schema: {"type": "Point"} -> Point
            prop = discriminator["propertyName"]
            names = [ref["$ref"].rsplit("/", 1)[1] for ref in options]
            node.setdefault("required", []).append(prop)
            node.setdefault("properties", {})[prop] = {"enum": names}
            node["allOf"] = [
                {"if": {"properties": {prop: {"const": name}}}, "then": {"$ref": ref["$ref"]}}
                for name, ref in zip(names, options, strict=True)
            ]
        else:
            node["oneOf"] = _request_schema(options, components)
    if nullable:
        return {"anyOf": [{"type": "null"}, node]}
    return node


def _property_names(schema: dict[str, Any], components: dict[str, Any]) -> set[str]:
    """Every property a schema defines, through allOf and $ref."""
    if "$ref" in schema:
        return _property_names(components[schema["$ref"].rsplit("/", 1)[1]], components)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= _property_names(part, components)
    return names


def _uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc)


def _date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _byte(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("uri")(_uri)
FORMATS.checks("date")(_date)
FORMATS.checks("date-time")(_date_time)
FORMATS.checks("byte")(_byte)


class OpenApiSchemas:
    """The vendored component schemas of one API, ready to validate request bodies."""

    def __init__(self, path: Path) -> None:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.raw: dict[str, Any] = spec["components"]["schemas"]
        self.converted = {
            name: _request_schema(schema, self.raw) for name, schema in self.raw.items()
        }

    def resolve(self, name: str, body: object) -> str:
        """The schema a body must match: a base schema's discriminator picks a subschema."""
        discriminator = self.raw[name].get("discriminator")
        if discriminator is not None and "oneOf" not in self.raw[name] and isinstance(body, dict):
            value = body.get(discriminator["propertyName"])
            if isinstance(value, str) and value in self.raw:
                return value
        return name

    def errors(self, name: str, body: object) -> list[tuple[str, str]]:
        """(field, reason) for every way ``body`` breaks schema ``name``; [] when valid."""
        name = self.resolve(name, body)
        schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": self.converted}}
        validator = jsonschema.Draft7Validator(schema, format_checker=FORMATS)
        found = []
        for error in validator.iter_errors(body):
            where = ".".join(str(p) for p in error.absolute_path) or "nonFieldErrors"
            reason = error.message
            if error.schema is False:
                reason = f"{where} is readOnly and must not be sent"
            found.append((where, reason))
        if isinstance(body, dict):
            known = _property_names(self.raw[name], self.raw)
            found += [(k, f"{k} is no property of {name}") for k in body if k not in known]
        return found


# -- the server ---------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeZgw:
    """State and settings of the fake APIs; one per test (see ``reset``)."""

    client_id: str
    secret: str
    zaaktype: str
    roltype: str
    informatieobjecttype: str
    base: str = ""
    zaken_schemas: OpenApiSchemas = field(
        default_factory=lambda: OpenApiSchemas(SCHEMA_DIR / "zaken-api.yaml")
    )
    documenten_schemas: OpenApiSchemas = field(
        default_factory=lambda: OpenApiSchemas(SCHEMA_DIR / "documenten-api.yaml")
    )
    requests: list[Recorded] = field(default_factory=list)
    #: Problems with the client's requests (auth, headers, bodies); tests expect none.
    violations: list[str] = field(default_factory=list)
    #: Stored objects per collection path (e.g. ``/zaken/api/v1/zaken``), by URL.
    store: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: ``"POST /zaken/api/v1/zaken"`` -> statuses to answer the next requests with.
    fail: dict[str, list[int]] = field(default_factory=dict)
    #: ``"POST ..."`` -> how many of the next requests are stored but get no answer.
    drop_answer: dict[str, int] = field(default_factory=dict)
    #: Objects per page of a paginated list answer.
    page_size: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Forget requests, objects and failure plans."""
        with self.lock:
            self.requests.clear()
            self.violations.clear()
            self.store.clear()
            self.fail.clear()
            self.drop_answer.clear()
            self.page_size = 100

    @property
    def zaken_api(self) -> str:
        """Base URL of the fake Zaken API."""
        return self.base + ZAKEN

    @property
    def documenten_api(self) -> str:
        """Base URL of the fake Documenten API."""
        return self.base + DOCUMENTEN

    def objects(self, collection: str) -> list[dict[str, Any]]:
        """Stored objects of a collection path, e.g. ``/zaken/api/v1/rollen``."""
        return list(self.store.get(collection, {}).values())

    def posted(self, collection: str) -> list[Recorded]:
        """The POST requests to a collection path."""
        return [r for r in self.requests if r.method == "POST" and r.path == collection]

    def listed(self, collection: str) -> list[Recorded]:
        """The GET (list) requests to a collection path."""
        return [r for r in self.requests if r.method == "GET" and r.path == collection]


#: Collections whose list (GET) answer is a plain JSON array, not pages.
UNPAGINATED = frozenset({f"{ZAKEN}/zaakinformatieobjecten"})
#: Collection path -> (API, schema name of the request body).
COLLECTIONS = {
    f"{ZAKEN}/zaken": ("zaken", "Zaak"),
    f"{ZAKEN}/rollen": ("zaken", "Rol"),
    f"{ZAKEN}/zaakobjecten": ("zaken", "ZaakObject"),
    f"{ZAKEN}/zaakinformatieobjecten": ("zaken", "ZaakInformatieObject"),
    f"{DOCUMENTEN}/enkelvoudiginformatieobjecten": (
        "documenten",
        "EnkelvoudigInformatieObjectCreateLockRequest",
    ),
}


class _RefusalError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _validatie_fout(params: list[tuple[str, str, str]]) -> _RefusalError:
    return _RefusalError(
        400,
        {
            "type": "https://example.invalid/ref/fouten/ValidationError/",
            "code": "invalid",
            "title": "Invalid input.",
            "status": 400,
            "detail": "",
            "instance": f"urn:uuid:{uuid.uuid4()}",
            "invalidParams": [{"name": n, "code": c, "reason": r} for n, c, r in params],
        },
    )


def _fout(status: int, code: str, detail: str) -> _RefusalError:
    return _RefusalError(
        status,
        {
            "code": code,
            "title": detail,
            "status": status,
            "detail": detail,
            "instance": f"urn:uuid:{uuid.uuid4()}",
        },
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        key = f"{method} {path}"
        with fake.lock:
            fake.requests.append(Recorded(method, path, query, dict(self.headers.items()), body))
            planned = fake.fail.get(key)
            status = planned.pop(0) if planned else None
            drop = fake.drop_answer.get(key, 0)
            if drop:
                fake.drop_answer[key] = drop - 1
        if status is not None:
            self._answer(status, {"code": "planned", "detail": "planned failure"})
            return
        try:
            self._check_auth(fake)
            self._check_crs(fake, method, path)
            with fake.lock:
                answer_status, answer = self._route(fake, method, path, query, body)
        except _RefusalError as refusal:
            self._answer(refusal.status, refusal.body)
            return
        if drop:
            self.close_connection = True  # stored, but the client never hears
            return
        self._answer(answer_status, answer)

    def _answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if self.path.startswith(ZAKEN):
            self.send_header("Content-Crs", "EPSG:4326")
        self.end_headers()
        self.wfile.write(data)

    def _check_auth(self, fake: FakeZgw) -> None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            fake.violations.append(f"{self.command} {self.path}: no Bearer token")
            raise _fout(401, "not_authenticated", "Authenticatiegegevens zijn niet opgegeven.")
        try:
            claims = jwt.decode(
                header.removeprefix("Bearer "),
                fake.secret,
                algorithms=["HS256"],
                options={"require": list(CLAIMS)},
            )
        except jwt.PyJWTError as exc:
            fake.violations.append(f"{self.command} {self.path}: bad JWT: {exc}")
            raise _fout(403, "permission_denied", "JWT ongeldig.") from None
        if claims["iss"] != fake.client_id or claims["client_id"] != fake.client_id:
            fake.violations.append(f"{self.command} {self.path}: wrong client in JWT")
            raise _fout(403, "permission_denied", "Onbekende client.")
        if not claims["user_id"] or not claims["user_representation"]:
            fake.violations.append(f"{self.command} {self.path}: empty user claims")
            raise _fout(403, "permission_denied", "Gebruiker ontbreekt.")

    def _check_crs(self, fake: FakeZgw, method: str, path: str) -> None:
        if not path.startswith(ZAKEN):
            return
        if self.headers.get("Accept-Crs") != "EPSG:4326":
            fake.violations.append(f"{method} {path}: Accept-Crs is not EPSG:4326")
            raise _fout(412, "precondition_failed", "'Accept-Crs' header ontbreekt")
        if method == "POST" and self.headers.get("Content-Crs") != "EPSG:4326":
            fake.violations.append(f"{method} {path}: Content-Crs is not EPSG:4326")
            raise _fout(412, "precondition_failed", "'Content-Crs' header ontbreekt")

    # -- the resources ------------------------------------------------------------------

    def _route(
        self,
        fake: FakeZgw,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
    ) -> tuple[int, Any]:
        if path not in COLLECTIONS:
            raise _fout(404, "not_found", "Niet gevonden.")
        if method == "GET":
            return 200, self._list(fake, path, query)
        if "application/json" not in self.headers.get("Content-Type", ""):
            fake.violations.append(f"POST {path}: Content-Type is not application/json")
            raise _fout(415, "unsupported_media_type", "Geen JSON.")
        api, schema = COLLECTIONS[path]
        schemas = fake.zaken_schemas if api == "zaken" else fake.documenten_schemas
        problems = schemas.errors(schema, body)
        if problems:
            fake.violations += [f"POST {path}: {where}: {why}" for where, why in problems]
            raise _validatie_fout([(where, "invalid", why) for where, why in problems])
        self._check_semantics(fake, path, body)
        url = f"{fake.base}{path}/{uuid.uuid4()}"
        stored = copy.deepcopy(body) | {"url": url, "uuid": url.rsplit("/", 1)[1]}
        fake.store.setdefault(path, {})[url] = stored
        return 201, stored

    def _list(self, fake: FakeZgw, path: str, query: dict[str, list[str]]) -> Any:
        filters = {k: v[0] for k, v in query.items() if k != "page"}
        results = [
            obj
            for obj in fake.objects(path)
            if all(str(obj.get(k)) == v for k, v in filters.items())
        ]
        if path in UNPAGINATED:
            if "page" in query:
                raise _fout(400, "invalid", "Deze lijst kent geen paginering.")
            return results
        try:
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            page = 0
        pages = max(1, -(-len(results) // fake.page_size))
        if not 1 <= page <= pages:
            raise _fout(404, "not_found", "Ongeldige pagina.")

        def link(number: int) -> str | None:
            if not 1 <= number <= pages:
                return None
            return f"{fake.base}{path}?{urlencode(filters | {'page': str(number)})}"

        start = (page - 1) * fake.page_size
        return {
            "count": len(results),
            "next": link(page + 1),
            "previous": link(page - 1),
            "results": results[start : start + fake.page_size],
        }

    def _check_semantics(self, fake: FakeZgw, path: str, body: dict[str, Any]) -> None:
        params: list[tuple[str, str, str]] = []
        for name in ("bronorganisatie", "verantwoordelijkeOrganisatie"):
            if name in body and not rsin_valid(body[name]):
                params.append((name, "invalid", "Onjuist RSIN nummer"))
        known = {
            "zaaktype": fake.zaaktype,
            "roltype": fake.roltype,
            "informatieobjecttype": fake.informatieobjecttype,
        }
        for name, url in known.items():
            if name in body and body[name] != url:
                params.append((name, "bad-url", f"De {name} URL is ongeldig."))
        for name, collection in (
            ("zaak", f"{ZAKEN}/zaken"),
            ("informatieobject", f"{DOCUMENTEN}/enkelvoudiginformatieobjecten"),
        ):
            if name in body and body[name] not in fake.store.get(collection, {}):
                params.append((name, "does_not_exist", f"De {name} bestaat niet."))
        if (
            path.endswith("/zaakobjecten")
            and body.get("objectType") == "overige"
            and not body.get("objectTypeOverige")
        ):
            params.append(("objectTypeOverige", "required", "Vereist bij 'overige'."))
        if "identificatie" in body and any(
            obj.get("identificatie") == body["identificatie"]
            and obj.get("bronorganisatie") == body.get("bronorganisatie")
            for obj in fake.objects(path)
        ):
            params.append(
                (
                    "identificatie",
                    "identificatie-niet-uniek",
                    "Deze identificatie bestaat al voor deze bronorganisatie",
                )
            )
        if params:
            raise _validatie_fout(params)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeZgw) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class RunningFake:
    """The fake's HTTP server in a thread; ``stop`` ends it."""

    def __init__(self, fake: FakeZgw) -> None:
        self.fake = fake
        self._server = _Server(fake)
        host, port = self._server.server_address[:2]
        fake.base = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
