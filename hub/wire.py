"""Typed view of the shared wire codec (`firmware.arma.proto` is written in the MicroPython
subset, without annotations). The hub imports codec functions from here so that mypy --strict
checks their use; behaviour is exactly the codec's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from firmware.arma import proto

ProtocolError = proto.ProtocolError
Frame = proto.Frame

check_id: Callable[..., str] = proto.check_id
device_topic: Callable[..., str] = proto.device_topic
hub_topic: Callable[[str, str], str] = proto.hub_topic
parse_device_topic: Callable[[str], tuple[str, str, int | None]] = proto.parse_device_topic
encode_json: Callable[[str, dict[str, Any]], bytes] = proto.encode_json
decode_json: Callable[[str, bytes], dict[str, Any]] = proto.decode_json
encode_frame: Callable[..., bytes] = proto.encode_frame
decode_frame: Callable[[bytes], proto.Frame] = proto.decode_frame
adpcm_encode_block: Callable[..., bytes] = proto.adpcm_encode_block
adpcm_decode_block: Callable[[bytes], bytes] = proto.adpcm_decode_block
AdpcmState: Callable[[], Any] = proto.AdpcmState

MAX_JSON_BYTES: int = proto.MAX_JSON_BYTES
MAX_AUDIO_PAYLOAD: int = proto.MAX_AUDIO_PAYLOAD
FRAME_HEADER_SIZE: int = proto.FRAME_HEADER_SIZE
SAMPLE_RATE: int = proto.SAMPLE_RATE
CODEC_PCM16: int = proto.CODEC_PCM16
CODEC_ADPCM: int = proto.CODEC_ADPCM
FLAG_START: int = proto.FLAG_START
FLAG_END: int = proto.FLAG_END

# BLE transport
BLE_SERVICE_UUID: str = proto.BLE_SERVICE_UUID
BLE_UP_UUID: str = proto.BLE_UP_UUID
BLE_DOWN_UUID: str = proto.BLE_DOWN_UUID
ble_message: Callable[[str, bytes], bytes] = proto.ble_message
parse_ble_message: Callable[[bytes], tuple[str, bytes]] = proto.parse_ble_message
fragment: Callable[[bytes, int, int], list[bytes]] = proto.fragment
Reassembler: Callable[[], Any] = proto.Reassembler
