# Device configuration: one JSON file (config.json next to main.py) holding identity, credentials,
# Wi-Fi, hub address and audio settings. Loaded and checked once at boot; hub-driven updates
# (the config_update command) touch only the keys in UPDATABLE and are written atomically.
import json
import os

from arma import proto

PATH = "config.json"

DEFAULTS = {
    "device_id": "",
    "key": "",
    "wifi": {"ssid": "", "password": ""},
    "mqtt": {
        "host": "",
        "port": 1883,
        "user": None,
        "password": None,
        "keepalive": 30,
        "backoff_min_ms": 500,
        "backoff_max_ms": 30000,
        "queue": 16,
    },
    "audio": {
        "codec": "adpcm",
        "frame_ms": 20,
        "max_ms": 10000,
        "silence_ms": 1500,
        "silence_peak": 600,
        "min_ms": 400,
        "play_queue": 150,
        "volume": 70,
    },
    "timeouts": {"reply_ms": 10000, "play_gap_ms": 3000, "wifi_ms": 15000},
    "telemetry_s": 60,
    "ota": {"max_boot_tries": 3, "healthy_s": 5},
    "ble": {"enabled": False, "name": "", "improv_auth": True},
    "pins": {},
    "sim": {},
}

# key path -> (is text, minimum, maximum): the value (text: its length) must lie in range
UPDATABLE = {
    "telemetry_s": (False, 1, 86400),
    "audio.volume": (False, 0, 100),
    "audio.max_ms": (False, 500, 60000),
    "audio.silence_ms": (False, 200, 10000),
    "audio.silence_peak": (False, 0, 32767),
    "timeouts.reply_ms": (False, 1000, 120000),
    "mqtt.host": (True, 1, 253),
    "mqtt.port": (False, 1, 65535),
    "mqtt.keepalive": (False, 2, 3600),
    "wifi.ssid": (True, 1, 32),
    "wifi.password": (True, 0, 64),
}
NEEDS_RESTART = ("mqtt.host", "mqtt.port", "mqtt.keepalive", "wifi.ssid", "wifi.password")


class ConfigError(ValueError):
    pass


def _merge(base, over):
    out = {}
    for k in base:
        out[k] = base[k]
    for k in over:
        if isinstance(out.get(k), dict) and isinstance(over[k], dict):
            out[k] = _merge(out[k], over[k])
        else:
            out[k] = over[k]
    return out


def check(cfg):
    try:
        proto.check_id(cfg["device_id"])
    except proto.ProtocolError as e:
        raise ConfigError(str(e))
    if not cfg["mqtt"]["host"]:
        raise ConfigError("mqtt.host is required")
    if cfg["audio"]["codec"] not in ("adpcm", "pcm16"):
        raise ConfigError("audio.codec must be adpcm or pcm16")
    fm = cfg["audio"]["frame_ms"]
    if fm not in (10, 20, 40, 60):
        raise ConfigError("audio.frame_ms must be 10, 20, 40 or 60")
    if len(cfg["key"]) < 32:
        raise ConfigError("key must be at least 16 bytes of hex")
    try:
        bytes.fromhex(cfg["key"])
    except ValueError:
        raise ConfigError("key must be hex")
    return cfg


def load(path=PATH):
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError:
        raise ConfigError("no config file " + path)
    except ValueError:
        raise ConfigError("config file is not JSON")
    if not isinstance(raw, dict):
        raise ConfigError("config must be a JSON object")
    return check(_merge(DEFAULTS, raw))


def save(cfg, path=PATH):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f)
    os.rename(tmp, path)


def apply_changes(cfg, changes):
    # Validates every change first (all or nothing); returns (new cfg, applied keys, restart?).
    if not isinstance(changes, dict) or not changes:
        raise ConfigError("changes must be a non-empty object")
    for key in changes:
        rule = UPDATABLE.get(key)
        if rule is None:
            raise ConfigError("not updatable: " + key)
        is_text, lo, hi = rule
        v = changes[key]
        if is_text:
            if not isinstance(v, str):
                raise ConfigError("bad type for " + key)
            n = len(v)
        else:
            if not isinstance(v, int) or isinstance(v, bool):
                raise ConfigError("bad type for " + key)
            n = v
        if not lo <= n <= hi:
            raise ConfigError("out of range: " + key)
    new = _merge(cfg, {})
    restart = False
    for key in changes:
        parts = key.split(".")
        node = new
        for p in parts[:-1]:
            node[p] = _merge(node[p], {})
            node = node[p]
        node[parts[-1]] = changes[key]
        if key in NEEDS_RESTART:
            restart = True
    return new, sorted(changes), restart
