"""What a live ``Tracker`` costs a training run: the toy model trained with and without one.

In one process it trains the built-in toy model (``TrainConfig`` at its defaults, or
``--steps``) twice from the same seed, at one thread count chosen once by the trainer's own
measurement (``TrainConfig.threads = 0``) and then fixed for both runs:

* ``plain_s``: training alone, the trainer offered a callback at every step that does nothing,
  once before and once after the tracked run (``plain_runs_s``), averaged;
* ``tracked_s``: the same training with a :class:`curriculens.Tracker` offered every step, at its
  default cadence (the time budget, ``budget=0.05``) or ``--every N``;
* ``slowdown`` = tracked_s / plain_s - 1, and ``slowdown_after_init``: the same less the
  measurement at the first step (the init level every emergence criterion starts from; a fixed
  cost that a longer run spreads thinner);
* ``measure_s``: seconds per measurement, ``step_s``: seconds per training step, and
  ``every_for_budget``: the smallest fixed ``every`` that keeps measuring within the budget,
  ceil(measure_s / (budget x step_s)).

    python benchmarks/bench_tracker.py [--steps 1200] [--every N] [--budget 0.05]
        [--examples 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from pathlib import Path

import torch


def _train(config, callback):
    from curriculens.toy.trainer import train

    t0 = time.perf_counter()
    summary = train(
        config,
        None,
        callbacks=[callback],
        progress=False,
        callback_steps=range(config.steps + 1),
    )
    return time.perf_counter() - t0, summary


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=None, help="training steps (default: TrainConfig)")
    ap.add_argument("--every", type=int, default=None, help="fixed cadence instead of the budget")
    ap.add_argument("--budget", type=float, default=0.05)
    ap.add_argument(
        "--examples", type=int, default=None, help="examples per skill (default: SweepConfig)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from dataclasses import replace

    from curriculens.pipeline.config import SweepConfig, default_skills
    from curriculens.pipeline.tracker import Tracker
    from curriculens.toy.corpus import build_toy_tokenizer
    from curriculens.toy.trainer import TrainConfig

    base = TrainConfig() if args.steps is None else TrainConfig(steps=args.steps)
    tok = build_toy_tokenizer()
    # one thread choice for both runs: the trainer's own measurement, then fixed
    _, probe = _train(replace(base, steps=20), lambda *a, **k: None)
    threads = int(probe["threads"])
    config = replace(base, threads=threads)

    plain_runs = [_train(config, lambda *a, **k: None)[0]]

    sweep_cfg = SweepConfig(skills=tuple(default_skills(tok)))
    if args.examples is not None:
        sweep_cfg = replace(sweep_cfg, n_examples=args.examples)
    with tempfile.TemporaryDirectory() as tmp:
        tracker = Tracker(
            Path(tmp) / "live", tok, config=sweep_cfg, every=args.every, budget=args.budget
        )
        times: list[float] = []

        def measured(model, *, step, tokens):
            t0 = time.perf_counter()
            if tracker.step(model, step=step, tokens=tokens):
                times.append(time.perf_counter() - t0)

        tracked_s, _ = _train(config, measured)
        steps_measured = list(tracker.measured_steps)
        tracker.close()
    plain_runs.append(_train(config, lambda *a, **k: None)[0])  # before and after: no warm-up bias
    plain_s = sum(plain_runs) / 2

    step_s = plain_s / config.steps
    measure_s = sum(times[1:]) / max(len(times) - 1, 1) if len(times) > 1 else times[0]
    result = {
        "bench": "tracker",
        "steps": config.steps,
        "threads": threads,
        "cadence": f"every={args.every}" if args.every else f"budget={args.budget}",
        "skills": list(sweep_cfg.skills),
        "n_examples": sweep_cfg.n_examples,
        "plain_s": round(plain_s, 2),
        "plain_runs_s": [round(t, 2) for t in plain_runs],
        "tracked_s": round(tracked_s, 2),
        "slowdown": round(tracked_s / plain_s - 1, 4),
        "slowdown_after_init": round((tracked_s - times[0]) / plain_s - 1, 4),
        "measurements": len(times),
        "measured_steps": steps_measured,
        "measure_s": round(measure_s, 3),
        "first_measure_s": round(times[0], 3),
        "step_s": round(step_s, 5),
        "every_for_budget": math.ceil(measure_s / (args.budget * step_s)),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"training {config.steps} steps at {threads} thread(s): plain {plain_s:.1f} s, "
            f"with a Tracker ({result['cadence']}) {tracked_s:.1f} s: slowdown "
            f"{100 * result['slowdown']:.1f}% ({100 * result['slowdown_after_init']:.1f}% after "
            f"the init measurement); {len(times)} measurements at {measure_s:.2f} s each, "
            f"{1000 * step_s:.1f} ms per step; every >= {result['every_for_budget']} keeps a "
            f"fixed cadence within {100 * args.budget:.0f}%."
        )
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
