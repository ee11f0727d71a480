"""Reference conditions: dry flue gas at a reference O2 content (DESIGN.md section 3).

Concentrations are compared at 273 K, 101.3 kPa, dry, at the limit's reference O2.
CEMS usually report normal conditions already; a variable measured in wet gas says so
with ``attrs["basis"] = "wet"`` and is brought to dry with the stream's ``H2O`` (% vol).
"""

from __future__ import annotations

import numpy as np

#: O2 content of air, % by volume.
AIR_O2 = 21.0


def to_reference_o2(
    concentration: np.ndarray, o2_measured: np.ndarray, o2_reference: float
) -> np.ndarray:
    """``C_ref = C_meas * (21 - O2_ref) / (21 - O2_meas)``, vectorised.

    Samples whose measured O2 is missing, negative or at least 21 % become NaN
    (invalid): the correction is undefined there.
    """
    o2 = np.asarray(o2_measured, dtype=np.float64)
    ok = (o2 >= 0) & (o2 < AIR_O2)
    factor = np.where(ok, (AIR_O2 - o2_reference) / np.where(ok, AIR_O2 - o2, 1.0), np.nan)
    result: np.ndarray = np.asarray(concentration, dtype=np.float64) * factor
    return result


def to_dry(values: np.ndarray, h2o_percent: np.ndarray) -> np.ndarray:
    """``C_dry = C_wet * 100 / (100 - H2O)``, vectorised (also for O2 in % vol).

    Samples whose H2O is missing, negative or at least 100 % become NaN (invalid).
    """
    h2o = np.asarray(h2o_percent, dtype=np.float64)
    ok = (h2o >= 0) & (h2o < 100)
    factor = np.where(ok, 100.0 / np.where(ok, 100.0 - h2o, 1.0), np.nan)
    result: np.ndarray = np.asarray(values, dtype=np.float64) * factor
    return result
