"""An advisory LHSO suggestion (Landelijke Handhavingsstrategie Omgevingsrecht, 2022).

The LHSO matrix crosses the consequence of a violation (gevolg 1-4) with the
behaviour of the offender (gedrag A-D). A sensor can suggest the consequence from how
large, how long and how hazardous an exceedance is; the behaviour comes from the
MBA's case history (confirmed violations before) or stays ``unknown``. The
inspector decides. The rules are data (:class:`LhsoRules`), so an agency can set its
own in a YAML file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vth.models.yamlfile import read_yaml_model

#: Substances whose exceedance weighs heavier (acutely toxic or carcinogenic).
HAZARDOUS_SUBSTANCES = frozenset({"HF", "HCl", "Hg", "Cd_Tl", "benzene", "H2S", "NH3", "metals"})

Behaviour = Literal["A", "B", "C", "D", "unknown"]


class LhsoSuggestion(BaseModel):
    """Suggested LHSO consequence category with the reason; behaviour usually unknown."""

    model_config = ConfigDict(frozen=True)

    consequence: int = Field(ge=1, le=4, description="1 nearly nil .. 4 considerable")
    behaviour: Behaviour = "unknown"
    reason: str


class Condition(BaseModel):
    """Every bound given must hold: at least ``min_factor`` x the limit for ``min_hours``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_factor: float | None = Field(default=None, gt=0)
    min_hours: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> Condition:
        if self.min_factor is None and self.min_hours is None:
            raise ValueError("a condition needs min_factor, min_hours or both")
        return self

    def holds(self, factor: float, hours: float) -> bool:
        """Tell whether an exceedance of ``factor`` x the limit for ``hours`` meets it."""
        return (self.min_factor is None or factor >= self.min_factor) and (
            self.min_hours is None or hours >= self.min_hours
        )


class ConsequenceLevel(BaseModel):
    """A consequence category, reached when any one of its conditions holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    consequence: int = Field(ge=2, le=4)
    when: list[Condition] = Field(min_length=1)


class BehaviourRule(BaseModel):
    """Behaviour suggested when the MBA had at least ``min_confirmed`` violations before."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_confirmed: int = Field(ge=1)
    behaviour: Literal["A", "B", "C", "D"]


def _default_levels() -> list[ConsequenceLevel]:
    return [
        ConsequenceLevel(
            consequence=4,
            when=[Condition(min_factor=5), Condition(min_factor=2, min_hours=24)],
        ),
        ConsequenceLevel(consequence=3, when=[Condition(min_factor=2), Condition(min_hours=24)]),
        ConsequenceLevel(consequence=2, when=[Condition(min_factor=1.2), Condition(min_hours=4)]),
    ]


def _default_behaviour() -> list[BehaviourRule]:
    return [
        BehaviourRule(min_confirmed=3, behaviour="C"),
        BehaviourRule(min_confirmed=1, behaviour="B"),
    ]


class LhsoRules(BaseModel):
    """An agency's rules for the LHSO suggestion; the defaults are the toolkit's.

    Examples
    --------
    >>> rules = LhsoRules()
    >>> rules.suggest(2.5, 3600, "NOx").consequence
    3
    >>> rules.suggest(2.5, 3600, "NOx", confirmed_violations=1).behaviour
    'B'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    levels: list[ConsequenceLevel] = Field(
        default_factory=_default_levels,
        description="Consequence 2-4, checked from the highest down; none met: 1.",
    )
    hazardous_substances: list[str] = Field(default_factory=lambda: sorted(HAZARDOUS_SUBSTANCES))
    hazard_step: int = Field(
        default=1, ge=0, le=3, description="Categories a hazardous substance adds (up to 4)."
    )
    no_limit_consequence: int = Field(
        default=2, ge=1, le=4, description="Suggested when there is no limit to compare with."
    )
    behaviour: list[BehaviourRule] = Field(
        default_factory=_default_behaviour,
        description="Checked from the most confirmed violations down; none met: unknown.",
    )
    history_days: float = Field(
        default=365, gt=0, description="How far back confirmed violations count."
    )

    def suggest(
        self,
        factor: float | None,
        duration_s: float,
        substance: str | None,
        *,
        confirmed_violations: int = 0,
    ) -> LhsoSuggestion:
        """Suggest the consequence and the behaviour of one exceedance.

        Parameters
        ----------
        factor
            Worst value divided by the limit (``None`` when there is no limit).
        duration_s
            How long the exceedance lasted, in seconds.
        substance
            Stream variable name; hazardous substances move ``hazard_step`` up.
        confirmed_violations
            Violations of the same MBA that inspectors confirmed in the last
            ``history_days``.
        """
        behaviour, history = self._behaviour(confirmed_violations)
        if factor is None:
            return LhsoSuggestion(
                consequence=self.no_limit_consequence,
                behaviour=behaviour,
                reason=f"no limit to compare with; consequence unclear; {history}",
            )
        hours = duration_s / 3600
        consequence = next(
            (
                level.consequence
                for level in sorted(self.levels, key=lambda lv: -lv.consequence)
                if any(c.holds(factor, hours) for c in level.when)
            ),
            1,
        )
        reason = f"{factor:.2f}x the limit for {hours:.1f} h"
        if substance in self.hazardous_substances and self.hazard_step and consequence < 4:
            consequence = min(4, consequence + self.hazard_step)
            reason += f"; {substance} is hazardous"
        return LhsoSuggestion(
            consequence=consequence,
            behaviour=behaviour,
            reason=f"{reason}; {history} (advisory; the inspector decides)",
        )

    def _behaviour(self, confirmed: int) -> tuple[Behaviour, str]:
        for rule in sorted(self.behaviour, key=lambda r: -r.min_confirmed):
            if confirmed >= rule.min_confirmed:
                return rule.behaviour, (
                    f"{confirmed} confirmed violation(s) in {self.history_days:g} days"
                )
        if confirmed:
            return "unknown", f"{confirmed} confirmed violation(s), no behaviour rule met"
        return "unknown", "behaviour unknown (no confirmed violations on record)"


#: The toolkit's rules, used where an agency has set none.
DEFAULT_RULES = LhsoRules()


def suggest_lhso(factor: float | None, duration_s: float, substance: str | None) -> LhsoSuggestion:
    """Suggest a consequence category by the default rules, behaviour unknown.

    The service suggests again with the agency's rules and the MBA's history when it
    stores the alert.
    """
    return DEFAULT_RULES.suggest(factor, duration_s, substance)


def load_lhso_rules(path: Path) -> LhsoRules:
    """Read an agency's LHSO rules from a YAML file (:class:`LhsoRules` fields).

    Raises
    ------
    SettingsFileError
        When the file cannot be read or a rule is invalid (each problem with its field path).
    """
    return read_yaml_model(path, LhsoRules, "LHSO rules")
