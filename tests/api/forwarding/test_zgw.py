"""The ZGW target against a fake Zaken + Documenten API on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.api.conftest import build_alert
from tests.api.forwarding.zgw_fake import DOCUMENTEN, ZAKEN, FakeZgw, OpenApiSchemas, RunningFake
from vth.api.forwarding import zgw
from vth.api.forwarding.base import DeliveryError
from vth.api.forwarding.zgw import ZgwConfig, ZgwTarget, rsin_valid
from vth.api.forwarding.zgw_content import (
    sensor_identificatie,
    sensor_naam,
    zaak_geometry,
    zaak_identificatie,
    zaak_omschrijving,
    zaak_toelichting,
)
from vth.models import MbaProfile, load_profiles

EXAMPLE_PROFILES = Path(__file__).parents[3] / "examples" / "profiles"
SECRET = "zgw-test-secret-7f3a9c-0b1d2e3f4a5b6c7d"  # test value, >= 32 bytes for HS256
CLIENT_ID = "vth-sensing-test"
CATALOGI = "https://catalogi.example/catalogi/api/v1"
ZAAKTYPE = f"{CATALOGI}/zaaktypen/0c2f7f5e-46f6-4d4a-9a55-7b3a5d2f1e01"
ROLTYPE = f"{CATALOGI}/roltypen/5a1c2c1f-0c7e-4c48-a7a4-8c1d6e0f2b02"
IOTYPE = f"{CATALOGI}/informatieobjecttypen/9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c03"
RSIN = "002220647"

ZAKEN_COLLECTION = f"{ZAKEN}/zaken"
ROLLEN = f"{ZAKEN}/rollen"
ZAAKOBJECTEN = f"{ZAKEN}/zaakobjecten"
ZIO = f"{ZAKEN}/zaakinformatieobjecten"
EIO = f"{DOCUMENTEN}/enkelvoudiginformatieobjecten"


@pytest.fixture(scope="module")
def running() -> Iterator[RunningFake]:
    fake = FakeZgw(
        client_id=CLIENT_ID,
        secret=SECRET,
        zaaktype=ZAAKTYPE,
        roltype=ROLTYPE,
        informatieobjecttype=IOTYPE,
    )
    server = RunningFake(fake)
    yield server
    server.stop()


@pytest.fixture
def fake(running: RunningFake) -> FakeZgw:
    running.fake.reset()
    return running.fake


@pytest.fixture(scope="module")
def profiles() -> dict[str, MbaProfile]:
    return load_profiles(EXAMPLE_PROFILES)


def make_config(fake: FakeZgw | None = None, /, **overrides: Any) -> ZgwConfig:
    fields: dict[str, Any] = {
        "zaken_api": fake.zaken_api if fake else "https://open-zaak.example/zaken/api/v1",
        "documenten_api": (
            fake.documenten_api if fake else "https://open-zaak.example/documenten/api/v1"
        ),
        "zaaktype": ZAAKTYPE,
        "informatieobjecttype": IOTYPE,
        "roltype": ROLTYPE,
        "bronorganisatie": RSIN,
        "verantwoordelijke_organisatie": RSIN,
        "client_id": CLIENT_ID,
        "secret": SECRET,
        "timeout_s": 2.0,
    }
    fields.update(overrides)
    return ZgwConfig(**fields)


@pytest.fixture
def target(fake: FakeZgw) -> Iterator[ZgwTarget]:
    target = ZgwTarget(make_config(fake))
    yield target
    target.close()


def no_secret_in(text: str) -> None:
    assert SECRET not in text
    assert "eyJ" not in text  # no JWT


# -- the full sequence ------------------------------------------------------------------


def test_full_sequence_makes_a_valid_zaak_with_rol_objects_and_evidence(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert()
    profile = profiles["avi-rozenburg"]

    result = target.deliver(alert, profile, {})

    assert fake.violations == []
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", ZAKEN_COLLECTION),
        ("POST", ROLLEN),
        ("POST", ZAAKOBJECTEN),
        ("POST", ZAAKOBJECTEN),
        ("POST", EIO),
        ("POST", ZIO),
    ]
    (zaak,) = fake.objects(ZAKEN_COLLECTION)
    assert result["zaak"] == zaak["url"]
    assert zaak["identificatie"] == f"VTH-{alert.id}"
    assert zaak["bronorganisatie"] == RSIN
    assert zaak["zaaktype"] == ZAAKTYPE
    assert zaak["startdatum"] == "2025-11-22"
    assert zaak["zaakgeometrie"] == {"type": "Point", "coordinates": [4.2449, 51.9051]}
    assert zaak["vertrouwelijkheidaanduiding"] == "vertrouwelijk"
    assert "NOx" in zaak["omschrijving"] and len(zaak["omschrijving"]) <= 80
    assert "452" in zaak["toelichting"] and "400" in zaak["toelichting"]
    assert "http" not in zaak["toelichting"]

    (rol,) = fake.objects(ROLLEN)
    assert result["rol"] == rol["url"]
    assert rol["betrokkeneType"] == "vestiging"
    assert rol["roltype"] == ROLTYPE
    assert rol["zaak"] == zaak["url"]
    assert rol["betrokkeneIdentificatie"]["handelsnaam"] == [profile.operator]

    objects = fake.objects(ZAAKOBJECTEN)
    assert result["zaakobjecten"] == [o["url"] for o in objects]
    mba, sensor = objects
    assert mba["objectType"] == "overige"
    assert mba["objectTypeOverige"] == "milieubelastende_activiteit"
    assert mba["objectIdentificatie"]["overigeData"]["id"] == "avi-rozenburg"
    assert mba["objectIdentificatie"]["overigeData"]["activiteit"] == profile.activity
    # the sensor is an inrichtingselement of type sensor (validated by the fake)
    assert sensor["objectType"] == "inrichtingselement"
    assert "objectTypeOverige" not in sensor
    assert sensor["relatieomschrijving"] == "Sensor die de melding deed"
    assert sensor["objectIdentificatie"] == {
        "type": "sensor",
        "identificatie": "cems-l1",
        "naam": f"Sensor cems-l1 (CEMS-analyser, bron line-1) bij {profile.name} (avi-rozenburg)",
    }

    (document,) = fake.objects(EIO)
    assert result["document"] == document["url"]
    assert document["formaat"] == "application/json"
    assert document["informatieobjecttype"] == IOTYPE
    evidence = json.loads(base64.b64decode(document["inhoud"]))
    assert evidence == alert.model_dump(mode="json")
    assert document["bestandsomvang"] == len(base64.b64decode(document["inhoud"]))

    (link,) = fake.objects(ZIO)
    assert result["zaakinformatieobject"] == link["url"]
    assert (link["zaak"], link["informatieobject"]) == (zaak["url"], document["url"])

    # the JWT was checked on every request; the Crs headers on the Zaken API
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in fake.requests)
    zaken_requests = [r for r in fake.requests if r.path.startswith(ZAKEN)]
    assert all(r.headers["Content-Crs"] == "EPSG:4326" for r in zaken_requests)


def test_without_sensor_one_zaakobject_and_without_position_the_footprint(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert(sensor_id=None, lat=None, lon=None)
    profile = profiles["avi-rozenburg"]

    result = target.deliver(alert, profile, {})

    assert fake.violations == []
    assert len(result["zaakobjecten"]) == 1
    (zaak,) = fake.objects(ZAKEN_COLLECTION)
    assert zaak["zaakgeometrie"] == profile.footprint


def test_without_profile_no_rol_and_the_mba_id_only(fake: FakeZgw, target: ZgwTarget) -> None:
    alert = build_alert(lat=None, lon=None)

    result = target.deliver(alert, None, {})

    assert fake.violations == []
    assert result["rol"] is None
    assert fake.objects(ROLLEN) == []
    (zaak,) = fake.objects(ZAKEN_COLLECTION)
    assert "zaakgeometrie" not in zaak
    mba, sensor = fake.objects(ZAAKOBJECTEN)
    assert mba["objectIdentificatie"]["overigeData"] == {"id": "avi-rozenburg"}
    assert sensor["objectIdentificatie"] == {
        "type": "sensor",
        "identificatie": "cems-l1",
        "naam": "Sensor cems-l1 bij avi-rozenburg",
    }


def test_the_fake_refuses_a_sensor_of_a_wrong_inrichtingselement_type(
    fake: FakeZgw,
    target: ZgwTarget,
    profiles: dict[str, MbaProfile],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(zgw, "SENSOR_OBJECT_TYPE", "sonde")  # not in the published enum

    with pytest.raises(DeliveryError) as failed:
        target.deliver(build_alert(), profiles["avi-rozenburg"], {})

    assert failed.value.permanent is True
    assert "zaakobject 2" in str(failed.value) and "objectIdentificatie.type" in str(failed.value)
    assert fake.violations and all("objectIdentificatie.type" in v for v in fake.violations)
    assert len(fake.objects(ZAAKOBJECTEN)) == 1  # only the MBA


# -- going on after failures ------------------------------------------------------------


def test_documents_api_down_then_back_makes_no_second_zaak(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert()
    profile = profiles["avi-rozenburg"]
    fake.fail[f"POST {EIO}"] = [503]

    with pytest.raises(DeliveryError) as failed:
        target.deliver(alert, profile, {})

    assert failed.value.permanent is False
    progress = failed.value.progress
    assert progress is not None
    assert progress["zaak"] == fake.objects(ZAKEN_COLLECTION)[0]["url"]
    assert len(progress["zaakobjecten"]) == 2
    assert "document" not in progress
    assert "document" in str(failed.value) and "503" in str(failed.value)

    result = target.deliver(alert, profile, progress)

    assert fake.violations == []
    assert len(fake.posted(ZAKEN_COLLECTION)) == 1
    assert len(fake.objects(ROLLEN)) == 1
    assert len(fake.objects(ZAAKOBJECTEN)) == 2
    assert len(fake.objects(EIO)) == 1
    assert result["zaak"] == progress["zaak"]
    assert result["zaakinformatieobject"] == fake.objects(ZIO)[0]["url"]


def test_lost_answer_of_the_zaak_is_found_by_its_identificatie(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert()
    profile = profiles["avi-rozenburg"]
    fake.drop_answer[f"POST {ZAKEN_COLLECTION}"] = 1

    with pytest.raises(DeliveryError) as failed:
        target.deliver(alert, profile, {})

    assert failed.value.permanent is False
    assert failed.value.progress is not None
    assert "zaak" not in failed.value.progress  # the client never learnt the URL
    (zaak,) = fake.objects(ZAKEN_COLLECTION)

    result = target.deliver(alert, profile, failed.value.progress)

    assert fake.violations == []
    assert fake.objects(ZAKEN_COLLECTION) == [zaak]
    assert result["zaak"] == zaak["url"]
    lookups = [r for r in fake.requests if r.method == "GET"]
    assert [r.query for r in lookups] == [
        {"identificatie": [f"VTH-{alert.id}"], "bronorganisatie": [RSIN]}
    ]
    assert fake.objects(ROLLEN)[0]["zaak"] == zaak["url"]


def test_lost_answer_of_the_rol_makes_no_second_rol(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert()
    profile = profiles["avi-rozenburg"]
    fake.drop_answer[f"POST {ROLLEN}"] = 1

    with pytest.raises(DeliveryError) as failed:
        target.deliver(alert, profile, {})

    assert failed.value.permanent is False
    progress = failed.value.progress
    assert progress is not None
    assert "rol" not in progress  # stored, but the client never learnt the URL
    (rol,) = fake.objects(ROLLEN)

    result = target.deliver(alert, profile, progress)

    assert fake.violations == []
    assert fake.objects(ROLLEN) == [rol]
    assert len(fake.posted(ROLLEN)) == 1
    assert result["rol"] == rol["url"]
    assert [r.query for r in fake.listed(ROLLEN)] == [{"zaak": [progress["zaak"]]}]
    # the rest of the retry looked first too, found nothing and made one of each
    assert len(fake.listed(ZAAKOBJECTEN)) == 2
    assert len(fake.objects(ZAAKOBJECTEN)) == 2
    (link,) = fake.objects(ZIO)
    assert [r.query for r in fake.listed(ZIO)] == [
        {"zaak": [progress["zaak"]], "informatieobject": [result["document"]]}
    ]
    assert result["zaakinformatieobject"] == link["url"]


def test_lost_answers_of_zaakobjecten_are_found_across_pages(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert()
    profile = profiles["avi-rozenburg"]
    fake.page_size = 1  # the retry must follow "next"
    fake.drop_answer[f"POST {ZAAKOBJECTEN}"] = 2  # the MBA's, then (next attempt) the sensor's

    with pytest.raises(DeliveryError) as first:
        target.deliver(alert, profile, {})
    assert first.value.progress is not None
    assert first.value.progress["zaakobjecten"] == []
    with pytest.raises(DeliveryError) as second:
        target.deliver(alert, profile, first.value.progress)
    assert second.value.progress is not None
    mba_url = fake.objects(ZAAKOBJECTEN)[0]["url"]
    assert second.value.progress["zaakobjecten"] == [mba_url]  # found, not posted again
    result = target.deliver(alert, profile, second.value.progress)

    assert fake.violations == []
    mba, sensor = fake.objects(ZAAKOBJECTEN)
    assert result["zaakobjecten"] == [mba["url"], sensor["url"]]
    assert len(fake.posted(ZAAKOBJECTEN)) == 2
    pages = [r.query.get("page") for r in fake.listed(ZAAKOBJECTEN)]
    # attempt 2: page 1 for the MBA (found), page 1 for the sensor (only the MBA, taken);
    # attempt 3: pages 1 and 2 for the sensor (the MBA skipped, the sensor on page 2)
    assert pages == [None, None, None, ["2"]]


def test_lost_answer_of_the_zaakinformatieobject_makes_no_second_link(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert()
    fake.drop_answer[f"POST {ZIO}"] = 1

    with pytest.raises(DeliveryError) as failed:
        target.deliver(alert, profiles["avi-rozenburg"], {})
    result = target.deliver(alert, profiles["avi-rozenburg"], failed.value.progress or {})

    assert fake.violations == []
    (link,) = fake.objects(ZIO)
    assert result["zaakinformatieobject"] == link["url"]
    assert len(fake.posted(ZIO)) == 1
    assert len(fake.posted(ROLLEN)) == 1  # the rol of the first attempt was kept


def test_lost_answer_of_the_document_is_found_by_its_identificatie(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    alert = build_alert()
    fake.drop_answer[f"POST {EIO}"] = 1

    with pytest.raises(DeliveryError) as failed:
        target.deliver(alert, profiles["avi-rozenburg"], {})
    result = target.deliver(alert, profiles["avi-rozenburg"], failed.value.progress or {})

    assert fake.violations == []
    (document,) = fake.objects(EIO)
    assert result["document"] == document["url"]
    assert fake.objects(ZIO)[0]["informatieobject"] == document["url"]


def test_refused_request_is_permanent_and_names_the_field(
    fake: FakeZgw, profiles: dict[str, MbaProfile]
) -> None:
    unknown = f"{CATALOGI}/zaaktypen/00000000-0000-4000-8000-000000000000"
    target = ZgwTarget(make_config(fake, zaaktype=unknown))
    try:
        with pytest.raises(DeliveryError) as failed:
            target.deliver(build_alert(), profiles["avi-rozenburg"], {})
    finally:
        target.close()

    error = failed.value
    assert error.permanent is True
    assert error.progress == {"zaakobjecten": []}
    assert "400" in str(error)
    assert "zaak" in str(error)
    assert "zaaktype" in str(error) and "ongeldig" in str(error)


def test_rate_limited_is_retryable(
    fake: FakeZgw, target: ZgwTarget, profiles: dict[str, MbaProfile]
) -> None:
    fake.fail[f"POST {ROLLEN}"] = [429]

    with pytest.raises(DeliveryError) as failed:
        target.deliver(build_alert(), profiles["avi-rozenburg"], {})

    assert failed.value.permanent is False
    assert failed.value.progress is not None
    assert set(failed.value.progress) == {"zaak", "zaakobjecten"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_server_down_is_retryable_and_secret_free(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    port = free_port()
    config = make_config(
        zaken_api=f"http://127.0.0.1:{port}/zaken/api/v1",
        documenten_api=f"http://127.0.0.1:{port}/documenten/api/v1",
        timeout_s=1.0,
    )
    target = ZgwTarget(config)
    try:
        with pytest.raises(DeliveryError) as failed:
            target.deliver(build_alert(), None, {})
    finally:
        target.close()

    assert failed.value.permanent is False
    assert failed.value.progress == {"zaakobjecten": []}
    assert "ConnectError" in str(failed.value)
    no_secret_in(str(failed.value))
    no_secret_in(repr(failed.value))
    no_secret_in(caplog.text)


def test_secret_never_in_errors_or_logs(
    fake: FakeZgw, profiles: dict[str, MbaProfile], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    messages: list[str] = []
    for plan in ({f"POST {EIO}": [503]}, {f"POST {ROLLEN}": [400]}):
        fake.reset()
        fake.fail.update({k: list(v) for k, v in plan.items()})
        target = ZgwTarget(make_config(fake))
        try:
            with pytest.raises(DeliveryError) as failed:
                target.deliver(build_alert(), profiles["avi-rozenburg"], {})
        finally:
            target.close()
        messages += [str(failed.value), repr(failed.value), json.dumps(failed.value.progress)]
    # a wrong secret: the API refuses the JWT
    target = ZgwTarget(make_config(fake, secret="another-secret-value-of-32-bytes-x"))
    try:
        with pytest.raises(DeliveryError) as failed:
            target.deliver(build_alert(), None, {})
    finally:
        target.close()
    assert failed.value.permanent is True
    messages.append(str(failed.value))

    for text in [*messages, caplog.text]:
        no_secret_in(text)
        assert "another-secret-value-of-32-bytes-x" not in text
    config = make_config(fake)
    no_secret_in(repr(config))
    no_secret_in(str(config.model_dump()))


# -- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize("rsin", ["002220648", "12345678", "00222064a", "000000000", ""])
def test_config_rejects_a_bad_rsin(rsin: str) -> None:
    with pytest.raises(ValidationError, match="bronorganisatie"):
        make_config(bronorganisatie=rsin)
    with pytest.raises(ValidationError, match="verantwoordelijke_organisatie"):
        make_config(verantwoordelijke_organisatie=rsin)


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("zaken_api", "ftp://open-zaak.example/zaken/api/v1"),
        ("documenten_api", "open-zaak.example/documenten/api/v1"),
        ("zaaktype", "urn:uuid:0c2f7f5e-46f6-4d4a-9a55-7b3a5d2f1e01"),
        ("roltype", "https://"),
        ("informatieobjecttype", "file:///etc/passwd"),
        ("zaken_api", "https://user:pw@open-zaak.example/zaken/api/v1"),
        ("informatieobjecttype", "https://catalogi.example/" + "x" * 200),
    ],
)
def test_config_rejects_a_non_http_url(field: str, url: str) -> None:
    with pytest.raises(ValidationError, match=field):
        make_config(**{field: url})


def test_config_defaults_and_strictness() -> None:
    config = make_config(zaken_api="https://open-zaak.example/zaken/api/v1/")
    assert (config.name, config.trigger) == ("zaken", "forward")
    assert config.zaken_api == "https://open-zaak.example/zaken/api/v1"
    assert config.vertrouwelijkheidaanduiding == "vertrouwelijk"
    with pytest.raises(ValidationError):
        make_config(vertrouwelijkheidaanduiding="topgeheim")
    with pytest.raises(ValidationError):
        make_config(unknown_field=1)
    target = ZgwTarget(make_config(name="open-zaak", trigger="new"))
    assert (target.name, target.trigger) == ("open-zaak", "new")
    target.close()


# -- pieces --------------------------------------------------------------------------------


def test_rsin_elfproef() -> None:
    assert rsin_valid("002220647")
    assert rsin_valid("123456782")
    assert not rsin_valid("123456789")
    assert not rsin_valid("１２３４５６７８２")  # non-ASCII digits


def test_identificatie_fits_forty_characters_and_is_stable() -> None:
    long_id = "a" * 64
    assert zaak_identificatie(long_id) == zaak_identificatie(long_id)
    assert len(zaak_identificatie(long_id)) == 40
    assert zaak_identificatie("abc") == "VTH-abc"


def test_sensor_identificatie_and_naam(profiles: dict[str, MbaProfile]) -> None:
    profile = profiles["avi-rozenburg"]
    assert sensor_identificatie("cems-l1") == "cems-l1"
    long_id = "s" * 150
    assert sensor_identificatie(long_id) == sensor_identificatie(long_id)
    assert len(sensor_identificatie(long_id)) <= 100
    assert sensor_naam("meteo-rozenburg", "avi-rozenburg", profile) == (
        f"Sensor meteo-rozenburg (weerstation) bij {profile.name} (avi-rozenburg)"
    )
    assert sensor_naam("unregistered", "avi-rozenburg", profile) == (
        f"Sensor unregistered bij {profile.name} (avi-rozenburg)"
    )
    assert len(sensor_naam("x" * 600, "avi-rozenburg", None)) == 500


def test_texts_fit_and_are_link_free(profiles: dict[str, MbaProfile]) -> None:
    profile = profiles["avi-rozenburg"]
    long_profile = profile.model_copy(update={"name": "Zeer lange naam " * 20})
    alert = build_alert(evidence={"url": "https://example.invalid/x"})
    assert len(zaak_omschrijving(alert, long_profile)) <= 80
    text = zaak_toelichting(alert, long_profile)
    assert len(text) <= 1000
    assert "https://" not in text
    assert "gevolg" in text  # the LHSO suggestion


def test_geometry_prefers_the_alert_then_footprint_then_location(
    profiles: dict[str, MbaProfile],
) -> None:
    profile = profiles["avi-rozenburg"]
    assert zaak_geometry(build_alert(), profile) == {
        "type": "Point",
        "coordinates": [4.2449, 51.9051],
    }
    no_position = build_alert(lat=None, lon=None)
    assert zaak_geometry(no_position, profile) == profile.footprint
    bare = profile.model_copy(update={"footprint": None})
    assert zaak_geometry(no_position, bare) == {
        "type": "Point",
        "coordinates": [profile.location.lon, profile.location.lat],
    }
    assert zaak_geometry(no_position, None) is None


def test_the_schema_check_catches_what_the_api_refuses() -> None:
    """The fake's validation is strict enough to catch a wrong body."""
    zaken = OpenApiSchemas(Path(__file__).parents[2] / "data" / "zgw" / "zaken-api.yaml")
    good = {
        "bronorganisatie": RSIN,
        "zaaktype": ZAAKTYPE,
        "verantwoordelijkeOrganisatie": RSIN,
        "startdatum": "2025-11-22",
        "zaakgeometrie": {"type": "Polygon", "coordinates": [[[4.0, 52.0], [4.1, 52.0]]]},
    }
    assert zaken.errors("Zaak", good) == []
    assert zaken.errors("Zaak", good | {"url": "https://x.example/z/1"})  # readOnly
    assert zaken.errors("Zaak", good | {"omschrijving": "x" * 81})
    assert zaken.errors("Zaak", good | {"startdatum": "22-11-2025"})
    assert zaken.errors("Zaak", good | {"zaakgeometrie": {"type": "Point", "coordinates": [4]}})
    assert zaken.errors("Zaak", good | {"onbekend": 1})
    assert zaken.errors("Zaak", {k: v for k, v in good.items() if k != "startdatum"})
    rol = {
        "zaak": "https://x.example/z/1",
        "betrokkeneType": "vestiging",
        "roltype": ROLTYPE,
        "roltoelichting": "x",
        "betrokkeneIdentificatie": {"handelsnaam": "not a list"},
    }
    assert zaken.errors("Rol", rol)
    assert zaken.errors("Rol", rol | {"betrokkeneIdentificatie": {"handelsnaam": ["B.V."]}}) == []
    sensor = {
        "zaak": "https://x.example/z/1",
        "objectType": "inrichtingselement",
        "relatieomschrijving": "Sensor die de melding deed",
        "objectIdentificatie": {"type": "sensor", "identificatie": "cems-l1", "naam": "CEMS"},
    }
    assert zaken.resolve("ZaakObject", sensor) == "inrichtingselement"
    assert zaken.errors("ZaakObject", sensor) == []
    wrong = {"type": "sonde", "identificatie": "cems-l1"}
    assert [w for w, _ in zaken.errors("ZaakObject", sensor | {"objectIdentificatie": wrong})] == [
        "objectIdentificatie.type"
    ]
    assert zaken.errors("ZaakObject", sensor | {"objectIdentificatie": {"type": "sensor"}})
    too_long = {"type": "sensor", "identificatie": "x" * 101}
    assert zaken.errors("ZaakObject", sensor | {"objectIdentificatie": too_long})
    long_naam = {"type": "sensor", "identificatie": "cems-l1", "naam": "x" * 501}
    assert zaken.errors("ZaakObject", sensor | {"objectIdentificatie": long_naam})
    # the overige shape does not pass as an inrichtingselement
    overige_data = {"overigeData": {"id": "cems-l1"}}
    assert zaken.errors("ZaakObject", sensor | {"objectIdentificatie": overige_data})
