"""The CLI and the API find detectors by name; parameters follow scikit-learn conventions."""

from __future__ import annotations

import pytest
from sklearn.base import clone

from vth.detectors import Detector, UnknownDetectorError, create, get, names, register
from vth.detectors.compliance import ComplianceDetector


def test_the_compliance_detector_is_registered_by_name():
    assert "compliance" in names()
    assert names() == sorted(names())
    assert get("compliance") is ComplianceDetector


def test_an_unknown_detector_name_lists_the_registered_ones():
    with pytest.raises(UnknownDetectorError) as exc:
        get("exceedence")

    message = str(exc.value)
    assert message.startswith("no detector named 'exceedence'; registered: ")
    assert "compliance" in message
    assert isinstance(exc.value, KeyError)  # callers may treat it as a missing key


def test_create_builds_a_detector_with_parameters():
    detector = create("compliance", min_coverage=0.5, substances=["NOx"])

    assert isinstance(detector, ComplianceDetector)
    assert detector.min_coverage == 0.5
    assert detector.substances == ["NOx"]
    assert detector.sampling_interval is None


def test_create_refuses_an_unknown_parameter():
    with pytest.raises(TypeError):
        create("compliance", coverage=0.5)


def test_get_params_set_params_and_clone_work_like_scikit_learn():
    detector = create("compliance", min_coverage=0.5)

    assert detector.get_params() == {
        "min_coverage": 0.5,
        "sampling_interval": None,
        "substances": None,
    }
    assert detector.set_params(sampling_interval="1min") is detector
    assert detector.sampling_interval == "1min"
    copy = clone(detector)
    assert copy is not detector
    assert copy.get_params() == detector.get_params()
    with pytest.raises(ValueError):
        detector.set_params(threshold=3)


def test_a_stateless_detector_fits_without_history_and_returns_itself():
    detector = ComplianceDetector()

    assert detector.fit() is detector
    assert detector.is_fitted_ is True


def test_describe_tells_what_the_detector_is_for():
    info = ComplianceDetector.describe()

    assert info["name"] == "compliance"
    assert info["kind"] == "exceedance"
    assert info["technologies"] == ["sensors"]
    assert info["requires_fit"] is False
    assert "supervision" in info["tasks"]  # type: ignore[operator]
    assert str(info["doc"]).startswith("Averages that break the permit's emission limits")


def test_registering_another_class_under_a_taken_name_is_refused():
    class Impostor(ComplianceDetector):
        name = "compliance"

    with pytest.raises(ValueError, match="detector name 'compliance' is taken"):
        register(Impostor)
    assert get("compliance") is ComplianceDetector


def test_registering_the_same_class_twice_is_harmless():
    assert register(ComplianceDetector) is ComplianceDetector
    assert issubclass(get("compliance"), Detector)
