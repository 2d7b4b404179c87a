"""The sweep: for each checkpoint, behavior and probe scores of every skill, into the store.

Work is split into units, one per (checkpoint fingerprint, skill@version+hash, probe config), each
written in one SQLite transaction. A re-run skips finished units, so an interrupted sweep resumes.
The same evaluation serves a live training loop through :class:`Tracker`.
"""

from __future__ import annotations

import gc
import hashlib
import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from curriculens.activations import capture, encode_skill, hook_layer, load_bridge, resid_hooks
from curriculens.behavior import score_behavior
from curriculens.checkpoints import Checkpoint, CheckpointSeries, fingerprint, warn_duplicate
from curriculens.errors import ConfigError
from curriculens.probes import ProbeTask, fit_probe_tasks
from curriculens.skills.registry import Skill, get_skill
from curriculens.store import Row, Store


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """What a sweep measures; saved beside the store and hashed into every unit key.

    Args:
        skills: Skill names.
        n_examples: Examples per skill (the probe splits them train/test).
        train_frac: Share of examples the probe trains on.
        probe_C: Inverse L2 strength of the probes.
        seed: Seeds examples, splits and control labels.
        hooks: Hook names, or empty for the embedding plus every block's residual output.
        batch_size: Sequences per forward pass.
        device: torch device.
        threads: torch threads during the sweep.
    """

    skills: tuple[str, ...]
    n_examples: int = 300
    train_frac: float = 0.7
    probe_C: float = 1.0
    seed: int = 0
    hooks: tuple[str, ...] = ()
    batch_size: int = 64
    device: str = "cpu"
    threads: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.skills, str):
            object.__setattr__(self, "skills", (self.skills,))
        object.__setattr__(self, "skills", tuple(self.skills))
        object.__setattr__(self, "hooks", tuple(self.hooks))
        if not self.skills:
            raise ConfigError("SweepConfig.skills is empty; name at least one skill.")
        for s in self.skills:
            get_skill(s)  # raises with "did you mean"
        if (
            isinstance(self.n_examples, bool)
            or not isinstance(self.n_examples, int)
            or self.n_examples < 20
        ):
            raise ConfigError(
                f"SweepConfig.n_examples = {self.n_examples!r}; expected an int "
                ">= 20 (probes need a train and a test split)."
            )
        if not 0.1 <= self.train_frac <= 0.9:
            raise ConfigError(f"SweepConfig.train_frac = {self.train_frac!r}; expected 0.1..0.9.")
        if not self.probe_C > 0:
            raise ConfigError(f"SweepConfig.probe_C = {self.probe_C!r}; expected > 0.")

    def probe_key(self) -> str:
        d = {
            k: v
            for k, v in asdict(self).items()
            if k in ("n_examples", "train_frac", "probe_C", "seed", "hooks")
        }
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def _unit(skill: Skill, config: SweepConfig) -> str:
    return f"{skill.name}@{skill.version}+{skill.content_hash}|{config.probe_key()}"


def _control_labels(skill: Skill, read_token: np.ndarray, examples, seed: int) -> np.ndarray:
    """Hewitt & Liang control task: a random class per token type at the read position.

    When every example reads the same token type (e.g. '='), the type falls back to the whole
    prompt, so the control stays a memorization task rather than a constant.
    """
    types = read_token.astype(str)
    if np.unique(types).size < 2:
        types = np.array([e.prompt for e in examples])
    rng = np.random.default_rng([seed, 99])
    uniq = np.unique(types)
    table = dict(zip(uniq, rng.integers(0, skill.n_classes, uniq.size), strict=True))
    return np.array([table[t] for t in types])


def evaluate_model(
    model,
    tokenizer,
    config: SweepConfig,
    *,
    checkpoint: str,
    step: int,
    tokens: int,
    run: str,
    store: Store,
    fp: str | None = None,
    progress: bool = True,
) -> int:
    """Score every unfinished skill on one loaded model and write its rows. Returns units done."""
    fp = fp or fingerprint(model)
    done = store.done_units(run, fp)
    todo = [get_skill(s) for s in config.skills]
    todo = [s for s in todo if _unit(s, config) not in done]
    if not todo:
        return 0
    bridge = load_bridge(model, tokenizer, device=config.device)
    hooks = list(config.hooks) or resid_hooks(bridge.cfg.n_layers)
    encoded, caps = [], []
    for skill in tqdm(todo, desc=f"  {checkpoint}", leave=False, disable=not progress):
        examples = skill.examples(config.n_examples, seed=config.seed)
        enc = encode_skill(skill, examples, tokenizer)
        encoded.append(enc)
        caps.append(capture(bridge, enc, hooks, batch_size=config.batch_size))
    # every (skill, hook) probe of this checkpoint in one call
    tasks = []
    for enc, cap in zip(encoded, caps, strict=True):
        rng = np.random.default_rng([config.seed, 5])
        train = np.zeros(len(enc.labels), bool)
        train[rng.permutation(len(train))[: int(round(config.train_frac * len(train)))]] = True
        control = _control_labels(enc.skill, enc.read_token, enc.examples, config.seed)
        for h in hooks:
            tasks.append(
                ProbeTask(
                    X=cap.acts[h],
                    y=enc.labels,
                    train=train,
                    control_y=control,
                    key=(enc.skill.name, h),
                )
            )
    results = {r.key: r for r in fit_probe_tasks(tasks, C=config.probe_C, seed=config.seed)}
    base = dict(run=run, checkpoint=checkpoint, step=step, tokens=tokens, fingerprint=fp)
    for enc, cap in zip(encoded, caps, strict=True):
        sk = enc.skill
        meta = dict(base, skill=sk.name, skill_version=sk.version, skill_hash=sk.content_hash)
        rows = [
            Row(
                **meta,
                kind="behavior",
                hook="",
                layer=-1,
                metric=m,
                value=float(v.mean()),
                n=len(v),
                items=v,
            )
            for m, v in score_behavior(enc, cap).items()
        ]
        rows.append(
            Row(
                **meta,
                kind="baseline",
                hook="",
                layer=-1,
                metric="behavior_chance",
                value=sk.chance,
                n=len(enc.labels),
            )
        )
        for h in hooks:
            r = results[(sk.name, h)]
            lay = hook_layer(h)
            rows.append(
                Row(
                    **meta,
                    kind="probe",
                    hook=h,
                    layer=lay,
                    metric="acc",
                    value=r.acc,
                    n=r.n_test,
                    items=r.correct,
                )
            )
            rows.append(
                Row(
                    **meta,
                    kind="control",
                    hook=h,
                    layer=lay,
                    metric="acc",
                    value=r.control_acc,
                    n=r.n_test,
                    items=r.control_correct,
                )
            )
            rows.append(
                Row(
                    **meta,
                    kind="baseline",
                    hook=h,
                    layer=lay,
                    metric="majority",
                    value=r.majority,
                    n=r.n_test,
                )
            )
        store.write_unit(run, fp, _unit(sk, config), checkpoint, rows)
    del bridge
    return len(todo)


def _run_meta(config: SweepConfig, extra: dict) -> dict:
    import sklearn
    import transformer_lens
    import transformers

    import curriculens

    skills = {
        s: {"version": get_skill(s).version, "hash": get_skill(s).content_hash}
        for s in config.skills
    }
    return {
        "config": asdict(config),
        "skills": skills,
        **extra,
        "versions": {
            "curriculens": curriculens.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "transformer_lens": getattr(transformer_lens, "__version__", "?"),
            "sklearn": sklearn.__version__,
            "python": platform.python_version(),
        },
    }


def sweep(
    series: CheckpointSeries | str | Path,
    out: str | Path,
    *,
    skills: Sequence[str] | None = None,
    config: SweepConfig | None = None,
    run: str | None = None,
    progress: bool = True,
) -> Path:
    """Sweep a checkpoint series: behavior and probes for every skill, into ``out/results.sqlite``.

    Re-running the same sweep skips finished units; a changed skill or probe config recomputes
    only what changed. Checkpoints with identical weights are measured once and reported.

    Args:
        series: A :class:`CheckpointSeries` or a directory of checkpoint folders.
        out: Run directory (created).
        skills: Skill names (default: the toy-world suite), ignored when ``config`` is given.
        config: Full sweep configuration.
        run: Run name stored in every row (default: the name of ``out``).
        progress: Show progress bars.

    Returns:
        The run directory.

    >>> cl.sweep("runs/demo/checkpoints", "runs/demo")  # doctest: +SKIP
    """
    from curriculens.skills.toy import TOY_SKILLS

    if not isinstance(series, CheckpointSeries):
        series = CheckpointSeries.from_dir(series)
    config = config or SweepConfig(skills=tuple(skills or TOY_SKILLS))
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r} is an existing file; give a directory path.")
    run = run or out.resolve().name
    torch.set_num_threads(config.threads)
    t0 = time.perf_counter()
    seen: dict[str, str] = {}
    with Store(out) as store:
        (out / "sweep_config.json").write_text(json.dumps(asdict(config), indent=2))
        store.set_meta(
            f"run:{run}", _run_meta(config, {"series": series.source, "checkpoints": len(series)})
        )
        bar = tqdm(list(series), desc="sweep", unit="ckpt", disable=not progress)
        for ck in bar:
            bar.set_postfix(ckpt=ck.label)
            _sweep_one(ck, config, run, store, seen, progress, series.dedupe)
        store.set_meta(f"sweep_seconds:{run}", round(time.perf_counter() - t0, 2))
    return out


def _sweep_one(
    ck: Checkpoint,
    config: SweepConfig,
    run: str,
    store: Store,
    seen: dict[str, str],
    progress: bool,
    dedupe: bool = True,
) -> None:
    model, tokenizer = ck.load(device=config.device)
    fp = ck.fingerprint or fingerprint(model)
    if fp in seen:
        warn_duplicate(seen[fp], ck.label, fp, dedupe=dedupe)
    if fp not in seen or not dedupe:
        key = fp if fp not in seen else f"{fp}@{ck.label}"
        seen.setdefault(fp, ck.label)
        evaluate_model(
            model,
            tokenizer,
            config,
            checkpoint=ck.label,
            step=ck.step,
            tokens=ck.tokens,
            run=run,
            store=store,
            fp=key,
            progress=progress,
        )
    del model, tokenizer
    gc.collect()


class Tracker:
    """Evaluate skills inside a training loop, every N steps or on a schedule, into a store.

    Call ``tracker.step(model, step=..., tokens=...)`` from any loop (or pass the tracker as a
    callback of :func:`curriculens.trainer.train`). No checkpoint files are written.

    >>> tracker = Tracker("runs/live", tokenizer, skills=["agreement"], every=100)  # doctest: +SKIP
    >>> for step in range(1000):  # doctest: +SKIP
    ...     train_step(); tracker.step(model, step=step, tokens=step * 2048)
    """

    def __init__(
        self,
        out: str | Path,
        tokenizer,
        *,
        skills: Sequence[str] | None = None,
        config: SweepConfig | None = None,
        every: int | None = None,
        schedule: Sequence[int] | None = None,
        run: str | None = None,
    ):
        from curriculens.skills.toy import TOY_SKILLS

        if every is not None and (not isinstance(every, int) or every < 1):
            raise ConfigError(f"Tracker every={every!r}; expected an int >= 1 or None.")
        self.config = config or SweepConfig(skills=tuple(skills or TOY_SKILLS))
        self.tokenizer = tokenizer
        self.every, self.schedule = every, set(schedule or ())
        self.out = Path(out)
        self.run = run or self.out.resolve().name
        self.store = Store(self.out)
        self.store.set_meta(f"run:{self.run}", _run_meta(self.config, {"series": "live"}))

    def step(self, model, *, step: int, tokens: int) -> bool:
        """Evaluate if ``step`` is due; returns whether it evaluated."""
        due = step in self.schedule or (self.every is not None and step % self.every == 0)
        if not due:
            return False
        was_training = model.training
        model.eval()
        evaluate_model(
            model,
            self.tokenizer,
            self.config,
            checkpoint=f"step{step}",
            step=step,
            tokens=tokens,
            run=self.run,
            store=self.store,
            progress=False,
        )
        model.train(was_training)
        return True

    __call__ = step

    def close(self) -> None:
        self.store.close()
