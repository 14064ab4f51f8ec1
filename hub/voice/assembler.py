"""Turns one device session's audio frames, as they arrive, into an ordered PCM16 stream.

Frames ride QoS 0 (a late frame is worthless), so the assembler itself handles what the network
does to them: duplicates are dropped, frames up to `reorder_window` ahead wait for the gap to
fill, a gap that does not fill in time is concealed with silence (counted as lost), and frames
that arrive after their place was given up are dropped (counted as late). Memory is bounded:
at most `reorder_window` frames wait, and a session stops taking audio at `max_samples`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub import wire

_SEQ_MOD = 0x10000


@dataclass
class AssemblyStats:
    frames: int = 0
    duplicates: int = 0
    lost: int = 0
    late: int = 0
    reordered: int = 0
    truncated: bool = False


@dataclass
class FrameAssembler:
    session: int
    reorder_window: int = 8
    max_samples: int = 16000 * 20
    stats: AssemblyStats = field(default_factory=AssemblyStats)
    _next: int | None = None
    _pending: dict[int, bytes] = field(default_factory=dict)
    _end_seq: int | None = None
    _samples: int = 0
    _frame_bytes: int = 640
    complete: bool = False

    def push(self, frame: wire.Frame) -> list[bytes]:
        """Add one frame; return the PCM16 chunks that are now in order (maybe none).

        Raises ProtocolError when the frame belongs to another session or its payload does not
        decode; the assembler's state is unchanged then.
        """
        if frame.session != self.session:
            raise wire.ProtocolError("frame of another session")
        pcm: bytes = frame.pcm16()  # type: ignore[no-untyped-call]  # the codec is untyped
        if self.complete:
            self.stats.late += 1
            return []
        if self._next is None:
            self._next = frame.seq
        if frame.end:
            self._end_seq = frame.seq
        ahead = (frame.seq - self._next) % _SEQ_MOD
        if ahead >= _SEQ_MOD // 2:  # behind us: already played or given up
            self.stats.late += 1
            return []
        if frame.seq in self._pending:
            self.stats.duplicates += 1
            return []
        self.stats.frames += 1
        if ahead:
            self.stats.reordered += 1
        if pcm:
            self._frame_bytes = len(pcm)
        self._pending[frame.seq] = pcm
        return self._release(force=len(self._pending) > self.reorder_window)

    def flush(self) -> list[bytes]:
        """Give up on every gap (stall, device gone, END seen): release all that waits."""
        out: list[bytes] = []
        while self._pending and not self.complete:
            out.extend(self._release(force=True))
        self.complete = True
        return out

    def _release(self, force: bool) -> list[bytes]:
        out: list[bytes] = []
        assert self._next is not None
        while self._pending and not self.complete:
            pcm = self._pending.pop(self._next, None)
            if pcm is None:
                if not force:
                    break
                self.stats.lost += 1
                pcm = bytes(self._frame_bytes)  # conceal the gap with silence
                force = len(self._pending) > self.reorder_window
            if self._end_seq == self._next:
                self.complete = True
            self._next = (self._next + 1) % _SEQ_MOD
            out.append(self._take(pcm))
        return [chunk for chunk in out if chunk]

    def _take(self, pcm: bytes) -> bytes:
        room = self.max_samples * 2 - self._samples * 2
        if len(pcm) > room:
            self.stats.truncated = True
            self.complete = True
            pcm = pcm[: max(room, 0)]
        self._samples += len(pcm) // 2
        return pcm
