"""The technology x task matrix: what the catalogue says, and what the toolkit does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vth.models.inventory import Capability, Catalogue


@dataclass(frozen=True)
class MatrixRow:
    """One technology: per task, whether the catalogue lists it and which components serve it.

    ``in_catalogue`` is False for a technology a component declares that the catalogue
    does not list (the catalogue should then be extended).
    """

    technology: str
    name: str
    in_catalogue: bool
    catalogue_tasks: frozenset[str]
    components: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def cell(self, task: str) -> str:
        """The cell of one task: ``x`` when the catalogue lists it, then the components."""
        mark = "x" if task in self.catalogue_tasks else ""
        served = ", ".join(self.components.get(task, ()))
        return " ".join(part for part in (mark, served and f"({served})") if part)


def technology_task_matrix(
    catalogue: Catalogue, capabilities: Sequence[Capability]
) -> tuple[list[str], list[MatrixRow]]:
    """The task ids (columns) and one row per technology.

    Technologies come in catalogue order, then those only components declare; tasks in
    catalogue order, then those only components declare.
    """
    tasks = [t.id for t in catalogue.tasks]
    for capability in capabilities:
        tasks += [t for t in capability.tasks if t not in tasks]
    technologies = [(t.id, t.name, True, frozenset(t.tasks)) for t in catalogue.technologies]
    known = {t.id for t in catalogue.technologies}
    for capability in capabilities:
        for tech in capability.technologies:
            if tech not in known:
                known.add(tech)
                technologies.append((tech, tech, False, frozenset()))
    rows = []
    for tech, name, listed, catalogue_tasks in technologies:
        served: dict[str, tuple[str, ...]] = {}
        for task in tasks:
            components = tuple(
                c.name for c in capabilities if tech in c.technologies and task in c.tasks
            )
            if components:
                served[task] = components
        rows.append(MatrixRow(tech, name, listed, catalogue_tasks, served))
    return tasks, rows
