"""A tiny GPT-NeoX trainer for the toy world, saving a log-spaced checkpoint series.

It trains the Pythia architecture from random init on the CPU, saves ``save_pretrained``
checkpoints under ``OUT/checkpoints/step{N}`` (step 0 included) and calls a per-checkpoint callback.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from curriculens.errors import ConfigError
from curriculens.toy.corpus import DEFAULT_MIXTURE, ToyCorpus, build_toy_tokenizer
from curriculens.toy.model import build_neox, neox_config

Callback = Callable[..., None]  # callback(model, *, step, tokens)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Hyperparameters of the tiny trainer; round-trips through JSON (``to_dict``/``from_dict``).

    Args:
        steps: Optimizer steps.
        n_checkpoints: Checkpoints on a log-spaced schedule, step 0 and the last step included.
        first_checkpoint: Step where the log-spaced grid starts (0: ``steps // 200``).
        n_layers, d_model, n_heads, d_mlp: GPT-NeoX shape.
        batch_size, seq_len: Tokens per step = batch_size * seq_len.
        lr, warmup, weight_decay: AdamW with linear warm-up and cosine decay to 10%.
        seed: Seeds init, data order and corpus.
        threads: torch intra-op threads; 0 = measure 1 vs all cores on a few trial steps and
            keep the faster (a second thread helps on an idle 2-core box and is 9-12x slower
            when the other core is busy). The choice is recorded in the train summary.
        mixture: Corpus source weights.
    """

    steps: int = 1200
    n_checkpoints: int = 16
    first_checkpoint: int = 0
    n_layers: int = 2
    d_model: int = 128
    n_heads: int = 4
    d_mlp: int = 512
    batch_size: int = 32
    seq_len: int = 64
    lr: float = 3e-3
    warmup: int = 50
    weight_decay: float = 0.01
    seed: int = 0
    threads: int = 0
    mixture: tuple[tuple[str, float], ...] = tuple(DEFAULT_MIXTURE.items())

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "n_layers",
            "d_model",
            "n_heads",
            "d_mlp",
            "batch_size",
            "seq_len",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"TrainConfig.{name} = {v!r}; expected an int >= 1.")
        fc = self.first_checkpoint
        if isinstance(fc, bool) or not isinstance(fc, int) or not 0 <= fc < self.steps:
            raise ConfigError(
                f"TrainConfig.first_checkpoint = {fc!r}; expected an int in [0, steps) "
                "(0: steps // 200)."
            )
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 0:
            raise ConfigError(
                f"TrainConfig.threads = {self.threads!r}; expected an int >= 0 "
                "(0 = choose by measurement)."
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"TrainConfig.seed = {self.seed!r}; expected an int >= 0.")
        if not isinstance(self.n_checkpoints, int) or self.n_checkpoints < 2:
            raise ConfigError(
                f"TrainConfig.n_checkpoints = {self.n_checkpoints!r}; expected an int >= 2 "
                "(step 0 and the last step)."
            )
        if self.d_model % self.n_heads:
            raise ConfigError(
                f"TrainConfig.d_model = {self.d_model} is not divisible by n_heads = "
                f"{self.n_heads}; pick n_heads that divides d_model."
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"TrainConfig.lr = {self.lr!r}; expected a finite float > 0.")
        if isinstance(self.mixture, dict):
            object.__setattr__(self, "mixture", tuple(self.mixture.items()))
        ToyCorpus(mixture=dict(self.mixture))  # validates names and weights

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len

    def schedule(self) -> list[int]:
        """Checkpoint steps: step 0, then log-spaced from ``first_checkpoint`` (default
        ``steps // 200``) to the last step.

        Starting the log grid at 0.5% of training, not at step 1, puts the checkpoints where
        skills emerge (the toy world learns nothing measurable in its first few steps).

        >>> TrainConfig(steps=2000, n_checkpoints=6).schedule()
        [0, 10, 38, 141, 532, 2000]
        """
        n = min(self.n_checkpoints, self.steps + 1)
        start = self.first_checkpoint or max(1, self.steps // 200)
        raw = np.geomspace(start, self.steps, n - 1)
        steps = sorted({0, *(int(round(s)) for s in raw), self.steps})
        # fill collisions at the low end with the next unused steps so n is kept
        k = 1
        while len(steps) < n:
            if k not in steps:
                steps.append(k)
            k += 1
        return sorted(steps)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mixture"] = dict(self.mixture)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        if "mixture" in d:
            d["mixture"] = tuple(dict(d["mixture"]).items())
        return cls(**d)


def build_model(config: TrainConfig, vocab_size: int):
    """A random-init ``GPTNeoXForCausalLM`` (Pythia architecture) of the configured shape."""
    hf_config = neox_config(
        vocab_size,
        d_model=config.d_model,
        n_layers=config.n_layers,
        n_heads=config.n_heads,
        d_mlp=config.d_mlp,
        max_positions=max(128, config.seq_len),
        rotary_pct=0.25,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    return build_neox(hf_config, seed=config.seed)


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate at a 0-based step: linear warm-up, then cosine decay to 10%."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    frac = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def choose_threads(model, ids: torch.Tensor, candidates: Sequence[int] | None = None) -> dict:
    """Time a few forward+backward passes per thread count; return the timings and the winner.

    Gradients are cleared afterwards and no optimizer step is taken, so training is unchanged.
    """
    candidates = list(candidates or sorted({1, max(1, os.cpu_count() or 1)}))
    timings = {}
    for n in candidates:
        torch.set_num_threads(n)
        best = float("inf")
        for _ in range(3):  # first rep warms up; keep the best of the rest
            t = time.perf_counter()
            model(input_ids=ids, labels=ids).loss.backward()
            best = min(best, time.perf_counter() - t)
        timings[n] = round(best, 4)
    model.zero_grad(set_to_none=True)
    winner = min(timings, key=timings.get)
    torch.set_num_threads(winner)
    return {"threads": winner, "trial_seconds_per_step": timings}


def train(
    config: TrainConfig,
    out: str | Path | None,
    *,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    phases: Sequence[tuple[int, Mapping[str, float]]] | None = None,
    callback_steps: Sequence[int] | None = None,
    tokenizer=None,
) -> dict:
    """Train the tiny model, saving checkpoints and calling ``callbacks`` on the schedule.

    Args:
        config: Hyperparameters.
        out: Run directory; checkpoints go to ``out/checkpoints/step{N}``. ``None`` saves nothing
            (callbacks still run, e.g. a live tracker).
        callbacks: Each is called as ``cb(model, step=..., tokens=...)`` at every scheduled step
            (always at step 0). The model object is the one being trained, in eval mode.
        progress: Show a tqdm bar.
        phases: A staged data mix: ``[(last_step, mixture), ...]`` in step order, the last
            ending at ``config.steps``. Phase k draws a fresh stream seeded ``seed + 1000 k``.
            Default: one phase with ``config.mixture``.
        callback_steps: Steps at which callbacks run (default: the checkpoint schedule).
        tokenizer: A toy tokenizer to use (default: a new one).

    Returns:
        A summary: steps, tokens, seconds, tokens/s, final loss, loss curve, checkpoint steps,
        phase ends and the threads used.
    """
    tokenizer = tokenizer or build_toy_tokenizer()
    model = build_model(config, len(tokenizer))
    phases = list(phases or [(config.steps, dict(config.mixture))])
    if [end for end, _ in phases] != sorted(end for end, _ in phases) or phases[-1][
        0
    ] != config.steps:
        raise ConfigError(
            f"phases end at steps {[end for end, _ in phases]}; they must increase and the last "
            f"must be config.steps = {config.steps}."
        )
    phase_batches = [
        ToyCorpus(mixture=dict(mix), seed=config.seed + 1000 * k).batches(
            tokenizer, config.batch_size, config.seq_len
        )
        for k, (_, mix) in enumerate(phases)
    ]
    if config.threads == 0:
        trial = next(
            ToyCorpus(seed=config.seed + 1).batches(tokenizer, config.batch_size, config.seq_len)
        )
        threads = choose_threads(model, trial)
    else:
        torch.set_num_threads(config.threads)
        threads = {"threads": config.threads, "trial_seconds_per_step": {}}
    opt = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, betas=(0.9, 0.98)
    )
    schedule = set(config.schedule())
    cb_steps = set(schedule if callback_steps is None else callback_steps) | {0}
    ckpt_root = Path(out) / "checkpoints" if out is not None else None
    if ckpt_root is not None:
        ckpt_root.mkdir(parents=True, exist_ok=True)
        (Path(out) / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2))

    def checkpoint(step: int) -> None:
        model.eval()
        tokens = step * config.tokens_per_step
        if ckpt_root is not None and step in schedule:
            d = ckpt_root / f"step{step}"
            model.save_pretrained(str(d))
            tokenizer.save_pretrained(str(d))
            (d / "curriculens_checkpoint.json").write_text(
                json.dumps({"step": step, "tokens": tokens, "seed": config.seed})
            )
        if step in cb_steps:
            for cb in callbacks:
                cb(model, step=step, tokens=tokens)
        model.train()

    losses: list[tuple[int, float]] = []
    t0 = time.perf_counter()
    checkpoint(0)
    model.train()
    bar = tqdm(range(1, config.steps + 1), desc="train", disable=not progress, unit="step")
    ema = None
    phase = 0
    for step in bar:
        while step > phases[phase][0]:
            phase += 1
        ids = next(phase_batches[phase])
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1, config)
        loss = model(input_ids=ids, labels=ids).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        v = loss.item()
        ema = v if ema is None else 0.95 * ema + 0.05 * v
        if step % 10 == 0 or step == config.steps:
            losses.append((step, round(ema, 4)))
            bar.set_postfix(loss=f"{ema:.3f}")
        if step in schedule or step in cb_steps:
            checkpoint(step)
    seconds = time.perf_counter() - t0
    tokens = config.steps * config.tokens_per_step
    summary = {
        "steps": config.steps,
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "final_loss": losses[-1][1] if losses else None,
        "loss_curve": losses,
        "checkpoints": sorted(schedule),
        "phase_steps": [end for end, _ in phases],
        **threads,
    }
    if out is not None:
        (Path(out) / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary
