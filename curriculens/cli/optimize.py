"""The ``curriculens optimize`` command: propose a data mix from a run's map, and verify it.

``add_parser(subparsers)`` registers the subcommand; the work is
:func:`curriculens.toy.optimize.workflow.optimize_mix`; results go to ``RUN/optimize/``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from curriculens import params
from curriculens.cli._args import (
    add_criterion_flags,
    add_output_flags,
    criterion_from_args,
)
from curriculens.errors import ConfigError

_HELP = "Propose corpus mixture weights from a run's curriculum map; --verify retrains to test."
_EPILOG = """\
strategies:
  upweight  multiply each source by 1 + strength x delay (delay 0 for the first skill to emerge,
            1 for a skill that never emerged, log-token scale in between), cap, renormalize
  staged    phase 1 front-loads the components of composite skills (x boost, composites
            x hold); phase 2 up-weights the composites (x boost)

The token budget is fixed: only shares move. Writes RUN/optimize/proposal_<strategy>.json and
RUN/optimize/mixture_<strategy>.json (plain weights; keyed by your data sources with
--source-map). --verify trains the tiny model with both mixes on the same seeds and token budget
and writes RUN/optimize/verify_<strategy>.{json,md,png}.

examples:
  curriculens optimize runs/demo
  curriculens optimize runs/demo --strategy staged --json
  curriculens optimize runs/demo --verify --seeds 3
  curriculens optimize runs/demo --source-map my_sources.json   # {"copy": "code", ...}
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``optimize`` on an argparse subparsers object; returns the new parser.

    >>> p = argparse.ArgumentParser(); sub = p.add_subparsers()
    >>> _ = add_parser(sub)
    >>> p.parse_args(["optimize", "runs/demo"]).strategy
    'upweight'
    """
    p = subparsers.add_parser(
        "optimize",
        help=_HELP,
        description=_HELP,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", help="run directory holding results.sqlite (and train_config.json)")
    params.add(  # not argparse choices: the library answers a typo with "did you mean"
        p,
        "strategy",
        choices=None,
        default="upweight",
        metavar="{" + ",".join(params.STRATEGIES) + "}",
        help="how the mix is proposed (default upweight)",
    )
    add_output_flags(p, json_help="print one JSON object on stdout")
    add_criterion_flags(p)
    g = p.add_argument_group("strategy options")
    g.add_argument("--strength", type=float, default=2.0, help="upweight: max extra x (2.0)")
    g.add_argument("--max-share", type=float, default=0.4, help="upweight: share cap (0.4)")
    g.add_argument("--boost", type=float, default=2.0, help="staged: favoured group x (2.0)")
    g.add_argument("--hold", type=float, default=0.25, help="staged: composites x in phase 1")
    g.add_argument("--split", type=float, default=None, help="staged: phase-1 token fraction")
    g.add_argument(
        "--source-map",
        default=None,
        help='JSON {skill: source} or {"map": {skill: source}, "weights": {source: w}}',
    )
    v = p.add_argument_group("verification by retraining")
    v.add_argument("--verify", action="store_true", help="retrain baseline and proposed mixes")
    params.add(v, "n_seeds", default=3, help="seeds per mix (default 3)")
    params.add(v, "train_steps", default=1000, help="training steps per run (default 1000)")
    params.add(v, "n_evals", default=12, help="evaluation points (default 12)")
    params.add(v, "n_examples", default=200, help="examples per skill (default 200)")
    params.add(v, "skills", default="", help="comma-separated skills (default: all sources)")
    params.add(v, "jobs", default=2, help="parallel processes (default 2)")
    params.add(v, "n_boot", default=1000, metavar="N", help="bootstrap resamples (default 1000)")
    params.add(
        v,
        "train_overrides",
        default="",
        metavar="KEY=VALUE,...",
        help="train-config overrides, e.g. d_model=32,n_heads=2,d_mlp=64,batch_size=8,seq_len=32",
    )
    p.set_defaults(func=run_optimize)
    return p


def _options(args) -> dict:
    if args.strategy == "upweight":
        return {"strength": args.strength, "max_share": args.max_share}
    if args.strategy == "staged":
        return {"boost": args.boost, "hold": args.hold, "split": args.split}
    return {}


def _read_source_map(path: str) -> tuple[dict, dict | None]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--source-map {path!r} does not exist; give a JSON file.")
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"--source-map {path!r} is not valid JSON ({e}).") from None
    if isinstance(d, dict) and "map" in d:
        return dict(d["map"]), (dict(d["weights"]) if d.get("weights") else None)
    if not isinstance(d, dict) or not all(isinstance(v, str) for v in d.values()):
        raise ConfigError(
            f'--source-map {path!r}: expected {{"skill": "source", ...}} or '
            '{"map": {...}, "weights": {"source": weight}}.'
        )
    return d, None


def _verify_config(args):
    """The verification's config, checked before anything is proposed, trained or written."""
    from curriculens.toy.optimize.verify import VerifyConfig
    from curriculens.toy.optimize.workflow import parse_train_overrides

    return VerifyConfig(
        seeds=args.n_seeds,
        steps=args.train_steps,
        n_evals=args.n_evals,
        n_examples=args.n_examples,
        skills=tuple(s.strip() for s in args.skills.split(",") if s.strip()),
        jobs=args.jobs,
        n_boot=args.n_boot,
        criterion=criterion_from_args(args),
        model=parse_train_overrides(args.train_overrides),
    )


def run_optimize(args) -> int:
    """Handler of ``curriculens optimize``; returns the exit code."""
    from curriculens.toy.optimize.report import format_proposal
    from curriculens.toy.optimize.workflow import optimize_mix

    criterion = criterion_from_args(args)
    verify = _verify_config(args) if args.verify else None
    smap, weights = _read_source_map(args.source_map) if args.source_map else (None, None)
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    proposal, result = optimize_mix(
        args.run,
        strategy=args.strategy,
        criterion=criterion,
        options=_options(args),
        source_map=smap,
        source_weights=weights,
        verify=verify,
        log=log,
    )
    written = result.pop("written")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_proposal(proposal, result.get("sources")))
        print(f"\nwritten: {written}")
        if verify is not None:
            print(f"\n{result['verify']['headline']}")
            print(f"report: {result['verify']['report']}")
    return 0
