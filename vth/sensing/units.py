"""Units of stream quantities and their conversion to one canonical unit per dimension.

Every value entering a stream buffer is stored in the canonical unit of its dimension
(mass concentrations in mg/m3, volume fractions in %, resistance in Ohm, ...), so
detectors never compare values in different units. Unit symbols follow SenML (RFC 8428
section 12.1) where SenML has one, plus the symbols used in Dutch permits.

Mass concentrations from CEMS are taken as reported (normal conditions, dry); the
reference-O2 correction is in :mod:`vth.sensing.reference`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vth.sensing.errors import UnitError


@dataclass(frozen=True)
class Unit:
    """A unit symbol: its dimension and the affine map to the canonical unit."""

    symbol: str
    dimension: str
    scale: float = 1.0
    offset: float = 0.0


_UNITS: dict[str, Unit] = {
    u.symbol: u
    for u in [
        Unit("mg/m3", "mass_concentration"),
        Unit("mg/Nm3", "mass_concentration"),
        Unit("ug/m3", "mass_concentration", 1e-3),
        Unit("µg/m3", "mass_concentration", 1e-3),
        Unit("g/m3", "mass_concentration", 1e3),
        Unit("kg/m3", "mass_concentration", 1e6),
        Unit("%", "volume_fraction"),
        Unit("%vol", "volume_fraction"),
        Unit("/", "volume_fraction", 100.0),
        Unit("ppm", "volume_fraction", 1e-4),
        Unit("Ohm", "resistance"),
        Unit("kOhm", "resistance", 1e3),
        Unit("MOhm", "resistance", 1e6),
        Unit("K", "temperature"),
        Unit("Cel", "temperature", 1.0, 273.15),
        Unit("m/s", "speed"),
        Unit("km/h", "speed", 1 / 3.6),
        Unit("deg", "angle"),
        Unit("°", "angle"),
        Unit("rad", "angle", 180 / math.pi),
        Unit("ouE/m3", "odour"),
        Unit("Pa", "pressure"),
        Unit("hPa", "pressure", 100.0),
        Unit("kPa", "pressure", 1000.0),
        Unit("V", "voltage"),
        Unit("mV", "voltage", 1e-3),
        Unit("%RH", "relative_humidity"),
        Unit("kg/h", "mass_flow"),
        Unit("t/h", "mass_flow", 1e3),
        Unit("m3/h", "volume_flow"),
        Unit("count", "count"),
    ]
}

CANONICAL: dict[str, str] = {
    "mass_concentration": "mg/m3",
    "volume_fraction": "%",
    "resistance": "Ohm",
    "temperature": "K",
    "speed": "m/s",
    "angle": "deg",
    "odour": "ouE/m3",
    "pressure": "Pa",
    "voltage": "V",
    "relative_humidity": "%RH",
    "mass_flow": "kg/h",
    "volume_flow": "m3/h",
    "count": "count",
}

_MASS = "mass_concentration"
#: Quantities whose dimension is known, by stream variable name.
QUANTITY_DIMENSIONS: dict[str, str] = {
    **{
        s: _MASS
        for s in (
            "NOx",
            "NO2",
            "NO",
            "SO2",
            "CO",
            "dust",
            "TOC",
            "HCl",
            "HF",
            "NH3",
            "Hg",
            "PM10",
            "PM2.5",
            "H2S",
            "CH4",
            "benzene",
            "Cd_Tl",
            "metals",
        )
    },
    "O2": "volume_fraction",
    "CO2": "volume_fraction",
    "H2O": "volume_fraction",
    "wind_direction": "angle",
    "wind_speed": "speed",
    "temperature": "temperature",
    "flue_gas_temperature": "temperature",
    "pressure": "pressure",
    "humidity": "relative_humidity",
    "odour": "odour",
}


def known_units() -> list[str]:
    """All unit symbols understood, sorted."""
    return sorted(_UNITS)


def _lookup(unit: str) -> Unit:
    try:
        return _UNITS[unit]
    except KeyError:
        raise UnitError(f"unknown unit {unit!r}; known units: {', '.join(known_units())}") from None


def dimension_of(unit: str) -> str:
    """The dimension of a unit symbol; raise :class:`UnitError` for an unknown one."""
    return _lookup(unit).dimension


def canonical_unit(quantity: str, unit: str | None) -> str:
    """The canonical unit a value of ``quantity`` given in ``unit`` is stored in.

    Raises
    ------
    UnitError
        When ``unit`` is unknown, or its dimension does not fit the quantity
        (NOx in Ohm, wind speed in mg/m3).
    """
    expected = QUANTITY_DIMENSIONS.get(quantity)
    if unit is None or unit == "":
        if expected is None:
            return ""
        return CANONICAL[expected]
    dimension = dimension_of(unit)
    if expected is not None and dimension != expected:
        examples = ", ".join(u.symbol for u in _UNITS.values() if u.dimension == expected)
        raise UnitError(
            f"{quantity} given in {unit!r} ({dimension.replace('_', ' ')}); "
            f"expected a {expected.replace('_', ' ')} unit such as {examples}"
        )
    return CANONICAL[dimension]


def to_canonical(values: np.ndarray, unit: str | None) -> np.ndarray:
    """Convert ``values`` given in ``unit`` to the canonical unit of its dimension."""
    if unit is None or unit == "":
        return values
    u = _lookup(unit)
    if u.scale == 1.0 and u.offset == 0.0:
        return values
    result: np.ndarray = values * u.scale + u.offset
    return result


def convert(values: np.ndarray, from_unit: str, to_unit: str) -> np.ndarray:
    """Convert between two units of the same dimension."""
    a, b = _lookup(from_unit), _lookup(to_unit)
    if a.dimension != b.dimension:
        raise UnitError(
            f"cannot convert {from_unit!r} ({a.dimension}) to {to_unit!r} ({b.dimension})"
        )
    canonical = values * a.scale + a.offset
    result: np.ndarray = (canonical - b.offset) / b.scale
    return result
