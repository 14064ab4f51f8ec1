"""Training speech for the encoder adapter: its own sentences, its own voices.

Nothing here is taken from the example domains or from the evaluation: the sentences come
from a small everyday grammar written for this corpus (errands, weather, family, work,
numbers, times, dates, quantities) and the voices are espeak-ng variants that
:mod:`models.eval.synth` never uses. :func:`check_held_out` enforces both against the
evaluation's voices and its out-of-domain sentences; the domains' own sample sentences are
excluded by exact match when a corpus is built.

Audio is stored as IMA-ADPCM (``audioop``, 4 bits a sample, the devices' wire codec), so a
corpus of a few hours fits the device machine's 64 MiB transfer limit in two shards.
"""

from __future__ import annotations

import json
import logging
import random
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

with warnings.catch_warnings():  # in the standard library up to 3.12; this project pins 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from models.eval.synth import VOICES, Voice, synthesize

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000

# espeak-ng variants for training; the evaluation uses tr, tr+m3, tr+f2, tr+klatt4, tr+f4,
# tr+m1 (Turkish) and flite plus en-us+m3, en-gb+f2 (English).
_TR_VARIANTS = (
    "m2", "m4", "m5", "m6", "m7", "m8", "f1", "f3", "f5", "klatt", "klatt2", "klatt3",
    "klatt5", "klatt6", "croak", "grandma", "grandpa", "Andy", "annie", "steph", "iven",
    "max", "linda", "john", "adam", "belinda", "david", "michel", "pablo", "travis",
)  # fmt: skip
_EN_BASES = ("en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-scotland")
_EN_VARIANTS = ("m1", "m2", "m4", "m5", "f1", "f3", "f4", "klatt", "klatt3", "steph", "max")


class HeldOutError(ValueError):
    """The training corpus overlaps the evaluation (voice or sentence)."""


def training_voices(language: str, rng: random.Random, n: int) -> list[Voice]:
    out: list[Voice] = []
    for _ in range(n):
        if language == "tr":
            name = f"tr+{rng.choice(_TR_VARIANTS)}"
        else:
            name = f"{rng.choice(_EN_BASES)}+{rng.choice(_EN_VARIANTS)}"
        speed = round(rng.uniform(0.72, 1.05), 2)
        pitch = rng.randint(30, 70)
        out.append(Voice("espeak", name, language, speed, pitch))
    return out


# --- an everyday grammar of this corpus' own ------------------------------------------------

_TR_NUM = ("bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz", "on")
_TR_TENS = ("on", "yirmi", "otuz", "kırk", "elli", "altmış", "yetmiş", "seksen", "doksan")
_TR_HOUR_AT = (
    "birde", "ikide", "üçte", "dörtte", "beşte", "altıda", "yedide", "sekizde", "dokuzda",
    "onda", "on birde", "on ikide", "on bir buçukta", "üç buçukta", "dokuz buçukta",
)  # fmt: skip
_TR_DAYS = ("pazartesi", "salı", "çarşamba", "perşembe", "cuma", "cumartesi", "pazar")
_TR_MONTHS = (
    "ocak", "şubat", "mart", "nisan", "mayıs", "haziran", "temmuz", "ağustos", "eylül",
    "ekim", "kasım", "aralık",
)  # fmt: skip
_TR_WHEN = (
    "bugün", "yarın", "öbür gün", "bu akşam", "yarın sabah", "hafta sonu", "gelecek hafta",
    "dün akşam", "geçen ay", "sabahleyin", "öğlen", "akşamüstü",
)  # fmt: skip
_TR_PEOPLE = (
    "ablam", "kardeşim", "babam", "komşumuz", "arkadaşım", "müdürümüz", "teyzem", "dayım",
    "öğretmenimiz", "eşim", "oğlum", "kızım",
)  # fmt: skip
_TR_PLACES = (
    "markete", "eczaneye", "bankaya", "okula", "hastaneye", "postaneye", "pazara", "işe",
    "sinemaya", "kütüphaneye", "terziye", "fırına", "belediyeye", "istasyona",
)  # fmt: skip
_TR_THINGS = (
    "ekmek", "süt", "peynir", "domates", "zeytin yağı", "çay", "kahve", "şeker", "pirinç",
    "mercimek", "defter", "kalem", "pil", "ampul", "deterjan", "sabun", "havlu", "gömlek",
    "ayakkabı", "çanta", "su", "meyve suyu", "yumurta", "bal", "makarna",
)  # fmt: skip
_TR_UNITS = ("tane", "kilo", "paket", "kutu", "şişe", "litre", "adet", "düzine")
_TR_TEMPLATES = (
    "{when} {person} {place} gidecek",
    "{person} {when} bize gelecek mi",
    "{when} {place} uğramam lazım",
    "{num} {unit} {thing} alır mısın",
    "bana {num} {unit} {thing} lazım",
    "{thing} fiyatı ne kadar oldu",
    "{thing} kaldı mı acaba",
    "{day} günü saat {hour} buluşalım",
    "toplantı {day} saat {hour} başlıyor",
    "{month} ayında tatile çıkacağız",
    "{tens} {num} lira tuttu",
    "hesap {tens} {num} lira mı",
    "sıcaklık {tens} {num} derece",
    "nem yüzde {tens} civarında",
    "otobüs saat {hour} kalkıyor",
    "{person} {place} gitti ama henüz dönmedi",
    "{when} yağmur yağacakmış şemsiyeni al",
    "kapıyı kapatır mısın lütfen",
    "{person} telefonu açmıyor",
    "bu {thing} çok pahalı değil mi",
    "{month} ayının {tens}{num_suffix} günü doğum günüm",
    "saat {hour} mi yoksa {hour2} mi",
    "{when} çok yoğunum sonra konuşalım",
    "lütfen {num} dakika bekleyin",
    "{thing} ile {thing2} aynı rafta",
    "sipariş numaranız {num} {tens} {num2}",
    "{person} yarın {place} uğrayacağını söyledi",
    "teşekkür ederim iyi günler",
    "merhaba nasılsınız",
    "affedersiniz bir sorum olacaktı",
    "{day} sabah erkenden yola çıkıyoruz",
    "arabanın lastiği patladı",
    "ödemeyi kartla yapabilir miyim",
    "fişi de alabilir miyim",
    "bir daha söyler misiniz",
    "{num} kişilik masa ayırtmak istiyorum",
    "{thing} paketini {place} bıraktım",
    "ölçüm değeri {tens} {num} virgül {num2}",
    "cihazın seri numarası {num} {num2} {tens}",
    "{when} hava çok soğuk olacak",
)  # fmt: skip
_TR_NUM_SUFFIX = ("", " birinci", " ikinci", " üçüncü", " beşinci")
# Everyday short replies inside sentences of their own (thirteenth session: the first corpus
# said "dört" 144 times and never "dur", "doğru", "evet", "hayır", "tamam" or "iptal", and
# the adapted encoder heard every evaluation voice's "dur" as "doğru"). A reply word alone
# would be a domain's sample sentence, which the corpus never holds.
_TR_REPLY_TEMPLATES = (
    "dur bir dakika {person} geliyor",
    "dur orada bekle beni",
    "dur şimdi {thing} almayı unuttum",
    "{person} bana dur dedi",
    "dur dur {when} konuşalım",
    "hayır dur öyle değil",
    "tamam dur bakalım",
    "dur artık yeter",
    "doğru söylüyorsun {when} gideriz",
    "bu doğru değil bence",
    "evet doğru hatırlıyorsun",
    "doğru mu duydum {person} mi gelecek",
    "doğru cevap {num}",
    "{thing} fiyatı doğru mu",
    "evet {when} {place} gidiyorum",
    "evet evet hatırladım",
    "hayır {thing} almadım",
    "hayır {when} gelemem",
    "tamam {num} dakika sonra çıkıyorum",
    "tamam o zaman {day} görüşürüz",
    "olur {when} konuşuruz",
    "olur bence de",
    "iptal ettim o işi",
    "toplantı iptal oldu",
    "bitir şu işi de gidelim",
    "işini bitir öyle gel",
    "değil mi {person}",
    "aynen öyle oldu",
    "peki dur bir düşüneyim",
    "vazgeç bu işten",
    "kapat şu kapıyı",
    "dört tane {thing} yeter",
    "dokuz buçukta dur orada",
)  # fmt: skip

_EN_NUM = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_EN_TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_EN_HOUR = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "noon", "half past two", "a quarter to six", "ten thirty",
)  # fmt: skip
_EN_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_EN_WHEN = (
    "today", "tomorrow", "tonight", "this weekend", "next week", "yesterday", "last month",
    "in the morning", "after lunch", "later today",
)  # fmt: skip
_EN_PEOPLE = ("my sister", "our neighbour", "the manager", "my uncle", "a friend", "the kids")
_EN_PLACES = (
    "the bakery", "the pharmacy", "the bank", "school", "the post office", "the station",
    "the library", "the market", "work", "the garage",
)  # fmt: skip
_EN_THINGS = (
    "bread", "milk", "cheese", "tomatoes", "coffee", "sugar", "rice", "batteries",
    "light bulbs", "soap", "towels", "notebooks", "eggs", "honey", "pasta", "apples",
)  # fmt: skip
_EN_TEMPLATES = (
    "{person} is going to {place} {when}",
    "could you pick up {num} packs of {thing}",
    "we are out of {thing} again",
    "how much did the {thing} cost",
    "the meeting starts on {day} at {hour}",
    "the bus leaves at {hour} {when}",
    "it came to {tens} {num} pounds",
    "the temperature is {tens} {num} degrees",
    "humidity is about {tens} percent",
    "{person} called {when} but nobody answered",
    "please wait {num} minutes",
    "is it {hour} or {hour2}",
    "we need a table for {num} people",
    "i left the {thing} at {place}",
    "the reading was {tens} {num} point {num2}",
    "thank you have a nice day",
    "sorry could you repeat that",
    "can i pay by card",
    "it is going to rain {when}",
    "the serial number is {num} {num2} {tens}",
)  # fmt: skip


def _fill(template: str, rng: random.Random, language: str) -> str:
    if language == "tr":
        values = {
            "when": _TR_WHEN, "person": _TR_PEOPLE, "place": _TR_PLACES, "thing": _TR_THINGS,
            "thing2": _TR_THINGS, "unit": _TR_UNITS, "num": _TR_NUM, "num2": _TR_NUM,
            "tens": _TR_TENS, "hour": _TR_HOUR_AT, "hour2": _TR_HOUR_AT, "day": _TR_DAYS,
            "month": _TR_MONTHS, "num_suffix": _TR_NUM_SUFFIX,
        }  # fmt: skip
    else:
        values = {
            "when": _EN_WHEN, "person": _EN_PEOPLE, "place": _EN_PLACES, "thing": _EN_THINGS,
            "num": _EN_NUM, "num2": _EN_NUM, "tens": _EN_TENS, "hour": _EN_HOUR,
            "hour2": _EN_HOUR, "day": _EN_DAYS,
        }  # fmt: skip
    text = template.format(**{k: rng.choice(v) for k, v in values.items()})
    return " ".join(text.split())


# grammar -> templates; a grammar is spoken in the language before its first "-"
GRAMMARS = {"tr": _TR_TEMPLATES, "en": _EN_TEMPLATES, "tr-replies": _TR_REPLY_TEMPLATES}


def language_of(grammar: str) -> str:
    return grammar.split("-", maxsplit=1)[0]


def sentences(grammar: str, n: int, seed: int) -> list[str]:
    """``n`` distinct sentences of one of the corpus' grammars (or fewer if it runs out)."""
    rng = random.Random(f"{grammar}:{seed}")
    templates = GRAMMARS[grammar]
    seen: dict[str, None] = {}
    for _ in range(n * 20):
        if len(seen) >= n:
            break
        seen.setdefault(_fill(rng.choice(templates), rng, language_of(grammar)), None)
    return list(seen)


def check_held_out(texts: dict[str, list[str]], voices: list[Voice]) -> None:
    """Raise :class:`HeldOutError` when a voice or sentence is one the evaluation uses."""
    from models.eval.run import OUT_OF_DOMAIN

    eval_voices = {(v.engine, v.name) for vs in VOICES.values() for v in vs}
    clash = sorted({v.name for v in voices if (v.engine, v.name) in eval_voices})
    if clash:
        raise HeldOutError(f"evaluation voices in the training corpus: {clash}")
    for language, items in texts.items():
        ood = set(OUT_OF_DOMAIN.get(language, ()))
        shared = sorted(ood.intersection(items))
        if shared:
            raise HeldOutError(f"evaluation sentences in the training corpus: {shared}")


@lru_cache(maxsize=8)
def domain_sentences(seeds: tuple[int, ...] = (23, 11, 5), n: int = 60) -> frozenset[str]:
    """The example domains' sample sentences for the evaluation's seeds (to exclude)."""
    from models.domain import compile_domain, load_domain
    from models.domain.loader import DOMAINS_DIR
    from models.eval.run import NOW

    out: set[str] = set()
    for path in sorted(DOMAINS_DIR.glob("*.yaml")):
        domain = compile_domain(load_domain(path))
        for seed in seeds:
            out.update(s.text for s in domain.sample_sentences(n, seed, NOW))
    return frozenset(out)


@dataclass(frozen=True)
class Item:
    language: str
    text: str
    voice: str
    samples: int  # length of the decoded audio


def _adpcm(audio: np.ndarray) -> bytes:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    data, _ = audioop.lin2adpcm(pcm, 2, None)
    return bytes(data)


def decode_adpcm(data: bytes, samples: int) -> np.ndarray:
    pcm, _ = audioop.adpcm2lin(data, 2, None)
    return (np.frombuffer(pcm, "<i2")[:samples].astype(np.float32)) / 32768.0


def write(
    out: Path, clips: Iterable[tuple[str, str, Voice, np.ndarray]], shards: int
) -> list[Path]:
    """Write (language, text, voice, audio) clips as ``out/shard-K.bin`` + ``out/index.json``."""
    out.mkdir(parents=True, exist_ok=True)
    index: list[dict[str, object]] = []
    paths = [out / f"shard-{k}.bin" for k in range(shards)]
    handles = [open(p, "wb") for p in paths]  # noqa: SIM115 - closed below
    try:
        for i, (lang, text, voice, audio) in enumerate(clips):
            blob = _adpcm(audio)
            k = i % shards
            index.append(
                {
                    "language": lang,
                    "text": text,
                    "voice": voice.label,
                    "samples": int(audio.size),
                    "shard": k,
                    "offset": handles[k].tell(),
                    "bytes": len(blob),
                }
            )
            handles[k].write(blob)
            if i % 500 == 0:
                log.info("corpus: %d clips", i)
    finally:
        for h in handles:
            h.close()
    (out / "index.json").write_text(json.dumps(index, ensure_ascii=False))
    return paths


def corpus_texts(counts: dict[str, int], seed: int) -> dict[str, list[str]]:
    """The corpus' sentences per grammar, minus any the example domains can produce for the
    evaluation's seeds (a few number phrases coincide: "sıcaklık on sekiz derece")."""
    excluded = domain_sentences()
    return {
        grammar: [t for t in sentences(grammar, n, seed) if t not in excluded]
        for grammar, n in counts.items()
        if n > 0
    }


def build(out: Path, counts: dict[str, int], seed: int = 1, shards: int = 4) -> list[Path]:
    """Synthesise the corpus: ``counts[grammar]`` sentences, each by a random training voice
    of the grammar's language (the example domains' sample sentences for the evaluation's
    seeds left out)."""
    texts = corpus_texts(counts, seed)
    rng = random.Random(seed)
    plan = [
        (language_of(grammar), text, voice)
        for grammar, items in texts.items()
        for text, voice in zip(
            items, training_voices(language_of(grammar), rng, len(items)), strict=True
        )
    ]
    by_language: dict[str, list[str]] = {}
    for language, text, _ in plan:
        by_language.setdefault(language, []).append(text)
    check_held_out(by_language, [v for _, _, v in plan])
    rng.shuffle(plan)
    return write(out, ((lang, t, v, synthesize(t, v)) for lang, t, v in plan), shards)


def iter_items(directory: Path) -> Iterator[tuple[dict[str, object], np.ndarray]]:
    index = json.loads((directory / "index.json").read_text())
    blobs = {}
    for entry in index:
        k = int(entry["shard"])
        if k not in blobs:
            blobs[k] = (directory / f"shard-{k}.bin").read_bytes()
        off, size = int(entry["offset"]), int(entry["bytes"])
        yield entry, decode_adpcm(blobs[k][off : off + size], int(entry["samples"]))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tr", type=int, default=2400)
    parser.add_argument("--en", type=int, default=800)
    parser.add_argument(
        "--tr-replies", type=int, default=0, help="Turkish sentences with everyday short replies"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    counts = {"tr": args.tr, "en": args.en, "tr-replies": args.tr_replies}
    paths = build(args.out, counts, args.seed, args.shards)
    for p in paths:
        print(p, p.stat().st_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
