# Over-the-air update of the application files. The hub serves an envelope
#   {"body": "<manifest JSON>", "hmac": "<hex HMAC-SHA256 of body with the device key>"}
# whose manifest is {"version": "1.1.0", "files": [{"path", "sha256", "size"}, ...]}; each file
# sits next to the envelope's URL. Files are downloaded into ota/new/ and checked (size, sha256)
# before ota/state.json says "staged"; boot.py swaps them in on the next boot, counts boots of the
# new version and restores ota/old/ when it fails to come up max_boot_tries times. The running
# app calls mark_good() once it has been online for a while. boot.py and config.json are never
# replaced over the air.
import asyncio
import binascii
import hashlib
import json
import os

from arma import log
from micropython import const

_TAG = "ota"
STATE = "ota/state.json"
NEW = "ota/new/"
OLD = "ota/old/"
_MAX_FILE = const(65536)
_MAX_FILES = const(64)
_CHUNK = const(1024)
_PATH_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-./"


class OtaError(ValueError):
    pass


def hmac_sha256(key, msg):
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def _same(a, b):
    # constant-time comparison
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def check_path(p):
    if not isinstance(p, str) or not 1 <= len(p) <= 64 or p.startswith("/") or ".." in p:
        raise OtaError("bad file path")
    for ch in p:
        if ch not in _PATH_CHARS:
            raise OtaError("bad file path")
    if p in ("boot.py", "config.json") or p.startswith("ota/"):
        raise OtaError("file may not be updated over the air: " + p)
    if not (p.endswith(".py") or p.endswith(".mpy") or p.endswith(".json")):
        raise OtaError("unsupported file type: " + p)
    return p


def parse_envelope(raw, key):
    # -> manifest dict; OtaError for anything unauthenticated or malformed
    try:
        env = json.loads(raw)
        body = env["body"]
        mac = bytes.fromhex(env["hmac"])
    except (ValueError, KeyError, TypeError):
        raise OtaError("malformed manifest envelope")
    if not isinstance(body, str) or not _same(hmac_sha256(key, body.encode()), mac):
        raise OtaError("bad manifest signature")
    try:
        m = json.loads(body)
        version = m["version"]
        files = m["files"]
    except (ValueError, KeyError, TypeError):
        raise OtaError("malformed manifest")
    if not isinstance(version, str) or not 1 <= len(version) <= 32:
        raise OtaError("bad version")
    if not isinstance(files, list) or not 1 <= len(files) <= _MAX_FILES:
        raise OtaError("bad file list")
    for f in files:
        if not isinstance(f, dict):
            raise OtaError("bad file entry")
        check_path(f.get("path"))
        h = f.get("sha256")
        if not isinstance(h, str) or len(h) != 64:
            raise OtaError("bad sha256 for " + f["path"])
        size = f.get("size")
        if not isinstance(size, int) or not 0 <= size <= _MAX_FILE:
            raise OtaError("bad size for " + f["path"])
    return m


def exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def makedirs(path):
    cur = ""
    for part in path.split("/")[:-1]:
        cur = cur + part if not cur else cur + "/" + part
        if not exists(cur):
            os.mkdir(cur)


def _split_url(url):
    if not url.startswith("http://"):
        raise OtaError("only http:// URLs")
    rest = url[7:]
    slash = rest.find("/")
    hostport, path = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
    host, _, port = hostport.partition(":")
    return host, int(port) if port else 80, path


async def http_get(url, sink, max_bytes, timeout_ms=10000):
    # HTTP/1.0 GET; sink(chunk) gets the body; returns its length
    host, port, path = _split_url(url)
    r, w = await asyncio.wait_for_ms(  # type: asyncio.StreamReader, asyncio.StreamWriter
        asyncio.open_connection(host, port), timeout_ms
    )
    try:
        w.write(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, host)).encode())
        await asyncio.wait_for_ms(w.drain(), timeout_ms)
        status = await asyncio.wait_for_ms(r.readline(), timeout_ms)  # type: bytes
        parts = status.split()
        if len(parts) < 2 or parts[1] != b"200":
            raise OtaError("HTTP %r for %s" % (status[:40], path))
        while (await asyncio.wait_for_ms(r.readline(), timeout_ms)) not in (b"\r\n", b"\n", b""):
            pass
        total = 0
        while True:
            chunk = await asyncio.wait_for_ms(r.read(_CHUNK), timeout_ms)  # type: bytes
            if not chunk:
                return total
            total += len(chunk)
            if total > max_bytes:
                raise OtaError("download too large: " + path)
            sink(chunk)
    finally:
        w.close()


def read_state():
    try:
        with open(STATE) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_state(st):
    makedirs(STATE)
    with open(STATE + ".tmp", "w") as f:
        json.dump(st, f)
    os.rename(STATE + ".tmp", STATE)


async def download_and_stage(url, key, feed=None):
    # Fetch, authenticate and stage an update; returns its version. Nothing outside ota/ changes.
    st = read_state()
    if st and st.get("phase") in ("staged", "trial"):
        raise OtaError("an update is already in progress")
    buf = []  # type: list[bytes]
    await http_get(url, buf.append, 8192)
    from arma.version import VERSION

    m = parse_envelope(b"".join(buf), key)
    base = url[: url.rfind("/") + 1]
    for f in m["files"]:
        p = f["path"]
        dst = NEW + p
        makedirs(dst)
        h = hashlib.sha256()
        # MicroPython: file writes are synchronous flash writes, there is no executor
        with open(dst, "wb") as out:  # noqa: ASYNC230

            def sink(chunk, out=out, h=h):
                h.update(chunk)
                out.write(chunk)

            size = await http_get(base + p, sink, f["size"])
        if size != f["size"] or binascii.hexlify(h.digest()).decode() != f["sha256"]:
            os.remove(dst)
            raise OtaError("sha256 mismatch for " + p)
        if feed:
            feed()
    added = [f["path"] for f in m["files"] if not exists(f["path"])]
    write_state(
        {
            "phase": "staged",
            "version": m["version"],
            "from": VERSION,
            "files": [f["path"] for f in m["files"]],
            "added": added,
            "tries": 0,
        }
    )
    log.info(_TAG, "staged %s (%d files)" % (m["version"], len(m["files"])))
    return m["version"]


def _remove_tree(path):
    for entry in os.ilistdir(path):
        name, typ = entry[0], entry[1]
        full = path + "/" + name
        if typ == 0x4000:
            _remove_tree(full)
            os.rmdir(full)
        else:
            os.remove(full)


def mark_good():
    # The new version came up: forget the backup. Returns True when an update was confirmed.
    st = read_state()
    if not st or st.get("phase") != "trial":
        return False
    for d in ("ota/old", "ota/new"):
        if exists(d):
            _remove_tree(d)
            os.rmdir(d)
    os.remove(STATE)
    return True


def boot_events():
    # One-shot messages from boot.py (a rollback) for the hub; cleared once read.
    st = read_state()
    if not st or st.get("phase") != "rolled_back":
        return []
    os.remove(STATE)
    return [
        "rolled back %s to %s after %d failed boots" % (st["version"], st["from"], st["tries"] - 1)
    ]
