# Runs first on every boot (MicroPython runs boot.py, then main.py). Applies a staged OTA update
# and counts boots of a new version; after too many failed boots it restores the previous files.
# Self-contained on purpose (os and json only): it must work whatever the update broke, and OTA
# never replaces this file.
import json
import os

_STATE = "ota/state.json"


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def _makedirs(path):
    cur = ""
    for part in path.split("/")[:-1]:
        cur = part if not cur else cur + "/" + part
        if not _exists(cur):
            os.mkdir(cur)


def _save(st):
    with open(_STATE + ".tmp", "w") as f:
        json.dump(st, f)
    os.rename(_STATE + ".tmp", _STATE)


def _swap(st):
    # idempotent: a power cut halfway through is finished on the next boot
    for p in st["files"]:
        new = "ota/new/" + p
        old = "ota/old/" + p
        if _exists(new):
            if _exists(p) and not _exists(old):
                _makedirs(old)
                os.rename(p, old)
            _makedirs(p)
            os.rename(new, p)


def _rollback(st):
    for p in st["files"]:
        old = "ota/old/" + p
        if _exists(old):
            os.rename(old, p)
        elif p in st.get("added", ()) and _exists(p):
            os.remove(p)


def check(max_tries=3):
    try:
        with open(_STATE) as f:
            st = json.load(f)
    except (OSError, ValueError):
        return None
    phase = st.get("phase")
    if phase == "staged":
        _swap(st)
        st["phase"] = "trial"
        st["tries"] = 0
    if st.get("phase") == "trial":
        st["tries"] += 1
        if st["tries"] > max_tries:
            _rollback(st)
            st["phase"] = "rolled_back"
        _save(st)
        print("boot: ota %s, boot %d of %s" % (st["phase"], st["tries"], st["version"]))
    return st["phase"]


try:
    check()
except Exception as e:  # never let the update logic stop the board from booting
    print("boot: ota check failed:", repr(e))
