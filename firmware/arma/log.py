# Device log: one line per record on the serial console (stdout on the unix port). MicroPython
# has no logging module; this is the firmware's single place that prints.
import time

_LEVELS = ("D", "I", "W", "E")
level = 1


def _emit(lvl, tag, msg):
    if lvl >= level:
        print("%d %s %s: %s" % (int(time.ticks_ms()), _LEVELS[lvl], tag, msg))  # type: ignore[call-overload]


def debug(tag, msg):
    _emit(0, tag, msg)


def info(tag, msg):
    _emit(1, tag, msg)


def warn(tag, msg):
    _emit(2, tag, msg)


def error(tag, msg):
    _emit(3, tag, msg)
