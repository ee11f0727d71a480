"""Detector parameters (from a settings file) reach the detectors the service runs.

``stream_detectors``, ``network_detectors`` and ``raster_detectors`` configure the
instances from ``params``; an opt-in detector named there runs as well. ``vth serve
--check --detector-params FILE`` lists what would run with which parameters, and stops
with the problem named when the file is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vth.cli import app
from vth.detectors import BaseDetector, get, names
from vth.pipeline import network_detectors, stream_detectors
from vth.raster_pipeline import raster_detectors

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_PROFILES = ROOT / "examples" / "profiles"


def by_name(detectors: Sequence[BaseDetector]) -> dict[str, BaseDetector]:
    return {d.name: d for d in detectors}


def defaults_of(scope: str) -> set[str]:
    return {n for n in names() if get(n).scope == scope and get(n).default}


# --- the three factories ------------------------------------------------------------------


def test_network_detectors_apply_the_quality_parameters():
    detectors = by_name(network_detectors(None, {"quality": {"spike_threshold": 7.0}}))

    quality = detectors["quality"]
    assert quality.get_params()["spike_threshold"] == 7.0
    assert quality.get_params()["drift_limit"] == 0.4
    assert set(detectors) == defaults_of("network")


def test_named_network_detectors_get_their_parameters_too():
    [quality] = network_detectors(["quality"], {"quality": {"spike_threshold": 7.0}})

    assert quality.get_params()["spike_threshold"] == 7.0


def test_raster_detectors_apply_the_heat_parameters():
    params = {"heat": {"k_mad": 4.5, "max_window": 61}}

    detectors = by_name(raster_detectors(None, params))

    heat = detectors["heat"].get_params()
    assert (heat["k_mad"], heat["max_window"], heat["min_window"]) == (4.5, 61, 3)
    assert set(detectors) == defaults_of("raster")
    assert detectors["methane"].get_params() == get("methane")().get_params()


def test_stream_detectors_apply_parameters_to_default_detectors():
    detectors = by_name(stream_detectors(None, {"compliance": {"min_coverage": 0.5}}))

    assert detectors["compliance"].get_params()["min_coverage"] == 0.5
    assert detectors["peak"].get_params()["min_coverage"] is None
    assert "deviation" not in detectors


def test_parameters_make_an_opt_in_detector_run_only_in_its_own_scope():
    params = {"deviation": {"threshold": 3, "window": "72h"}}

    streams = by_name(stream_detectors(None, params))

    assert streams["deviation"].get_params()["threshold"] == 3
    assert streams["deviation"].get_params()["window"] == "72h"
    assert "deviation" not in by_name(network_detectors(None, params))
    assert "deviation" not in by_name(raster_detectors(None, params))


def test_parameters_of_other_scopes_do_not_leak():
    params = {"quality": {"spike_threshold": 7.0}, "heat": {"k_mad": 4.5}}

    assert set(by_name(stream_detectors(None, params))) == {
        n
        for n in defaults_of("mba")
        if not get(n).requires_fit and any(i.startswith("stream") for i in get(n).inputs)
    }
    assert "heat" not in by_name(network_detectors(None, params))
    assert "quality" not in by_name(raster_detectors(None, params))


def test_a_selection_wins_over_the_detectors_params_name():
    params: dict[str, dict[str, Any]] = {
        "deviation": {"threshold": 3},
        "compliance": {"min_coverage": 0.5},
    }

    [compliance] = stream_detectors(["compliance"], params)

    assert compliance.name == "compliance"
    assert compliance.get_params()["min_coverage"] == 0.5


def test_each_call_gives_new_instances():
    params = {"quality": {"spike_threshold": 7.0}}

    first = by_name(network_detectors(None, params))["quality"]
    second = by_name(network_detectors(None, params))["quality"]

    assert first is not second


def test_an_unknown_parameter_in_params_is_refused():
    with pytest.raises(TypeError):
        stream_detectors(None, {"deviation": {"treshold": 3}})


# --- vth serve --check ------------------------------------------------------------------------


@pytest.fixture
def serve_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.delenv("VTH_CONFIG", raising=False)
    monkeypatch.delenv("VTH_DETECTOR_PARAMS_FILE", raising=False)
    return {"VTH_PROFILES_DIR": str(EXAMPLE_PROFILES), "VTH_BUFFER_RETENTION_H": "48"}


def serve_check(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["serve", "--check", *args], env=env)
    return result.exit_code, result.stdout, result.stderr


def test_serve_check_lists_deviation_with_its_parameters(tmp_path, serve_env):
    path = tmp_path / "detectors.yaml"
    path.write_text(
        "deviation:\n  threshold: 2.5\n  window: 72h\nquality:\n  spike_threshold: 7.0\n",
        encoding="utf-8",
    )

    code, stdout, stderr = serve_check(serve_env, "--detector-params", str(path))

    assert code == 0, stdout + stderr
    rows = {line.split("│")[1].strip(): line for line in stdout.splitlines() if "│" in line}
    assert "threshold=2.5, window=72h" in rows["deviation"]
    assert "mba" in rows["deviation"]
    assert "spike_threshold=7.0" in rows["quality"]
    assert "defaults" in rows["compliance"]
    assert f"detector settings: {path}" in stdout
    assert "4 profile(s)" in stdout


def test_serve_check_without_a_settings_file_does_not_run_deviation(serve_env):
    code, stdout, stderr = serve_check(serve_env)

    assert code == 0, stdout + stderr
    assert "compliance" in stdout
    assert "deviation" not in stdout
    assert "detector settings: none" in stdout


def test_serve_check_warns_when_the_buffer_is_shorter_than_the_window(tmp_path, serve_env):
    path = tmp_path / "detectors.yaml"
    path.write_text("deviation:\n  window: 72h\n  min_coverage: 1.0\n", encoding="utf-8")

    code, stdout, stderr = serve_check(serve_env, "--detector-params", str(path))

    assert code == 0, stdout + stderr
    assert "deviation needs 72 h of data" in stderr
    assert "keeps 48 h" in stderr


def test_serve_check_stops_on_an_unknown_parameter_and_names_it(tmp_path, serve_env):
    path = tmp_path / "detectors.yaml"
    path.write_text("deviation:\n  treshold: 2.5\n", encoding="utf-8")

    code, stdout, stderr = serve_check(serve_env, "--detector-params", str(path))

    assert code == 1
    assert stderr.startswith("error: ")
    assert str(path) in stderr
    assert "detector 'deviation' has no parameter(s) treshold" in stderr
    assert "vth serve would run" not in stdout


def test_serve_check_stops_on_an_unknown_detector(tmp_path, serve_env):
    path = tmp_path / "detectors.yaml"
    path.write_text("deviaton:\n  threshold: 2.5\n", encoding="utf-8")

    code, _, stderr = serve_check(serve_env, "--detector-params", str(path))

    assert code == 1
    assert "no detector named 'deviaton'" in stderr


def test_serve_check_stops_on_a_missing_settings_file(tmp_path, serve_env):
    path = tmp_path / "absent.yaml"

    code, _, stderr = serve_check(serve_env, "--detector-params", str(path))

    assert code == 1
    assert str(path) in stderr
    assert "cannot read detector settings" in stderr


def test_serve_check_reads_the_settings_file_from_the_environment(tmp_path, serve_env):
    path = tmp_path / "detectors.yaml"
    path.write_text("deviation:\n  threshold: 3\n", encoding="utf-8")

    code, stdout, stderr = serve_check({**serve_env, "VTH_DETECTOR_PARAMS_FILE": str(path)})

    assert code == 0, stdout + stderr
    assert "threshold=3" in stdout
