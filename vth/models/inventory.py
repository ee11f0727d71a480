"""The technology inventory: technologies, the agency tasks they serve, what they can see.

A :class:`Catalogue` lists technologies (satellite images, sensors, e-noses, drones, XRF,
AI, RPA, ...) and tasks (permitting, supervision, ...); the toolkit ships one seeded
from the 2025 national inventory of omgevingsdiensten, and an agency edits its own copy
as YAML. A :class:`Capability` is what one part of this toolkit (a detector or a
gateway) does with a technology; the inventory adds them by itself, so it stays true
to what the toolkit can do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Identifier = str
#: What a permit obliges that a technology may check.
ObligationKind = Literal["emission_limit", "peak_limit", "heat_source", "methane", "gas_release"]
Maturity = Literal["research", "pilot", "in use", "established"]


class Task(BaseModel):
    """A task of an agency (omgevingsdienst), e.g. supervision (toezicht)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Identifier = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    name_nl: str | None = None
    description: str | None = None


class DetectionLimit(BaseModel):
    """The smallest thing a technology reliably sees for one obligation or quantity.

    ``value`` is in ``unit``; an obligation whose permitted level is below it cannot be
    checked with this technology (e.g. satellite methane from about 1000 kg/h against a
    permitted flow of 50 kg/h).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    obligation: ObligationKind
    quantity: str | None = Field(
        default=None, description="Substance (e.g. NOx, CH4) or property (e.g. source size)."
    )
    value: float = Field(ge=0)
    unit: str
    note: str | None = None


class Technology(BaseModel):
    """One technology of the catalogue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Identifier = Field(pattern=r"^[a-z][a-z0-9-]*$")
    name: str
    category: Literal["sensing", "remote sensing", "field instrument", "software"]
    maturity: Maturity
    tasks: list[Identifier] = Field(
        default_factory=list, description="Tasks it serves, per the national inventory."
    )
    data: list[str] = Field(default_factory=list, description="What it produces.")
    detection_limits: list[DetectionLimit] = Field(default_factory=list)
    costs: str | None = None
    suppliers: list[str] = Field(default_factory=list)
    notes: str | None = None
    sources: list[str] = Field(default_factory=list, description="Where the facts come from.")

    def limit_for(self, obligation: str, quantity: str | None = None) -> DetectionLimit | None:
        """Its detection limit for an obligation and quantity.

        Without a ``quantity``, the first limit of the obligation; with one, the limit
        of that quantity, else one that names no quantity.
        """
        fitting = [d for d in self.detection_limits if d.obligation == obligation]
        if quantity is not None:
            fitting = [d for d in fitting if d.quantity == quantity] or [
                d for d in fitting if d.quantity is None
            ]
        return fitting[0] if fitting else None


class Catalogue(BaseModel):
    """Technologies and tasks; every task a technology names must be listed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tasks: list[Task]
    technologies: list[Technology]

    @field_validator("tasks")
    @classmethod
    def _unique_tasks(cls, tasks: list[Task]) -> list[Task]:
        _unique([t.id for t in tasks], "task")
        return tasks

    @field_validator("technologies")
    @classmethod
    def _known_tasks(cls, technologies: list[Technology], info: ValidationInfo) -> list[Technology]:
        _unique([t.id for t in technologies], "technology")
        listed = info.data.get("tasks")
        if listed is None:
            return technologies  # the tasks were invalid: reported on their own
        known = {t.id for t in listed}
        problems = [
            f"technologies.{i}.tasks ({t.id}) names unknown tasks {sorted(set(t.tasks) - known)}"
            for i, t in enumerate(technologies)
            if set(t.tasks) - known
        ]
        if problems:
            raise ValueError("; ".join(problems) + "; add them under tasks")
        return technologies

    def technology(self, technology_id: str) -> Technology | None:
        """The technology with this id, or None."""
        return next((t for t in self.technologies if t.id == technology_id), None)


def _unique(ids: list[str], kind: str) -> None:
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"{kind} ids used twice: {repeated}")


class Capability(BaseModel):
    """What one part of the toolkit (a detector or a gateway) does with technologies."""

    model_config = ConfigDict(frozen=True)

    name: str
    component: Literal["detector", "gateway"]
    technologies: tuple[Identifier, ...]
    tasks: tuple[Identifier, ...]
    inputs: tuple[str, ...] = ()
    detection_limit: str = Field(default="", description="In words, as the component says.")
    obligations: tuple[ObligationKind, ...] = Field(
        default=(), description="What of a permit it checks (detectors)."
    )
