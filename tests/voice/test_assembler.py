"""Audio session assembly under what QoS 0 over Wi-Fi does to frames.

How we tried to break it: duplicated, reordered, lost, late and foreign frames, a lost END,
sequence numbers wrapping at 65535, sessions far longer than allowed.
"""

from __future__ import annotations

import random
import struct

import pytest

from firmware.arma import proto
from hub.voice.assembler import FrameAssembler

SESSION = 42


def frame(seq: int, value: int, flags: int = 0, samples: int = 320) -> proto.Frame:
    """A PCM16 frame whose samples all equal `value`, so order can be read back."""
    payload = struct.pack(f"<{samples}h", *([value] * samples))
    return proto.decode_frame(
        proto.encode_frame(SESSION, seq % 65536, proto.CODEC_PCM16, payload, flags)
    )


def values(chunks: list[bytes]) -> list[int]:
    """First sample of each 320-sample frame in the released stream."""
    pcm = b"".join(chunks)
    return [struct.unpack_from("<h", pcm, i)[0] for i in range(0, len(pcm), 640)]


def run(frames: list[proto.Frame], asm: FrameAssembler) -> list[int]:
    out: list[bytes] = []
    for f in frames:
        out.extend(asm.push(f))
    out.extend(asm.flush())
    return values(out)


def test_in_order_stream_passes_through_and_completes_on_end() -> None:
    asm = FrameAssembler(SESSION)
    frames = [frame(i, i + 1, proto.FLAG_START if i == 0 else 0) for i in range(9)]
    frames.append(frame(9, 10, proto.FLAG_END))
    out: list[bytes] = []
    for f in frames:
        out.extend(asm.push(f))
    assert values(out) == list(range(1, 11))
    assert asm.complete and asm.stats.lost == 0 and asm.stats.frames == 10


def test_duplicates_are_dropped_and_reordering_is_repaired() -> None:
    asm = FrameAssembler(SESSION, reorder_window=4)
    order = [0, 2, 1, 1, 3, 5, 4, 4, 0, 6]
    assert run([frame(s, s + 1) for s in order], asm) == [1, 2, 3, 4, 5, 6, 7]
    assert asm.stats.duplicates + asm.stats.late == 3
    assert asm.stats.reordered >= 2 and asm.stats.lost == 0


def test_a_lost_frame_is_concealed_with_silence_once_the_window_passes() -> None:
    asm = FrameAssembler(SESSION, reorder_window=3)
    seqs = [0, 1, 3, 4, 5, 6, 7]  # 2 never comes
    got = run([frame(s, s + 1) for s in seqs], asm)
    assert got == [1, 2, 0, 4, 5, 6, 7, 8]
    assert asm.stats.lost == 1
    # the lost frame arriving after its place was given up is late, not inserted
    assert asm.push(frame(2, 3)) == [] and asm.stats.late == 1


def test_sequence_numbers_wrap() -> None:
    asm = FrameAssembler(SESSION)
    seqs = [65533, 65534, 65535, 0, 1]
    assert run([frame(s, i + 1) for i, s in enumerate(seqs)], asm) == [1, 2, 3, 4, 5]


def test_random_network_keeps_order_and_length() -> None:
    rng = random.Random(7)
    n = 400
    frames = [frame(i, (i % 30000) + 1) for i in range(n)]
    shuffled: list[proto.Frame] = []
    for f in frames:  # jitter up to 3 places, 5 % duplicates, 2 % loss
        if rng.random() < 0.02:
            continue
        shuffled.append(f)
        if rng.random() < 0.05:
            shuffled.append(f)
    for i in range(len(shuffled) - 1):
        j = min(len(shuffled) - 1, i + rng.randrange(3))
        shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
    asm = FrameAssembler(SESSION, reorder_window=8)
    got = run(shuffled, asm)
    kept = [v for v in got if v]
    assert kept == sorted(kept)  # never out of order
    # one slot per sequence number from the first frame that arrived to the highest
    assert len(got) == max(s.seq for s in shuffled) - shuffled[0].seq + 1
    assert asm.stats.lost == got.count(0)


def test_foreign_session_and_bad_payload_raise_protocol_error_without_damage() -> None:
    asm = FrameAssembler(SESSION)
    other = proto.decode_frame(proto.encode_frame(SESSION + 1, 0, proto.CODEC_PCM16, b"\x00\x00"))
    with pytest.raises(proto.ProtocolError):
        asm.push(other)
    assert values(asm.push(frame(0, 5))) == [5]


def test_memory_is_bounded_by_max_samples() -> None:
    asm = FrameAssembler(SESSION, max_samples=1000)
    out: list[bytes] = []
    for i in range(20):
        out.extend(asm.push(frame(i, 1)))
    assert sum(len(c) for c in out) == 2000 and asm.stats.truncated and asm.complete
