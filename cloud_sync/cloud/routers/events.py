"""Event ingest (hubs) and the event log (people)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from cloud_sync.cloud.auth import HubOnly, Viewer
from cloud_sync.cloud.deps import DbDep, PageDep
from cloud_sync.cloud.models import EventRow
from cloud_sync.cloud.schemas import BatchResult, EventBatch, EventPublic, Page
from cloud_sync.cloud.services.common import paginate
from cloud_sync.cloud.services.ingest import ingest
from cloud_sync.events import EventType

router = APIRouter(tags=["events"])


@router.post("/events:batch", response_model=BatchResult)
def ingest_batch(body: EventBatch, db: DbDep, who: HubOnly) -> BatchResult:
    """Store up to 1,000 events; each id once. Answers which ids were stored now
    (`accepted`), which were already stored (`duplicates`) and which are refused for good."""
    with db.session() as s:
        return ingest(s, who, body.events)


@router.get("/events", response_model=Page[EventPublic])
def list_events(
    db: DbDep,
    who: Viewer,
    page: PageDep,
    type: Annotated[EventType | None, Query()] = None,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[EventPublic]:
    stmt = select(EventRow).where(EventRow.tenant_id == who.tenant_id)
    if type is not None:
        stmt = stmt.where(EventRow.type == type)
    if outcome is not None:
        stmt = stmt.where(EventRow.outcome == outcome)
    with db.session() as s:
        return paginate(
            s,
            stmt.order_by(EventRow.ts, EventRow.id),
            page.limit,
            page.offset,
            EventPublic.model_validate,
        )
