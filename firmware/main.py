# Entry point after boot.py: load config.json, pick the HAL (ESP32 or the unix-port simulation)
# and run the application. A crash resets the board so the watchdog/OTA boot counter see it.
import sys
import time

from arma import log

_TAG = "main"


def _reset():
    if sys.platform == "esp32":
        import machine

        machine.reset()
    sys.exit(3)


def start():
    from arma import app, config

    if sys.platform == "esp32":
        from arma import hal
    else:
        from arma import hal_sim as hal
    try:
        cfg = config.load()
    except config.ConfigError as e:
        # stay up (REPL / USB) instead of reset-looping on a config a human must fix
        log.error(_TAG, "bad config: %s" % e)
        sys.exit(2)
    app.main(hal, cfg)


try:
    start()
except KeyboardInterrupt:
    raise
except Exception as e:
    sys.print_exception(e)
    log.error(_TAG, "crashed: %r" % (e,))
    time.sleep_ms(200 if sys.platform != "esp32" else 3000)
    _reset()
