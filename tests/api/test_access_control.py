"""Access control of the alert API: API keys, roles, agencies, and keys kept out of logs."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.conftest import EXAMPLE_PROFILES, T0, build_alert
from vth.api.app import create_app, create_app_from_settings
from vth.api.auth import AccessControl, ApiKey, Role, digest, load_keys
from vth.api.outbox import RetryPolicy
from vth.api.store import AlertStore
from vth.api.workflow import WorkflowPolicy
from vth.models import Alert, MbaProfile
from vth.models.errors import SettingsFileError
from vth.settings import Settings

#: The agency of the example profiles, and the one the test moves chemie-botlek to.
OURS = "DCMR"
THEIRS = "ODNZKG"
OTHER_MBA = "chemie-botlek"
#: The forwarding target whose delivery of every alert failed for good.
TARGET = "meldkamer"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

ROLES: tuple[Role, ...] = ("inspector", "data_scientist", "gateway", "admin")


@dataclass(frozen=True)
class Holder:
    """One key of the test's keys file and the plain key its holder sends."""

    name: str
    role: Role
    agency: str | None

    @property
    def key(self) -> str:
        return f"vth_test-key-of-{self.name}"

    def api_key(self) -> ApiKey:
        return ApiKey(
            name=self.name, role=self.role, agency=self.agency, key_sha256=digest(self.key)
        )


#: One unlimited key per role (an inspector's must name an agency: ours).
BY_ROLE = {
    "inspector": Holder("ina", "inspector", OURS),
    "data_scientist": Holder("dirk", "data_scientist", None),
    "gateway": Holder("gw", "gateway", None),
    "admin": Holder("root", "admin", None),
}
THEIR_INSPECTOR = Holder("olga", "inspector", THEIRS)
OUR_ADMIN = Holder("adm-dcmr", "admin", OURS)
OUR_GATEWAY = Holder("gw-dcmr", "gateway", OURS)
OUR_SCIENTIST = Holder("ds-dcmr", "data_scientist", OURS)
HOLDERS = [*BY_ROLE.values(), THEIR_INSPECTOR, OUR_ADMIN, OUR_GATEWAY, OUR_SCIENTIST]


def bearer(holder: Holder) -> dict[str, str]:
    return {"Authorization": f"Bearer {holder.key}"}


def x_api_key(holder: Holder) -> dict[str, str]:
    return {"X-API-Key": holder.key}


@pytest.fixture(scope="module")
def mixed_profiles(profiles: dict[str, MbaProfile]) -> dict[str, MbaProfile]:
    """The example profiles, chemie-botlek supervised by another agency."""
    assert all(p.agency == OURS for p in profiles.values())
    mixed = dict(profiles)
    mixed[OTHER_MBA] = profiles[OTHER_MBA].model_copy(update={"agency": THEIRS})
    return mixed


@dataclass
class World:
    """A store with alerts of both agencies, and a client of an app with keys."""

    client: TestClient
    store: AlertStore
    ours: Alert  # avi-rozenburg (ours), with a quicklook
    ours_peak: Alert  # avi-rozenburg (ours)
    theirs: Alert  # chemie-botlek (theirs)


@pytest.fixture
def world(mixed_profiles: dict[str, MbaProfile]) -> Iterator[World]:
    quicklook = base64.b64encode(PNG).decode()
    ours = build_alert(evidence={"average": "30min", "quicklook_png": quicklook})
    ours_peak = build_alert(
        kind="peak",
        detector="peaks",
        substance="SO2",
        start=T0 + timedelta(hours=2),
        end=T0 + timedelta(hours=2, minutes=30),
    )
    theirs = build_alert(
        kind="gas_incident",
        detector="enose",
        mba_id=OTHER_MBA,
        source_id=None,
        sensor_id="enose-12",
        substance=None,
        evidence={"quicklook_png": quicklook},
        start=T0 + timedelta(hours=4),
        end=T0 + timedelta(hours=5),
    )
    retry = RetryPolicy()
    with AlertStore("sqlite://", WorkflowPolicy(targets={TARGET: "new"})) as store:
        assert store.upsert_many([ours, ours_peak, theirs]) == 3
        claims = store.claim_deliveries(retry, [TARGET])
        assert len(claims) == 3
        for claim in claims:
            assert not store.delivery_failed(claim, "receiver said 400", retry, permanent=True)
        access = AccessControl([h.api_key() for h in HOLDERS])
        app = create_app(store=store, profiles=mixed_profiles, access=access)
        with TestClient(app) as client:
            yield World(client, store, ours, ours_peak, theirs)


def new_alert_body(mba_id: str = "avi-rozenburg") -> dict[str, Any]:
    alert = build_alert(
        mba_id=mba_id, start=T0 + timedelta(days=1), end=T0 + timedelta(days=1, minutes=30)
    )
    return alert.model_dump(mode="json")


# --- the permission matrix --------------------------------------------------------------------

READERS = {"inspector", "data_scientist", "admin"}
INSPECTORS = {"inspector", "admin"}
SUBMITTERS = {"gateway", "admin"}
ADMINS = {"admin"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {alert}, {incident}, {mba}, {target} are filled in
    allowed: set[str]
    ok: int
    body: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/alerts", READERS, 200),
    Endpoint("GET", "/alerts/{alert}", READERS, 200),
    Endpoint("GET", "/alerts/{alert}/quicklook.png", READERS, 200),
    Endpoint("GET", "/alerts/{alert}/events", READERS, 200),
    Endpoint("GET", "/alerts/{alert}/deliveries", READERS, 200),
    Endpoint("GET", "/incidents", READERS, 200),
    Endpoint("GET", "/incidents/{incident}/alerts", READERS, 200),
    Endpoint("GET", "/profiles", READERS, 200),
    Endpoint("GET", "/profiles/{mba}", READERS, 200),
    Endpoint("POST", "/alerts/{alert}/status", INSPECTORS, 200, {"status": "acknowledged"}),
    Endpoint("POST", "/alerts/{alert}/lhso", INSPECTORS, 200, {"consequence": 2, "behaviour": "B"}),
    Endpoint("POST", "/alerts/{alert}/review", INSPECTORS, 200, {"verdict": "true_alarm"}),
    Endpoint("POST", "/alerts", SUBMITTERS, 201, new_alert_body()),
    Endpoint("POST", "/alerts/{alert}/deliveries/{target}/retry", ADMINS, 200),
    Endpoint("GET", "/health", set(ROLES), 200),
]


def request(world: World, endpoint: Endpoint, headers: dict[str, str], alert: Alert | None = None):
    alert = alert or world.ours
    path = endpoint.path.format(alert=alert.id, incident=alert.id, mba=alert.mba_id, target=TARGET)
    return world.client.request(endpoint.method, path, json=endpoint.body, headers=headers)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_each_role_may_do_what_the_matrix_says(world: World, endpoint: Endpoint, role: str):
    response = request(world, endpoint, bearer(BY_ROLE[role]))

    expected = endpoint.ok if role in endpoint.allowed else 403
    assert response.status_code == expected, response.text
    if expected == 403:
        assert f"role {role} may not do this" in response.json()["detail"]


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.path != "/health"], ids=str)
def test_every_endpoint_but_health_needs_a_key(world: World, endpoint: Endpoint):
    response = request(world, endpoint, {})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_refused_workflow_action_changes_nothing(world: World):
    response = world.client.post(
        f"/alerts/{world.ours.id}/status",
        json={"status": "acknowledged"},
        headers=bearer(BY_ROLE["data_scientist"]),
    )

    assert response.status_code == 403
    stored = world.store.get(world.ours.id)
    assert stored is not None and stored.status == "new"


def test_health_needs_no_key_even_when_access_control_is_on(world: World):
    assert world.client.get("/health").status_code == 200
    assert world.client.get("/health", headers={"X-API-Key": "nonsense"}).status_code == 200


# --- 401: no key, an unknown key, a malformed header -------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer vth_not-a-known-key"},
        {"X-API-Key": "vth_not-a-known-key"},
        {"Authorization": f"Basic {BY_ROLE['admin'].key}"},
        {"Authorization": f"Token {BY_ROLE['admin'].key}"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": BY_ROLE["admin"].key},
        {"Authorization": ""},
        {"X-API-Key": ""},
        {"Authorization": f"Bearer {digest(BY_ROLE['admin'].key)}"},  # the digest is no key
    ],
    ids=[
        "none",
        "unknown-bearer",
        "unknown-x-api-key",
        "basic-scheme",
        "token-scheme",
        "bearer-without-key",
        "bearer-blank",
        "no-scheme",
        "empty-authorization",
        "empty-x-api-key",
        "the-digest",
    ],
)
def test_requests_without_a_known_key_get_401(world: World, headers: dict[str, str]):
    response = world.client.get("/alerts", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "key" in response.json()["detail"]


def test_an_unknown_bearer_is_not_rescued_by_a_known_x_api_key(world: World):
    headers = {"Authorization": "Bearer vth_not-a-known-key", **x_api_key(BY_ROLE["admin"])}

    assert world.client.get("/alerts", headers=headers).status_code == 401


@pytest.mark.parametrize("style", [bearer, x_api_key], ids=["bearer", "x-api-key"])
@pytest.mark.parametrize("role", ROLES)
def test_both_header_styles_identify_the_holder(world: World, style, role: str):
    holder = BY_ROLE[role]
    response = world.client.post(
        f"/alerts/{world.ours.id}/status", json={"status": "acknowledged"}, headers=style(holder)
    )

    assert response.status_code == (200 if role in INSPECTORS else 403)
    if response.status_code == 200:
        events = world.store.events(world.ours.id)
        assert events[-1].actor == holder.name


def test_a_submitted_alert_is_stored_by_the_gateway_named(world: World):
    response = world.client.post(
        "/alerts", json=new_alert_body(), headers=x_api_key(BY_ROLE["gateway"])
    )

    assert response.status_code == 201
    assert world.store.events(response.json()["id"])[0].actor == "gw"


# --- agency scoping ----------------------------------------------------------------------------


def listed_ids(response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()}


def test_an_agency_key_lists_only_its_agencys_alerts(world: World):
    ours = world.client.get("/alerts", headers=bearer(BY_ROLE["inspector"]))
    theirs = world.client.get("/alerts", headers=bearer(THEIR_INSPECTOR))
    everything = world.client.get("/alerts", headers=bearer(BY_ROLE["data_scientist"]))

    assert listed_ids(ours) == {world.ours.id, world.ours_peak.id}
    assert ours.headers["X-Total-Count"] == "2"
    assert listed_ids(theirs) == {world.theirs.id}
    assert theirs.headers["X-Total-Count"] == "1"
    assert len(listed_ids(everything)) == 3
    assert everything.headers["X-Total-Count"] == "3"


def test_an_agency_limited_data_scientist_is_filtered_too(world: World):
    response = world.client.get("/alerts", headers=bearer(OUR_SCIENTIST))

    assert listed_ids(response) == {world.ours.id, world.ours_peak.id}


@pytest.mark.parametrize(
    "query",
    [
        {"mba_id": OTHER_MBA},
        {"kind": "gas_incident"},
        {"incident_id": "{theirs}"},
        {"limit": "1", "offset": "0", "mba_id": OTHER_MBA},
    ],
    ids=["mba_id", "kind", "incident_id", "paged"],
)
def test_filters_do_not_reach_around_the_agency(world: World, query: dict[str, str]):
    params = {k: v.format(theirs=world.theirs.id) for k, v in query.items()}

    response = world.client.get("/alerts", params=params, headers=bearer(BY_ROLE["inspector"]))

    assert listed_ids(response) == set()
    assert response.headers["X-Total-Count"] == "0"


READ_ONE = [e for e in ENDPOINTS if e.method == "GET" and "{alert}" in e.path]
ACT_ON_ONE = [e for e in ENDPOINTS if e.method == "POST" and e.path.count("/") == 3]


@pytest.mark.parametrize("endpoint", READ_ONE + ACT_ON_ONE, ids=str)
def test_an_agency_key_is_refused_another_agencys_alert(world: World, endpoint: Endpoint):
    before = world.store.get(world.theirs.id)
    events_before = world.store.events(world.theirs.id)

    response = request(world, endpoint, bearer(BY_ROLE["inspector"]), alert=world.theirs)

    assert response.status_code == 403, response.text
    assert "another agency" in response.json()["detail"]
    assert world.store.get(world.theirs.id) == before
    assert world.store.events(world.theirs.id) == events_before


@pytest.mark.parametrize("endpoint", READ_ONE + ACT_ON_ONE, ids=str)
def test_the_other_agency_may_act_on_its_own_alert(world: World, endpoint: Endpoint):
    response = request(world, endpoint, bearer(THEIR_INSPECTOR), alert=world.theirs)

    assert response.status_code == 200, response.text


def test_an_agency_admin_is_refused_another_agencys_alert(world: World):
    response = world.client.post(
        f"/alerts/{world.theirs.id}/status",
        json={"status": "acknowledged"},
        headers=bearer(OUR_ADMIN),
    )

    assert response.status_code == 403


def test_an_agency_admin_may_not_retry_another_agencys_delivery(world: World):
    response = world.client.post(
        f"/alerts/{world.theirs.id}/deliveries/{TARGET}/retry", headers=bearer(OUR_ADMIN)
    )

    assert response.status_code == 403
    assert [d.status for d in world.store.deliveries(world.theirs.id)] == ["failed"]


def test_an_agency_gateway_may_not_submit_for_another_agency(world: World):
    response = world.client.post(
        "/alerts", json=new_alert_body(OTHER_MBA), headers=bearer(OUR_GATEWAY)
    )

    assert response.status_code == 403
    assert world.store.count() == 3


def test_an_agency_gateway_submits_for_its_own_agency(world: World):
    response = world.client.post("/alerts", json=new_alert_body(), headers=bearer(OUR_GATEWAY))

    assert response.status_code == 201


def test_an_agency_gateway_may_not_overwrite_another_agencys_alert(world: World):
    body = new_alert_body()  # an MBA of ours ...
    body["id"] = world.theirs.id  # ... under the id of their alert

    response = world.client.post("/alerts", json=body, headers=bearer(OUR_GATEWAY))

    assert response.status_code == 403
    stored = world.store.get(world.theirs.id)
    assert stored is not None and stored.mba_id == OTHER_MBA


def test_incidents_are_filtered_to_the_agency(world: World):
    ours = world.client.get("/incidents", headers=bearer(BY_ROLE["inspector"]))
    theirs = world.client.get("/incidents", headers=bearer(THEIR_INSPECTOR))
    everything = world.client.get("/incidents", headers=bearer(BY_ROLE["admin"]))

    assert listed_ids(ours) == {world.ours.id, world.ours_peak.id}
    assert listed_ids(theirs) == {world.theirs.id}
    assert len(listed_ids(everything)) == 3
    assert {i["mba_id"] for i in ours.json()} == {"avi-rozenburg"}


def test_another_agencys_incident_is_refused(world: World):
    response = world.client.get(
        f"/incidents/{world.theirs.id}/alerts", headers=bearer(BY_ROLE["inspector"])
    )

    assert response.status_code == 403


def test_profiles_are_filtered_to_the_agency(world: World, mixed_profiles):
    ours = world.client.get("/profiles", headers=bearer(BY_ROLE["inspector"]))
    theirs = world.client.get("/profiles", headers=bearer(THEIR_INSPECTOR))
    everything = world.client.get("/profiles", headers=bearer(BY_ROLE["data_scientist"]))

    assert listed_ids(ours) == set(mixed_profiles) - {OTHER_MBA}
    assert listed_ids(theirs) == {OTHER_MBA}
    assert listed_ids(everything) == set(mixed_profiles)


def test_another_agencys_profile_is_refused_and_an_unknown_one_is_404(world: World):
    headers = bearer(BY_ROLE["inspector"])

    assert world.client.get(f"/profiles/{OTHER_MBA}", headers=headers).status_code == 403
    assert world.client.get("/profiles/avi-rozenburg", headers=headers).status_code == 200
    assert world.client.get("/profiles/nowhere", headers=headers).status_code == 404


def test_an_unknown_alert_is_404_not_403(world: World):
    response = world.client.get("/alerts/no-such-alert", headers=bearer(BY_ROLE["inspector"]))

    assert response.status_code == 404


# --- keys stay secret ---------------------------------------------------------------------------


def test_keys_never_appear_in_logs_or_responses(world: World, caplog: pytest.LogCaptureFixture):
    unknown = "vth_an-unknown-key-that-must-not-be-logged"
    secrets = [h.key for h in HOLDERS] + [unknown]
    responses = []
    caplog.set_level(logging.DEBUG)

    for holder in HOLDERS:
        for style in (bearer, x_api_key):
            for endpoint in ENDPOINTS:
                responses.append(request(world, endpoint, style(holder)))
            responses.append(request(world, ENDPOINTS[0], style(holder), alert=world.theirs))
    responses.append(world.client.get("/alerts", headers={"X-API-Key": unknown}))
    responses.append(world.client.get("/alerts", headers={"Authorization": f"Bearer {unknown}"}))
    responses.append(world.client.get("/alerts", headers={"Authorization": f"Basic {unknown}"}))

    assert {r.status_code for r in responses} >= {200, 201, 401, 403}
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for secret in secrets:
        assert secret not in logged
        for response in responses:
            assert secret not in response.text
            assert secret not in str(response.headers)


# --- the keys file ------------------------------------------------------------------------------


def write_keys(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_keys_reads_a_valid_file(tmp_path: Path):
    ina, dirk = BY_ROLE["inspector"], BY_ROLE["data_scientist"]
    path = write_keys(
        tmp_path,
        f"""
keys:
  - name: ina
    role: inspector
    agency: DCMR
    key_sha256: {digest(ina.key)}
  - {{name: dirk, role: data_scientist, key_sha256: {digest(dirk.key)}}}
""",
    )

    keys = load_keys(path)

    assert keys == [ina.api_key(), dirk.api_key()]
    access = AccessControl(keys)
    principal = access.identify(ina.key)
    assert principal is not None
    assert (principal.name, principal.role, principal.agency) == ("ina", "inspector", "DCMR")
    assert access.identify("vth_someone-else") is None


def test_an_empty_keys_file_holds_no_keys_and_locks_everything(tmp_path: Path):
    keys = load_keys(write_keys(tmp_path, ""))

    assert keys == []
    assert AccessControl(keys).enabled


def problems_of(path: Path) -> SettingsFileError:
    with pytest.raises(SettingsFileError) as caught:
        load_keys(path)
    return caught.value


def test_load_keys_refuses_a_name_used_twice(tmp_path: Path):
    path = write_keys(
        tmp_path,
        f"""
keys:
  - {{name: ina, role: admin, key_sha256: {"a" * 64}}}
  - {{name: ina, role: admin, key_sha256: {"b" * 64}}}
  - {{name: dirk, role: admin, key_sha256: {"c" * 64}}}
""",
    )

    error = problems_of(path)

    [problem] = error.problems
    assert problem.file == str(path)
    assert problem.path == "keys"
    assert "ina" in problem.reason and "dirk" not in problem.reason


def test_load_keys_refuses_an_inspector_without_agency(tmp_path: Path):
    path = write_keys(
        tmp_path,
        f"keys:\n  - {{name: admin, role: admin, key_sha256: {'a' * 64}}}\n"
        f"  - {{name: ina, role: inspector, key_sha256: {'b' * 64}}}\n",
    )

    error = problems_of(path)

    [problem] = error.problems
    assert problem.path == "keys.1"
    assert "agency" in problem.reason
    assert f"{path}: keys.1: " in str(error)


@pytest.mark.parametrize(
    "bad",
    ["A" * 64, "a" * 63, "a" * 65, "g" * 64, "sha256:" + "a" * 64, "vth_plain-key-pasted-here"],
)
def test_load_keys_refuses_a_bad_digest_without_showing_it(tmp_path: Path, bad: str):
    path = write_keys(tmp_path, f"keys:\n  - {{name: x, role: admin, key_sha256: '{bad}'}}\n")

    error = problems_of(path)

    [problem] = error.problems
    assert problem.path == "keys.0.key_sha256"
    assert bad not in str(error)


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("keys:\n  - {name: x, role: root, key_sha256: " + "a" * 64 + "}\n", "keys.0.role"),
        ("keys:\n  - {name: x, role: admin}\n", "keys.0.key_sha256"),
        ("keys:\n  - {name: '', role: admin, key_sha256: " + "a" * 64 + "}\n", "keys.0.name"),
        ("keys:\n  - {name: x, role: admin, key: k, key_sha256: " + "a" * 64 + "}\n", "keys.0.key"),
        ("users: []\n", "users"),
    ],
    ids=["unknown-role", "no-digest", "empty-name", "extra-field", "unknown-top-level"],
)
def test_load_keys_names_the_invalid_field(tmp_path: Path, text: str, path: str):
    error = problems_of(write_keys(tmp_path, text))

    assert path in [p.path for p in error.problems]


def test_load_keys_reports_an_unreadable_file(tmp_path: Path):
    missing = problems_of(tmp_path / "absent.yaml")
    broken = problems_of(write_keys(tmp_path, "keys: [unclosed\n"))

    assert "cannot read the API keys" in str(missing)
    assert "cannot read the API keys" in str(broken)


# --- create_app_from_settings -------------------------------------------------------------------


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VTH_CONFIG", "VTH_API_KEYS_FILE", "VTH_WORKFLOW_FILE", "VTH_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def app_from_settings(tmp_path: Path, keys_file: Path | None) -> FastAPI:
    settings = Settings(
        profiles_dir=EXAMPLE_PROFILES,
        database_url=f"sqlite:///{tmp_path / 'vth.db'}",
        api_keys_file=keys_file,
    )
    return create_app_from_settings(settings)


@pytest.mark.usefixtures("settings_env")
def test_create_app_from_settings_enforces_the_keys_file(tmp_path: Path):
    ina, gw = BY_ROLE["inspector"], BY_ROLE["gateway"]
    keys_file = write_keys(
        tmp_path,
        f"keys:\n"
        f"  - {{name: ina, role: inspector, agency: DCMR, key_sha256: {digest(ina.key)}}}\n"
        f"  - {{name: gw, role: gateway, key_sha256: {digest(gw.key)}}}\n",
    )

    with TestClient(app_from_settings(tmp_path, keys_file)) as client:
        assert client.get("/alerts").status_code == 401
        assert client.get("/alerts", headers=bearer(BY_ROLE["admin"])).status_code == 401
        assert client.get("/alerts", headers=bearer(ina)).status_code == 200
        assert client.get("/alerts", headers=x_api_key(gw)).status_code == 403
        assert client.post("/alerts", json=new_alert_body(), headers=x_api_key(gw)).status_code == (
            201
        )
        assert client.get("/health").status_code == 200


@pytest.mark.usefixtures("settings_env")
def test_create_app_from_settings_without_a_keys_file_is_open(tmp_path: Path):
    with TestClient(app_from_settings(tmp_path, None)) as client:
        assert client.get("/alerts").status_code == 200


@pytest.mark.usefixtures("settings_env")
def test_create_app_from_settings_refuses_an_invalid_keys_file(tmp_path: Path):
    keys_file = write_keys(tmp_path, "keys:\n  - {name: ina, role: inspector, key_sha256: x}\n")

    with pytest.raises(SettingsFileError):
        app_from_settings(tmp_path, keys_file)
