"""``/inventory``: which technologies serve which tasks, and what each can check per MBA."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict

from vth.api.auth import Reader, check_scope
from vth.api.deps import CatalogueDep, NetworksDep, ProfilesDep
from vth.inventory.capabilities import capabilities
from vth.inventory.coverage import CoverageRow, coverage
from vth.inventory.matrix import technology_task_matrix
from vth.models.inventory import Capability, Task, Technology

router = APIRouter(prefix="/inventory", tags=["inventory"])


class MatrixCell(BaseModel):
    """One technology x task: listed by the catalogue, and the components serving it."""

    model_config = ConfigDict(frozen=True)

    catalogue: bool
    components: list[str]


class MatrixLine(BaseModel):
    """One technology of the matrix."""

    model_config = ConfigDict(frozen=True)

    technology: str
    name: str
    in_catalogue: bool
    cells: dict[str, MatrixCell]


class InventoryReport(BaseModel):
    """The catalogue, what the toolkit can do, and the technology x task matrix."""

    model_config = ConfigDict(frozen=True)

    tasks: list[Task]
    technologies: list[Technology]
    capabilities: list[Capability]
    matrix_tasks: list[str]
    matrix: list[MatrixLine]


@router.get("", summary="The technology inventory and its technology x task matrix")
def get_inventory(catalogue: CatalogueDep, principal: Reader) -> InventoryReport:
    """The catalogue, the toolkit's capabilities, and the technology x task matrix.

    Technologies and tasks come from the catalogue; capabilities from the toolkit's
    detectors and gateways; per technology and task the matrix says whether the
    catalogue lists it and which components serve it.
    """
    found = capabilities()
    tasks, rows = technology_task_matrix(catalogue, found)
    matrix = [
        MatrixLine(
            technology=row.technology,
            name=row.name,
            in_catalogue=row.in_catalogue,
            cells={
                task: MatrixCell(
                    catalogue=task in row.catalogue_tasks,
                    components=list(row.components.get(task, ())),
                )
                for task in tasks
            },
        )
        for row in rows
    ]
    return InventoryReport(
        tasks=catalogue.tasks,
        technologies=catalogue.technologies,
        capabilities=found,
        matrix_tasks=tasks,
        matrix=matrix,
    )


@router.get(
    "/coverage",
    summary="Which permit obligations of an MBA can be checked, by which technology",
    responses={
        status.HTTP_404_NOT_FOUND: {"description": "No profile with this MBA id."},
        status.HTTP_403_FORBIDDEN: {"description": "An MBA of another agency."},
    },
)
def get_coverage(
    catalogue: CatalogueDep,
    networks: NetworksDep,
    profiles: ProfilesDep,
    principal: Reader,
    mba: Annotated[str | None, Query(description="One MBA; all visible ones when unset.")] = None,
    agency: Annotated[
        str | None, Query(description="Only the MBAs of this agency (the gap list per agency).")
    ] = None,
    coverage_status: Annotated[
        Literal["covered", "partial", "gap"] | None,
        Query(alias="status", description="Only rows with this status (gap: the gap list)."),
    ] = None,
) -> list[CoverageRow]:
    """Coverage rows: per obligation and technology, covered, partial or gap, and why.

    Obligations are emission and peak limits, heat sources, methane and gas releases;
    a gap is e.g. a detection limit above the permitted level.
    """
    if mba is not None:
        if mba not in profiles:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"profile {mba} not found")
        check_scope(principal, mba, profiles)
        chosen = [profiles[mba]]
    else:
        scope = principal.scope(profiles)
        chosen = [
            p
            for m, p in sorted(profiles.items())
            if (scope is None or m in scope) and (agency is None or p.agency == agency)
        ]
    rows = coverage(chosen, catalogue, capabilities(), networks)
    return [r for r in rows if coverage_status is None or r.status == coverage_status]
