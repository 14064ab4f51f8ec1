"""Expand hassil sentence templates into word sequences with list placeholders.

Alternatives, optionals, permutations and expansion rules are expanded; a `{list}` or
`{list:slot}` reference becomes one placeholder symbol, so the expansions of a template stay
few (lists are embedded later as shared sub-graphs). Templates are word-level: a list
reference must be a whole word ("{service}'a" is rejected), see docs/domain.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from hassil import parse_sentence
from hassil.expression import (
    Alternative,
    Expression,
    Group,
    ListReference,
    Permutation,
    RuleReference,
    Sequence,
    TextChunk,
)
from hassil.parser import ParseError

from models.domain.types import DomainReferenceError, DomainTemplateError
from models.normalize.text import digits_to_words, tokenize

MAX_EXPANSIONS = 20000
_MARK = re.compile(r"\x01(\d+)\x02")


def placeholder(list_name: str, slot: str) -> str:
    """Placeholder symbol for a list reference (never a spoken word: starts with '{')."""
    return "{" + list_name + ":" + slot + "}"


def split_placeholder(symbol: str) -> tuple[str, str] | None:
    if symbol.startswith("{") and symbol.endswith("}"):
        name, slot = symbol[1:-1].split(":", 1)
        return name, slot
    return None


class Expander:
    """Expands templates of one domain (rules and list names known up front)."""

    def __init__(self, language: str, rules: Mapping[str, str], list_names: set[str]) -> None:
        self.language = language
        self.list_names = list_names
        self._rules_src = rules
        self._rules: dict[str, Expression] = {}
        self._refs: list[str] = []

    def expand(self, template: str, where: str) -> list[tuple[str, ...]]:
        """All word sequences of a template; list references as placeholder symbols."""
        try:
            expr = parse_sentence(template, keep_text=True).expression
        except (ParseError, ValueError, IndexError) as exc:
            raise DomainTemplateError(
                f"{where}: cannot parse template {template!r}: {exc}"
            ) from exc
        strings = self._expand(expr, where, 0)
        out: set[tuple[str, ...]] = set()
        for s in strings:
            out.add(self._to_words(s, template, where))
        return sorted(out)

    def _rule(self, name: str, where: str) -> Expression:
        if name not in self._rules:
            if name not in self._rules_src:
                raise DomainReferenceError(f"{where}: unknown expansion rule <{name}>")
            try:
                self._rules[name] = parse_sentence(self._rules_src[name], keep_text=True).expression
            except (ParseError, ValueError, IndexError) as exc:
                raise DomainTemplateError(f"expansion_rules.{name}: cannot parse: {exc}") from exc
        return self._rules[name]

    def _expand(self, e: Expression, where: str, depth: int) -> list[str]:
        if depth > 30:
            raise DomainTemplateError(f"{where}: expansion rules nest too deeply (a cycle?)")
        if isinstance(e, TextChunk):
            return [e.text]
        if isinstance(e, ListReference):
            if e.list_name not in self.list_names:
                raise DomainReferenceError(f"{where}: unknown list {{{e.list_name}}}")
            self._refs.append(placeholder(e.list_name, e.slot_name))
            return [f"\x01{len(self._refs) - 1}\x02"]
        if isinstance(e, RuleReference):
            return self._expand(self._rule(e.rule_name, where), where, depth + 1)
        if isinstance(e, Permutation):
            import itertools

            out: list[str] = []
            for order in itertools.permutations(e.items):
                out.extend(self._seq(list(order), where, depth, sep=" "))
            return out
        if isinstance(e, Alternative):
            out = []
            for item in e.items:
                out.extend(self._expand(item, where, depth + 1))
            if e.is_optional and "" not in out:
                out.append("")
            return out
        if isinstance(e, (Sequence, Group)):
            return self._seq(e.items, where, depth)
        raise DomainTemplateError(f"{where}: unsupported template element {type(e).__name__}")

    def _seq(self, items: list[Expression], where: str, depth: int, sep: str = "") -> list[str]:
        acc = [""]
        for item in items:
            parts = self._expand(item, where, depth + 1)
            acc = [a + sep + p for a in acc for p in parts]
            if len(acc) > MAX_EXPANSIONS:
                raise DomainTemplateError(
                    f"{where}: template expands to more than {MAX_EXPANSIONS} sentences; "
                    "move alternatives into a list"
                )
        return acc

    def _to_words(self, s: str, template: str, where: str) -> tuple[str, ...]:
        words: list[str] = []
        for token in s.split():
            m = _MARK.fullmatch(token)
            if m:
                words.append(self._refs[int(m.group(1))])
                continue
            if "\x01" in token:
                raise DomainTemplateError(
                    f"{where}: list reference glued to text in {template!r}; "
                    "templates are word-level, write the list reference as a whole word"
                )
            words.extend(digits_to_words(tokenize(token, self.language), self.language))
        return tuple(words)
