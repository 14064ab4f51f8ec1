"""Per-tenant activity reports as JSON, CSV or PDF."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from cloud_sync.cloud.auth import Viewer
from cloud_sync.cloud.deps import DbDep
from cloud_sync.cloud.errors import ApiError
from cloud_sync.cloud.report_pdf import render_pdf
from cloud_sync.cloud.reports import ActivityReport, build_report, render_csv

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get(
    "/activity",
    response_model=ActivityReport,
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}},
)
def activity(
    db: DbDep,
    who: Viewer,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    fmt: Annotated[Literal["json", "csv", "pdf"], Query(alias="format")] = "json",
) -> ActivityReport | Response:
    """Activity in [from, to] (whole days in the tenant's time zone)."""
    if end < start or (end - start).days > 366 or start.year < 2000 or end.year > 2100:
        raise ApiError(
            422, "bad_period", "`to` must be on or after `from`, within a year, in 2000..2100"
        )
    with db.session() as s:
        report = build_report(s, who.tenant_id, start, end)
    if fmt == "csv":
        name = f"arma-activity-{start}-{end}.csv"
        return Response(
            render_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    if fmt == "pdf":
        name = f"arma-activity-{start}-{end}.pdf"
        return Response(
            render_pdf(report),
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return report
