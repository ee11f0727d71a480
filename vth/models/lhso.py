"""An advisory LHSO suggestion (Landelijke Handhavingsstrategie Omgevingsrecht, 2022).

The LHSO matrix crosses the consequence of a violation (gevolg 1-4) with the
behaviour of the offender (gedrag A-D). A sensor can only suggest the consequence,
from how large, how long and how hazardous an exceedance is; the behaviour comes
from case history and stays ``unknown`` here. The inspector decides.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Substances whose exceedance weighs heavier (acutely toxic or carcinogenic).
HAZARDOUS_SUBSTANCES = frozenset({"HF", "HCl", "Hg", "Cd_Tl", "benzene", "H2S", "NH3", "metals"})


class LhsoSuggestion(BaseModel):
    """Suggested LHSO consequence category with the reason; behaviour usually unknown."""

    model_config = ConfigDict(frozen=True)

    consequence: int = Field(ge=1, le=4, description="1 nearly nil .. 4 considerable")
    behaviour: Literal["A", "B", "C", "D", "unknown"] = "unknown"
    reason: str


def suggest_lhso(factor: float | None, duration_s: float, substance: str | None) -> LhsoSuggestion:
    """Suggest a consequence category from exceedance factor, duration and substance.

    Parameters
    ----------
    factor
        Worst value divided by the limit (``None`` when there is no limit).
    duration_s
        How long the exceedance lasted, in seconds.
    substance
        Stream variable name; hazardous substances move one category up.
    """
    if factor is None:
        return LhsoSuggestion(consequence=2, reason="no limit to compare with; consequence unclear")
    hours = duration_s / 3600
    if factor >= 5 or (factor >= 2 and hours >= 24):
        consequence = 4
    elif factor >= 2 or hours >= 24:
        consequence = 3
    elif factor >= 1.2 or hours >= 4:
        consequence = 2
    else:
        consequence = 1
    reason = f"{factor:.2f}x the limit for {hours:.1f} h"
    if substance in HAZARDOUS_SUBSTANCES and consequence < 4:
        consequence += 1
        reason += f"; {substance} is hazardous"
    return LhsoSuggestion(
        consequence=consequence, reason=reason + " (advisory; the inspector decides)"
    )
