"""Shared fixtures: real Mosquitto brokers on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mosquitto import Mosquitto

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """An anonymous private broker, stopped after the test."""
    with Mosquitto() as broker:
        yield broker


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    """Start brokers with extra config (password_file, acl_file, ...); all stopped afterwards."""
    started: list[Mosquitto] = []

    def make(extra_config: str = "", port: int | None = None) -> Mosquitto:
        workdir = tmp_path / f"mosquitto-{len(started)}"
        workdir.mkdir()
        broker = Mosquitto(port=port, extra_config=extra_config, workdir=workdir)
        started.append(broker.start())
        return broker

    yield make
    for broker in started:
        broker.stop()
