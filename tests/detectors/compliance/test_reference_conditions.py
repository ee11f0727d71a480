"""Limits apply to dry flue gas at the reference O2; wet measurements are brought to dry."""

from __future__ import annotations

import numpy as np
import pytest

from vth.detectors.compliance import ComplianceDetector, LimitEvaluation, Unevaluated, evaluate_mba
from vth.sensing import ReferenceConditionError
from vth.sensing.reference import to_dry

from ..builders import one_limit_profile, stream

PERIOD = (np.datetime64("2026-01-05T00:00", "ns"), np.datetime64("2026-01-05T01:00", "ns"))


def nox_limit(**extra: object) -> dict[str, object]:
    return {"substance": "NOx", "unit": "mg/m3", "value": 190, "average": "30min", **extra}


def only(evaluations: list[LimitEvaluation | Unevaluated]) -> LimitEvaluation | Unevaluated:
    [ev] = evaluations
    return ev


def test_wet_gas_is_brought_to_dry_with_the_stream_h2o():
    # 180 mg/m3 in gas with 10 % water: 180 * 100 / 90 = 200 mg/m3 dry
    ds = stream(
        "test-mba",
        "2026-01-05T00:00",
        {"NOx": np.full(60, 180.0), "H2O": np.full(60, 10.0)},
        sensors=("cems-1",),
        units={"H2O": "%"},
        attrs={"NOx": {"basis": "wet"}},
    )

    ev = only(list(evaluate_mba(ds, one_limit_profile(nox_limit()), period=PERIOD)))

    assert isinstance(ev, LimitEvaluation)
    assert ev.averages.validated[0] == pytest.approx([200.0, 200.0])
    assert ev.above_limit.sum() == 2  # 200 > 190; wet 180 would not be


def test_wet_o2_is_dried_before_the_reference_o2_correction():
    # NOx 180 wet -> 200 dry; O2 9 % wet -> 10 % dry; at 11 %: 200 * (21-11)/(21-10) = 181.82
    ds = stream(
        "test-mba",
        "2026-01-05T00:00",
        {"NOx": np.full(60, 180.0), "O2": np.full(60, 9.0), "H2O": np.full(60, 10.0)},
        sensors=("cems-1",),
        units={"H2O": "%"},
        attrs={"NOx": {"basis": "wet"}, "O2": {"basis": "wet"}},
    )

    ev = only(list(evaluate_mba(ds, one_limit_profile(nox_limit(reference_o2=11)), period=PERIOD)))

    assert isinstance(ev, LimitEvaluation)
    assert ev.averages.mean[0] == pytest.approx([2000 / 11, 2000 / 11])


def test_wet_gas_without_h2o_is_an_error_that_says_what_to_add():
    ds = stream(
        "test-mba",
        "2026-01-05T00:00",
        {"NOx": np.full(60, 180.0)},
        sensors=("cems-1",),
        attrs={"NOx": {"basis": "wet"}},
    )

    ev = only(list(evaluate_mba(ds, one_limit_profile(nox_limit()), period=PERIOD)))

    assert isinstance(ev, Unevaluated) and isinstance(ev.error, ReferenceConditionError)
    assert "test-mba/stack-1: NOx is measured in wet gas" in ev.reason
    assert "add H2O" in ev.reason
    with pytest.raises(ReferenceConditionError, match="no H2O"):
        ComplianceDetector().detect(ds, one_limit_profile(nox_limit()))


def test_an_unknown_basis_is_refused():
    ds = stream(
        "test-mba",
        "2026-01-05T00:00",
        {"NOx": np.full(60, 180.0)},
        sensors=("cems-1",),
        attrs={"NOx": {"basis": "moist"}},
    )
    with pytest.raises(ReferenceConditionError, match="basis='moist'; use 'dry'"):
        ComplianceDetector().detect(ds, one_limit_profile(nox_limit()))


@pytest.mark.parametrize("h2o", [np.nan, -1.0, 100.0, 120.0])
def test_impossible_water_content_invalidates_the_sample(h2o: float):
    assert np.isnan(to_dry(np.array([100.0]), np.array([h2o]))[0])
