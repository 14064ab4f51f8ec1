"""Load and validate a domain YAML file (hassil intent format + ARMA extensions).

See docs/domain.md for the format. Everything that can be wrong with a file or a catalog
raises a subclass of DomainError naming the file and the offending key.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from models.domain.builtins import BUILTIN_TYPES
from models.domain.types import (
    CatalogError,
    DomainFileError,
    DomainSchemaError,
    DomainYamlError,
)

log = logging.getLogger(__name__)
DOMAINS_DIR = Path(__file__).resolve().parent.parent / "domains"
Catalog = Mapping[str, Sequence[str | Mapping[str, Any]]]


@dataclass(frozen=True)
class ListValue:
    """One value of a text list: spoken form (a template) -> value put in the slot."""

    spoken: str
    out: str
    display: str

    def __post_init__(self) -> None:
        if not self.spoken.strip() or not self.out.strip():
            raise CatalogError(f"empty list value {self!r}")


@dataclass(frozen=True)
class ListSpec:
    """A slot list: text values (optionally bound to a catalog key), a builtin or a range."""

    name: str
    kind: str  # values | builtin | range
    values: tuple[ListValue, ...] = ()
    builtin: str | None = None
    catalog: str | None = None
    range: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class IntentSpec:
    name: str
    sentences: tuple[str, ...]
    fixed_slots: Mapping[str, str] = field(default_factory=dict)
    reply: str | None = None
    required: tuple[str, ...] = ()
    ask: Mapping[str, str] = field(default_factory=dict)
    data_blocks: tuple[tuple[tuple[str, ...], Mapping[str, str]], ...] = ()


@dataclass(frozen=True)
class Domain:
    """A loaded, validated domain, ready for compile_domain."""

    name: str
    language: str
    intents: tuple[IntentSpec, ...]
    lists: Mapping[str, ListSpec]
    rules: Mapping[str, str]
    skip_words: tuple[str, ...] = ()
    timezone: str = "Europe/Istanbul"
    business_hours: tuple[int, int] = (9, 20)
    source: str = ""

    def intent(self, name: str) -> IntentSpec:
        for it in self.intents:
            if it.name == name:
                return it
        raise KeyError(name)


def _fail(source: str, where: str, msg: str) -> DomainSchemaError:
    return DomainSchemaError(f"{source}: {where}: {msg}")


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DomainFileError(f"{path}: cannot read domain file: {exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DomainYamlError(f"{path}: invalid YAML: {exc}") from exc


def load_domain(path: str | Path, catalog: Catalog | None = None) -> Domain:
    """Load a domain file; `catalog` maps a catalog key ("services", "products") to entries
    that REPLACE the inline values of lists bound to that key (see docs/domain.md)."""
    path = Path(path)
    return domain_from_dict(_read_yaml(path), catalog=catalog, source=str(path))


def domain_from_dict(data: Any, catalog: Catalog | None = None, source: str = "<dict>") -> Domain:
    if not isinstance(data, dict):
        raise _fail(source, "top level", "must be a mapping with language, intents, lists")
    language = data.get("language")
    if language not in ("tr", "en"):
        raise _fail(source, "language", f"must be 'tr' or 'en', got {language!r}")
    arma = data.get("arma") or {}
    if not isinstance(arma, dict):
        raise _fail(source, "arma", "must be a mapping")
    hours = arma.get("business_hours", [9, 20])
    if (
        not isinstance(hours, list)
        or len(hours) != 2
        or not all(isinstance(h, int) for h in hours)
        or not 0 <= hours[0] < hours[1] <= 24
    ):
        raise _fail(source, "arma.business_hours", f"must be [open, close] hours, got {hours!r}")
    intents_raw = data.get("intents")
    if not isinstance(intents_raw, dict) or not intents_raw:
        raise _fail(source, "intents", "must be a non-empty mapping of intent names")
    bad = [k for k in intents_raw if not isinstance(k, str) or not k.isidentifier()]
    if bad:
        raise _fail(
            source,
            "intents",
            f"intent names must be identifiers (quote Yes/No in YAML), got {bad!r}",
        )
    lists_raw = dict(data.get("lists") or {})
    rules_raw = dict(data.get("expansion_rules") or {})
    if arma.get("dialogue", True):
        dialogue = _read_yaml(DOMAINS_DIR / f"dialogue_{language}.yaml")
        for name, spec in dialogue["intents"].items():
            intents_raw.setdefault(name, spec)
        for name, spec in (dialogue.get("lists") or {}).items():
            lists_raw.setdefault(name, spec)
    if catalog is not None and not isinstance(catalog, Mapping):
        raise CatalogError(f"{source}: catalog must map catalog keys to lists of entries")
    lists = {name: _parse_list(source, name, spec, catalog) for name, spec in lists_raw.items()}
    for rule, body in rules_raw.items():
        if not isinstance(body, str):
            raise _fail(source, f"expansion_rules.{rule}", "must be a template string")
    intents = tuple(_parse_intent(source, name, spec) for name, spec in intents_raw.items())
    skip = data.get("skip_words") or []
    if not isinstance(skip, list) or not all(isinstance(w, str) for w in skip):
        raise _fail(source, "skip_words", "must be a list of strings")
    return Domain(
        name=str(arma.get("name") or Path(source).stem),
        language=language,
        intents=intents,
        lists=lists,
        rules=rules_raw,
        skip_words=tuple(skip),
        timezone=str(arma.get("timezone", "Europe/Istanbul")),
        business_hours=(hours[0], hours[1]),
        source=source,
    )


def _parse_intent(source: str, name: str, spec: Any) -> IntentSpec:
    where = f"intents.{name}"
    if not isinstance(spec, dict) or not isinstance(spec.get("data"), list) or not spec["data"]:
        raise _fail(source, where, "needs a non-empty 'data' list of sentence blocks")
    sentences: list[str] = []
    blocks: list[tuple[tuple[str, ...], Mapping[str, str]]] = []
    fixed: dict[str, str] = {}
    for i, block in enumerate(spec["data"]):
        sents = block.get("sentences") if isinstance(block, dict) else None
        if not isinstance(sents, list) or not sents or not all(isinstance(s, str) for s in sents):
            raise _fail(source, f"{where}.data[{i}].sentences", "must be a list of strings")
        slots = block.get("slots") or {}
        if not isinstance(slots, dict):
            raise _fail(source, f"{where}.data[{i}].slots", "must be a mapping")
        block_slots = {str(k): str(v) for k, v in slots.items()}
        fixed.update(block_slots)
        sentences.extend(sents)
        blocks.append((tuple(sents), block_slots))
    reply = spec.get("reply")
    if reply is not None and not isinstance(reply, str):
        raise _fail(source, f"{where}.reply", "must be a string")
    required = spec.get("required") or []
    ask = spec.get("ask") or {}
    if not isinstance(required, list) or not isinstance(ask, dict):
        raise _fail(source, where, "'required' must be a list and 'ask' a mapping")
    return IntentSpec(
        name,
        tuple(sentences),
        fixed,
        reply,
        tuple(map(str, required)),
        {str(k): str(v) for k, v in ask.items()},
        tuple(blocks),
    )


def _parse_list(source: str, name: str, spec: Any, catalog: Catalog | None) -> ListSpec:
    where = f"lists.{name}"
    if not isinstance(spec, dict):
        raise _fail(source, where, "must be a mapping (values, builtin, catalog or range)")
    if "wildcard" in spec:
        raise _fail(source, where, "wildcard lists are not supported: the word graph is finite")
    if "builtin" in spec:
        if spec["builtin"] not in BUILTIN_TYPES:
            raise _fail(
                source,
                f"{where}.builtin",
                f"unknown builtin {spec['builtin']!r}; one of {', '.join(BUILTIN_TYPES)}",
            )
        return ListSpec(name, "builtin", builtin=spec["builtin"])
    if "range" in spec:
        rng = spec["range"]
        try:
            lo, hi, step = int(rng["from"]), int(rng["to"]), int(rng.get("step", 1))
        except (TypeError, KeyError, ValueError) as exc:
            raise _fail(source, f"{where}.range", "needs integer 'from' and 'to'") from exc
        if not 0 <= lo <= hi <= 9999 or step < 1:
            raise _fail(source, f"{where}.range", "must satisfy 0 <= from <= to <= 9999, step >= 1")
        return ListSpec(name, "range", range=(lo, hi, step))
    key = spec.get("catalog")
    raw = spec.get("values")
    if key is not None and catalog is not None and key in catalog:
        raw = catalog[key]
        entries = [_catalog_value(source, f"catalog[{key!r}][{i}]", e) for i, e in enumerate(raw)]
    else:
        if not isinstance(raw, list) or not raw:
            raise _fail(source, f"{where}.values", "must be a non-empty list")
        entries = [_catalog_value(source, f"{where}.values[{i}]", e) for i, e in enumerate(raw)]
    if not entries and key is None:
        raise CatalogError(f"{source}: list {name!r} has no values")
    if not entries:
        # a tenant without products: sentences naming one are dropped at compile time
        log.warning("%s: catalog %r is empty; sentences using {%s} are left out", source, key, name)
    return ListSpec(name, "values", values=tuple(entries), catalog=key)


def _catalog_value(source: str, where: str, entry: Any) -> ListValue:
    """str -> itself; {in, out} (hassil); {name, id?, aliases?} (catalog entry)."""
    if isinstance(entry, str):
        return ListValue(entry, entry, entry)
    if isinstance(entry, dict):
        if "in" in entry:
            spoken, out = entry["in"], entry.get("out", entry["in"])
            if isinstance(spoken, str) and isinstance(out, (str, int, float)):
                return ListValue(spoken, str(out), str(entry.get("display", out)))
        elif "name" in entry:
            name = entry["name"]
            aliases = entry.get("aliases") or []
            if (
                isinstance(name, str)
                and name.strip()
                and isinstance(aliases, list)
                and all(isinstance(a, str) for a in aliases)
            ):
                spoken = name if not aliases else "(" + "|".join([name, *aliases]) + ")"
                return ListValue(spoken, str(entry.get("id", name)), name)
    raise CatalogError(
        f"{source}: {where}: expected a string, {{in, out}} or {{name, id, aliases}}, got {entry!r}"
    )
