"""Loading domains: the shipped examples load; every kind of bad file gets a typed error.

Breaking attempts: unreadable file, broken YAML, unquoted Yes/No keys (YAML booleans),
missing language, unknown list/rule/builtin, wildcard list, list glued to a suffix,
unbalanced template, reply naming an unknown slot, malformed catalog entry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from models.domain import (
    DOMAINS_DIR,
    CatalogError,
    DomainError,
    DomainFileError,
    DomainReferenceError,
    DomainSchemaError,
    DomainTemplateError,
    DomainYamlError,
    compile_domain,
    domain_from_dict,
    load_domain,
)
from tests.models.nlu.conftest import EXAMPLES, NOW


def _minimal(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "language": "tr",
        "arma": {"dialogue": False},
        "intents": {
            "AskPrice": {
                "data": [{"sentences": ["{service} ne kadar"]}],
                "reply": "{service} fiyatı",
            }
        },
        "lists": {"service": {"values": ["saç kesimi", "fön"]}},
    }
    base.update(over)
    return base


def _compile(data: dict[str, Any]) -> None:
    compile_domain(domain_from_dict(data), train_intent_model=False)


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load_with_language_and_dialogue_intents(name: str) -> None:
    d = load_domain(DOMAINS_DIR / f"{name}.yaml")
    assert d.language == name.rsplit("_", 1)[1]
    names = {i.name for i in d.intents}
    assert {"Yes", "No", "Cancel", "Help", "Repeat"} <= names
    assert len(names) >= 9


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DomainFileError):
        load_domain(tmp_path / "nope.yaml")


def test_broken_yaml(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("language: tr\nintents: [unclosed\n", encoding="utf-8")
    with pytest.raises(DomainYamlError, match=r"bad\.yaml"):
        load_domain(p)


def test_unquoted_yes_key_is_explained(tmp_path: Path) -> None:
    p = tmp_path / "yes.yaml"
    p.write_text(
        "language: en\nintents:\n  Yes:\n    data:\n      - sentences: [yes]\n", encoding="utf-8"
    )
    with pytest.raises(DomainSchemaError, match="quote Yes/No"):
        load_domain(p)


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ({"language": "de"}, DomainSchemaError, "language"),
        ({"intents": {}}, DomainSchemaError, "intents"),
        (
            {"intents": {"X": {"data": [{"sentences": "not a list"}]}}},
            DomainSchemaError,
            "sentences",
        ),
        ({"lists": {"service": {"builtin": "colour"}}}, DomainSchemaError, "unknown builtin"),
        ({"lists": {"service": {"wildcard": True}}}, DomainSchemaError, "wildcard"),
        ({"lists": {"service": {"values": []}}}, DomainSchemaError, "non-empty"),
        ({"lists": {"service": {"values": [{"price": 3}]}}}, CatalogError, "expected"),
        ({"arma": {"business_hours": [20, 9]}}, DomainSchemaError, "business_hours"),
        ({"lists": {"service": {"range": {"from": 5}}}}, DomainSchemaError, "range"),
    ],
)
def test_schema_errors(data: dict[str, Any], error: type[DomainError], match: str) -> None:
    with pytest.raises(error, match=match):
        domain_from_dict(_minimal(**data))


@pytest.mark.parametrize(
    ("sentence", "error", "match"),
    [
        ("{product} ne kadar", DomainReferenceError, "unknown list"),
        ("<price> {service}", DomainReferenceError, "unknown expansion rule"),
        ("{service}'a ne kadar", DomainTemplateError, "glued"),
        ("({service} ne kadar", DomainTemplateError, "cannot parse"),
        ("[ne kadar]", DomainTemplateError, "empty"),
    ],
)
def test_template_errors(sentence: str, error: type[DomainError], match: str) -> None:
    data = _minimal(intents={"AskPrice": {"data": [{"sentences": [sentence]}]}})
    with pytest.raises(error, match=match):
        _compile(data)


def test_reply_and_required_must_name_slots() -> None:
    bad_reply = _minimal(
        intents={
            "AskPrice": {
                "data": [{"sentences": ["{service} ne kadar"]}],
                "reply": "{product} fiyatı",
            }
        }
    )
    with pytest.raises(DomainSchemaError, match="unknown slot"):
        _compile(bad_reply)
    bad_required = _minimal(
        intents={
            "AskPrice": {"data": [{"sentences": ["{service} ne kadar"]}], "required": ["date"]}
        }
    )
    with pytest.raises(DomainSchemaError, match="no slot 'date'"):
        _compile(bad_required)


def test_errors_are_value_errors() -> None:
    assert issubclass(DomainError, ValueError)


def test_catalog_replaces_bound_list_and_ids_become_slot_values() -> None:
    catalog = {
        "services": [
            {"id": "svc-9", "name": "Protez Tırnak", "aliases": ["protez"]},
            "Kalıcı Makyaj",
        ]
    }
    d = load_domain(DOMAINS_DIR / "salon_tr.yaml", catalog=catalog)
    c = compile_domain(d, train_intent_model=False)
    u = c.understand("protez tırnak ne kadar", NOW)
    assert (u.intent, u.slots) == ("AskPrice", {"service": "svc-9"})
    assert c.understand("protez ne kadar", NOW).slots == {"service": "svc-9"}
    assert c.understand("kalıcı makyaj ne kadar", NOW).slots == {"service": "Kalıcı Makyaj"}
    # the inline default is gone: the tenant's catalog is authoritative
    assert not c.word_graph.accepts(["manikür", "ne", "kadar"])
    assert u.reply == "Protez Tırnak fiyatını söylüyorum."


def test_bad_catalog_entry() -> None:
    with pytest.raises(CatalogError, match="catalog"):
        load_domain(DOMAINS_DIR / "shop_tr.yaml", catalog={"products": [{"id": "x"}]})


def test_empty_catalog_leaves_out_the_sentences_that_need_it() -> None:
    # a salon tenant has no products: the shop domain still compiles, without ordering
    c = compile_domain(load_domain(DOMAINS_DIR / "shop_tr.yaml", catalog={"products": []}))
    assert c.understand("siparişimi iptal et", NOW).intent == "CancelOrder"
    assert not c.word_graph.accepts(["iki", "tane", "şampuan", "istiyorum"])
    assert {s.intent for s in c.sample_sentences(50, 1, NOW)} <= {
        "CancelOrder",
        "Yes",
        "No",
        "Cancel",
        "Help",
        "Repeat",
    }
    assert c.understand("iki tane şampuan istiyorum", NOW).slots.get("product") is None
