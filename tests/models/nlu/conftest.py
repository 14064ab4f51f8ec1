"""Fixtures: the shipped example domains, compiled once per test session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from models.domain import DOMAINS_DIR, CompiledDomain, compile_domain, load_domain

EXAMPLES = ["salon_tr", "salon_en", "shop_tr", "shop_en", "calibration_tr", "calibration_en"]
IST = ZoneInfo("Europe/Istanbul")
# Tuesday 24 November 2026, 10:00 in Istanbul: every expected date below counts from here
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=IST)

_cache: dict[str, CompiledDomain] = {}


def compiled(name: str) -> CompiledDomain:
    if name not in _cache:
        _cache[name] = compile_domain(load_domain(DOMAINS_DIR / f"{name}.yaml"))
    return _cache[name]


@pytest.fixture(scope="session")
def domain() -> Callable[[str], CompiledDomain]:
    return compiled
