"""The caller's tenant and its API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter
from sqlalchemy import select

from cloud_sync.cloud.auth import Admin, Viewer, issue_key
from cloud_sync.cloud.deps import DbDep, PageDep
from cloud_sync.cloud.errors import ApiError, not_found
from cloud_sync.cloud.models import ApiKey
from cloud_sync.cloud.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPublic,
    Page,
    TenantPublic,
    TenantUpdate,
)
from cloud_sync.cloud.services.common import paginate, tenant_row

router = APIRouter(tags=["tenants"])


@router.get("/tenants/me", response_model=TenantPublic)
def get_tenant(db: DbDep, who: Viewer) -> TenantPublic:
    with db.session() as s:
        return TenantPublic.model_validate(tenant_row(s, who.tenant_id))


@router.patch("/tenants/me", response_model=TenantPublic)
def update_tenant(body: TenantUpdate, db: DbDep, who: Admin) -> TenantPublic:
    with db.session() as s:
        tenant = tenant_row(s, who.tenant_id)
        for field, value in body.model_dump(exclude_unset=True).items():
            if value is not None:
                setattr(tenant, field, value)
        s.flush()
        return TenantPublic.model_validate(tenant)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
def create_key(body: ApiKeyCreate, db: DbDep, who: Admin) -> ApiKeyCreated:
    with db.session() as s:
        row, token = issue_key(s, who.tenant_id, body.role, name=body.name)
        return ApiKeyCreated(key=ApiKeyPublic.model_validate(row), token=token)


@router.get("/api-keys", response_model=Page[ApiKeyPublic])
def list_keys(db: DbDep, who: Admin, page: PageDep) -> Page[ApiKeyPublic]:
    stmt = (
        select(ApiKey)
        .where(ApiKey.tenant_id == who.tenant_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    with db.session() as s:
        return paginate(s, stmt, page.limit, page.offset, ApiKeyPublic.model_validate)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyPublic)
def revoke_key(key_id: uuid.UUID, db: DbDep, who: Admin) -> ApiKeyPublic:
    with db.session() as s:
        row = s.execute(
            select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == who.tenant_id)
        ).scalar_one_or_none()
        if row is None:
            raise not_found("api key")
        if row.id == who.key_id:
            raise ApiError(409, "cannot_revoke_self", "a key cannot revoke itself")
        row.revoked_at = row.revoked_at or datetime.now(UTC)
        s.flush()
        return ApiKeyPublic.model_validate(row)
