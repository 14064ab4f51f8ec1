"""Hubs, their credentials and their sync document."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response
from sqlalchemy import select

from cloud_sync.cloud.auth import Admin, HubOrViewer, Viewer, issue_key
from cloud_sync.cloud.deps import DbDep, PageDep
from cloud_sync.cloud.errors import not_found
from cloud_sync.cloud.models import Hub
from cloud_sync.cloud.schemas import HubCreate, HubCreated, HubPublic, Page
from cloud_sync.cloud.services.common import owned, paginate
from cloud_sync.cloud.services.devices import sync_document

router = APIRouter(prefix="/hubs", tags=["hubs"])


@router.post("", response_model=HubCreated, status_code=201)
def create_hub(body: HubCreate, db: DbDep, who: Admin) -> HubCreated:
    with db.session() as s:
        hub, token = create_hub_with_key(s, who.tenant_id, body.name)
        return HubCreated(hub=HubPublic.model_validate(hub), token=token)


def create_hub_with_key(s: Any, tenant_id: uuid.UUID, name: str) -> tuple[Hub, str]:
    hub = Hub(id=uuid.uuid4(), tenant_id=tenant_id, name=name)
    s.add(hub)
    s.flush()
    _, token = issue_key(s, tenant_id, "hub", name=f"hub {name}", hub_id=hub.id)
    return hub, token


@router.get("", response_model=Page[HubPublic])
def list_hubs(db: DbDep, who: Viewer, page: PageDep) -> Page[HubPublic]:
    stmt = select(Hub).where(Hub.tenant_id == who.tenant_id).order_by(Hub.created_at, Hub.id)
    with db.session() as s:
        return paginate(s, stmt, page.limit, page.offset, HubPublic.model_validate)


@router.get("/{hub_id}", response_model=HubPublic)
def get_hub(hub_id: uuid.UUID, db: DbDep, who: Viewer) -> HubPublic:
    with db.session() as s:
        return HubPublic.model_validate(owned(s, Hub, who.tenant_id, hub_id))


@router.get(
    "/{hub_id}/sync",
    response_model=dict[str, Any],
    responses={304: {"description": "unchanged since If-None-Match"}},
)
def get_sync(
    hub_id: uuid.UUID,
    db: DbDep,
    who: HubOrViewer,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Any:
    if who.role == "hub" and who.hub_id != hub_id:
        raise not_found("hub")
    with db.session() as s:
        document, etag = sync_document(s, owned(s, Hub, who.tenant_id, hub_id))
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return document
