"""The built-in demo: train a tiny model on the toy world, sweep its checkpoints, write the report.

Everything runs on the CPU with no downloads; the default settings finish in a few minutes on
two cores (see the README for the measured time).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from curriculens.errors import ConfigError
from curriculens.params import check, flag
from curriculens.pipeline.run import SweepConfig, sweep
from curriculens.reporting.writer import write_report
from curriculens.toy.curriculum import DESIGN, compare_with_design
from curriculens.toy.trainer import TrainConfig, train

#: Where the demo's checkpoint grid starts, as a share of training: the designed curriculum's
#: first skills emerge after it, so the log grid spends its checkpoints where skills emerge.
GRID_START = 0.06
#: Sequences per training step: 16 x 64 = 1,024 tokens. Half the trainer's default, so the same
#: tokens take twice the updates and skills are learnt in fewer tokens.
BATCH_SIZE = 16


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """Settings of ``curriculens demo``.

    Args:
        out: Run directory (must not hold another run unless ``force``).
        seed: Seeds training, corpus, examples and probes.
        steps: Training steps (1,024 tokens each, :data:`BATCH_SIZE` sequences of 64).
        n_checkpoints: Checkpoints, step 0 included; the rest are log-spaced from
            :data:`GRID_START` of training to its end (the default 30: x1.11 in tokens between
            neighbours, so that consecutive cohorts of the designed curriculum, and a composite
            and its components, fall into different brackets).
        n_examples: Evaluation examples per skill.
        seeds: Independent training runs (seeds ``seed``, ``seed+1``, ...). With more than one,
            each trains under ``out/seed{N}/`` and the report adds order consistency across them.
        force: Replace an existing run directory.
        threads: torch threads for training; 0 measures 1 against all cores on a few trial
            steps and keeps the faster (see :class:`~curriculens.toy.trainer.TrainConfig`).
    """

    out: str = "runs/demo"
    seed: int = 0
    steps: int = 1400
    n_checkpoints: int = 30
    n_examples: int = 300
    seeds: int = 1
    force: bool = False
    threads: int = 0

    def __post_init__(self) -> None:
        for arg, name in _CHECKED.items():  # each against its declaration in curriculens.params
            check(name, getattr(self, arg), arg=arg)
        out = Path(self.out)
        if out.exists() and not out.is_dir():
            raise ConfigError(
                f"{flag('out')} {self.out!r} is an existing file; give a directory path (it is "
                "created)."
            )
        if out.is_dir() and any(out.iterdir()) and not self.force:
            raise ConfigError(
                f"{flag('out')} {self.out!r} already holds files. Pick a new directory, or pass "
                f"{flag('force')} to replace a previous demo run there."
            )
        is_run = (out / "results.sqlite").exists() or (out / "checkpoints").exists()
        if out.is_dir() and self.force and any(out.iterdir()) and not is_run:
            raise ConfigError(
                f"{flag('out')} {self.out!r} is not a curriculens run directory; {flag('force')} "
                "only replaces earlier runs. Pick another directory."
            )


#: DemoConfig field -> its parameter in :data:`curriculens.params.PARAMS`
_CHECKED = {
    "seed": "seed",
    "steps": "train_steps",
    "n_checkpoints": "n_checkpoints",
    "n_examples": "n_examples",
    "seeds": "n_seeds",
    "threads": "train_threads",
    "force": "force",
}


def run_demo(config: DemoConfig, *, progress: bool = True) -> dict:
    """Train, sweep and report; returns timings and the report path.

    >>> run_demo(DemoConfig(out="runs/demo_small", steps=50))  # doctest: +SKIP
    """
    out = Path(config.out)
    if config.force and out.is_dir():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train_s = sweep_s = 0.0
    tokens = 0
    per_seed = []
    for seed in range(config.seed, config.seed + config.seeds):
        sub = out if config.seeds == 1 else out / f"seed{seed}"
        tc = TrainConfig(
            steps=config.steps,
            n_checkpoints=config.n_checkpoints,
            first_checkpoint=max(1, round(GRID_START * config.steps)) if config.steps > 1 else 0,
            seed=seed,
            threads=config.threads,
            batch_size=BATCH_SIZE,
            mixture=tuple(DESIGN.mixture().items()),
        )
        t = time.perf_counter()
        sub.mkdir(parents=True, exist_ok=True)
        DESIGN.save(sub)
        trained = train(tc, sub, progress=progress, phases=DESIGN.phases(config.steps))
        tokens = trained["tokens"]
        seed_train = time.perf_counter() - t
        train_s += seed_train
        sc = SweepConfig(skills=DESIGN.names, n_examples=config.n_examples, seed=seed)
        t = time.perf_counter()
        sweep(
            sub / "checkpoints",
            out,
            config=sc,
            progress=progress,
            run=None if config.seeds == 1 else f"seed{seed}",
        )
        sweep_s += time.perf_counter() - t
        per_seed.append(
            {
                "seed": seed,
                "threads": trained["threads"],
                "train_seconds": round(seed_train, 1),
                "sweep_seconds": round(time.perf_counter() - t, 1),
            }
        )
    DESIGN.save(out)
    t2 = time.perf_counter()
    info = {
        "seed": config.seed,
        "seeds": config.seeds,
        "steps": config.steps,
        "tokens": tokens,
        "train_seconds": round(train_s, 1),
        "sweep_seconds": round(sweep_s, 1),
        "per_seed": per_seed,
        # recovered vs designed order per seed, on raw curves (the paper criterion unsmoothed)
        "design": [c.to_dict() for c in compare_with_design(out)],
    }
    (out / "demo.json").write_text(json.dumps(info, indent=2))
    report = write_report(out)
    info["report_seconds"] = round(time.perf_counter() - t2, 1)
    info["total_seconds"] = round(time.perf_counter() - t0, 1)
    info["report"] = str(report)
    (out / "demo.json").write_text(json.dumps(info, indent=2))
    return info
