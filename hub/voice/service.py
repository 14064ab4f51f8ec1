"""The voice service: audio sessions from any device link → recognition → dialogue → spoken reply,
events to the outbox, and what was recognised published for local integrations.

It is the hub's `AudioSink`. The event loop only moves bytes: frame assembly is cheap and stays
on the loop; VAD, speech recognition and dialogue run on one inference thread (the figure the
benchmarks report is for one thread), synthesis on another, so a long decode never delays
another device's frames. Per device there is at most one utterance in flight, with a bounded
queue of PCM chunks (overflow ends the utterance: it is longer than anyone speaks to a shop
speaker); a session whose frames stall for `stall_s` is ended with what arrived.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from cloud_sync.events import InteractionCompleted
from hub import wire
from hub.messages import AudioFrame
from hub.voice.assembler import FrameAssembler
from hub.voice.dialogue import Dialogue, Turn
from hub.voice.homeassistant import last_intent_topic
from hub.voice.tts import SynthesisError, Synthesizer
from models.domain import Understanding
from models.engine import EndpointEvent, Engine, Result

log = logging.getLogger(__name__)

FRAME_SAMPLES = 320  # 20 ms at 16 kHz
_END = b""


class PlayTarget(Protocol):
    async def send_play(self, device_id: str, frame: bytes, session: int) -> None: ...


class Publisher(Protocol):
    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None: ...


class EventSink(Protocol):
    async def emit(self, device_id: str, data: BaseModel) -> None:
        """Make the event durable (outbox) before returning."""
        ...


@dataclass
class Conversation:
    """What the hub needs per device: its language engine, its dialogue, the open utterance."""

    engine: Engine
    dialogue: Dialogue
    utterance: Utterance | None = None
    last_activity: float = field(default_factory=time.monotonic)
    # sessions already answered: their late frames (after the VAD's endpoint) are dropped
    finished: collections.deque[int] = field(default_factory=lambda: collections.deque(maxlen=16))


@dataclass
class Utterance:
    session: int
    assembler: FrameAssembler
    queue: asyncio.Queue[tuple[bytes, float]]  # (PCM chunk, monotonic arrival time)
    started: float = field(default_factory=time.monotonic)
    last_frame: float = field(default_factory=time.monotonic)
    ended_at: float | None = None  # monotonic time the device's END frame was put in order
    task: asyncio.Task[None] | None = None


@dataclass
class VoiceStats:
    utterances: int = 0
    recognised: int = 0
    not_recognised: int = 0
    replies: int = 0
    frames_rejected: int = 0
    overflows: int = 0
    stalls: int = 0
    errors: int = 0
    # end of speech → first reply frame, the latest 2,048 (a hub runs for months)
    latencies_ms: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=2048)
    )


class VoiceService:
    def __init__(
        self,
        conversation_for: Callable[[str], Conversation],
        synthesizer: Synthesizer,
        play: PlayTarget,
        *,
        hub_id: str,
        publisher: Publisher | None = None,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        stall_s: float = 2.0,
        dialogue_timeout_s: float = 30.0,
        queue_chunks: int = 1000,
        max_devices: int = 256,
        play_lead_s: float = 1.5,
    ) -> None:
        self._conversation_for = conversation_for
        self.synthesizer = synthesizer
        self.play = play
        self.publisher = publisher
        self.events = events
        self.hub_id = hub_id
        self.clock = clock
        self.stall_s = stall_s
        self.dialogue_timeout_s = dialogue_timeout_s
        self.queue_chunks = queue_chunks
        self.max_devices = max_devices
        self.stats = VoiceStats()
        self.conversations: dict[str, Conversation] = {}
        self._infer = ThreadPoolExecutor(1, thread_name_prefix="arma-infer")
        self._speak = ThreadPoolExecutor(1, thread_name_prefix="arma-tts")
        self._tg: asyncio.TaskGroup | None = None
        self._play_started: dict[tuple[str, int], float] = {}
        self.play_lead_s = play_lead_s

    # -- lifecycle ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Own every utterance task; watch for stalls and dialogue timeouts until `stop`."""
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=0.25)
                    self._watch()
                for conv in self.conversations.values():
                    if conv.utterance and conv.utterance.task:
                        conv.utterance.task.cancel()
        finally:
            self._tg = None
            self._infer.shutdown(wait=False, cancel_futures=True)
            self._speak.shutdown(wait=False, cancel_futures=True)

    def _watch(self) -> None:
        now = time.monotonic()
        for device_id, conv in list(self.conversations.items()):
            utt = conv.utterance
            if utt is not None and utt.ended_at is None and now - utt.last_frame > self.stall_s:
                self.stats.stalls += 1
                log.info("audio from %s stalled: ending session %d", device_id, utt.session)
                self._end_input(utt)
            if (
                utt is None
                and conv.dialogue.phase.value != "idle"
                and now - conv.last_activity > self.dialogue_timeout_s
            ):
                conv.last_activity = now
                turn = conv.dialogue.on_timeout()
                self._spawn(self._respond(device_id, conv, None, turn, session=0, speech_end=now))

    # -- AudioSink ---------------------------------------------------------------------------
    async def on_frame(self, msg: AudioFrame) -> None:
        conv = self.conversations.get(msg.device_id)
        if conv is None:
            if len(self.conversations) >= self.max_devices:
                self.stats.frames_rejected += 1
                return
            try:
                conv = self._conversation_for(msg.device_id)
            except LookupError:  # no domain loaded yet (the hub is still starting)
                self.stats.frames_rejected += 1
                return
            self.conversations[msg.device_id] = conv
        utt = conv.utterance
        if msg.session in conv.finished:
            return
        if utt is None or utt.session != msg.session:
            if utt is not None and utt.ended_at is None:  # a new session abandons the old one
                self._end_input(utt)
            utt = Utterance(
                msg.session, FrameAssembler(msg.session), asyncio.Queue(self.queue_chunks)
            )
            conv.utterance = utt
            conv.last_activity = time.monotonic()
            self.stats.utterances += 1
            utt.task = self._spawn(self._recognise(msg.device_id, conv, utt))
        if utt.ended_at is not None:
            return  # the utterance is being answered; late frames are not wanted
        utt.last_frame = time.monotonic()
        try:
            chunks = utt.assembler.push(msg.frame)
        except wire.ProtocolError as exc:
            self.stats.frames_rejected += 1
            log.debug("bad frame from %s: %s", msg.device_id, exc)
            return
        for chunk in chunks:
            self._put(utt, chunk)
        if utt.assembler.complete:
            self._end_input(utt)

    def _put(self, utt: Utterance, chunk: bytes) -> None:
        try:
            utt.queue.put_nowait((chunk, time.monotonic()))
        except asyncio.QueueFull:
            self.stats.overflows += 1
            log.warning("utterance %d longer than the buffer: ending it", utt.session)
            self._end_input(utt)

    def _end_input(self, utt: Utterance) -> None:
        if utt.ended_at is not None:
            return
        utt.ended_at = now = time.monotonic()
        for chunk in utt.assembler.flush():
            with contextlib.suppress(asyncio.QueueFull):
                utt.queue.put_nowait((chunk, now))
        if utt.queue.full():  # no room for the end marker: the newest audio gives way
            with contextlib.suppress(asyncio.QueueEmpty):
                utt.queue.get_nowait()
        utt.queue.put_nowait((_END, now))

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        if self._tg is None:
            raise RuntimeError("VoiceService.run() is not running")
        task: asyncio.Task[None] = self._tg.create_task(coro)
        return task

    # -- recognition -------------------------------------------------------------------------
    async def _recognise(self, device_id: str, conv: Conversation, utt: Utterance) -> None:
        try:
            await self._recognise_and_answer(device_id, conv, utt)
        except Exception:  # one broken utterance must not take the other devices down
            self.stats.errors += 1
            log.exception("voice session %d of %s failed", utt.session, device_id)
        finally:
            if conv.utterance is utt:
                conv.utterance = None
            conv.finished.append(utt.session)

    async def _recognise_and_answer(
        self, device_id: str, conv: Conversation, utt: Utterance
    ) -> None:
        loop = asyncio.get_running_loop()
        session = conv.engine.new_session(conv.dialogue.listening_for)
        event: EndpointEvent | None = None
        speech_end = time.monotonic()
        while event is None or event.result is None:
            # latency is measured from the arrival of the audio that ended the utterance
            chunk, speech_end = await utt.queue.get()
            if chunk == _END:
                event = await loop.run_in_executor(self._infer, session.finish)
                break
            event = await loop.run_in_executor(self._infer, session.feed, chunk)
        if utt.ended_at is None:  # the VAD heard the end first: stop taking this session's audio
            utt.ended_at = time.monotonic()
        result = event.result if event is not None else None
        if result is None:
            return
        now = self.clock()
        if result.recognised:
            self.stats.recognised += 1
        else:
            self.stats.not_recognised += 1
        understanding = Understanding(result.intent, dict(result.slots), result.confidence)
        turn = await loop.run_in_executor(
            self._infer, conv.dialogue.handle, understanding, result.text, now
        )
        conv.last_activity = time.monotonic()
        await self._respond(
            device_id, conv, result, turn, session=utt.session, speech_end=speech_end
        )

    # -- replies and events ------------------------------------------------------------------
    async def _respond(
        self,
        device_id: str,
        conv: Conversation,
        result: Result | None,
        turn: Turn,
        *,
        session: int,
        speech_end: float,
    ) -> None:
        language = conv.dialogue.language
        speaking = self._spawn(
            self._speak_reply(device_id, session, turn.reply, language, speech_end)
        )
        if self.publisher is not None and result is not None:
            payload = {
                "device_id": device_id,
                "session": session,
                "text": result.text,
                "intent": result.intent,
                "slots": result.slots,
                "confidence": round(result.confidence, 4),
                "reply": turn.reply,
                "timings_ms": {k: round(v, 1) for k, v in result.timings.items()},
            }
            data = json.dumps(payload).encode()
            with contextlib.suppress(Exception):  # integrations are best effort
                await self.publisher.publish(wire.hub_topic(self.hub_id, "intent"), data, qos=1)
                await self.publisher.publish(
                    last_intent_topic(self.hub_id, device_id), data, qos=1, retain=True
                )
        if self.events is not None:
            if result is not None:
                await self.events.emit(
                    device_id,
                    InteractionCompleted(
                        session_id=f"s{session}",
                        intent=result.intent,
                        slots=dict[str, str | int | float | bool](result.slots),
                        confidence=min(max(result.confidence, 0.0), 1.0),
                        language=language,  # type: ignore[arg-type]
                        transcript=result.text[:2000],
                        outcome=turn.outcome,  # type: ignore[arg-type]
                        duration_ms=int(result.timings.get("audio", 0.0)),
                    ),
                )
            for event_data in turn.events:
                await self.events.emit(device_id, event_data)
        await speaking

    async def _speak_reply(
        self, device_id: str, session: int, text: str, language: str, speech_end: float
    ) -> None:
        """Synthesise sentence by sentence and stream 20 ms ADPCM frames as each is ready."""
        loop = asyncio.get_running_loop()
        # the generator synthesises one sentence per next(): each is pulled, and encoded into
        # ADPCM frames, on the TTS thread, so the event loop only sends
        chunks: Iterator[bytes] = iter(self.synthesizer.synthesize(text, language))
        state = wire.AdpcmState()
        seq = 0
        pending: bytes | None = None
        first = True
        while True:
            try:
                payloads = await loop.run_in_executor(self._speak, _next_frames, chunks, state)
            except SynthesisError as exc:
                log.error("no spoken reply for %s: %s", device_id, exc)
                break
            if payloads is None:
                break
            for payload in payloads:
                if pending is not None:
                    await self._send(
                        device_id, session, seq, pending, wire.FLAG_START if first else 0
                    )
                    if first:
                        self.stats.latencies_ms.append((time.monotonic() - speech_end) * 1000)
                        first = False
                    seq += 1
                pending = payload
        if pending is not None:
            flags = wire.FLAG_END | (wire.FLAG_START if first else 0)
            await self._send(device_id, session, seq, pending, flags)
            if first:
                self.stats.latencies_ms.append((time.monotonic() - speech_end) * 1000)
        self.stats.replies += 1

    async def _send(
        self, device_id: str, session: int, seq: int, payload: bytes, flags: int
    ) -> None:
        # pace at real time with at most `play_lead_s` of audio ahead of the speaker: the
        # device's play buffer is small (about 3 s) and drops the oldest frames beyond it
        key = (device_id, session)
        if seq == 0:
            self._play_started[key] = time.monotonic()
        lead = seq * FRAME_SAMPLES / 16000 - (time.monotonic() - self._play_started.get(key, 0.0))
        if lead > self.play_lead_s:
            await asyncio.sleep(lead - self.play_lead_s)
        if flags & wire.FLAG_END:
            self._play_started.pop(key, None)
        frame = wire.encode_frame(session, seq & 0xFFFF, wire.CODEC_ADPCM, payload, flags)
        try:
            await self.play.send_play(device_id, frame, session)
        except Exception as exc:  # noqa: BLE001 - a vanished device must not stop the others
            log.info("reply frame to %s not sent: %s", device_id, exc)


def _next_frames(chunks: Iterator[bytes], state: Any) -> list[bytes] | None:
    """The next sentence of a reply as 20 ms ADPCM frame payloads (None when it is over).
    `state` carries the encoder across sentences so the stream stays continuous."""
    pcm = next(chunks, None)
    if pcm is None:
        return None
    payloads = []
    for off in range(0, len(pcm) - len(pcm) % 2, FRAME_SAMPLES * 2):
        block = pcm[off : off + FRAME_SAMPLES * 2]
        if len(block) % 4:
            block += b"\x00\x00"
        payloads.append(wire.adpcm_encode_block(block, state))
    return payloads
