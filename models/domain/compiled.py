"""CompiledDomain: understand transcripts, sample test sentences, fill replies."""

from __future__ import annotations

import logging
import random
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rapidfuzz import fuzz, process

from models.domain.builtins import ParseContext
from models.domain.compiler import CompiledList, focused_graph, sample_words
from models.domain.expand import split_placeholder
from models.domain.fsa import TagEvent, TaggedIndex
from models.domain.loader import Domain, IntentSpec
from models.domain.types import SampleSentence, Understanding, WordGraph
from models.nlu.augment import FILLERS, corrupt
from models.nlu.classifier import NONE_LABEL, IntentModel, train_intent_model
from models.nlu.slots import SlotSource, delexicalise, extract, find_spans
from models.normalize.dates import EN_MONTHS, EN_WEEKDAYS, TR_MONTHS, TR_WEEKDAYS
from models.normalize.text import digits_to_words, tokenize

log = logging.getLogger(__name__)
OOD_DIR = Path(__file__).resolve().parent.parent / "nlu"
# below this top-class probability the classifier answers "not recognised"
MIN_CONFIDENCE = 0.5
TRAIN_PER_INTENT = 120
# a spoken request is short; a runaway transcript is cut so one call stays cheap
MAX_WORDS = 64


@dataclass
class CompiledDomain:
    """A domain compiled for the voice pipeline. Build it with compile_domain()."""

    domain: Domain
    lists: dict[str, CompiledList]
    expansions: dict[str, list[tuple[str, ...]]]  # "Intent#block" -> word/placeholder seqs
    parser: TaggedIndex
    word_graph: WordGraph
    intent_model: IntentModel | None = None
    _sources: dict[str, list[SlotSource]] = field(default_factory=dict, repr=False)
    _vocab: tuple[str, ...] | None = field(default=None, repr=False)
    _all_sources: list[SlotSource] | None = field(default=None, repr=False)
    _unapostrophed: dict[str, str] | None = field(default=None, repr=False)
    _focused: dict[frozenset[str], WordGraph] = field(default_factory=dict, repr=False)

    @property
    def language(self) -> str:
        return self.domain.language

    @property
    def intents(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.domain.intents)

    def focused_graph(self, intents: Iterable[str]) -> WordGraph:
        """The word graph of this domain's intents among ``intents`` (built once, cached);
        the whole graph when none of them is in this domain."""
        key = frozenset(intents) & frozenset(self.intents)
        if not key or key == frozenset(self.intents):
            return self.word_graph
        graph = self._focused.get(key)
        if graph is None:
            graph = focused_graph(self.expansions, self.lists, key)
            self._focused[key] = graph
        return graph

    def context(self, now: datetime) -> ParseContext:
        return ParseContext(now, self.domain.timezone, self.domain.business_hours)

    def words(self, text: str) -> list[str]:
        """The spoken word forms of a transcript, as the grammar and the model see them."""
        words = digits_to_words(tokenize(text, self.language), self.language)
        skip = set(self.domain.skip_words)
        if self._unapostrophed is None:
            vocab = self.word_graph.vocabulary()
            self._unapostrophed = {
                w.replace("'", ""): w for w in vocab if "'" in w and w.replace("'", "") not in vocab
            }
        # typed "id like", "oclock": the graph's spelling is "i'd", "o'clock"
        return [self._unapostrophed.get(w, w) for w in words if w not in skip]

    # -- understanding -------------------------------------------------------------------
    def understand(self, text: str, now: datetime) -> Understanding:
        """Intent, normalised slots, confidence and reply for a transcript at time `now`."""
        ctx = self.context(now)
        words = self.words(text)[:MAX_WORDS]
        if not words:
            return Understanding(None)
        parsed = self._parse_in_grammar(words, ctx)
        if parsed is not None:
            intent, slots = parsed
            return self._result(intent, slots, 1.0, in_grammar=True)
        if self.intent_model is None:
            return Understanding(None)
        # average of the sentence as heard and with values as class tokens: the first
        # survives a value the span finder missed, the second an unseen catalog name
        label, prob = self.intent_model.top_of(words, self._delexicalised(words, ctx))
        if label == NONE_LABEL or prob < MIN_CONFIDENCE:
            return Understanding(
                None, confidence=round(1.0 - prob if label == NONE_LABEL else prob, 4)
            )
        # words the domain never uses ("ankaranın nüfusu ne kadar") lower the confidence
        snapped, coverage = self._snap(words)
        prob *= 0.25 + 0.75 * coverage
        if prob < MIN_CONFIDENCE:
            return Understanding(None, confidence=round(prob, 4))
        spec = self.domain.intent(label.split("#")[0])
        sources = self._slot_sources(spec)
        slots = extract(words, sources, ctx)
        if len(slots) < len(sources) and snapped != words:
            fixed = extract(snapped, sources, ctx)
            slots = fixed if len(fixed) > len(slots) else slots
        if sources and not slots and self._always_has_slot(spec.name):
            # every sentence of this intent names something ("X ne kadar"): with nothing
            # found, the words that matched were probably about something else
            prob *= 0.75
            if prob < MIN_CONFIDENCE:
                return Understanding(None, confidence=round(prob, 4))
        slots = {**spec.fixed_slots, **slots}
        return self._result(spec.name, slots, prob, in_grammar=False)

    def _snap(self, words: list[str]) -> tuple[list[str], float]:
        """Words moved onto the closest domain word when very close (ratio >= 80: "thre" ->
        "three", "şampuandan" -> "şampuan"), and the share of words that are (close to,
        ratio >= 75) a word of the domain or a filler word."""
        if self._vocab is None:
            self._vocab = tuple(sorted(self.word_graph.vocabulary() | set(FILLERS[self.language])))
        known = 0
        snapped = []
        for w in words:
            if w in self._vocab:
                known += 1
                snapped.append(w)
                continue
            hit = process.extractOne(w, self._vocab, scorer=fuzz.ratio, score_cutoff=75)
            known += hit is not None and len(w) > 3
            snapped.append(hit[0] if hit is not None and hit[1] >= 80 and len(w) > 3 else w)
        return snapped, known / len(words)

    def _delexicalised(self, words: list[str], ctx: ParseContext) -> list[str]:
        """Words with every value of any domain list replaced by "<list>"."""
        if self._all_sources is None:
            template_words = self._template_words()
            self._all_sources = [
                SlotSource(
                    name,
                    cl.builtin,
                    cl.lookup,
                    tuple(" ".join(w) for w in cl.lookup),
                    tuple(cl.lookup.values()),
                    template_words=template_words,
                )
                for name, cl in self.lists.items()
            ]
        return delexicalise(words, find_spans(words, self._all_sources, ctx))

    def _template_words(self) -> frozenset[str]:
        return frozenset(
            w
            for seqs in self.expansions.values()
            for seq in seqs
            for w in seq
            if not split_placeholder(w)
        )

    def _always_has_slot(self, intent_name: str) -> bool:
        return all(
            any(split_placeholder(w) for w in seq)
            for key, seqs in self.expansions.items()
            if key.split("#")[0] == intent_name
            for seq in seqs
        )

    def _parse_in_grammar(
        self, words: list[str], ctx: ParseContext
    ) -> tuple[str, dict[str, str]] | None:
        """Exact parse. Ambiguity ("march thirty one" = date, or date + "one" o'clock) is
        resolved leftmost-longest: the parse whose first slot span is longest wins."""
        best: tuple[tuple[tuple[int, int], ...], str, dict[str, str]] | None = None
        for tags in self.parser.parse(words):
            result = self._read_tags(tags, words, ctx)
            if result is None:
                continue
            spans = tuple(sorted((t.pos, -t2.pos) for t, t2 in _span_pairs(tags)))
            if best is None or spans < best[0]:
                best = (spans, *result)
        return None if best is None else (best[1], best[2])

    def _read_tags(
        self, tags: tuple[TagEvent, ...], words: list[str], ctx: ParseContext
    ) -> tuple[str, dict[str, str]] | None:
        key = next(t.name for t in tags if t.kind == "intent")
        name, block = key.split("#")
        intent = self.domain.intent(name)
        slots = dict(intent.data_blocks[int(block)][1])
        opened: dict[str, tuple[str, int]] = {}
        for t in tags:
            if t.kind == "open":
                slot, list_name = t.name.split(":", 1)
                opened[slot] = (list_name, t.pos)
            elif t.kind == "close":
                list_name, start = opened.pop(t.name)
                span = words[start : t.pos]
                cl = self.lists[list_name]
                if cl.builtin is not None:
                    value = cl.builtin.parse(span, ctx)
                else:
                    hit = cl.lookup.get(tuple(span))
                    value = None if hit is None else hit[0]
                if value is None:
                    return None
                slots[t.name] = value
        return name, slots

    def _slot_sources(self, intent: IntentSpec) -> list[SlotSource]:
        cached = self._sources.get(intent.name)
        if cached is not None:
            return cached
        seen: dict[str, str] = {}
        left: dict[str, set[str]] = {}
        weight: dict[str, int] = {}
        for key, seqs in self.expansions.items():
            if key.split("#")[0] != intent.name:
                continue
            for seq in seqs:
                for i, sym in enumerate(seq):
                    ph = split_placeholder(sym)
                    if ph is not None:
                        seen.setdefault(ph[1], ph[0])
                        weight[ph[1]] = weight.get(ph[1], 0) + 1
                        left.setdefault(ph[1], set()).update(
                            w for w in seq[max(0, i - 2) : i] if not split_placeholder(w)
                        )
        template_words = self._template_words()
        sources = []
        for slot, list_name in seen.items():
            cl = self.lists[list_name]
            choices = tuple(" ".join(w) for w in cl.lookup)
            sources.append(
                SlotSource(
                    slot,
                    cl.builtin,
                    cl.lookup,
                    choices,
                    tuple(cl.lookup.values()),
                    frozenset(left[slot]),
                    weight[slot],
                    template_words,
                )
            )
        self._sources[intent.name] = sources
        return sources

    def _result(
        self, intent_name: str, slots: dict[str, str], confidence: float, *, in_grammar: bool
    ) -> Understanding:
        intent = self.domain.intent(intent_name)
        return Understanding(
            intent_name,
            slots,
            round(min(max(confidence, 0.0), 1.0), 4),
            self.reply(intent, slots),
            in_grammar,
        )

    def reply(self, intent: IntentSpec, slots: dict[str, str]) -> str | None:
        """The intent's reply with slot values spoken, or the question for the first
        missing required slot (the `ask` text), or None."""
        for name in intent.required:
            if name not in slots:
                return intent.ask.get(name)
        if intent.reply is None:
            return None
        values = {k: self._display(k, v) for k, v in slots.items()}
        fields = [f for _, f, _, _ in string.Formatter().parse(intent.reply) if f]
        if any(f not in values for f in fields):
            return None
        text = intent.reply.format_map(values)
        return text[:1].upper() + text[1:]

    def _display(self, slot: str, value: str) -> str:
        for cl in self.lists.values():
            if cl.builtin is None:
                for v, display in cl.lookup.values():
                    if v == value:
                        return display
        if len(value) == 10 and value[4] == "-" and value[7] == "-":
            d = datetime.strptime(value, "%Y-%m-%d")  # noqa: DTZ007 - a calendar day only
            if self.language == "tr":
                return f"{d.day} {TR_MONTHS[d.month - 1]} {TR_WEEKDAYS[d.weekday()]}"
            return f"{EN_WEEKDAYS[d.weekday()]}, {EN_MONTHS[d.month - 1]} {d.day}"
        return value

    # -- sampling and training -----------------------------------------------------------
    def sample_sentences(
        self, n: int, seed: int, now: datetime, *, unambiguous: bool = True
    ) -> list[SampleSentence]:
        """n random sentences of the domain (intents drawn uniformly) with expected slots.

        With `unambiguous` (default) a sentence whose exact parse means something else than
        what was sampled ("march thirty one" sampled as date + time) is drawn again.
        """
        return [s for s, _ in self._draw(n, seed, self.context(now), unambiguous)]

    def _draw(
        self, n: int, seed: int, ctx: ParseContext, unambiguous: bool
    ) -> list[tuple[SampleSentence, list[str]]]:
        rng = random.Random(seed)
        keys_by_intent: dict[str, list[str]] = {}
        for key in self.expansions:
            keys_by_intent.setdefault(key.split("#")[0], []).append(key)
        names = sorted(keys_by_intent)
        out = []
        for _ in range(n):
            name = rng.choice(names)
            key = rng.choice(keys_by_intent[name])
            block = self.domain.intent(name).data_blocks[int(key.split("#")[1])]
            for _attempt in range(20):
                seq = rng.choice(self.expansions[key])
                words, slots, delex = sample_words(self.lists, seq, rng, ctx)
                slots = {**block[1], **slots}
                if not unambiguous or self._parse_in_grammar(words, ctx) == (name, slots):
                    break
            out.append((SampleSentence(" ".join(words), name, slots), delex))
        return out

    def _fill_with_unknowns(
        self, delex: list[str], nouns: list[list[str]], rng: random.Random, ctx: ParseContext
    ) -> list[str]:
        out: list[str] = []
        for tok in delex:
            cl = self.lists.get(tok[1:-1]) if tok.startswith("<") else None
            if cl is None:
                out.append(tok)
            elif cl.builtin is not None:
                out.extend(cl.builtin.sample(rng, ctx)[0])
            else:
                out.extend(rng.choice(nouns))
        return out

    def train_intent_model(self, seed: int = 0) -> None:
        """(Re)train the int8 ONNX intent model from sampled, noised domain sentences.

        Each sentence is seen as spoken and with its slot values replaced by class tokens
        ("<product>"), the form understand() classifies, so the model learns the carrier
        phrases and does not depend on the catalog's size or names.
        """
        rng = random.Random(seed)
        per = TRAIN_PER_INTENT
        drawn = self._draw(per * len(self.intents), seed, self.context(datetime.now(UTC)), False)
        examples: list[tuple[list[str], str]] = []
        for s, delex in drawn:
            words = s.text.split()
            examples.append((words, s.intent))
            examples.append((corrupt(words, rng, self.language), s.intent))
            examples.append((delex, s.intent))
            examples.append((corrupt(delex, rng, self.language), s.intent))
        # the domain's own sentences about things the tenant does not have ("telefon almak
        # istiyorum", "benzin fiyatı ne kadar"): the catalog is known at compile time, so an
        # unknown name in a catalog slot means "not for us"
        nouns = _ood_nouns(self.language)
        ctx = self.context(datetime.now(UTC))
        for _s, delex in drawn[: len(drawn) // 3]:
            if any(
                t[1:-1] in self.lists and self.lists[t[1:-1]].builtin is None
                for t in delex
                if t.startswith("<")
            ):
                examples.append((self._fill_with_unknowns(delex, nouns, rng, ctx), NONE_LABEL))
        ood = _ood_sentences(self.language)
        for _ in range(max(per, len(ood)) * 3):
            words = rng.choice(ood)
            examples.append(
                (corrupt(words, rng, self.language) if rng.random() < 0.5 else words, NONE_LABEL)
            )
        self.intent_model = train_intent_model(examples, seed=seed)


def _ood_nouns(language: str) -> list[list[str]]:
    return [s for s in _ood_sentences(language, "nouns") if s]


def _span_pairs(tags: tuple[TagEvent, ...]) -> list[tuple[TagEvent, TagEvent]]:
    """(open, close) tag pairs of the slot spans in a parse."""
    opened: dict[str, TagEvent] = {}
    pairs = []
    for t in tags:
        if t.kind == "open":
            opened[t.name.split(":", 1)[0]] = t
        elif t.kind == "close":
            pairs.append((opened.pop(t.name), t))
    return pairs


def _ood_sentences(language: str, kind: str = "ood") -> list[list[str]]:
    path = OOD_DIR / f"{kind}_{language}.txt"
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    return [tokenize(ln, language) for ln in lines if ln and not ln.startswith("#")]
