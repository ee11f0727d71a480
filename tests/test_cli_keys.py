"""``vth keys new`` and the refusal of ``vth serve`` to run an open API on the network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_PROFILES
from vth.api.auth import AccessControl, digest, load_keys
from vth.cli import app

ENTRY_HEADER = "entry for the keys file (under 'keys:'):"


def keys_new(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["keys", "new", *args])
    return result.exit_code, result.stdout, result.stderr


def printed_entry(stderr: str) -> dict[str, Any]:
    """The keys-file entry printed on stderr (a YAML list of one mapping)."""
    assert ENTRY_HEADER in stderr, stderr
    entries = yaml.safe_load(stderr.split(ENTRY_HEADER, 1)[1])
    assert isinstance(entries, list) and len(entries) == 1, stderr
    entry = entries[0]
    assert isinstance(entry, dict)
    return entry


def test_keys_new_prints_the_key_and_an_entry_load_keys_accepts(tmp_path: Path):
    code, stdout, stderr = keys_new("alice", "--role", "inspector", "--agency", "DCMR")

    assert code == 0, stderr
    key = stdout.strip()
    assert key.startswith("vth_") and len(key) > 40
    assert stdout == key + "\n"  # the key alone on stdout: `vth keys new ... > key.txt`
    assert key not in stderr
    entry = printed_entry(stderr)
    assert entry == {
        "name": "alice",
        "role": "inspector",
        "agency": "DCMR",
        "key_sha256": digest(key),
    }

    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(yaml.safe_dump({"keys": [entry]}), encoding="utf-8")
    keys = load_keys(keys_file)
    principal = AccessControl(keys).identify(key)
    assert principal is not None
    assert (principal.name, principal.role, principal.agency) == ("alice", "inspector", "DCMR")


def test_keys_new_makes_a_different_key_every_time():
    first = keys_new("a", "--role", "admin")
    second = keys_new("a", "--role", "admin")

    assert first[0] == second[0] == 0
    assert first[1] != second[1]


@pytest.mark.parametrize("role", ["data_scientist", "gateway", "admin"])
def test_keys_new_without_agency_for_other_roles(role: str):
    code, stdout, stderr = keys_new("svc", "--role", role)

    assert code == 0, stderr
    entry = printed_entry(stderr)
    assert entry == {"name": "svc", "role": role, "key_sha256": digest(stdout.strip())}


def test_keys_new_refuses_an_inspector_without_agency():
    code, stdout, stderr = keys_new("bob", "--role", "inspector")

    assert code == 1
    assert stdout == ""  # no key handed out
    assert stderr.startswith("error: ")
    assert "an inspector's key must name the agency" in stderr
    assert ENTRY_HEADER not in stderr


def test_keys_new_defaults_to_an_inspector_and_so_needs_an_agency():
    code, stdout, stderr = keys_new("bob")

    assert code == 1
    assert stdout == ""
    assert "agency" in stderr


def test_keys_new_refuses_an_unknown_role():
    code, stdout, stderr = keys_new("carol", "--role", "root")

    assert code == 1
    assert stdout == ""
    assert "role" in stderr


# --- vth serve on a non-loopback address --------------------------------------------------------


class StartedError(Exception):
    """Raised by the stand-ins of what ``vth serve`` must not start."""


@pytest.fixture
def serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Settings with every path under tmp_path; nothing may actually be started."""
    for name in (
        "VTH_CONFIG",
        "VTH_API_KEYS_FILE",
        "VTH_WORKFLOW_FILE",
        "VTH_INVENTORY_FILE",
        "VTH_BROKER_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise StartedError("vth serve started something before refusing")

    monkeypatch.setattr("uvicorn.run", refuse)
    monkeypatch.setattr("vth.gateways.broker.EmbeddedBroker.start", refuse)
    monkeypatch.setattr("vth.runtime.Service.start", refuse)
    var = tmp_path / "var"
    return {
        "VTH_PROFILES_DIR": str(EXAMPLE_PROFILES),
        "VTH_DATABASE_URL": f"sqlite:///{var / 'vth.db'}",
        "VTH_QUARANTINE_PATH": str(var / "quarantine.jsonl"),
        "VTH_JOURNAL_PATH": str(var / "journal.jsonl"),
        "VTH_JOURNAL_ARCHIVE_DIR": str(var / "journal-archive"),
        "VTH_RASTER_SPOOL_DIR": str(var / "rasters"),
        "VTH_RECORDS_PATH": str(var / "records.jsonl"),
    }


def serve(env: dict[str, str], *args: str) -> tuple[int, str, str, BaseException | None]:
    result = CliRunner().invoke(app, ["serve", *args], env=env)
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    return result.exit_code, result.stdout, result.stderr, exc


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "vth.example"])
def test_serve_refuses_an_open_api_on_a_non_loopback_host(serve_env, host: str):
    code, stdout, stderr, exc = serve(serve_env, "--host", host)

    assert exc is None, f"{exc!r}\n{stderr}"  # in particular not StartedError
    assert code == 1, stdout + stderr
    assert stderr.startswith("error: ")
    assert f"refusing to serve an open API on {host}" in stderr
    assert "VTH_API_KEYS_FILE" in stderr
    assert "vth keys new" in stderr


def test_serve_refuses_a_non_loopback_api_host_from_the_settings(serve_env):
    code, _, stderr, exc = serve({**serve_env, "VTH_API_HOST": "0.0.0.0"})

    assert exc is None and code == 1
    assert "refusing to serve an open API on 0.0.0.0" in stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_serve_goes_on_to_start_an_open_api_on_loopback(serve_env, host: str):
    code, _, stderr, exc = serve(serve_env, "--host", host)

    assert isinstance(exc, StartedError), f"exit {code}: {stderr}"


def test_serve_goes_on_to_start_on_the_network_with_a_keys_file(serve_env, tmp_path: Path):
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text(f"keys:\n  - {{name: a, role: admin, key_sha256: {'a' * 64}}}\n")

    code, _, stderr, exc = serve(
        {**serve_env, "VTH_API_KEYS_FILE": str(keys_file)}, "--host", "0.0.0.0"
    )

    assert isinstance(exc, StartedError), f"exit {code}: {stderr}"


def test_serve_reports_an_invalid_keys_file_before_starting(serve_env, tmp_path: Path):
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text("keys:\n  - {name: ina, role: inspector, key_sha256: " + "a" * 64 + "}\n")

    code, _, stderr, exc = serve(
        {**serve_env, "VTH_API_KEYS_FILE": str(keys_file)}, "--host", "0.0.0.0"
    )

    assert exc is None and code == 1
    assert "keys.0" in stderr and "agency" in stderr


def test_serve_refuses_before_touching_the_database(serve_env, tmp_path: Path):
    code, _, _, exc = serve(serve_env, "--host", "0.0.0.0")

    assert exc is None and code == 1
    assert not (tmp_path / "var" / "vth.db").exists()


# --- vth serve with an agency's invalid catalogue (a bug: it was a traceback) -------------------

BAD_CATALOGUE = "tasks: []\ntechnologies: [{id: X}]\n"


def test_serve_reports_an_invalid_inventory_catalogue_before_starting(serve_env, tmp_path: Path):
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(BAD_CATALOGUE)

    code, _, stderr, exc = serve({**serve_env, "VTH_INVENTORY_FILE": str(catalogue)})

    assert exc is None and code == 1
    assert stderr.startswith("error: ")
    assert "technologies.0.name: Field required" in stderr
    # brackets in the message are printed as they are, not read as console markup
    assert "'^[a-z][a-z0-9-]*$'" in stderr


def test_serve_check_lists_and_checks_the_inventory_catalogue(serve_env, tmp_path: Path):
    code, stdout, _, exc = serve(serve_env, "--check")
    assert exc is None and code == 0
    assert "inventory: 7 technologies from the shipped catalogue" in stdout

    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(BAD_CATALOGUE)
    code, _, stderr, exc = serve({**serve_env, "VTH_INVENTORY_FILE": str(catalogue)}, "--check")
    assert exc is None and code == 1
    assert "technologies.0.category: Field required" in stderr
