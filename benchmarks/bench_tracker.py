"""What a live ``Tracker`` costs a training run: the toy model trained with and without one.

In one process it trains the built-in toy model (``TrainConfig`` at its defaults, or
``--steps``) twice from the same seed, at one thread count chosen once by the trainer's own
measurement (``TrainConfig.threads = 0``) and then fixed for both runs:

* ``plain_s``: training alone, the trainer offered a callback at every step that does nothing;
* ``tracked_s``: the same training with a :class:`curriculens.Tracker` offered every step (a
  fresh one each time, its construction counted in the run's time), at its default cadence
  (the time budget, ``budget=0.05``) or ``--every N``;
* the two alternate, plain first and last (``--repeat R`` tracked runs between R + 1 plain
  ones; ``plain_runs_s``, ``tracked_runs_s``), and each is the median of its runs: one run of
  each differed by up to 5% in training time alone on the idle 2-core box, as much as the
  effect measured;
* ``slowdown`` = tracked_s / plain_s - 1, and ``slowdown_after_init``: the same less the
  measurement at the first step (the init level every emergence criterion starts from; a fixed
  cost that a longer run spreads thinner);
* ``overhead`` = ``in_tracker_s`` / plain_s: the seconds spent inside the Tracker (its
  construction and every ``step`` call, due or not; median over the tracked runs) against the
  plain run. It is the same cost without the training's own run-to-run spread (up to 9% here),
  and equals the slowdown unless measuring slows the training around it (it did not: 400 steps
  after one measurement took 23.1 s against 24.5 s plain, medians of 3);
* ``measure_s``: seconds per measurement, ``step_s``: seconds per training step, and
  ``every_for_budget``: the smallest fixed ``every`` that keeps measuring within the budget,
  ceil(measure_s / (budget x step_s)).

    python benchmarks/bench_tracker.py [--steps 1200] [--every N] [--budget 0.05]
        [--examples 100] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
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
    ap.add_argument(
        "--repeat", type=int, default=2, help="tracked runs, alternating with plain ones (2)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error(f"--repeat {args.repeat}: give 1 or more tracked runs")

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

    sweep_cfg = SweepConfig(skills=tuple(default_skills(tok)))
    if args.examples is not None:
        sweep_cfg = replace(sweep_cfg, n_examples=args.examples)

    def tracked_run() -> tuple[float, list[float], list[int]]:
        with tempfile.TemporaryDirectory() as tmp:  # a fresh store: nothing is resumed
            t0 = time.perf_counter()  # building the tracker (plan, items, store) is its cost too
            tracker = Tracker(
                Path(tmp) / "live", tok, config=sweep_cfg, every=args.every, budget=args.budget
            )
            setup = time.perf_counter() - t0
            times: list[float] = []
            inside = [setup]  # every second spent in the Tracker, due or not

            def measured(model, *, step, tokens):
                t0 = time.perf_counter()
                due = tracker.step(model, step=step, tokens=tokens)
                t1 = time.perf_counter()
                inside[0] += t1 - t0
                if due:
                    times.append(t1 - t0)

            took, _ = _train(config, measured)
            steps = list(tracker.measured_steps)
            tracker.close()
        return took + setup, times, steps, inside[0]

    plain_runs = [_train(config, lambda *a, **k: None)[0]]
    tracked = []
    for _ in range(args.repeat):  # alternating, plain first and last: no drift or warm-up bias
        tracked.append(tracked_run())
        plain_runs.append(_train(config, lambda *a, **k: None)[0])
    plain_s = statistics.median(plain_runs)
    tracked_s = statistics.median(t for t, _, _, _ in tracked)
    first = statistics.median(ms[0] for _, ms, _, _ in tracked)
    later = [m for _, ms, _, _ in tracked for m in ms[1:]]
    steps_measured = tracked[0][2]
    n_measured = round(statistics.median(len(ms) for _, ms, _, _ in tracked))
    inside_s = statistics.median(i for _, _, _, i in tracked)

    step_s = plain_s / config.steps
    measure_s = statistics.mean(later) if later else first
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
        "tracked_runs_s": [round(t, 2) for t, _, _, _ in tracked],
        "slowdown": round(tracked_s / plain_s - 1, 4),
        "in_tracker_s": round(inside_s, 3),
        "overhead": round(inside_s / plain_s, 4),
        "slowdown_after_init": round((tracked_s - first) / plain_s - 1, 4),
        "first_measure_share": round(first / plain_s, 4),
        "measurements": n_measured,
        "measured_steps": steps_measured,
        "measure_s": round(measure_s, 3),
        "first_measure_s": round(first, 3),
        "step_s": round(step_s, 5),
        "every_for_budget": math.ceil(measure_s / (args.budget * step_s)),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"training {config.steps} steps at {threads} thread(s), medians of "
            f"{len(plain_runs)} plain and {len(tracked)} tracked runs: plain {plain_s:.1f} s, "
            f"with a Tracker ({result['cadence']}) {tracked_s:.1f} s: slowdown "
            f"{100 * result['slowdown']:.1f}% ({100 * result['slowdown_after_init']:.1f}% after "
            f"the init measurement); time inside the Tracker {inside_s:.2f} s, "
            f"{100 * result['overhead']:.1f}% of the plain run; "
            f"{n_measured} measurements at {measure_s:.2f} s each, "
            f"{1000 * step_s:.1f} ms per step; every >= {result['every_for_budget']} keeps a "
            f"fixed cadence within {100 * args.budget:.0f}%."
        )
        print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
