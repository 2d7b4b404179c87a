"""``curriculens demo``: train the tiny model on the toy world, sweep it, write the report."""

from __future__ import annotations

import argparse
import json

from curriculens import params
from curriculens.cli._args import add_out_flag, add_output_flags, add_seed_flag


def add_parser(sub) -> argparse.ArgumentParser:
    d = sub.add_parser("demo", help="train a tiny model on the toy world, sweep it, report")
    add_out_flag(d, default="runs/demo", help="run directory (default runs/demo)")
    add_seed_flag(d)
    params.add(d, "train_steps", default=1400, help="training steps of 1,024 tokens (default 1400)")
    params.add(
        d, "n_checkpoints", default=30, help="log-spaced checkpoints incl. step 0 (default 30)"
    )
    params.add(d, "n_examples", default=300, help="evaluation examples per skill (default 300)")
    params.add(
        d,
        "n_seeds",
        default=1,
        help="independent training runs (seeds SEED..SEED+K-1); >1 adds order consistency",
    )
    params.add(
        d,
        "train_threads",
        default=0,
        help="torch threads for training (default 0: time 1 against all cores and keep the "
        "faster; on a shared machine, 1 avoids a second thread that stalls when a core is busy)",
    )
    params.add(d, "force", action="store_true", help="replace an earlier run in --out")
    add_output_flags(d, json_help="print the timings and paths as JSON")
    d.set_defaults(func=run)
    return d


def run(args: argparse.Namespace) -> int:
    from curriculens.toy.demo import DemoConfig, run_demo

    cfg = DemoConfig(
        out=args.out,
        seed=args.seed,
        steps=args.train_steps,
        seeds=args.n_seeds,
        force=args.force,
        n_checkpoints=args.n_checkpoints,
        n_examples=args.n_examples,
        threads=args.train_threads,
    )
    info = run_demo(cfg, progress=not args.quiet)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    seeds = f" ({args.n_seeds} seeds)" if args.n_seeds > 1 else ""
    print(
        f"demo finished in {info['total_seconds']:.0f} s{seeds} (train "
        f"{info['train_seconds']:.0f} s, sweep {info['sweep_seconds']:.0f} s, "
        f"report {info['report_seconds']:.0f} s)"
    )
    for d in info.get("design", []):  # the order the world was built to produce, per seed
        decided = [c for c in d["composite_pairs"] if c[2] is not None]
        rho = d.get("spearman")
        rho = "n/a" if rho is None or rho != rho else f"{rho:.2f}"  # None/NaN: too few emerged
        print(
            f"{d['run'] or f'seed {args.seed}'}: recovered vs designed order, Spearman {rho} "
            f"({d['n_emerged']} of {d['n_skills']} skills emerged, raw curves); composites after "
            f"their components in {sum(bool(c[2]) for c in decided)} of {len(decided)} pairs; "
            f"elementals on {d['distinct_elementals']} distinct checkpoints"
            + (f" ({few} few-shot)" if (few := d.get("distinct_fewshot_elementals")) else "")
        )
    print(f"report: {info['report']}")
    return 0
