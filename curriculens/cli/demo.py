"""``curriculens demo``: train the tiny model on the toy world, sweep it, write the report."""

from __future__ import annotations

import argparse
import json

from curriculens.cli._args import add_output_flags, add_train_steps, nonneg_int, positive_int


def add_parser(sub) -> argparse.ArgumentParser:
    d = sub.add_parser("demo", help="train a tiny model on the toy world, sweep it, report")
    d.add_argument("--out", default="runs/demo", help="run directory (default runs/demo)")
    d.add_argument("--seed", type=nonneg_int, default=0, help="first random seed (default 0)")
    add_train_steps(d, default=1400, help="training steps of 1,024 tokens (default 1400)")
    d.add_argument(
        "--checkpoints",
        type=positive_int,
        default=16,
        help="log-spaced checkpoints incl. step 0 (default 16)",
    )
    d.add_argument(
        "--examples",
        type=positive_int,
        default=300,
        help="evaluation examples per skill (default 300)",
    )
    d.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        help="independent training runs (seeds SEED..SEED+K-1); >1 adds order consistency",
    )
    d.add_argument(
        "--threads",
        type=nonneg_int,
        default=0,
        help="torch threads for training (default 0: time 1 against all cores and keep the "
        "faster; on a shared machine, 1 avoids a second thread that stalls when a core is busy)",
    )
    d.add_argument("--force", action="store_true", help="replace an earlier run in --out")
    add_output_flags(d, json_help="print the timings and paths as JSON")
    d.set_defaults(func=run)
    return d


def run(args: argparse.Namespace) -> int:
    from curriculens.toy.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        out=args.out,
        seed=args.seed,
        steps=args.train_steps,
        seeds=args.seeds,
        force=args.force,
        n_checkpoints=args.checkpoints,
        n_examples=args.examples,
        threads=args.threads,
    )
    info = run_demo(cfg, progress=not args.quiet)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    seeds = f" ({args.seeds} seeds)" if args.seeds > 1 else ""
    print(
        f"demo finished in {info['total_seconds']:.0f} s{seeds} (train "
        f"{info['train_seconds']:.0f} s, sweep {info['sweep_seconds']:.0f} s, "
        f"report {info['report_seconds']:.0f} s)"
    )
    print(f"report: {info['report']}")
    return 0
