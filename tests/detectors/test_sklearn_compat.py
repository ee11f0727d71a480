"""Every registered detector follows the scikit-learn estimator conventions.

``clone``, ``get_params``/``set_params`` (nested ``<param>__<sub>`` names for a detector
held as a parameter), parameters stored as given, learned state ending in ``_`` and
``fit`` returning ``self``: parameter sweeps (``vth backtest``) and settings files rely
on these for every detector, including ones added later.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import xarray as xr
from sklearn.base import clone

from vth.detectors import (
    BaseDetector,
    Detector,
    NetworkDetector,
    NotFittedError,
    RasterDetector,
    create,
    get,
    names,
)
from vth.detectors.deviation import DeviationDetector
from vth.detectors.quality import QualityDetector
from vth.sensing.network import Network
from vth.sensing.scenario import Scenario, clean_history, random_scenario
from vth.sensing.streams import make_stream_dataset

from .builders import one_limit_profile

ALL = names()


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return random_scenario(0, n_enoses=6, minutes=60, n_releases=0)


@pytest.fixture(scope="module")
def history(scenario: Scenario) -> xr.Dataset:
    """Ten hours of a small e-nose network without events: enough to fit on."""
    return clean_history(scenario, 600)


def quick(name: str) -> BaseDetector:
    """A detector of ``name`` that can fit on the short history."""
    if name == "enose":
        return create(name, baseline_hours=2, min_baseline_hours=1)
    return create(name)


def fit_quickly(detector: BaseDetector, history: xr.Dataset, network: Network) -> BaseDetector:
    """Fit on what each scope needs: nothing, or a short network history."""
    if isinstance(detector, NetworkDetector):
        return detector.fit(history, network)
    assert isinstance(detector, Detector | RasterDetector)
    return detector.fit()


def test_there_are_detectors_of_every_scope():
    assert {get(n).scope for n in ALL} == {"mba", "network", "raster"}
    assert "deviation" in ALL


@pytest.mark.parametrize("name", ALL)
def test_clone_gives_a_new_detector_with_equal_parameters(name):
    detector = create(name)

    copy = clone(detector)

    assert copy is not detector
    assert type(copy) is type(detector)
    assert copy.get_params() == detector.get_params()


@pytest.mark.parametrize("name", ALL)
def test_init_stores_each_parameter_as_given_under_its_own_name(name):
    cls = get(name)
    signature = inspect.signature(cls.__init__)
    params = [p for p in signature.parameters.values() if p.name != "self"]

    detector = cls()

    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)  # no *args / **kwargs
    assert sorted(detector.get_params(deep=False)) == sorted(p.name for p in params)
    for p in params:
        assert getattr(detector, p.name) is p.default or getattr(detector, p.name) == p.default


@pytest.mark.parametrize("name", ALL)
def test_set_params_with_its_own_parameters_returns_the_detector_unchanged(name):
    detector = create(name)
    params = detector.get_params()

    assert detector.set_params(**params) is detector
    assert detector.get_params() == params


@pytest.mark.parametrize("name", ALL)
def test_set_params_with_an_unknown_name_raises_value_error(name):
    detector = create(name)

    with pytest.raises(ValueError, match="not_a_parameter"):
        detector.set_params(not_a_parameter=1)


@pytest.mark.parametrize("name", ALL)
def test_get_params_deep_holds_the_shallow_parameters(name):
    detector = create(name)

    shallow = detector.get_params(deep=False)
    deep = detector.get_params(deep=True)

    assert set(shallow) <= set(deep)
    nested = {k for k in deep if "__" in k}
    estimators = {k for k, v in shallow.items() if hasattr(v, "get_params")}
    assert {k.split("__")[0] for k in nested} == estimators  # none unless a detector is held


@pytest.mark.parametrize("name", ALL)
def test_describe_says_whether_the_detector_runs_by_default(name):
    cls = get(name)

    description = cls.describe()

    assert description["default"] is cls.default
    assert description["name"] == name
    assert description["scope"] == cls.scope
    assert isinstance(description["doc"], str) and description["doc"]


@pytest.mark.parametrize("name", ALL)
def test_repr_shows_the_class_and_changed_parameters(name):
    detector = create(name)

    assert repr(detector).startswith(type(detector).__name__ + "(")


@pytest.mark.parametrize("name", ALL)
def test_fit_returns_self_adds_only_underscored_state_and_keeps_parameters(name, history, scenario):
    detector = quick(name)
    params = detector.get_params()
    before = set(vars(detector))

    fitted = fit_quickly(detector, history, scenario.network)

    assert fitted is detector
    learned = set(vars(detector)) - before
    assert "is_fitted_" in learned
    assert all(a.endswith("_") and not a.startswith("_") for a in learned), learned
    assert detector.is_fitted_ is True
    assert detector.get_params() == params


@pytest.mark.parametrize("name", ALL)
def test_clone_of_a_fitted_detector_is_unfitted(name, history, scenario):
    detector = fit_quickly(quick(name), history, scenario.network)

    copy = clone(detector)

    assert not any(a.endswith("_") for a in vars(copy))
    assert copy.get_params() == detector.get_params()


def test_detectors_that_require_fitting_refuse_to_detect_unfitted():
    for name in ALL:
        cls = get(name)
        if not cls.requires_fit:
            continue
        detector = create(name)
        assert isinstance(detector, NetworkDetector)
        with pytest.raises(NotFittedError, match=name):
            detector.detect(xr.Dataset(), Network(id="n"))


def test_deviation_fits_without_data_then_detects():
    profile = one_limit_profile(
        {"substance": "NOx", "unit": "mg/m3", "value": 100, "average": "1h"}
    )
    detector = DeviationDetector(window="1h", min_duration="1min")
    values = 10.0 + 0.1 * np.random.default_rng(0).standard_normal(180)
    values[150] += 3.0
    ds = make_stream_dataset(
        "test-mba",
        ["cems-1"],
        np.datetime64("2026-03-02T00:00", "ns") + np.arange(180) * np.timedelta64(1, "m"),
        {"NOx": (values[None, :], "mg/m3")},
    )

    assert not hasattr(detector, "is_fitted_")
    assert detector.fit() is detector
    assert detector.is_fitted_ is True
    [found] = detector.detect(ds, profile)
    assert found.detector == "deviation"
    assert detector.fit_detect(ds, profile) == [found]


# --- a detector held as a parameter: the e-nose detector's quality control -------------------


@pytest.fixture
def enose_with_quality() -> BaseDetector:
    return create("enose", quality=QualityDetector(spike_threshold=6.0))


def test_nested_parameters_of_a_held_detector_appear_in_deep_params(enose_with_quality):
    deep = enose_with_quality.get_params(deep=True)
    shallow = enose_with_quality.get_params(deep=False)

    assert deep["quality__spike_threshold"] == 6.0
    for key, value in QualityDetector().get_params().items():
        assert f"quality__{key}" in deep
        assert f"quality__{key}" not in shallow
        if key != "spike_threshold":
            assert deep[f"quality__{key}"] == value


def test_set_params_reaches_into_the_held_detector(enose_with_quality):
    quality = enose_with_quality.get_params()["quality"]

    result = enose_with_quality.set_params(quality__spike_threshold=8.0, min_sensors=3)

    assert result is enose_with_quality
    assert quality.spike_threshold == 8.0
    assert enose_with_quality.get_params()["quality__spike_threshold"] == 8.0
    assert enose_with_quality.get_params()["min_sensors"] == 3


def test_an_unknown_nested_parameter_raises_value_error(enose_with_quality):
    with pytest.raises(ValueError, match="spike_treshold"):
        enose_with_quality.set_params(quality__spike_treshold=8.0)


def test_clone_copies_the_held_detector(enose_with_quality):
    copy = clone(enose_with_quality)

    held, copied = enose_with_quality.get_params()["quality"], copy.get_params()["quality"]
    assert copied is not held
    assert isinstance(copied, QualityDetector)
    assert copied.get_params() == held.get_params()
    assert copy.get_params(deep=True).keys() == enose_with_quality.get_params(deep=True).keys()


def test_without_a_held_detector_there_are_no_nested_parameters():
    deep = create("enose").get_params(deep=True)

    assert deep["quality"] is None
    assert not any(k.startswith("quality__") for k in deep)


def test_fitting_does_not_change_the_held_detector(enose_with_quality, history, scenario):
    held = enose_with_quality.get_params()["quality"]
    before = set(vars(held))

    enose_with_quality.set_params(baseline_hours=2, min_baseline_hours=1)
    fit_quickly(enose_with_quality, history, scenario.network)

    assert set(vars(held)) == before  # a fitted copy is kept, the parameter stays unfitted
    fitted_quality = enose_with_quality.quality_
    assert fitted_quality is not held
    assert fitted_quality.spike_threshold == 6.0


SWEEPS: list[tuple[str, Callable[[BaseDetector], Any]]] = [
    ("deviation", lambda d: d.set_params(threshold=2.5, window="72h")),
    ("quality", lambda d: d.set_params(spike_threshold=7.0)),
    ("heat", lambda d: d.set_params(k_mad=4.0)),
]


@pytest.mark.parametrize(("name", "change"), SWEEPS, ids=[n for n, _ in SWEEPS])
def test_a_sweep_over_clones_leaves_the_original_untouched(name, change):
    original = create(name)
    before = original.get_params()

    changed = change(clone(original))

    assert original.get_params() == before
    assert changed.get_params() != before
