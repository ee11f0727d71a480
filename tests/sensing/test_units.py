"""Every value is stored in one canonical unit, so detectors never compare apples and pears."""

from __future__ import annotations

import numpy as np
import pytest

from vth.sensing import UnitError
from vth.sensing.units import canonical_unit, convert, dimension_of, known_units, to_canonical


def test_micrograms_become_milligrams_per_cubic_metre():
    assert canonical_unit("NOx", "ug/m3") == "mg/m3"
    np.testing.assert_allclose(to_canonical(np.array([120_000.0, 50.0]), "ug/m3"), [120.0, 0.05])
    np.testing.assert_allclose(to_canonical(np.array([1.0]), "µg/m3"), [0.001])


def test_grams_per_cubic_metre_become_milligrams():
    np.testing.assert_allclose(to_canonical(np.array([10.0]), "g/m3"), [10_000.0])
    np.testing.assert_allclose(convert(np.array(10.0), "g/m3", "mg/m3"), 10_000.0)


def test_celsius_becomes_kelvin():
    assert canonical_unit("flue_gas_temperature", "Cel") == "K"
    np.testing.assert_allclose(
        to_canonical(np.array([0.0, 20.0, -273.15]), "Cel"), [273.15, 293.15, 0]
    )


def test_kelvin_converts_back_to_celsius():
    np.testing.assert_allclose(convert(np.array([273.15, 373.15]), "K", "Cel"), [0.0, 100.0])


def test_ppm_oxygen_becomes_percent():
    assert canonical_unit("O2", "ppm") == "%"
    np.testing.assert_allclose(to_canonical(np.array([110_000.0]), "ppm"), [11.0])
    np.testing.assert_allclose(convert(np.array(11.0), "%", "ppm"), 110_000.0)


def test_a_fraction_becomes_percent():
    np.testing.assert_allclose(to_canonical(np.array([0.11]), "/"), [11.0])


def test_canonical_values_are_returned_unchanged():
    values = np.array([1.0, 2.0])
    assert to_canonical(values, "mg/m3") is values
    assert to_canonical(values, None) is values
    assert to_canonical(values, "") is values


def test_nan_stays_nan_through_conversion():
    out = to_canonical(np.array([np.nan, 20.0]), "Cel")
    assert np.isnan(out[0])
    assert out[1] == pytest.approx(293.15)


def test_nox_in_ohm_is_refused_naming_the_quantity_and_the_expected_unit():
    with pytest.raises(UnitError) as exc:
        canonical_unit("NOx", "Ohm")

    message = str(exc.value)
    assert message.startswith("NOx given in 'Ohm' (resistance)")
    assert "expected a mass concentration unit" in message
    assert "mg/m3" in message


def test_wind_speed_in_milligrams_is_refused_naming_metres_per_second():
    with pytest.raises(UnitError, match=r"wind_speed given in 'mg/m3'.*expected a speed unit.*m/s"):
        canonical_unit("wind_speed", "mg/m3")


def test_an_unknown_unit_lists_the_known_ones():
    with pytest.raises(UnitError) as exc:
        canonical_unit("NOx", "furlongs")

    message = str(exc.value)
    assert "unknown unit 'furlongs'" in message
    for unit in ("mg/m3", "ug/m3", "ppm", "Cel", "K", "Ohm"):
        assert unit in message
    assert message.endswith(", ".join(known_units()))


def test_converting_across_dimensions_is_refused():
    with pytest.raises(UnitError, match=r"cannot convert 'mg/m3' \(mass_concentration\) to '%'"):
        convert(np.array(1.0), "mg/m3", "%")


def test_a_quantity_of_unknown_dimension_keeps_the_canonical_unit_of_its_unit():
    # an e-nose channel is not a known quantity: its unit decides
    assert canonical_unit("ch1", "kOhm") == "Ohm"
    assert canonical_unit("ch1", None) == ""
    assert canonical_unit("NOx", None) == "mg/m3"


def test_dimension_of_a_known_unit():
    assert dimension_of("mg/Nm3") == "mass_concentration"
    assert dimension_of("km/h") == "speed"
    np.testing.assert_allclose(to_canonical(np.array([36.0]), "km/h"), [10.0])
