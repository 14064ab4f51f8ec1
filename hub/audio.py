"""The hook where the voice pipeline will take microphone audio.

The MQTT (or BLE) link decodes each `audio/{session}` frame with the shared codec and the hub
hands it to an `AudioSink`. Until the voice pipeline exists the default sink counts frames per
session and drops them, logging one line per session.
"""

from __future__ import annotations

import logging
from typing import Protocol

from hub.messages import AudioFrame

log = logging.getLogger(__name__)


class AudioSink(Protocol):
    async def on_frame(self, frame: AudioFrame) -> None:
        """Take one decoded frame; must not block (hand heavy work to a worker)."""
        ...


class DroppingAudioSink:
    """Counts and drops audio. Sessions are tracked only to log their start and end."""

    def __init__(self, max_sessions: int = 256) -> None:
        self.frames = 0
        self.sessions_ended = 0
        self._open: dict[tuple[str, int], int] = {}
        self._max_sessions = max_sessions

    async def on_frame(self, frame: AudioFrame) -> None:
        self.frames += 1
        key = (frame.device_id, frame.session)
        if frame.frame.start or key not in self._open:
            if len(self._open) >= self._max_sessions:  # bounded: forget the oldest session
                self._open.pop(next(iter(self._open)))
            self._open[key] = 0
            if frame.frame.start:
                log.info(
                    "audio session %d from %s: no voice pipeline yet, dropping",
                    frame.session,
                    frame.device_id,
                )
        self._open[key] += 1
        if frame.frame.end:
            count = self._open.pop(key)
            self.sessions_ended += 1
            log.info(
                "audio session %d from %s ended: %d frames dropped",
                frame.session,
                frame.device_id,
                count,
            )
