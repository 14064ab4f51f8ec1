"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from cloud_sync.cloud import errors
from cloud_sync.cloud.db import Database
from cloud_sync.cloud.gzip_body import GzipRequestMiddleware
from cloud_sync.cloud.ratelimit import RateLimiter
from cloud_sync.cloud.routers import (
    appointments,
    devices,
    events,
    hubs,
    offerings,
    orders,
    reports,
    tenants,
)
from cloud_sync.cloud.settings import CloudSettings


def create_app(settings: CloudSettings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or CloudSettings()
    app = FastAPI(
        title="ARMA Cloud API",
        version="1.0.0",
        description="Tenants, hubs, devices, offerings, appointments, orders, events, reports.",
        responses=errors.ERROR_RESPONSES,
    )
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url)
    app.state.limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    app.add_middleware(GzipRequestMiddleware, max_bytes=settings.max_body_bytes)
    errors.install(app)
    v1 = APIRouter(prefix="/v1")
    for module in (tenants, hubs, devices, offerings, appointments, orders, events, reports):
        v1.include_router(module.router)
    app.include_router(v1)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
