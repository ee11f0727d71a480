"""Access control: API keys (also accepted as bearer tokens) with roles and agencies.

Each key belongs to a named user or system with one role:

* ``inspector``: reads alerts and moves them through the workflow;
* ``data_scientist``: reads alerts, incidents and deliveries (labels for tuning);
* ``gateway``: submits alerts (a sensor gateway or detection job);
* ``admin``: everything, including retrying failed deliveries.

A key with an ``agency`` sees and acts on the MBAs of that agency only (the profile's
``agency``); an inspector's key must name one. Keys are kept as SHA-256 digests in a
YAML file (``vth keys new`` makes one), so the file holds no secret; a key is never
logged. Without a keys file the API is open, which the service allows on a loopback
address only.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, cast

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vth.hosts import is_loopback as is_loopback  # where the API may listen without keys
from vth.models import MbaProfile
from vth.models.errors import FieldProblem, SettingsFileError
from vth.models.yamlfile import read_yaml_model

Role = Literal["inspector", "data_scientist", "gateway", "admin"]

#: Who may read alerts, incidents, deliveries and profiles.
READERS: tuple[Role, ...] = ("inspector", "data_scientist", "admin")
#: Who may move alerts through the workflow.
INSPECTORS: tuple[Role, ...] = ("inspector", "admin")
#: Who may submit alerts.
SUBMITTERS: tuple[Role, ...] = ("gateway", "admin")
ADMINS: tuple[Role, ...] = ("admin",)


class ApiKey(BaseModel):
    """One key of the keys file: who holds it, their role and agency, the key's digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    agency: str | None = Field(default=None, description="Limits the key to this agency's MBAs.")
    key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the key, hex.")

    @model_validator(mode="after")
    def _inspector_has_agency(self) -> ApiKey:
        if self.role == "inspector" and self.agency is None:
            raise ValueError("an inspector's key must name the agency (omgevingsdienst)")
        return self


class KeysFile(BaseModel):
    """The YAML keys file: ``keys: [{name, role, agency, key_sha256}, ...]``."""

    model_config = ConfigDict(extra="forbid")

    keys: list[ApiKey] = Field(default_factory=list)


@dataclass(frozen=True)
class Principal:
    """Who made a request."""

    name: str
    role: Role
    agency: str | None = None

    def scope(self, profiles: Mapping[str, MbaProfile]) -> frozenset[str] | None:
        """The MBA ids this principal may see; None: all."""
        if self.agency is None:
            return None
        return frozenset(mba for mba, p in profiles.items() if p.agency == self.agency)

    def may_see(self, mba_id: str, profiles: Mapping[str, MbaProfile]) -> bool:
        """Tell whether this principal may see and act on alerts of this MBA."""
        scope = self.scope(profiles)
        return scope is None or mba_id in scope


#: The principal of every request when access control is off (no keys file).
ANONYMOUS = Principal(name="anonymous", role="admin")


class AccessControl:
    """The known keys; ``AccessControl.open()`` lets every request in as admin."""

    def __init__(self, keys: Iterable[ApiKey] | None) -> None:
        self.enabled = keys is not None
        self._by_digest = {k.key_sha256: Principal(k.name, k.role, k.agency) for k in (keys or ())}

    @classmethod
    def open(cls) -> AccessControl:
        """No access control (local use and tests)."""
        return cls(None)

    def identify(self, key: str) -> Principal | None:
        """The principal holding this key, or None when it is not known."""
        return self._by_digest.get(digest(key))


def digest(key: str) -> str:
    """SHA-256 of a key, hex (what the keys file stores)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new random key (256 bits, URL-safe)."""
    return "vth_" + secrets.token_urlsafe(32)


def load_keys(path: Path) -> list[ApiKey]:
    """Read the keys file.

    Raises
    ------
    SettingsFileError
        When the file cannot be read, an entry is invalid or a name is used twice.
    """
    keys = read_yaml_model(path, KeysFile, "API keys").keys
    names = [k.name for k in keys]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        problem = FieldProblem(str(path), "keys", f"names used twice: {repeated}")
        raise SettingsFileError([problem])
    return keys


_bearer = HTTPBearer(auto_error=False, description="An API key as bearer token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")


def current_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """Who is asking: from ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

    Raises
    ------
    HTTPException
        401 when access control is on and no known key came with the request.
    """
    access = cast(AccessControl, request.app.state.access)
    if not access.enabled:
        return ANONYMOUS
    key = bearer.credentials if bearer is not None else api_key
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="an API key is needed (Authorization: Bearer <key> or X-API-Key)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = access.identify(key)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets only these roles through (403 for the others)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role} may not do this; needs one of: {', '.join(roles)}",
            )
        return principal

    return check


Reader = Annotated[Principal, Depends(require(*READERS))]
Inspector = Annotated[Principal, Depends(require(*INSPECTORS))]
Submitter = Annotated[Principal, Depends(require(*SUBMITTERS))]
Admin = Annotated[Principal, Depends(require(*ADMINS))]


def check_scope(principal: Principal, mba_id: str, profiles: Mapping[str, MbaProfile]) -> None:
    """403 unless the principal may see this MBA's alerts."""
    if not principal.may_see(mba_id, profiles):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"MBA {mba_id} is supervised by another agency than {principal.agency}",
        )
