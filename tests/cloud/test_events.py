"""The event envelope: UUIDv7 ids, typed payloads, UTC times, JSON round trip.

How we tried to break it: 20,000 ids in one millisecond burst (order and uniqueness), naive and
out-of-range timestamps, a payload that does not match its type, unknown fields, non-ASCII
device ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from cloud_sync.events import (
    DeviceStatus,
    Event,
    InteractionCompleted,
    OrderRequested,
    uuid7,
    uuid7_time,
)
from tests.cloud.factories import event, interaction, order_request

T, H = uuid.uuid4(), uuid.uuid4()


def test_uuid7_is_version_7_time_ordered_and_unique() -> None:
    before = datetime.now(UTC)
    ids = [uuid7() for _ in range(20_000)]
    after = datetime.now(UTC)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # creation order == sort order, also within one millisecond
    assert ids == sorted(ids, key=str)  # and as text, as databases compare them
    assert before - timedelta(milliseconds=1) <= uuid7_time(ids[0])
    assert uuid7_time(ids[-1]) <= after + timedelta(seconds=1)


def test_create_infers_type_and_round_trips() -> None:
    e = event(T, H, order_request(uuid.uuid4(), 2), device="arma-0001", seq=7)
    assert e.type == "order.requested" and e.ts.tzinfo is UTC
    back = Event.from_json(e.to_json())
    assert back == e and isinstance(back.payload(), OrderRequested)


def test_times_are_aware_and_normalised_to_utc() -> None:
    istanbul = timezone(timedelta(hours=3))
    e = event(T, H, interaction(), ts=datetime(2026, 5, 1, 12, 0, tzinfo=istanbul))
    assert e.ts == datetime(2026, 5, 1, 9, 0, tzinfo=UTC) and e.ts.utcoffset() == timedelta(0)
    raw = e.model_dump(mode="json")
    for bad in ("2026-05-01T12:00:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"):
        with pytest.raises(ValidationError):
            Event.model_validate({**raw, "ts": bad})


def test_payload_must_match_its_type() -> None:
    raw = event(T, H, interaction()).model_dump(mode="json")
    with pytest.raises(ValidationError):
        Event.model_validate({**raw, "type": "order.requested"})  # interaction data
    with pytest.raises(ValidationError):
        Event.model_validate({**raw, "data": {**raw["data"], "confidence": 1.5}})
    with pytest.raises(ValidationError):
        Event.model_validate({**raw, "data": {**raw["data"], "surprise": 1}})
    with pytest.raises(ValidationError):
        Event.model_validate({**raw, "type": "order.shipped"})
    with pytest.raises(ValidationError):
        Event.model_validate({**raw, "device_id": "kapı"})
    with pytest.raises(ValidationError):
        Event.model_validate({**raw, "seq": -1})
    with pytest.raises(TypeError):
        Event.create(tenant_id=T, hub_id=H, device_id="d", seq=0, data=object())  # type: ignore[arg-type]


def test_events_are_frozen() -> None:
    e = event(T, H, DeviceStatus(online=True))
    with pytest.raises(ValidationError):
        e.seq = 5  # type: ignore[misc]
    assert isinstance(
        InteractionCompleted.model_validate(event(T, H, interaction()).data), InteractionCompleted
    )
