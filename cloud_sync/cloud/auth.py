"""API keys and hub credentials.

A key reads `arma_<key id hex>_<secret>`; only SHA-256 of the secret is stored (the secret is
32 random bytes, so a plain hash is enough: there is nothing to brute-force). Roles: admin >
operator > viewer for people and integrations; `hub` keys belong to one hub and may only ingest
events and read that hub's sync document.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud_sync.cloud.errors import ApiError
from cloud_sync.cloud.models import ApiKey

ROLES = ("viewer", "operator", "admin")
_RANK = {role: i for i, role in enumerate(ROLES)}


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    hub_id: uuid.UUID | None

    def at_least(self, role: str) -> bool:
        return self.role in _RANK and _RANK[self.role] >= _RANK[role]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key(
    session: Session,
    tenant_id: uuid.UUID,
    role: str,
    *,
    name: str = "",
    hub_id: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the full token (shown once, never stored)."""
    if role not in (*ROLES, "hub"):
        raise ValueError(f"unknown role {role!r}")
    secret = secrets.token_urlsafe(32)
    row = ApiKey(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        role=role,
        name=name,
        hub_id=hub_id,
        secret_hash=_hash(secret),
    )
    session.add(row)
    session.flush()
    return row, f"arma_{row.id.hex}_{secret}"


def resolve(session: Session, token: str) -> Principal | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "arma":
        return None
    try:
        key_id = uuid.UUID(hex=parts[1])
    except ValueError:
        return None
    row = session.execute(select(ApiKey).where(ApiKey.id == key_id)).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _hash(parts[2])):
        return None
    return Principal(key_id=row.id, tenant_id=row.tenant_id, role=row.role, hub_id=row.hub_id)


def bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401, "unauthenticated", "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return token.strip()


def require(*, role: str | None = None, hub: bool = False) -> object:
    """Dependency: the caller's principal, checked for `role` (people) or hub access."""

    def _dep(request: Request) -> Principal:
        token = bearer(request)
        app = request.app
        with app.state.db.sessions() as session:
            principal = resolve(session, token)
        if principal is None:
            raise ApiError(
                401,
                "unauthenticated",
                "invalid or revoked key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        app.state.limiter.check(principal.key_id)
        if principal.role == "hub":
            if not hub:
                raise ApiError(403, "forbidden", "hub credentials may only sync")
        elif role is None or not principal.at_least(role):
            raise ApiError(403, "forbidden", f"needs role {role or 'hub'}")
        return principal

    return Depends(_dep)


Viewer = Annotated[Principal, require(role="viewer")]
Operator = Annotated[Principal, require(role="operator")]
Admin = Annotated[Principal, require(role="admin")]
HubOnly = Annotated[Principal, require(hub=True)]
HubOrViewer = Annotated[Principal, require(role="viewer", hub=True)]
