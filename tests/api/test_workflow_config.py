"""The agency's workflow file: grouping, LHSO rules, forwarding targets, retries, ${ENV}."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from vth.api.forwarding.base import ForwardingTarget
from vth.api.forwarding.webhook import WebhookTarget
from vth.api.forwarding.zgw import ZgwTarget
from vth.api.outbox import RetryPolicy
from vth.api.workflow import WorkflowPolicy
from vth.api.workflow_config import WorkflowConfig, load_workflow_config
from vth.models import LhsoRules
from vth.models.errors import SettingsFileError

MELDKAMER_SECRET = "hmac-secret-of-the-meldkamer-0123456789"
ZGW_SECRET = "jwt-secret-of-open-zaak-9876543210"
ENVIRON = {"VTH_MELDKAMER_SECRET": MELDKAMER_SECRET, "VTH_ZGW_SECRET": ZGW_SECRET}

FULL = """
quiet_period_s: 1800
quiet_period_by_kind: {gas_incident: 7200}
lhso: {hazardous_substances: [HF, HCl, NH3], history_days: 180}
retry: {base_s: 1, max_s: 60, max_attempts: 5, jitter: 0, lease_s: 30}
webhooks:
  - name: meldkamer
    url: https://meldkamer.example/vth/events
    secret: ${VTH_MELDKAMER_SECRET}
    trigger: new
  - name: dashboard
    url: http://dashboard.example/hook
zgw:
  zaken_api: https://open-zaak.example/zaken/api/v1/
  documenten_api: https://open-zaak.example/documenten/api/v1
  zaaktype: https://open-zaak.example/catalogi/api/v1/zaaktypen/1
  informatieobjecttype: https://open-zaak.example/catalogi/api/v1/informatieobjecttypen/2
  roltype: https://open-zaak.example/catalogi/api/v1/roltypen/3
  bronorganisatie: "002220647"
  verantwoordelijke_organisatie: "002220647"
  client_id: vth-sensing
  secret: ${VTH_ZGW_SECRET}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workflow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path, environ: dict[str, str] | None = None) -> SettingsFileError:
    with pytest.raises(SettingsFileError) as caught:
        load_workflow_config(path, environ=ENVIRON if environ is None else environ)
    return caught.value


@pytest.fixture
def closing() -> Iterator[list[ForwardingTarget]]:
    """Targets to close after the test (they hold HTTP clients)."""
    targets: list[ForwardingTarget] = []
    yield targets
    for target in targets:
        target.close()


def test_no_file_gives_the_defaults():
    config = load_workflow_config(None)

    assert config == WorkflowConfig()
    assert config.policy() == WorkflowPolicy(lhso_rules=LhsoRules())
    assert config.retry_policy() == RetryPolicy()
    assert config.targets() == []


def test_an_empty_file_gives_the_defaults(tmp_path: Path):
    assert load_workflow_config(write(tmp_path, ""), environ={}) == WorkflowConfig()


def test_a_full_file_builds_policy_retries_and_targets(tmp_path: Path, closing):
    config = load_workflow_config(write(tmp_path, FULL), environ=ENVIRON)

    policy = config.policy()
    assert policy.quiet_period("exceedance") == timedelta(minutes=30)
    assert policy.quiet_period("gas_incident") == timedelta(hours=2)
    assert policy.lhso_rules.hazardous_substances == ["HF", "HCl", "NH3"]
    assert policy.lhso_rules.history_days == 180
    assert dict(policy.targets) == {"meldkamer": "new", "dashboard": "new", "zaken": "forward"}
    assert policy.targets_on("new") == ["dashboard", "meldkamer"]
    assert policy.targets_on("forward") == ["zaken"]

    assert config.retry_policy() == RetryPolicy(
        base_s=1, max_s=60, max_attempts=5, jitter=0, lease_s=30
    )

    targets = config.targets()
    closing.extend(targets)
    assert [(t.name, type(t)) for t in targets] == [
        ("meldkamer", WebhookTarget),
        ("dashboard", WebhookTarget),
        ("zaken", ZgwTarget),
    ]
    assert [getattr(t, "trigger", None) for t in targets] == ["new", "new", "forward"]


def test_env_references_are_replaced_from_the_environ_mapping(tmp_path: Path):
    config = load_workflow_config(write(tmp_path, FULL), environ=ENVIRON)

    [meldkamer, dashboard] = config.webhooks
    assert meldkamer.secret is not None
    assert meldkamer.secret.get_secret_value() == MELDKAMER_SECRET
    assert dashboard.secret is None
    assert config.zgw is not None
    assert config.zgw.secret.get_secret_value() == ZGW_SECRET
    assert config.zgw.zaken_api == "https://open-zaak.example/zaken/api/v1"
    # the secrets do not show in a printed config
    assert MELDKAMER_SECRET not in repr(config) and ZGW_SECRET not in repr(config)


def test_env_references_inside_a_value_and_in_lists(tmp_path: Path):
    path = write(
        tmp_path,
        "lhso: {hazardous_substances: ['${GAS}', NH3]}\n"
        "webhooks:\n  - {name: m, url: 'https://${HOST}/vth/${HOST}'}\n",
    )

    config = load_workflow_config(path, environ={"GAS": "HF", "HOST": "meldkamer.example"})

    assert config.lhso.hazardous_substances == ["HF", "NH3"]
    assert config.webhooks[0].url == "https://meldkamer.example/vth/meldkamer.example"


def test_the_process_environment_is_the_default_environ(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VTH_TEST_HOOK_HOST", "hooks.example")
    path = write(tmp_path, "webhooks:\n  - {name: m, url: 'https://${VTH_TEST_HOOK_HOST}/'}\n")

    assert load_workflow_config(path).webhooks[0].url == "https://hooks.example/"


def test_an_unset_env_reference_is_named(tmp_path: Path):
    error = error_of(write(tmp_path, FULL), environ={"VTH_MELDKAMER_SECRET": "x"})

    [problem] = error.problems
    assert "VTH_ZGW_SECRET" in problem.reason
    assert "VTH_MELDKAMER_SECRET" not in problem.reason
    assert "environment variables not set" in str(error)


def test_every_unset_env_reference_is_named_once(tmp_path: Path):
    path = write(
        tmp_path,
        "webhooks:\n  - {name: m, url: 'https://${HOST}/${ZONE}', secret: '${HOST}'}\n",
    )

    error = error_of(path, environ={})

    [problem] = error.problems
    assert problem.reason.endswith("environment variables not set: HOST, ZONE")


def test_references_are_not_expanded_recursively(tmp_path: Path):
    path = write(tmp_path, "webhooks:\n  - {name: m, url: 'https://${A}/'}\n")

    config = load_workflow_config(path, environ={"A": "${B}"})

    assert config.webhooks[0].url == "https://${B}/"


@pytest.mark.parametrize(
    "text",
    [
        "webhooks:\n  - {name: twice, url: 'https://a.example/'}\n"
        "  - {name: twice, url: 'https://b.example/'}\n",
        FULL.replace("name: dashboard", "name: zaken"),
        FULL.replace("client_id: vth-sensing", "client_id: vth-sensing\n  name: meldkamer"),
    ],
    ids=["two-webhooks", "webhook-and-default-zgw-name", "zgw-named-like-a-webhook"],
)
def test_a_target_name_used_twice_is_refused(tmp_path: Path, text: str):
    error = error_of(write(tmp_path, text))

    assert "forwarding target names used twice" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('bronorganisatie: "002220647"', 'bronorganisatie: "002220648"', "zgw.bronorganisatie"),
        ("client_id: vth-sensing", "client_id: ''", "zgw.client_id"),
        ("url: http://dashboard.example/hook", "url: ftp://x.example/", "webhooks.1.url"),
        ("trigger: new", "trigger: always", "webhooks.0.trigger"),
        ("max_attempts: 5", "max_attempts: 0", "retry.max_attempts"),
        ("quiet_period_s: 1800", "quiet_period_s: 1800\ncolour: red", "colour"),
        ("  client_id: vth-sensing\n", "", "zgw.client_id"),
    ],
    ids=["rsin", "client-id", "url", "trigger", "retries", "extra", "missing"],
)
def test_an_invalid_field_is_named(tmp_path: Path, old: str, new: str, field: str):
    assert old in FULL
    error = error_of(write(tmp_path, FULL.replace(old, new)))

    assert field in [p.path for p in error.problems]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("max_attempts: 5", "max_attempts: many"),  # another field is invalid
        ("url: https://meldkamer.example/vth/events", "url: meldkamer"),  # the secret's sibling
        ('bronorganisatie: "002220647"', "bronorganisatie: x"),
        ("secret: ${VTH_MELDKAMER_SECRET}", "secret: [${VTH_MELDKAMER_SECRET}]"),  # wrong type
        ("secret: ${VTH_ZGW_SECRET}", "secret: {s: '${VTH_ZGW_SECRET}'}"),
        ("client_id: vth-sensing", "client_id: '${VTH_ZGW_SECRET}'\n  colour: red"),
        ("name: meldkamer", "name: '${VTH_MELDKAMER_SECRET} with spaces'"),  # bad pattern
    ],
    ids=["other-field", "sibling", "rsin", "secret-list", "secret-dict", "extra-field", "pattern"],
)
def test_a_secret_never_shows_in_the_error_of_an_invalid_file(tmp_path: Path, old, new):
    assert old in FULL
    error = error_of(write(tmp_path, FULL.replace(old, new)))

    message = str(error) + "".join(repr(p) for p in error.problems)
    assert MELDKAMER_SECRET not in message
    assert ZGW_SECRET not in message


def test_a_literal_secret_in_the_file_does_not_show_in_errors_either(tmp_path: Path):
    literal = FULL.replace("${VTH_ZGW_SECRET}", "literal-zgw-secret-value").replace(
        "quiet_period_s: 1800", "quiet_period_s: -1"
    )

    error = error_of(write(tmp_path, literal))

    assert "quiet_period_s" in [p.path for p in error.problems]
    assert "literal-zgw-secret-value" not in str(error)


def test_an_unreadable_file_is_reported(tmp_path: Path):
    missing = error_of(tmp_path / "absent.yaml")
    broken = error_of(write(tmp_path, "webhooks: [unclosed\n"))

    assert "cannot read the workflow settings" in str(missing)
    assert "cannot read the workflow settings" in str(broken)
