"""The ``curriculens optimize`` command: propose a data mix from a run's map, and verify it.

``add_parser(subparsers)`` registers the subcommand; results go to ``RUN/optimize/``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from curriculens.cli._args import (
    add_criterion_flags,
    add_output_flags,
    add_train_steps,
    criterion_from_args,
)
from curriculens.cli._args import positive_int as _positive_int
from curriculens.errors import ConfigError
from curriculens.toy.optimize.strategies import STRATEGIES, Proposal, map_to_sources, propose

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
    p.add_argument("--strategy", default="upweight", help=f"one of {', '.join(STRATEGIES)}")
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
    v.add_argument("--seeds", type=_positive_int, default=3, help="seeds per mix (default 3)")
    add_train_steps(v, default=1000, help="training steps per run (1000)")
    v.add_argument("--evals", type=_positive_int, default=12, help="evaluation points (12)")
    v.add_argument("--examples", type=_positive_int, default=200, help="examples/skill (200)")
    v.add_argument("--skills", default="", help="comma-separated skills (default: all sources)")
    v.add_argument("--jobs", type=_positive_int, default=2, help="parallel processes (2)")
    v.add_argument("--bootstrap", type=_positive_int, default=1000, help="bootstrap resamples")
    v.add_argument("--boot", dest="bootstrap", type=_positive_int, help=argparse.SUPPRESS)
    v.add_argument(
        "--model",
        default="",
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


def _parse_model(text: str) -> dict:
    out = {}
    for part in filter(None, (t.strip() for t in text.split(","))):
        key, sep, val = part.partition("=")
        if not sep:
            raise ConfigError(f"--model {part!r}: expected key=value, e.g. d_model=32.")
        try:
            out[key.strip()] = int(val)
        except ValueError:
            try:
                out[key.strip()] = float(val)
            except ValueError:
                raise ConfigError(f"--model {part!r}: {val!r} is not a number.") from None
    from curriculens.toy.trainer import TrainConfig

    allowed = set(TrainConfig.__dataclass_fields__) - {"mixture", "seed", "steps", "threads"}
    bad = sorted(set(out) - allowed)
    if bad:
        raise ConfigError(
            f"--model names {bad}; allowed: {', '.join(sorted(allowed))} (steps: --train-steps)."
        )
    return out


def run_optimize(args) -> int:
    """Handler of ``curriculens optimize``; returns the exit code."""
    run = Path(args.run)
    proposal = propose(
        run,
        strategy=args.strategy,
        criterion=criterion_from_args(args),
        **_options(args),
    )
    result = proposal.to_dict()
    out = run / "optimize"
    out.mkdir(exist_ok=True)
    plain = dict(result["proposed"])
    if args.source_map:
        smap, weights = _read_source_map(args.source_map)
        result["sources"] = map_to_sources(proposal, smap, weights)
        plain = dict(result["sources"]["proposed"])
    (out / f"proposal_{proposal.strategy}.json").write_text(json.dumps(result, indent=2))
    (out / f"mixture_{proposal.strategy}.json").write_text(json.dumps(plain, indent=2))
    if args.verify:
        log = (lambda *a: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
        result["verify"] = verify_proposal(run, proposal, args, log)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_proposal(proposal, result.get("sources")))
        print(f"\nwritten: {out / f'proposal_{proposal.strategy}.json'}")
        if args.verify:
            print(f"\n{result['verify']['headline']}")
            print(f"report: {result['verify']['report']}")
    return 0


def verify_proposal(run: Path, proposal: Proposal, args, log) -> dict:
    """Retrain both mixes, compare, and write ``verify_<strategy>.{json,md,png}``."""
    from curriculens.toy.optimize.report import plot_verify, verify_markdown
    from curriculens.toy.optimize.strategies import run_baseline
    from curriculens.toy.optimize.verify import (
        VerifyConfig,
        build_jobs,
        compare,
        config_dict,
        run_jobs,
    )

    skills = tuple(s.strip() for s in args.skills.split(",") if s.strip())
    config = VerifyConfig(
        seeds=args.seeds,
        steps=args.train_steps,
        n_evals=args.evals,
        n_examples=args.examples,
        skills=skills,
        jobs=args.jobs,
        n_boot=args.bootstrap,
        criterion=criterion_from_args(args),
        model=_parse_model(args.model),
    )
    _, _, train_cfg = run_baseline(run)
    out = run / "optimize"
    work = out / f"verify_{proposal.strategy}"
    jobs = build_jobs(proposal, config, work, train_cfg)
    tokens = config.steps * _tokens_per_step(jobs[0]["train"])
    log(
        f"verify: {len(jobs)} runs ({config.seeds} seeds x 2 mixes) of {config.steps} steps "
        f"({tokens:,} tokens each), {config.jobs} processes"
    )
    t0 = time.perf_counter()
    work.mkdir(parents=True, exist_ok=True)
    summaries = run_jobs(jobs, config.jobs, log)
    seconds = time.perf_counter() - t0
    eval_skills = list(jobs[0]["sweep"]["skills"])
    cmp = compare(
        work,
        summaries,
        eval_skills,
        criterion=config.criterion,
        n_boot=config.n_boot,
        targets=proposal.targets,
    )
    cmp["config"] = config_dict(config)
    cmp["tokens_per_run"] = tokens
    cmp["seconds"] = round(seconds, 1)
    cmp["train_seconds"] = [s["seconds"] for s in summaries]
    cmp["reused"] = sum(bool(s.get("reused")) for s in summaries)
    cmp["proposal"] = proposal.to_dict()
    cmp["headline"] = headline(cmp)
    md = out / f"verify_{proposal.strategy}.md"
    png = out / f"verify_{proposal.strategy}.png"
    try:
        plot_verify(cmp, png)
        cmp["plot"] = str(png)
    except Exception as e:  # noqa: BLE001 - a missing plot must not lose the numbers
        cmp["plot"] = None
        log(f"plot skipped: {e}")
    md.write_text(verify_markdown(cmp))
    cmp["report"] = str(md)
    (out / f"verify_{proposal.strategy}.json").write_text(json.dumps(cmp, indent=2))
    return cmp


def _tokens_per_step(train: dict) -> int:
    from curriculens.toy.trainer import TrainConfig

    return TrainConfig.from_dict(train).tokens_per_step


def headline(cmp: dict) -> str:
    """One honest sentence on whether the intervention helped and what it cost."""
    targets = [s for s, r in cmp["skills"].items() if r["target"]]
    planned = cmp["proposal"]["targets"]
    loss = cmp["loss"]["heldout_baseline_mix"]
    lci = loss["change_ci"]
    if cmp["helped"]:
        first = f"Helped: targeted skill(s) {', '.join(cmp['targeted_earlier'])} emerged earlier"
        first += " (95% CI of the shift below 0)."
    elif targets:
        first = (
            f"Did not help: no targeted skill ({', '.join(targets)}) emerged measurably earlier "
            "at this budget."
        )
    elif planned:
        first = (
            f"Not tested: no targeted skill ({', '.join(planned)}) was among the evaluated "
            "skills; add them to --skills."
        )
    else:
        first = "Nothing was targeted: the proposal left every skill's share as it was."
    never = [s for s in targets if cmp["skills"][s]["emergence_verdict"].startswith("never")]
    if never and not cmp["helped"]:
        first += (
            f" {', '.join(never)} never emerged in either arm within "
            f"{cmp['tokens_per_run']:,} tokens; a larger --train-steps tests them better."
        )
    worse = cmp["worse"]
    second = f" Got worse: {', '.join(worse)}." if worse else " No skill got measurably worse."
    third = (
        f" Held-out loss on the baseline mix {loss['baseline']:.3f} -> {loss['proposed']:.3f} "
        f"(change {loss['change']:+.3f}, CI [{lci[0]:+.3f}, {lci[1]:+.3f}])."
    )
    return first + second + third


def format_proposal(p: Proposal, sources: dict | None = None) -> str:
    """A plain-text table of the proposal."""
    lines = [f"strategy: {p.strategy}   baseline mixture: {p.baseline_source}"]
    lines.append(f"{'source':<20} {'baseline':>8} {'proposed':>8}  reason")
    for s in p.baseline:
        mark = "*" if s in p.targets else " "
        lines.append(f"{s:<19}{mark} {p.baseline[s]:>8.3f} {p.proposed[s]:>8.3f}  {p.reasons[s]}")
    if len(p.phases) > 1:
        for i, ph in enumerate(p.phases, 1):
            mix = ", ".join(f"{k} {v:.2f}" for k, v in ph.mixture.items())
            lines.append(f"phase {i} ({ph.start:.0%}-{ph.end:.0%} of tokens): {mix}")
    lines.append("* = targeted. Total training tokens unchanged; only shares move.")
    lines += [f"note: {n}" for n in p.notes]
    if sources:
        lines.append(
            "your data sources: "
            + ", ".join(
                f"{k} {sources['baseline'][k]:.3f} -> {v:.3f}"
                for k, v in sources["proposed"].items()
            )
        )
    return "\n".join(lines)


add_optimize_parser = add_parser  # the name earlier versions exported
