"""Methane columns from Sentinel-2 B11/B12 (Varon et al. 2021; DESIGN.md section 3).

Methane absorbs much more in band 12 (2.2 µm) than in band 11 (1.6 µm). The
multi-band-single-pass (MBSP) retrieval scales B12 to B11 by the least-squares slope
``c`` over the scene and takes the fractional difference
``dR = (c * R12 - R11) / R11``; the multi-band-multi-pass (MBMP) retrieval subtracts
the same quantity of a plume-free reference date, which removes most surface
structure. A column enhancement ``dΩ`` (mol/m²) attenuates each band by
``exp(-k_b * A * dΩ)`` (``A`` the air mass factor), so
``dR = exp(-(k12 - k11) * A * dΩ) - 1`` and ``dΩ = -ln(1 + dR) / ((k12 - k11) * A)``.

The band absorption coefficients ``k11``/``k12`` (per mol/m², per unit air mass) are
effective values standing in for the radiative-transfer lookup of Varon et al.; they
are parameters of the detector, to be set from such a lookup for a given instrument.
"""

from __future__ import annotations

import math

import numpy as np

from vth.detectors.errors import DetectorError

#: Effective band absorption coefficients per mol/m² of methane, per unit air mass.
K11 = 0.004
K12 = 0.040


def band_slope(r11: np.ndarray, r12: np.ndarray) -> float:
    """Least-squares slope ``c`` with ``R11 ~ c * R12`` over the valid pixels."""
    valid = np.isfinite(r11) & np.isfinite(r12) & (r11 > 0) & (r12 > 0)
    if valid.sum() < 100:
        raise DetectorError(
            f"only {int(valid.sum())} valid SWIR pixels; need at least 100 for the B11/B12 fit"
        )
    a, b = r11[valid].astype(np.float64), r12[valid].astype(np.float64)
    return float((a * b).sum() / (b * b).sum())


def mbsp(r11: np.ndarray, r12: np.ndarray) -> np.ndarray:
    """Multi-band-single-pass fractional signal ``(c R12 - R11) / R11``."""
    c = band_slope(r11, r12)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (c * r12 - r11) / r11
    signal: np.ndarray = np.where(r11 > 0, out, np.nan).astype(np.float32)
    return signal


def mbmp(r11: np.ndarray, r12: np.ndarray, ref11: np.ndarray, ref12: np.ndarray) -> np.ndarray:
    """Multi-band-multi-pass signal: the scene's MBSP minus that of a plume-free reference."""
    signal: np.ndarray = mbsp(r11, r12) - mbsp(ref11, ref12)
    return signal


def airmass(sun_zenith_deg: float, view_zenith_deg: float) -> float:
    """Two-way air mass factor ``1/cos(SZA) + 1/cos(VZA)``."""
    if not (0 <= sun_zenith_deg < 85 and 0 <= view_zenith_deg < 85):
        raise DetectorError(
            f"sun zenith {sun_zenith_deg:g}° / view zenith {view_zenith_deg:g}° out of range "
            "for a SWIR methane retrieval (must be below 85°)"
        )
    return 1 / math.cos(math.radians(sun_zenith_deg)) + 1 / math.cos(math.radians(view_zenith_deg))


def column_enhancement(
    fraction: np.ndarray, k11: float = K11, k12: float = K12, air_mass: float = 2.4
) -> np.ndarray:
    """Methane column enhancement (mol/m²) from the fractional MBSP/MBMP signal."""
    if k12 <= k11:
        raise DetectorError(f"k12 ({k12}) must exceed k11 ({k11}): B12 is the absorbing band")
    with np.errstate(invalid="ignore", divide="ignore"):
        column = -np.log1p(fraction) / ((k12 - k11) * air_mass)
    return np.where(fraction > -1, column, np.nan).astype(np.float32)
