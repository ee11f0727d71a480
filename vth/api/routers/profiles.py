"""``/profiles``: the MBA profiles (permitted activities) the service knows."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict

from vth.api.auth import Reader, check_scope
from vth.api.deps import ProfilesDep
from vth.models import Location, MbaProfile

router = APIRouter(prefix="/profiles", tags=["profiles"])


class ProfileSummary(BaseModel):
    """One line per MBA: who and where, and how many sources and sensors it has."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    operator: str
    agency: str | None
    activity: str
    location: Location
    n_sources: int
    n_sensors: int

    @classmethod
    def of(cls, profile: MbaProfile) -> ProfileSummary:
        """Summarise a profile."""
        return cls(
            id=profile.id,
            name=profile.name,
            operator=profile.operator,
            agency=profile.agency,
            activity=profile.activity,
            location=profile.location,
            n_sources=len(profile.sources),
            n_sensors=len(profile.sensors),
        )


@router.get("", summary="List the MBA profiles")
def list_profiles(profiles: ProfilesDep, principal: Reader) -> list[ProfileSummary]:
    """Summaries of the loaded MBA profiles (an inspector's agency's), sorted by MBA id."""
    scope = principal.scope(profiles)
    return [
        ProfileSummary.of(profiles[mba_id])
        for mba_id in sorted(profiles)
        if scope is None or mba_id in scope
    ]


@router.get(
    "/{mba_id}",
    summary="Read one MBA profile",
    responses={status.HTTP_404_NOT_FOUND: {"description": "No profile with this MBA id."}},
)
def get_profile(mba_id: str, profiles: ProfilesDep, principal: Reader) -> MbaProfile:
    """Return the full profile of one MBA, or 404."""
    profile = profiles.get(mba_id)
    if profile is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"profile {mba_id} not found")
    check_scope(principal, mba_id, profiles)
    return profile
