"""Outbox guarantees: durable before return, FIFO per device, the size-cap policy.

How we tried to break it: a child process enqueues and is killed with SIGKILL right after
enqueue returns; the outbox is filled to its cap with a mix of telemetry and orders."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cloud_sync.events import Event
from cloud_sync.outbox import Outbox, OutboxFull
from tests.cloud.factories import event, interaction, order_request, status

T, H = uuid.uuid4(), uuid.uuid4()

CHILD = """
import os, signal, sys, uuid
from cloud_sync.outbox import Outbox
from tests.cloud.factories import event, interaction
box = Outbox(sys.argv[1])
e = event(uuid.UUID(sys.argv[2]), uuid.UUID(sys.argv[3]), interaction())
box.enqueue(e)
sys.stdout.write(str(e.id) + "\\n"); sys.stdout.flush()   # the 'acknowledgement'
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_enqueue_is_durable_when_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    acked = []
    for _ in range(3):
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(T), str(H)],
            capture_output=True,
            check=False,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert proc.returncode == -9
        acked.append(proc.stdout.strip())
    assert [p.event_id for p in Outbox(path).peek(10)] == acked


def test_peek_keeps_enqueue_order_and_remove_settles(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    events = [event(T, H, interaction(), device=f"d{i % 2}", seq=i // 2) for i in range(10)]
    for e in events:
        box.enqueue(e)
    pending = box.peek(100)
    assert [p.event_id for p in pending] == [str(e.id) for e in events]
    for device in ("d0", "d1"):
        seqs = [Event.from_json(p.body).seq for p in pending if p.device_id == device]
        assert seqs == sorted(seqs)
    assert box.remove([str(events[0].id), str(events[3].id), "not-there"]) == 2
    assert len(box) == 8


def test_full_outbox_drops_oldest_telemetry_only(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", max_events=5)
    telemetry = [event(T, H, status(battery=b), seq=b) for b in (1, 2, 3)]
    orders = [event(T, H, order_request(uuid.uuid4()), seq=10 + i) for i in range(2)]
    box.enqueue_many(telemetry + orders)
    newer = event(T, H, order_request(uuid.uuid4()), seq=20)
    box.enqueue(newer)  # full: the oldest telemetry goes
    ids = [p.event_id for p in box.peek(10)]
    assert str(telemetry[0].id) not in ids and str(newer.id) in ids
    assert box.stats().dropped == 1
    box.enqueue_many([event(T, H, order_request(uuid.uuid4()), seq=30 + i) for i in range(2)])
    assert [p.type for p in box.peek(10)].count("device.status") == 0
    with pytest.raises(OutboxFull):
        box.enqueue(event(T, H, order_request(uuid.uuid4()), seq=99))
    with pytest.raises(OutboxFull):  # interactions are not telemetry either
        box.enqueue(event(T, H, interaction(), seq=100))
    assert len(box) == 5 and all(p.type == "order.requested" for p in box.peek(10))
