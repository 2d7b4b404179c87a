"""The optimize workflow in one call: propose a mix from a run's map, write it, and (optionally)
verify it by retraining both mixes. ``curriculens optimize`` is a thin layer over
:func:`optimize_mix`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from curriculens.analysis.criterion import Criterion
from curriculens.errors import ConfigError
from curriculens.params import flag
from curriculens.toy.optimize.report import plot_verify, verify_markdown
from curriculens.toy.optimize.strategies import Proposal, map_to_sources, propose, run_baseline
from curriculens.toy.optimize.verify import (
    VerifyConfig,
    build_jobs,
    compare,
    config_dict,
    run_jobs,
)


def parse_train_overrides(text: str) -> dict[str, int | float]:
    """``"d_model=32,batch_size=8"`` -> ``{"d_model": 32, "batch_size": 8}``: numeric overrides
    of the train config (checked by :class:`VerifyConfig`).

    >>> parse_train_overrides("d_model=32, lr=0.001")
    {'d_model': 32, 'lr': 0.001}
    """
    name = flag("train_overrides")
    out: dict[str, int | float] = {}
    for part in filter(None, (t.strip() for t in text.split(","))):
        key, sep, val = part.partition("=")
        if not sep:
            raise ConfigError(f"{name} {part!r}: expected key=value, e.g. d_model=32.")
        try:
            out[key.strip()] = int(val)
        except ValueError:
            try:
                out[key.strip()] = float(val)
            except ValueError:
                raise ConfigError(f"{name} {part!r}: {val!r} is not a number.") from None
    return out


def optimize_mix(
    run: str | Path,
    *,
    strategy: str = "upweight",
    criterion: Criterion | str | None = None,
    options: Mapping | None = None,
    source_map: Mapping[str, str] | None = None,
    source_weights: Mapping[str, float] | None = None,
    verify: VerifyConfig | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[Proposal, dict]:
    """Propose a mix for ``run``, write ``RUN/optimize/{proposal,mixture}_<strategy>.json`` and,
    with ``verify``, retrain and write ``verify_<strategy>.{json,md,png}``.

    Args:
        run: Run directory with ``results.sqlite`` (and ideally ``train_config.json``).
        strategy: ``upweight`` or ``staged``.
        criterion: Emergence criterion of the map (default ``paper``).
        options: Strategy options (``strength``, ``max_share``; ``boost``, ``hold``, ``split``).
        source_map: ``{skill: source}``: also express the mix over your data sources.
        source_weights: Baseline weights of those sources (default: equal).
        verify: How to retrain and compare, or ``None`` to only propose.
        log: Progress lines of the verification (default: none).

    Returns:
        The proposal and its JSON-ready result (``sources`` and ``verify`` when asked for).
    """
    run = Path(run)
    proposal = propose(run, strategy=strategy, criterion=criterion, **dict(options or {}))
    result = proposal.to_dict()
    out = run / "optimize"
    out.mkdir(exist_ok=True)
    plain = dict(result["proposed"])
    if source_map is not None:
        result["sources"] = map_to_sources(
            proposal, dict(source_map), dict(source_weights) if source_weights else None
        )
        plain = dict(result["sources"]["proposed"])
    (out / f"proposal_{proposal.strategy}.json").write_text(json.dumps(result, indent=2))
    (out / f"mixture_{proposal.strategy}.json").write_text(json.dumps(plain, indent=2))
    result["written"] = str(out / f"proposal_{proposal.strategy}.json")
    if verify is not None:
        result["verify"] = verify_proposal(run, proposal, verify, log or (lambda m: None))
    return proposal, result


def verify_proposal(
    run: str | Path, proposal: Proposal, config: VerifyConfig, log: Callable[[str], None]
) -> dict:
    """Retrain both mixes, compare, and write ``RUN/optimize/verify_<strategy>.{json,md,png}``."""
    run = Path(run)
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
            f"skills; add them to {flag('skills')}."
        )
    else:
        first = "Nothing was targeted: the proposal left every skill's share as it was."
    never = [s for s in targets if cmp["skills"][s]["emergence_verdict"].startswith("never")]
    if never and not cmp["helped"]:
        first += (
            f" {', '.join(never)} never emerged in either arm within "
            f"{cmp['tokens_per_run']:,} tokens; a larger {flag('train_steps')} tests them better."
        )
    worse = cmp["worse"]
    second = f" Got worse: {', '.join(worse)}." if worse else " No skill got measurably worse."
    third = (
        f" Held-out loss on the baseline mix {loss['baseline']:.3f} -> {loss['proposed']:.3f} "
        f"(change {loss['change']:+.3f}, CI [{lci[0]:+.3f}, {lci[1]:+.3f}])."
    )
    return first + second + third
