"""The hub's local HTTP API (FastAPI): devices, commands, health and Prometheus metrics.

Errors are JSON `{"error": {"code": ..., "message": ...}}` with stable codes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field

from hub.commands import CommandError
from hub.registry import DeviceRecord

if TYPE_CHECKING:
    from hub.service import Hub

DeviceIdPath = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,32}$")]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _utc(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


class DevicePublic(BaseModel):
    device_id: str
    online: bool
    state: str
    fw: str | None
    battery: float | None
    rssi: int | None
    uptime: float | None
    heap: int | None
    charging: bool | None
    last_seen: datetime | None
    state_since: datetime | None
    events: int
    last_event: str | None

    @classmethod
    def of(cls, r: DeviceRecord) -> DevicePublic:
        return cls(
            device_id=r.device_id,
            online=r.online,
            state=r.state,
            fw=r.fw,
            battery=r.battery,
            rssi=r.rssi,
            uptime=r.uptime,
            heap=r.heap,
            charging=r.charging,
            last_seen=_utc(r.last_seen),
            state_since=_utc(r.state_since),
            events=r.events,
            last_event=r.last_event,
        )


class CommandCreate(BaseModel):
    op: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    args: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(default=None, gt=0, le=60)


class CommandPublic(BaseModel):
    command_id: str
    device_id: str
    op: str
    ok: bool
    error: str | None
    result: dict[str, Any] | None
    attempts: int
    elapsed_ms: float


class Health(BaseModel):
    status: str
    mqtt_connected: bool
    devices: int
    devices_online: int


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(title="ARMA hub local API", version="1")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status
        )

    def record_or_404(device_id: str) -> DeviceRecord:
        record = hub.registry.get(device_id)
        if record is None:
            raise ApiError(404, "device_not_found", f"no device {device_id}")
        return record

    @app.get("/api/v1/devices")
    async def list_devices() -> list[DevicePublic]:
        return [DevicePublic.of(r) for r in hub.registry.all()]

    @app.get("/api/v1/devices/{device_id}")
    async def get_device(device_id: DeviceIdPath) -> DevicePublic:
        return DevicePublic.of(record_or_404(device_id))

    @app.post("/api/v1/devices/{device_id}/commands")
    async def send_command(device_id: DeviceIdPath, body: CommandCreate) -> CommandPublic:
        if not record_or_404(device_id).online:
            raise ApiError(409, "device_offline", f"{device_id} is offline")
        try:
            done = await hub.commands.send(device_id, body.op, body.args, body.timeout_s)
        except CommandError as exc:
            raise ApiError(exc.http_status, exc.code, str(exc)) from exc
        return CommandPublic(
            command_id=done.command.id,
            device_id=device_id,
            op=done.command.op,
            ok=done.ack.ok,
            error=done.ack.error,
            result=done.ack.result,
            attempts=done.attempts,
            elapsed_ms=round(done.elapsed_s * 1000, 1),
        )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        up = hub.link_connected()
        body = Health(
            status="ok" if up else "degraded",
            mqtt_connected=up,
            devices=hub.registry.count(),
            devices_online=hub.registry.online_count(),
        )
        return JSONResponse(body.model_dump(), status_code=200 if up else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(hub.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return app
