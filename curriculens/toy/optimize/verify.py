"""Verify a mixture proposal by retraining: baseline vs proposed mix, same seeds, same tokens.

Each (arm, seed) trains the tiny model from scratch and evaluates the skills in the loop (the
sweep's own :class:`~curriculens.pipeline.tracker.Tracker`, no checkpoint files), then measures
held-out loss on the baseline mix and on each source. The analysis pairs arms by seed and bootstraps
items within seeds and seeds across the run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from curriculens.analysis.criterion import Criterion
from curriculens.analysis.emergence import bootstrap_curves
from curriculens.errors import ConfigError
from curriculens.params import check, flag
from curriculens.toy.optimize.strategies import Proposal

ARMS = ("baseline", "proposed")
#: Bumped when training or evaluation changes, so older finished runs are not reused.
_PROTOCOL = 2


@dataclass(frozen=True, kw_only=True)
class VerifyConfig:
    """How to retrain and compare; the defaults fit 3 seeds in ~20 min on 2 idle cores.

    Args:
        seeds: Number of seeds (0, 1, ...); both arms use the same ones.
        steps: Training steps of each arm (tokens = steps x batch_size x seq_len, both arms).
        n_evals: Evaluation points: step 0 and a log-spaced grid from steps/32 to steps.
        n_examples: Evaluation examples per skill.
        skills: Skills to evaluate; empty means every source of the mixture.
        jobs: Parallel training processes (each pinned to one torch thread).
        n_boot: Bootstrap resamples of the comparison.
        criterion: Emergence criterion of the behavior score, the map's (default ``paper``).
        loss_batches: Held-out batches for the loss on the baseline mix (2 per source too).
        model: Overrides of the train config (``d_model``, ``batch_size``, ...); the rest
            comes from the run's ``train_config.json`` or the trainer defaults.
    """

    seeds: int = 3
    steps: int = 1000
    n_evals: int = 12
    n_examples: int = 200
    skills: tuple[str, ...] = ()
    jobs: int = 2
    n_boot: int = 1000
    criterion: Criterion | str = "paper"
    loss_batches: int = 8
    model: tuple[tuple[str, int | float], ...] = ()

    def __post_init__(self) -> None:
        for arg, name in _CHECKED.items():  # each against its declaration in curriculens.params
            check(name, getattr(self, arg), arg=arg)
        if self.n_boot < 1:
            raise ConfigError(
                f"n_boot = {self.n_boot}: the verification compares the arms by bootstrap; "
                "give at least 1 resample."
            )
        object.__setattr__(self, "criterion", Criterion.of(self.criterion))
        object.__setattr__(self, "skills", tuple(self.skills))
        if self.skills:  # an unknown name fails here, before a proposal is written or trained
            from curriculens.pipeline.config import resolve_skills

            resolve_skills(self.skills)
        if isinstance(self.model, dict):
            object.__setattr__(self, "model", tuple(self.model.items()))
        _check_overrides(dict(self.model))

    def eval_steps(self) -> list[int]:
        """Step 0 plus a log-spaced grid ending at ``steps``.

        >>> VerifyConfig(steps=64, n_evals=4).eval_steps()
        [0, 2, 11, 64]
        """
        grid = np.geomspace(max(1.0, self.steps / 32), self.steps, self.n_evals - 1)
        return sorted({0, *(int(round(s)) for s in grid), self.steps})


#: VerifyConfig field -> its parameter in :data:`curriculens.params.PARAMS`
_CHECKED = {
    "seeds": "n_seeds",
    "steps": "train_steps",
    "n_evals": "n_evals",
    "n_examples": "n_examples",
    "jobs": "jobs",
    "n_boot": "n_boot",
    "loss_batches": "loss_batches",
}


def _check_overrides(model: dict) -> None:
    """Train-config overrides name numeric fields of the train config, other than those the
    verification sets itself (mixture, seed, steps, threads)."""
    from curriculens.toy.trainer import TrainConfig

    allowed = set(TrainConfig.__dataclass_fields__) - {"mixture", "seed", "steps", "threads"}
    bad = sorted(set(model) - allowed)
    if bad:
        raise ConfigError(
            f"{flag('train_overrides')} (model) names {bad}; allowed: "
            f"{', '.join(sorted(allowed))} (steps: {flag('train_steps')})."
        )
    wrong = {
        k: v for k, v in model.items() if isinstance(v, bool) or not isinstance(v, int | float)
    }
    if wrong:
        raise ConfigError(f"{flag('train_overrides')} (model) {wrong}: expected numbers.")


def _phase_bounds(proposal: Proposal | None, steps: int, baseline: dict) -> list[list]:
    """[[end_step, mixture], ...] of an arm; the baseline arm is one phase."""
    if proposal is None:
        return [[steps, dict(baseline)]]
    out = []
    for ph in proposal.phases:
        out.append([int(round(ph.end * steps)), dict(ph.mixture)])
    out[-1][0] = steps
    return out


def _train_arm(job: dict) -> dict:
    """Train one (arm, seed) with in-loop evaluation; writes ``summary.json`` in its folder."""
    import torch

    from curriculens.pipeline.run import SweepConfig
    from curriculens.pipeline.tracker import Tracker
    from curriculens.toy.corpus import build_toy_tokenizer
    from curriculens.toy.trainer import TrainConfig, train

    torch.set_num_threads(1)
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "job.json").write_text(json.dumps(job, indent=2))
    from transformers import AutoTokenizer

    cfg = dataclasses.replace(TrainConfig.from_dict(job["train"]), threads=1)
    # saved and reloaded, as a checkpoint's tokenizer is: the TransformerLens bridge needs the
    # ``name_or_path`` that only a loaded tokenizer carries
    build_toy_tokenizer().save_pretrained(str(out / "tokenizer"))
    tokenizer = AutoTokenizer.from_pretrained(str(out / "tokenizer"), trust_remote_code=False)
    sweep_cfg = SweepConfig(**job["sweep"])
    tracker = Tracker(out, tokenizer, config=sweep_cfg, schedule=job["evals"], run=job["name"])
    trained = {}

    def evaluate(model, *, step: int, tokens: int) -> None:
        trained["model"] = model  # the same module all along: after train(), the final model
        _evaluate(tracker, model, step=step, tokens=tokens)

    t0 = time.perf_counter()
    try:
        result = train(
            cfg,
            None,
            callbacks=[evaluate],
            progress=False,
            phases=[(end, mix) for end, mix in job["phases"]],
            callback_steps=job["evals"],
            tokenizer=tokenizer,
        )
        train_seconds = time.perf_counter() - t0
        model = trained["model"].eval()
        heldout = _heldout_loss(model, tokenizer, cfg, job["baseline"], job["loss_batches"])
    finally:
        tracker.close()
    losses = result["loss_curve"]
    phases = job["phases"]
    summary = {
        "arm": job["arm"],
        "seed": cfg.seed,
        "steps": cfg.steps,
        "tokens": cfg.steps * cfg.tokens_per_step,
        "seconds": round(time.perf_counter() - t0, 1),
        "train_and_eval_seconds": round(train_seconds, 1),
        "final_train_loss": losses[-1][1] if losses else None,
        "phase_steps": [end for end, _ in phases],
        "loss_curve": losses,
        **heldout,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _evaluate(tracker, model, *, step: int, tokens: int) -> None:
    """Evaluate the live model; :class:`~curriculens.pipeline.tracker.Tracker` measures a detached
    copy, so the TransformerLens bridge never rewires the modules the optimizer is training."""
    tracker.step(model, step=step, tokens=tokens)
    model.train()


def _heldout_loss(model, tokenizer, cfg, baseline: dict, n_batches: int) -> dict:
    """Mean next-token loss on fresh baseline-mix documents and on each source alone."""
    import torch

    from curriculens.toy.corpus import ToyCorpus

    def mean_loss(mixture: dict, n: int) -> float:
        it = ToyCorpus(mixture=mixture, seed=987_654).batches(
            tokenizer, cfg.batch_size, cfg.seq_len
        )
        with torch.no_grad():
            return float(np.mean([model(input_ids=b, labels=b).loss.item() for b in _take(it, n)]))

    return {
        "heldout_loss": round(mean_loss(baseline, n_batches), 4),
        "source_loss": {s: round(mean_loss({s: 1.0}, 2), 4) for s in baseline},
    }


def _take(it, n):
    return [next(it) for _ in range(n)]


def build_jobs(
    proposal: Proposal, config: VerifyConfig, out: Path, train_defaults: dict | None
) -> list[dict]:
    """One job per (arm, seed), seeds interleaved so both arms of a seed finish together."""
    from curriculens.toy.trainer import TrainConfig

    base_train = {
        k: v
        for k, v in (train_defaults or {}).items()
        if k in TrainConfig.__dataclass_fields__ and k not in ("steps", "mixture", "seed")
    }
    base_train |= dict(config.model)
    base_train["steps"] = config.steps
    base_train["threads"] = 1
    skills = config.skills or tuple(proposal.baseline)
    unknown = sorted(set(skills) - set(proposal.baseline))
    if unknown:
        from curriculens.skills.registry import get_skill

        for s in unknown:
            get_skill(s)  # raises for a typo
    jobs = []
    for seed in range(config.seeds):
        for arm in ARMS:
            phases = _phase_bounds(
                proposal if arm == "proposed" else None, config.steps, proposal.baseline
            )
            train = dict(base_train, seed=seed, mixture=phases[0][1])
            TrainConfig.from_dict(train)  # validate here, not in a worker
            jobs.append(
                {
                    "arm": arm,
                    "protocol": _PROTOCOL,
                    "name": f"{arm}_seed{seed}",
                    "out": str(out / f"{arm}_seed{seed}"),
                    "train": train,
                    "phases": phases,
                    "evals": config.eval_steps(),
                    "sweep": {"skills": list(skills), "n_examples": config.n_examples, "seed": 0},
                    "baseline": dict(proposal.baseline),
                    "loss_batches": config.loss_batches,
                }
            )
    return jobs


def run_jobs(jobs: Sequence[dict], n_procs: int, log=print) -> list[dict]:
    """Run the jobs; a job already finished with the same settings is reused, not rerun."""
    results: dict[str, dict] = {}
    todo = []
    for j in jobs:
        done, spec = Path(j["out"]) / "summary.json", Path(j["out"]) / "job.json"
        if done.exists() and spec.exists() and json.loads(spec.read_text()) == j:
            results[j["name"]] = json.loads(done.read_text()) | {"reused": True}
            log(f"  {j['name']}: done earlier with the same settings, reused")
        else:
            if Path(j["out"]).exists():  # interrupted, or other settings: start it over
                import shutil

                shutil.rmtree(j["out"])
            todo.append(j)
    if n_procs <= 1 or len(todo) <= 1:
        for j in todo:
            results[j["name"]] = _train_arm(j)
            log(f"  {j['name']}: {results[j['name']]['seconds']:.0f} s")
    else:
        env_threads = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
        try:
            with ProcessPoolExecutor(n_procs, mp_context=get_context("spawn")) as pool:
                futures = {j["name"]: pool.submit(_train_arm, j) for j in todo}
                for name, f in futures.items():
                    results[name] = f.result()
                    log(f"  {name}: {results[name]['seconds']:.0f} s")
        finally:
            for k, v in env_threads.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return [results[j["name"]] for j in jobs]


# ------------------------------------------------------------------ analysis
def _arm_items(out: Path, name: str, skills: Sequence[str]) -> dict[str, tuple]:
    """skill -> (tokens [ckpt], items [ckpt, item]) of one arm's primary behavior metric."""
    from curriculens.analysis.importers import primary_metric
    from curriculens.store import Store

    with Store(out / name, readonly=True) as s:
        rows = s.rows(items=True, kind="behavior")
    res = {}
    for skill in skills:
        rs = [r for r in rows if r["skill"] == skill]
        if not rs:
            continue
        m = primary_metric(skill, sorted({r["metric"] for r in rs}))
        rs = sorted((r for r in rs if r["metric"] == m), key=lambda r: r["tokens"])
        res[skill] = (
            np.array([r["tokens"] for r in rs], float),
            np.stack([np.asarray(r["items"], float) for r in rs]),
        )
    return res


def _ci(x: np.ndarray, alpha: float = 0.05) -> list[float]:
    lo, hi = np.quantile(x, [alpha / 2, 1 - alpha / 2])
    return [float(lo), float(hi)]


def compare(
    out: Path,
    summaries: Sequence[dict],
    skills: Sequence[str],
    *,
    criterion: Criterion | str | None = None,
    n_boot: int,
    targets: Sequence[str] = (),
    seed: int = 0,
) -> dict:
    """Paired comparison of the arms, per skill, with a two-level bootstrap.

    Each resample draws seeds with replacement (the same seeds for both arms) and, within each
    drawn seed and arm, resamples evaluation items jointly across checkpoints. Emergence uses the
    map's criterion (default ``paper``); a curve that never meets it counts as the last
    evaluation's tokens (a lower bound, so shifts involving censored runs are conservative).
    Intervals are 95% percentile intervals.
    """
    crit = Criterion.of(criterion)
    seeds = sorted({s["seed"] for s in summaries})
    by = {(s["arm"], s["seed"]): s for s in summaries}
    data = {(a, sd): _arm_items(out, f"{a}_seed{sd}", skills) for a in ARMS for sd in seeds}
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, len(seeds), size=(n_boot, len(seeds)))  # [boot, seed draw]
    per_skill = {}
    for skill in skills:
        if not all(skill in data[k] for k in data):
            continue
        emerg = {}  # arm -> [seed, boot], point [seed]
        final = {}
        for a in ARMS:
            eb, ep, fb, fp, cens = [], [], [], [], 0
            for i, sd in enumerate(seeds):
                tokens, items = data[(a, sd)][skill]
                cap = float(tokens[-1])
                curves = bootstrap_curves(items, n_boot=n_boot, seed=1000 * i + 17)
                eb.append([_cap(crit.point(tokens, c), cap) for c in curves])
                p = crit.point(tokens, items.mean(axis=1))
                cens += p is None
                ep.append(_cap(p, cap))
                fb.append(curves[:, -1])
                fp.append(float(items[-1].mean()))
            emerg[a] = (np.array(eb), np.array(ep), cens)
            final[a] = (np.array(fb), np.array(fp))
        cols = np.arange(n_boot)[:, None]
        d_e = emerg["proposed"][0] - emerg["baseline"][0]  # [seed, boot]
        d_f = final["proposed"][0] - final["baseline"][0]
        shift_boot = d_e[draw, cols].mean(axis=1)  # each resample: its drawn seeds, its items
        final_boot = d_f[draw, cols].mean(axis=1)
        shift = float(np.mean(emerg["proposed"][1] - emerg["baseline"][1]))
        dfin = float(np.mean(final["proposed"][1] - final["baseline"][1]))
        s_ci, f_ci = _ci(shift_boot), _ci(final_boot)
        all_cens = emerg["baseline"][2] == len(seeds) and emerg["proposed"][2] == len(seeds)
        if all_cens:
            e_verdict = "never emerged in either arm"
        elif s_ci[1] < 0:
            e_verdict = "earlier"
        elif s_ci[0] > 0:
            e_verdict = "later"
        else:
            e_verdict = "no clear change"
        f_verdict = "better" if f_ci[0] > 0 else "worse" if f_ci[1] < 0 else "no clear change"
        per_skill[skill] = {
            "target": skill in targets,
            "emergence_baseline": _stats(emerg["baseline"][1]),
            "emergence_proposed": _stats(emerg["proposed"][1]),
            "censored_seeds": {a: int(emerg[a][2]) for a in ARMS},
            "emergence_shift": shift,
            "emergence_shift_ci": s_ci,
            "emergence_verdict": e_verdict,
            "final_baseline": float(np.mean(final["baseline"][1])),
            "final_proposed": float(np.mean(final["proposed"][1])),
            "final_change": dfin,
            "final_change_ci": f_ci,
            "final_verdict": f_verdict,
            "worse": e_verdict == "later" or f_verdict == "worse",
            "mean_curve": {
                a: {
                    "tokens": data[(a, seeds[0])][skill][0].tolist(),
                    "value": np.mean([data[(a, sd)][skill][1].mean(1) for sd in seeds], 0).tolist(),
                }
                for a in ARMS
            },
        }
    loss = _loss_change(by, seeds, draw)
    targeted_earlier = [
        s for s, r in per_skill.items() if r["target"] and r["emergence_verdict"] == "earlier"
    ]
    return {
        "seeds": seeds,
        "criterion": crit.to_dict() | {"description": crit.describe()},
        "n_boot": n_boot,
        "ci": "95% percentile; resample seeds (paired), then items within seed",
        "skills": per_skill,
        "loss": loss,
        "targeted_earlier": targeted_earlier,
        "worse": [s for s, r in per_skill.items() if r["worse"]],
        "helped": bool(targeted_earlier),
    }


def _cap(p: float | None, cap: float) -> float:
    return cap if p is None else float(p)


def _stats(x: np.ndarray) -> dict:
    return {"mean": float(np.mean(x)), "per_seed": [float(v) for v in x]}


def _loss_change(by: dict, seeds: Sequence[int], draw: np.ndarray) -> dict:
    """Paired held-out loss differences (proposed - baseline); CI by resampling seeds."""

    def paired(get) -> dict:
        d = np.array([get(by[("proposed", s)]) - get(by[("baseline", s)]) for s in seeds])
        boot = d[draw].mean(axis=1)
        return {
            "baseline": float(np.mean([get(by[("baseline", s)]) for s in seeds])),
            "proposed": float(np.mean([get(by[("proposed", s)]) for s in seeds])),
            "change": float(d.mean()),
            "change_ci": _ci(boot),
            "per_seed": [float(v) for v in d],
        }

    sources = sorted(by[("baseline", seeds[0])]["source_loss"])
    return {
        "heldout_baseline_mix": paired(lambda s: s["heldout_loss"]),
        "by_source": {src: paired(lambda s, src=src: s["source_loss"][src]) for src in sources},
        "final_train_loss": paired(lambda s: s["final_train_loss"]),
    }


def config_dict(config: VerifyConfig) -> dict:
    d = asdict(config)
    d["criterion"] = config.criterion.to_dict()
    d["model"] = dict(config.model)
    d["eval_steps"] = config.eval_steps()
    return d
