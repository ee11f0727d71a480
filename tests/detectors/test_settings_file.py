"""Detector settings files: YAML of detector name -> parameters, checked when read.

A typo in a detector or parameter name must stop the service at start, with the file
named; ``vth backtest --save-params`` writes what a sweep chose without dropping the
other detectors' settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from vth.detectors import create, names
from vth.detectors.errors import DetectorConfigError
from vth.detectors.settings_file import (
    check_detector_params,
    load_detector_params,
    save_detector_params,
)
from vth.pipeline import network_detectors, stream_detectors


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- load_detector_params ------------------------------------------------------------------


def test_a_valid_file_gives_each_detectors_parameters(tmp_path):
    path = write(
        tmp_path / "detectors.yaml",
        "deviation:\n  threshold: 2.5\n  window: 72h\n  quantities: [NOx, SO2]\n"
        "quality:\n  spike_threshold: 7.0\n  kinds: [enose]\n",
    )

    params = load_detector_params(path)

    assert params == {
        "deviation": {"threshold": 2.5, "window": "72h", "quantities": ["NOx", "SO2"]},
        "quality": {"spike_threshold": 7.0, "kinds": ["enose"]},
    }


def test_a_path_given_as_text_is_read_too(tmp_path):
    path = write(tmp_path / "detectors.yaml", "deviation:\n  threshold: 3\n")

    assert load_detector_params(str(path)) == {"deviation": {"threshold": 3}}


def test_a_detector_without_parameters_runs_with_its_defaults(tmp_path):
    path = write(tmp_path / "detectors.yaml", "deviation:\ncompliance: {}\n")

    assert load_detector_params(path) == {"deviation": {}, "compliance": {}}


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_an_empty_file_gives_no_parameters(tmp_path, text):
    assert load_detector_params(write(tmp_path / "detectors.yaml", text)) == {}


def assert_names_file(exc: pytest.ExceptionInfo[DetectorConfigError], path: Path) -> str:
    message = str(exc.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_an_unknown_detector_is_an_error_naming_the_file_and_the_known_ones(tmp_path):
    path = write(tmp_path / "detectors.yaml", "deviaton:\n  threshold: 3\n")

    with pytest.raises(DetectorConfigError) as exc:
        load_detector_params(path)

    message = assert_names_file(exc, path)
    assert "'deviaton'" in message
    assert "deviation" in message  # the registered names are listed


def test_an_unknown_parameter_is_an_error_listing_the_detectors_parameters(tmp_path):
    path = write(tmp_path / "detectors.yaml", "deviation:\n  treshold: 3\n  window: 2h\n")

    with pytest.raises(DetectorConfigError) as exc:
        load_detector_params(path)

    message = assert_names_file(exc, path)
    assert "detector 'deviation' has no parameter(s) treshold" in message
    assert "threshold" in message.split("its parameters are")[1]


@pytest.mark.parametrize(
    ("text", "found"),
    [("- deviation\n- quality\n", "list"), ("deviation\n", "str"), ("3\n", "int")],
)
def test_content_that_is_not_a_mapping_is_an_error(tmp_path, text, found):
    path = write(tmp_path / "detectors.yaml", text)

    with pytest.raises(DetectorConfigError) as exc:
        load_detector_params(path)

    message = assert_names_file(exc, path)
    assert f"expected detector names mapping to parameters, found a {found}" in message


def test_parameters_that_are_not_a_mapping_are_an_error(tmp_path):
    path = write(tmp_path / "detectors.yaml", "deviation: [threshold, 3]\n")

    with pytest.raises(DetectorConfigError) as exc:
        load_detector_params(path)

    message = assert_names_file(exc, path)
    assert "deviation: expected a mapping of parameters, found list" in message


def test_invalid_yaml_is_an_error_naming_the_file(tmp_path):
    path = write(tmp_path / "detectors.yaml", "deviation:\n  threshold: [3\n")

    with pytest.raises(DetectorConfigError) as exc:
        load_detector_params(path)

    assert "not valid YAML" in assert_names_file(exc, path)


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "nowhere" / "detectors.yaml"

    with pytest.raises(DetectorConfigError) as exc:
        load_detector_params(path)

    assert "cannot read detector settings" in assert_names_file(exc, path)


def test_a_directory_is_an_error_naming_it(tmp_path):
    with pytest.raises(DetectorConfigError) as exc:
        load_detector_params(tmp_path)

    assert "cannot read detector settings" in assert_names_file(exc, tmp_path)


def test_a_config_error_is_a_value_error_for_callers_that_catch_those(tmp_path):
    with pytest.raises(ValueError):
        load_detector_params(write(tmp_path / "detectors.yaml", "nope: {}\n"))


# --- check_detector_params -----------------------------------------------------------------


def test_check_returns_plain_dicts_and_fills_in_missing_parameters_as_empty():
    content: dict[str, Any] = {"deviation": {"threshold": 3}, "peak": None}

    checked = check_detector_params(content)

    assert checked == {"deviation": {"threshold": 3}, "peak": {}}
    checked["deviation"]["threshold"] = 99
    assert content["deviation"]["threshold"] == 3  # a copy


def test_check_names_its_origin_in_errors():
    with pytest.raises(DetectorConfigError, match=r"^--param: detector 'quality' has no"):
        check_detector_params({"quality": {"spike": 3}}, "--param")
    with pytest.raises(DetectorConfigError, match=r"^settings: no detector named 'nope'"):
        check_detector_params({"nope": {}})


def test_check_accepts_every_parameter_of_every_detector():
    content = {n: create(n).get_params(deep=False) for n in names()}

    assert check_detector_params(content) == content


def test_check_accepts_an_empty_mapping():
    assert check_detector_params({}) == {}


@pytest.mark.parametrize(
    "params",
    [{"threshold": -1}, {"direction": "sideways"}, {"grid": "5min"}, {"window": "a day"}],
)
def test_check_refuses_values_the_detector_refuses(params):
    with pytest.raises(DetectorConfigError):
        check_detector_params({"deviation": params})


def test_a_mapping_for_a_detector_parameter_is_refused_or_usable():
    try:
        checked = check_detector_params({"enose": {"quality": {"spike_threshold": 5}}})
    except DetectorConfigError:
        return
    [enose] = [d for d in network_detectors(None, checked) if d.name == "enose"]
    assert hasattr(enose.get_params()["quality"], "get_params")


# --- save_detector_params ------------------------------------------------------------------


def test_save_creates_the_file_and_its_folder(tmp_path):
    path = tmp_path / "config" / "detectors.yaml"

    written = save_detector_params(path, "deviation", {"threshold": 2.5, "window": "72h"})

    assert written == path
    assert path.exists()
    assert load_detector_params(path) == {"deviation": {"threshold": 2.5, "window": "72h"}}
    assert path.read_text(encoding="utf-8").startswith("# vth detector settings, updated ")


def test_save_keeps_the_other_detectors_and_replaces_this_ones(tmp_path):
    path = write(
        tmp_path / "detectors.yaml",
        "quality:\n  spike_threshold: 7.0\ndeviation:\n  threshold: 5\n  window: 6h\n",
    )

    save_detector_params(path, "deviation", {"threshold": 3.0})

    assert load_detector_params(path) == {
        "quality": {"spike_threshold": 7.0},
        "deviation": {"threshold": 3.0},  # the detector's settings are replaced, not merged
    }


def test_save_writes_numpy_scalars_and_tuples_as_plain_yaml(tmp_path):
    path = tmp_path / "detectors.yaml"
    params = {
        "threshold": np.float64(2.5),
        "min_coverage": np.float32(0.75),
        "quantities": ("NOx", "SO2"),
    }

    save_detector_params(path, "deviation", params)

    text = path.read_text(encoding="utf-8")
    assert "numpy" not in text and "!!" not in text  # no python/numpy tags
    data = yaml.safe_load(text)
    assert data == {
        "deviation": {"threshold": 2.5, "min_coverage": 0.75, "quantities": ["NOx", "SO2"]}
    }
    assert type(data["deviation"]["threshold"]) is float


def test_save_writes_numpy_strings_as_plain_yaml(tmp_path):
    path = tmp_path / "detectors.yaml"
    windows = np.array(["24h", "72h"])

    save_detector_params(path, "deviation", {"window": windows[1], "quantities": [windows[0]]})

    assert load_detector_params(path) == {"deviation": {"window": "72h", "quantities": ["24h"]}}


def test_save_writes_numpy_integers_as_plain_yaml(tmp_path):
    path = tmp_path / "detectors.yaml"

    save_detector_params(path, "quality", {"drift_hours": np.int64(4), "min_spikes": np.int32(3)})

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data == {"quality": {"drift_hours": 4, "min_spikes": 3}}
    assert type(data["quality"]["drift_hours"]) is int


def test_save_adds_the_note_as_a_comment(tmp_path):
    path = tmp_path / "detectors.yaml"

    save_detector_params(path, "deviation", {"threshold": 3}, note="best F1 of a 12-point sweep")

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# vth detector settings, updated ")
    assert lines[1] == "# deviation: best F1 of a 12-point sweep"
    assert load_detector_params(path) == {"deviation": {"threshold": 3}}


def test_save_without_a_note_writes_one_header_line(tmp_path):
    path = tmp_path / "detectors.yaml"

    save_detector_params(path, "deviation", {"threshold": 3})

    comments = [x for x in path.read_text(encoding="utf-8").splitlines() if x.startswith("#")]
    assert len(comments) == 1


def test_save_refuses_an_unknown_parameter_and_leaves_the_file_alone(tmp_path):
    path = write(tmp_path / "detectors.yaml", "quality:\n  spike_threshold: 7.0\n")
    before = path.read_text(encoding="utf-8")

    with pytest.raises(DetectorConfigError, match="treshold"):
        save_detector_params(path, "deviation", {"treshold": 3})

    assert path.read_text(encoding="utf-8") == before


def test_save_refuses_to_merge_into_a_broken_file(tmp_path):
    path = write(tmp_path / "detectors.yaml", "nope:\n  x: 1\n")

    with pytest.raises(DetectorConfigError, match="nope"):
        save_detector_params(path, "deviation", {"threshold": 3})


def test_a_saved_file_configures_the_detectors(tmp_path):
    path = tmp_path / "detectors.yaml"
    save_detector_params(path, "deviation", {"threshold": np.float64(2.5), "window": "72h"})
    save_detector_params(path, "quality", {"spike_threshold": 6.0})

    params = load_detector_params(path)

    [deviation] = [d for d in stream_detectors(None, params) if d.name == "deviation"]
    [quality] = [d for d in network_detectors(None, params) if d.name == "quality"]
    assert deviation.get_params()["threshold"] == 2.5
    assert deviation.get_params()["window"] == "72h"
    assert quality.get_params()["spike_threshold"] == 6.0


def test_a_nested_detector_survives_saving_another_detector(tmp_path):
    path = tmp_path / "detectors.yaml"
    save_detector_params(path, "enose", {"quality": {"spike_threshold": 5}})
    save_detector_params(path, "deviation", {"threshold": 3})

    loaded = load_detector_params(path)

    assert loaded["deviation"] == {"threshold": 3}
    assert loaded["enose"]["quality"].get_params()["spike_threshold"] == 5
