"""Train the encoder adapter: LoRA on Whisper's encoder, decoder frozen (PyTorch).

    python -m models.adapt.train --corpus DIR --weights DIR --out adapter.npz [--device cuda]

Whisper is written here in torch straight from the CTranslate2 variable names (the same
names :mod:`models.asr.reference` reads), so the adapter's keys are the names of the
linear layers it changes. Only the encoder's linear layers get low-rank updates: the
decoder, which is Whisper's language model and the free reading the rejection rule
compares against, stays exactly as shipped. Features are Whisper's log-mel computed as
:mod:`models.asr.features` does, on the shortened window the hub uses (audio + 1 s of
silence, at least 4 s); noise is babble of other corpus clips plus pink noise, mixed at a
random SNR of the active speech. Runs on a CPU too (slowly); torch is only needed here,
never on the hub.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.adapt.corpus import iter_items
from models.adapt.lora import Adapter, AdapterError
from models.adapt.lora import load as load_adapter
from models.asr.features import HOP, MAX_FRAMES, N_FFT, SAMPLE_RATE, mel_filters
from models.asr.tokens import WhisperTokenizer, capitalise
from models.eval.noise import active_rms

log = logging.getLogger(__name__)

ADAPTED = (
    "self_attention/linear_0",
    "self_attention/linear_1",
    "ffn/linear_0",
    "ffn/linear_1",
)


# --- weights in transit ----------------------------------------------------------------------


def pack(weights: dict[str, np.ndarray], out: Path) -> list[Path]:
    """Encoder in float16, decoder with int8 rows (scale per row): sized for the device
    machine's transfer limit. The decoder is frozen, so rounding it only changes the
    teacher a little (the hub runs an int8 decoder anyway)."""
    out.mkdir(parents=True, exist_ok=True)
    enc = {k: v.astype(np.float16) if v.dtype.kind == "f" else v for k, v in weights.items()
           if k.startswith("encoder/")}  # fmt: skip
    dec: dict[str, np.ndarray] = {}
    for k, v in weights.items():
        if not k.startswith("decoder/"):
            continue
        if v.dtype.kind == "f" and v.ndim == 2 and v.shape[0] * v.shape[1] > 1 << 16:
            v32 = v.astype(np.float32)
            scale = np.abs(v32).max(axis=1, keepdims=True) / 127.0 + 1e-12
            dec[f"{k}#q"] = np.round(v32 / scale).astype(np.int8)
            dec[f"{k}#s"] = scale.astype(np.float32)
        else:
            dec[k] = v.astype(np.float16) if v.dtype.kind == "f" else v
    paths = [out / "encoder.npz", out / "decoder.npz"]
    np.savez(paths[0], **{k.replace("/", "|"): v for k, v in enc.items()})
    np.savez(paths[1], **{k.replace("/", "|"): v for k, v in dec.items()})
    return paths


def unpack(paths: list[Path]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for path in paths:
        with np.load(path) as data:
            raw = {k.replace("|", "/"): data[k] for k in data.files}
        for k, v in raw.items():
            if k.endswith("#s"):
                continue
            if k.endswith("#q"):
                name = k[:-2]
                out[name] = v.astype(np.float32) * raw[f"{name}#s"]
            else:
                out[k] = v
    return out


def ct2_weights(model_bin: Path) -> dict[str, np.ndarray]:
    from models.asr.ct2 import read_model_bin

    model = read_model_bin(model_bin)  # aliases (the tied projection) left out
    return {k: model.get(k) for k in model.variables}


# --- the model -------------------------------------------------------------------------------


class LoRA(nn.Module):
    def __init__(self, n_out: int, n_in: int, rank: int, scale: float) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(rank, n_in) / math.sqrt(n_in))
        self.b = nn.Parameter(torch.zeros(n_out, rank))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.a.T) @ self.b.T * self.scale


class Whisper(nn.Module):
    def __init__(self, weights: dict[str, np.ndarray], rank: int, scale: float) -> None:
        super().__init__()
        self.w: dict[str, torch.Tensor] = {}
        for k, v in weights.items():
            if v.dtype.kind == "f":
                name = k.replace("/", "__")
                self.register_buffer(name, torch.from_numpy(v.astype(np.float32)))
                self.w[k] = getattr(self, name)
        self.n_enc_heads = int(weights["encoder/num_heads"])
        self.n_dec_heads = int(weights["decoder/num_heads"])
        n_enc = sum(1 for k in weights if k.endswith("self_attention/linear_0/weight")
                    and k.startswith("encoder/"))  # fmt: skip
        n_dec = sum(1 for k in weights if k.endswith("self_attention/linear_0/weight")
                    and k.startswith("decoder/"))  # fmt: skip
        self.n_enc, self.n_dec = n_enc, n_dec
        self.lora = nn.ModuleDict()
        for i in range(n_enc):
            for part in ADAPTED:
                name = f"encoder/layer_{i}/{part}"
                n_out, n_in = weights[f"{name}/weight"].shape
                self.lora[name.replace("/", "__")] = LoRA(n_out, n_in, rank, scale)

    def _apply(self, fn: Any, recurse: bool = True) -> Whisper:
        """``.to()``/``.cuda()`` replace the buffers; keep the name map pointing at them."""
        super()._apply(fn, recurse)
        for k in self.w:
            self.w[k] = getattr(self, k.replace("/", "__"))
        return self

    def linear(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.w[f"{prefix}/weight"], self.w.get(f"{prefix}/bias"))
        key = prefix.replace("/", "__")
        if key in self.lora:
            y = y + self.lora[key](x)
        return y

    def norm(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w[f"{prefix}/gamma"], self.w[f"{prefix}/beta"])

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, causal: bool
    ) -> torch.Tensor:
        b, tq, d = q.shape
        split = lambda t: t.view(b, t.shape[1], heads, d // heads).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=causal)
        return out.transpose(1, 2).reshape(b, tq, d)

    def _ffn(self, p: str, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(f"{p}/ffn/layer_norm", x)
        return x + self.linear(f"{p}/ffn/linear_1", F.gelu(self.linear(f"{p}/ffn/linear_0", h)))

    def _self_attention(self, p: str, x: torch.Tensor, heads: int, causal: bool) -> torch.Tensor:
        d = x.shape[-1]
        h = self.norm(f"{p}/self_attention/layer_norm", x)
        qkv = self.linear(f"{p}/self_attention/linear_0", h)
        att = self._attend(qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :], heads, causal)
        return x + self.linear(f"{p}/self_attention/linear_1", att)

    def encode(self, mel: torch.Tensor) -> torch.Tensor:
        w = self.w
        x = F.gelu(F.conv1d(mel, w["encoder/conv1/weight"], w["encoder/conv1/bias"], padding=1))
        x = F.gelu(
            F.conv1d(x, w["encoder/conv2/weight"], w["encoder/conv2/bias"], stride=2, padding=1)
        ).transpose(1, 2)
        x = x + w["encoder/position_encodings/encodings"][: x.shape[1]]
        for i in range(self.n_enc):
            p = f"encoder/layer_{i}"
            x = self._ffn(p, self._self_attention(p, x, self.n_enc_heads, False))
        return self.norm("encoder/layer_norm", x)

    def decode(self, audio: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        w = self.w
        emb = w["decoder/embeddings/weight"]
        x = emb[tokens] + w["decoder/position_encodings/encodings"][: tokens.shape[1]]
        d = x.shape[-1]
        for i in range(self.n_dec):
            p = f"decoder/layer_{i}"
            x = self._self_attention(p, x, self.n_dec_heads, True)
            q = self.linear(f"{p}/attention/linear_0", self.norm(f"{p}/attention/layer_norm", x))
            kv = self.linear(f"{p}/attention/linear_1", audio)
            att = self._attend(q, kv[..., :d], kv[..., d:], self.n_dec_heads, False)
            x = x + self.linear(f"{p}/attention/linear_2", att)
            x = self._ffn(p, x)
        return self.norm("decoder/layer_norm", x) @ emb.T

    def load_adapter(self, adapter: Adapter) -> None:
        """Start from a trained adapter's matrices (``b`` is stored already scaled)."""
        if set(adapter.deltas) != {k.replace("__", "/") for k in self.lora}:
            raise AdapterError(f"{adapter.path}: adapts other layers than this model")
        for key, mod in self.lora.items():
            assert isinstance(mod, LoRA)
            a, b = adapter.deltas[key.replace("__", "/")]
            if a.shape != tuple(mod.a.shape) or b.shape != tuple(mod.b.shape):
                raise AdapterError(f"{adapter.path}: rank {a.shape[0]}, this run {mod.a.shape[0]}")
            with torch.no_grad():
                mod.a.copy_(torch.from_numpy(a))
                mod.b.copy_(torch.from_numpy(b / mod.scale))

    def adapter(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for key, mod in self.lora.items():
            assert isinstance(mod, LoRA)
            name = key.replace("__", "/")
            out[f"{name}#a"] = mod.a.detach().float().cpu().numpy()
            out[f"{name}#b"] = (mod.b.detach().float().cpu() * mod.scale).numpy()
        return out


# --- features and augmentation ---------------------------------------------------------------


class Frontend:
    def __init__(self, device: torch.device, n_mels: int = 80) -> None:
        self.filters = torch.from_numpy(mel_filters(n_mels)).to(device)
        self.window = torch.hann_window(N_FFT, periodic=True, device=device)

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, samples) -> (B, n_mels, samples // HOP) as models.asr.features.log_mel."""
        spec = torch.stft(audio, N_FFT, HOP, window=self.window, center=True,
                          pad_mode="reflect", return_complex=True)  # fmt: skip
        power = spec[..., :-1].abs() ** 2
        logm = torch.log10(torch.clamp(self.filters @ power, min=1e-10))
        top = logm.amax(dim=(1, 2), keepdim=True)
        return (torch.maximum(logm, top - 8.0) + 4.0) / 4.0


def _active_power(x: np.ndarray) -> float:
    """Mean power of the active speech, as the evaluation measures it for its SNRs."""
    return active_rms(x) ** 2


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise scaled to peak 1 (not :func:`models.eval.noise.pink_noise`'s unit RMS: the
    shipped adapter was trained with this level against the babble)."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.arange(1, spectrum.size + 1))
    out = np.fft.irfft(spectrum, n).astype(np.float32)
    return out / (np.abs(out).max() + 1e-9)


class Corpus:
    def __init__(self, directory: Path, tokenizer: WhisperTokenizer) -> None:
        self.items: list[tuple[str, str, np.ndarray]] = [
            (str(e["language"]), str(e["text"]), a) for e, a in iter_items(directory)
        ]
        self.tokenizer = tokenizer

    def split(self, held: float, seed: int) -> tuple[list[int], list[int]]:
        texts = sorted({t for _, t, _ in self.items})
        random.Random(seed).shuffle(texts)
        n_val = max(1, int(len(texts) * held)) if len(texts) > 1 else 0
        val_texts = set(texts[:n_val])
        val = [i for i, (_, t, _) in enumerate(self.items) if t in val_texts]
        train = [i for i, (_, t, _) in enumerate(self.items) if t not in val_texts]
        return train, val

    def target(self, i: int, rng: random.Random) -> list[int]:
        lang, text, _ = self.items[i]
        if rng.random() < 0.5:
            text = capitalise(text, lang)
        if rng.random() < 0.5:
            text += rng.choice((".", "?"))
        tok = self.tokenizer
        return [*tok.prompt(lang), *tok.encode(" " + text), tok.eot]

    def audio(self, i: int, rng: np.random.Generator, snr: float | None) -> np.ndarray:
        clip = self.items[i][2]
        lead, tail = (np.zeros(int(rng.uniform(0.1, 0.5) * SAMPLE_RATE), np.float32)
                      for _ in range(2))  # fmt: skip
        x = np.concatenate([lead, clip * 10 ** (rng.uniform(-6, 6) / 20), tail])
        if snr is None:
            return x
        noise = np.zeros_like(x)
        for j in rng.choice(len(self.items), size=int(rng.integers(2, 5))):
            other = self.items[int(j)][2]
            start = int(rng.integers(0, max(1, other.size - x.size + 1)))
            piece = other[start : start + x.size]
            off = int(rng.integers(0, x.size - piece.size + 1))
            noise[off : off + piece.size] += piece / math.sqrt(_active_power(piece) + 1e-8)
        noise += _pink(x.size, rng) * float(np.sqrt((noise**2).mean() + 1e-8))
        scale = math.sqrt(_active_power(x) / ((noise**2).mean() + 1e-12) / 10 ** (snr / 10))
        mixed = x + noise * scale
        return (mixed / max(1.0, float(np.abs(mixed).max()))).astype(np.float32)


def _batch(
    corpus: Corpus,
    ids: list[int],
    rng: random.Random,
    nrng: np.random.Generator,
    snr: float | str | None,
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Audio (B, samples) padded with silence to the hub's window rule (audio + 1 s, at
    least 4 s), its frame count, decoder input tokens and labels (-100 = not scored)."""
    clips = []
    for i in ids:
        level = snr
        if snr == "mix":  # a quarter clean, the rest 0-30 dB
            level = None if nrng.random() < 0.25 else float(nrng.uniform(0, 30))
        assert level is None or isinstance(level, float)
        clips.append(corpus.audio(i, nrng, level))
    longest = max(c.size for c in clips)
    window = max(longest + SAMPLE_RATE, 4 * SAMPLE_RATE)
    frames = min(MAX_FRAMES, window // HOP)
    frames -= frames % 2
    audio = np.zeros((len(clips), frames * HOP), np.float32)
    for row, c in enumerate(clips):
        audio[row, : min(c.size, audio.shape[1])] = c[: audio.shape[1]]
    seqs = [corpus.target(i, rng) for i in ids]
    width = max(len(s) for s in seqs)
    eot = corpus.tokenizer.eot
    tokens = np.full((len(seqs), width), eot, dtype=np.int64)
    labels = np.full((len(seqs), width), -100, dtype=np.int64)
    for row, s in enumerate(seqs):
        tokens[row, : len(s)] = s
        labels[row, 3 : len(s) - 1] = s[4:]  # text + eot, predicted after the prompt
    return audio, frames, tokens, labels


class Batches(torch.utils.data.Dataset[tuple[np.ndarray, int, np.ndarray, np.ndarray]]):
    """Training batch ``k`` depends only on (seed, k): the same run whatever the number of
    loader workers. Clips of similar length are drawn together (little padding)."""

    def __init__(self, corpus: Corpus, ids: list[int], batch: int, steps: int, seed: int):
        self.corpus, self.batch, self.steps, self.seed = corpus, batch, steps, seed
        self.by_len = sorted(ids, key=lambda i: corpus.items[i][2].size)

    def __len__(self) -> int:
        return self.steps

    def __getitem__(self, k: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        rng, nrng = random.Random(self.seed * 1_000_003 + k), np.random.default_rng([self.seed, k])
        start = rng.randrange(0, max(1, len(self.by_len) - self.batch * 4))
        pool = self.by_len[start : start + self.batch * 4]
        ids = rng.sample(pool, min(self.batch, len(pool)))
        return _batch(self.corpus, ids, rng, nrng, "mix")


def _to_device(
    frontend: Frontend, device: torch.device, item: tuple[np.ndarray, int, np.ndarray, np.ndarray]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    audio, frames, tokens, labels = item
    mel = frontend(torch.as_tensor(audio).to(device))[..., :frames]
    return mel, torch.as_tensor(tokens).to(device), torch.as_tensor(labels).to(device)


def _loss(model: Whisper, mel: torch.Tensor, tokens: torch.Tensor, labels: torch.Tensor,
          amp: bool) -> torch.Tensor:  # fmt: skip
    with torch.autocast(mel.device.type, dtype=torch.bfloat16, enabled=amp):
        logits = model.decode(model.encode(mel), tokens)
    return F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=-100)


def train(args: argparse.Namespace) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if args.weights.is_dir():
        weights = unpack([args.weights / "encoder.npz", args.weights / "decoder.npz"])
    else:
        weights = ct2_weights(args.weights)
    tokenizer = WhisperTokenizer.load(args.tokenizer)
    corpus = Corpus(args.corpus, tokenizer)
    train_ids, val_ids = corpus.split(0.05, args.seed)
    if not val_ids or not train_ids:
        raise ValueError(f"{args.corpus}: too few sentences to hold some out for validation")
    model = Whisper(weights, args.rank, args.alpha / args.rank)
    start = None
    if args.init is not None:  # go on from a trained adapter (same rank and layers)
        start = load_adapter(args.init)
        model.load_adapter(start)
    model = model.to(device)
    frontend = Frontend(device)
    amp = device.type == "cuda"

    def validate() -> dict[str, float]:
        out = {}
        for label, snr in (("clean", None), ("9dB", 9.0)):
            vr, vn = random.Random(7), np.random.default_rng(7)
            total, n = 0.0, 0
            with torch.no_grad():
                for k in range(0, len(val_ids), args.batch):
                    chunk = val_ids[k : k + args.batch]
                    item = _batch(corpus, chunk, vr, vn, snr)
                    loss = _loss(model, *_to_device(frontend, device, item), amp)
                    total += loss.item() * len(chunk)
                    n += len(chunk)
            out[label] = round(total / max(1, n), 4)
        return out

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    history = [{"step": 0, **validate()}]
    log.info("step 0 val %s", history[-1])
    t0 = time.perf_counter()
    batches = torch.utils.data.DataLoader(
        Batches(corpus, train_ids, args.batch, args.steps, args.seed),
        batch_size=None,
        num_workers=args.workers,
        prefetch_factor=4 if args.workers else None,
    )
    for step, item in enumerate(batches, start=1):
        lr = args.lr * min(1.0, step / 50) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        mel, tok, lab = _to_device(frontend, device, item)
        loss = _loss(model, mel, tok, lab, amp)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % args.every == 0 or step == args.steps:
            history.append({"step": step, "train": round(loss.item(), 4), **validate()})
            log.info("step %d %.1fs %s", step, time.perf_counter() - t0, history[-1])
            if args.checkpoints and step < args.steps:
                _save(args.out.with_suffix(f".step{step}.npz"), model, {"step": step})
    meta = {
        "rank": args.rank, "alpha": args.alpha, "steps": args.steps, "batch": args.batch,
        "lr": args.lr, "seed": args.seed, "train_items": len(train_ids),
        "val_items": len(val_ids), "history": history,
        "train_seconds": round(time.perf_counter() - t0, 1), "device": str(device),
        "torch": torch.__version__, "languages": args.languages.split(","),
    }  # fmt: skip
    if start is not None:
        meta["init"] = {"file": start.path.name, "sha256": start.sha256, "meta": start.meta}
    _save(args.out, model, meta)
    return meta


def _save(path: Path, model: Whisper, meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k.replace("/", "|"): v.astype(np.float16) for k, v in model.adapter().items()}
    np.savez(path, __meta__=np.array(json.dumps(meta)), **tensors)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="train the Whisper encoder adapter (LoRA)")
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True,
                        help="model.bin, or a folder from --pack")  # fmt: skip
    parser.add_argument("--tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=32.0)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--languages", default="tr", help="whose encoder gets the adapter")
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--workers", type=int, default=0, help="data loader processes")
    parser.add_argument("--checkpoints", action="store_true", help="save at every validation")
    parser.add_argument("--init", type=Path, help="an adapter file to go on training from")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    meta = train(args)
    print(json.dumps({k: v for k, v in meta.items() if k != "history"}))
    print(json.dumps(meta["history"][-1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
