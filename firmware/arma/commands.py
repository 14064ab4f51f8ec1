# Hub -> device commands on arma/v1/d/{id}/cmd, each answered on .../ack with the command's id:
# identify (blink), set_volume, reboot, config (alias config_update), ping, telemetry, ota. Bad
# arguments get ok=false with a reason; nothing a hub sends can stop the command task. The hub
# re-sends a command under the same id when an ack is lost: the last acks are remembered and
# repeated, so a retried reboot or ota never runs twice.
import asyncio

from arma import config, log, ota

_TAG = "cmd"
_ACK_MEMORY = 8
_done = []  # type: list[tuple]  # (id, ok, error, result), newest last


async def handle(dev, msg):
    op = msg["op"]
    args = msg.get("args") or {}
    cid = msg["id"]
    for entry in _done:
        if entry[0] == cid:
            log.info(_TAG, "%s repeated: ack again, not re-run" % cid)
            dev.ack(*entry)
            return
    log.info(_TAG, "%s %s" % (cid, op))
    fn = _OPS.get(op)
    result = None
    if fn is None:
        entry = (cid, False, "unknown op: " + op, None)
    else:
        try:
            result = await fn(dev, args)
            entry = (cid, True, None, result)
        except (ValueError, TypeError, KeyError, OSError) as e:  # ConfigError/OtaError: ValueError
            entry = (cid, False, str(e) or repr(e), None)
    _done.append(entry)
    if len(_done) > _ACK_MEMORY:
        _done.pop(0)
    dev.ack(*entry)
    if not entry[1]:
        return
    if op == "reboot" or (op == "ota" and result and result.get("reboot")):
        await _flush_and_reset(dev)


async def _identify(dev, args):
    count = args.get("times", 3)
    if not isinstance(count, int) or not 1 <= count <= 20:
        raise ValueError("times must be an integer 1-20")
    prev = dev.hal.led_state if hasattr(dev.hal, "led_state") else "idle"
    for _ in range(count):
        dev.hal.led("identify")
        await asyncio.sleep_ms(150)
        dev.hal.led("off")
        await asyncio.sleep_ms(150)
    dev.hal.led(prev)
    return {"blinked": count}


async def _set_volume(dev, args):
    level = args.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
        raise ValueError("level must be an integer 0-100")
    new, _keys, _restart = config.apply_changes(dev.cfg, {"audio.volume": level})
    config.save(new)
    dev.cfg = new
    dev.hal.volume = level
    return {"level": level}


async def _reboot(dev, args):
    return {"rebooting": True}


async def _config_update(dev, args):
    new, keys, restart = config.apply_changes(dev.cfg, args.get("changes"))
    config.save(new)
    dev.cfg = new
    return {"applied": keys, "restart_required": restart}


async def _ping(dev, args):
    return {"uptime": dev.telemetry()["uptime"]}


async def _telemetry(dev, args):
    return dev.telemetry()


async def _ota(dev, args):
    url = args.get("url")
    if not isinstance(url, str):
        raise ValueError("url required")
    dev.publish_status("updating")
    dev.hal.led("updating")
    try:
        version = await ota.download_and_stage(url, bytes.fromhex(dev.cfg["key"]), dev.hal.wdt_feed)
    finally:
        dev.hal.led("idle")
        dev.publish_status("online")
    return {"staged": version, "reboot": True}


async def _flush_and_reset(dev):
    # say goodbye (a clean DISCONNECT sends no Last Will) and let the QoS 1 ack reach the broker
    dev.publish_status("offline")
    for _ in range(40):
        if not dev.client.pending():
            break
        await asyncio.sleep_ms(50)
    await dev.client.disconnect()
    dev.hal.reset()


_OPS = {
    "identify": _identify,
    "set_volume": _set_volume,
    "reboot": _reboot,
    "config": _config_update,
    "config_update": _config_update,
    "ping": _ping,
    "telemetry": _telemetry,
    "ota": _ota,
}
