"""Hub test fixtures: the hub's own managed Mosquitto (credentials + ACL) on a free port, and
an in-process hub bound to port 0, stopped cleanly (bounded) after each test."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.broker import BrokerProcess, apply_credentials
from hub.credentials import CredentialStore, DeviceCredentials
from hub.service import Forwarder, Hub
from hub.settings import HubSettings
from hub.sim.device import SimConfig, SimDevice
from tests.support.mosquitto import free_port


@dataclass
class ManagedBroker:
    data_dir: Path
    process: BrokerProcess
    store: CredentialStore

    @property
    def port(self) -> int:
        return self.process.port

    def add_devices(self, ids: list[str]) -> list[DeviceCredentials]:
        creds = [self.store.add(i) for i in ids]
        apply_credentials(self.data_dir)
        return creds

    def sim(self, creds: DeviceCredentials, **kw: object) -> SimDevice:
        keepalive = kw.pop("keepalive_s", 10)
        cfg = SimConfig(
            creds.device_id,
            "127.0.0.1",
            self.port,
            creds.mqtt_username,
            creds.mqtt_password,
            keepalive_s=int(keepalive),
        )  # type: ignore[call-overload]
        return SimDevice(cfg, **kw)  # type: ignore[arg-type]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[ManagedBroker]:
    data_dir = tmp_path / "data"
    store = CredentialStore(data_dir)
    store.hub_credentials()
    process = BrokerProcess(data_dir, free_port()).start()
    try:
        yield ManagedBroker(data_dir, process, store)
    finally:
        process.stop()


def hub_settings(data_dir: Path, port: int, **overrides: object) -> HubSettings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "mqtt_port": port,
        "http_port": 0,
        "registry_flush_s": 0.1,
        "reconnect_min_s": 0.1,
        "reconnect_max_s": 1.0,
        "command_timeout_s": 1.0,
    }
    values.update(overrides)
    return HubSettings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running_hub(
    settings: HubSettings, forwarders: Sequence[Forwarder] = ()
) -> AsyncIterator[Hub]:
    hub = Hub(settings)
    for forwarder in forwarders:  # before it runs: they see the very first messages
        hub.add_forwarder(forwarder)
    stop = asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    try:
        async with asyncio.timeout(15):
            await hub.started.wait()
            while not hub.link_connected():
                if task.done():
                    task.result()
                await asyncio.sleep(0.02)
        yield hub
    finally:
        stop.set()
        async with asyncio.timeout(15):
            await task


@pytest.fixture
def hub_for(broker: ManagedBroker) -> Callable[..., contextlib.AbstractAsyncContextManager[Hub]]:
    def make(
        forwarders: Sequence[Forwarder] = (), **overrides: object
    ) -> contextlib.AbstractAsyncContextManager[Hub]:
        return running_hub(hub_settings(broker.data_dir, broker.port, **overrides), forwarders)

    return make


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.02) -> float:
    """Poll until true; returns the seconds it took. Raises TimeoutError after `timeout`.
    (Polling on purpose: the state under test lives in other threads and processes.)"""
    started = time.monotonic()
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(step)
    return time.monotonic() - started
