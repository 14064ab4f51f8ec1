"""The test broker helper itself: it must not leave a temporary folder per test behind."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.mosquitto import Mosquitto


def test_own_temporary_folder_is_removed_after_the_broker_stops() -> None:
    with Mosquitto() as broker:
        workdir = broker.workdir
        assert (workdir / "mosquitto.conf").is_file()
        with socket.create_connection(("127.0.0.1", broker.port), timeout=2):
            pass
    assert not workdir.exists()


def test_a_folder_given_by_the_caller_is_kept(tmp_path: Path) -> None:
    with Mosquitto(workdir=tmp_path) as broker:
        assert broker.workdir == tmp_path
    assert (tmp_path / "mosquitto.conf").is_file()
