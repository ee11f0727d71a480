"""Reference conditions: concentrations at a reference O2 content (DESIGN.md section 3)."""

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
