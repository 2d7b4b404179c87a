"""Calibration of curriculens's verdicts and intervals on planted curves whose answer is known.

Usage::

    python benchmarks/bench_calibration.py [--json] [--quick] [--seed 0]

Every suite writes planted results into a store the way a sweep does (score rows with per-item
outcomes, and the items table with each item's group and split) and reads them back through the
public API (:func:`curriculens.analysis.lead_lag`,
:func:`curriculens.analysis.bootstrap_emergence`), then prints rates:

- ``null_clustered``: directional verdicts (``leads``/``lags``) on a clustered null (7 held-out
  groups x 12 items, each group's probe switching at its own checkpoint around behavior's), with
  the cluster bootstrap (groups from the items table) and, for reference, the item bootstrap
  (the same rows without the items table). Goal: <= 5% with groups. ``lead_clustered_groups``:
  the power of the same design when the probe's groups switch 4 checkpoints (1 decade) earlier.
- ``equivalent``: ``equivalent`` verdicts on identical moderate curves (slope 5/decade), n = 100
  and n = 1000 items. Goal: >= 80% at n = 1000.
- ``partial_init``: verdicts when the probe is at 0.70 from init and rises with behavior. Goal:
  never ``leads``.
- ``flat_behavior``: behavior flat at chance against a rising probe; ``never_rising``: behavior
  and an emergence curve that never rise. Goal: ``not_emerged``.
- ``coverage``: how often the 95% interval holds the true 0.8 crossing of planted logistic
  curves (n = 300 items) at slopes 2, 5 and 20 per decade, for the raw-curve interval
  (``raw_lo, raw_hi``) and the smoothed criterion's (``lo, hi``). Goal: >= 90% raw at each slope.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from curriculens.analysis import Criterion, bootstrap_emergence, lead_lag
from curriculens.store import Row, Store

#: Checkpoints of the lead/lag suites: 0, then 12 log-spaced, x1.78 (0.25 decade) apart.
TOKENS = [0] + [int(1e6 * 10 ** (k / 4)) for k in range(12)]
HOOK = "blocks.1.hook_resid_post"
CHANCE = 0.05
GOALS = {
    "null_clustered_directional": "<= 0.05",
    "equivalent_n1000": ">= 0.80",
    "partial_init_leads": "== 0",
    "flat_behavior_not_emerged": "== 1",
    "never_rising_not_emerged": "== 1",
    "coverage_raw": ">= 0.90 at every slope",
}


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def write_planted(path, *, behavior, probe, groups_all, test, seed, with_items=True):
    """A one-skill run: per checkpoint ``j``, behavior log-probabilities of every item and probe
    and control correctness of the held-out items.

    Args:
        path: Store path (a new directory).
        behavior: ``behavior(j, rng) -> [n_all]`` target probabilities per item.
        probe: ``probe(j, rng) -> [n_test]`` 0/1 probe correctness per held-out item.
        groups_all: Group of every item ``[n_all]``.
        test: Held-out mask ``[n_all]``.
        seed: Seed of the draws.
        with_items: Write the items table (groups and split); without it analyses resample items.
    """
    rng = np.random.default_rng(seed)
    n_test = int(test.sum())
    with Store(path) as s:
        s.set_meta(
            "skills",
            {"sk": {"primary_metric": "exact_match", "chance": CHANCE, "format": "continuation",
                    "family": "toy", "components": []}},
        )  # fmt: skip
        if with_items:
            s.write_items(
                "toy", "sk", "h", "",
                [(i, f"p{i}", str(g), 0, "test" if t else "train", 0)
                 for i, (g, t) in enumerate(zip(groups_all, test, strict=True))],
            )  # fmt: skip
        for j, tok in enumerate(TOKENS):
            meta = dict(run="toy", checkpoint=f"c{j}", step=j, tokens=tok, fingerprint=f"f{j}",
                        skill="sk", skill_version=1, skill_hash="h")  # fmt: skip
            p = np.clip(behavior(j, rng), 1e-6, 1.0)
            lp = np.log(p).astype(np.float32)
            em = (rng.random(p.size) < p).astype(np.float32)
            pc = probe(j, rng).astype(np.float32)
            cc = (rng.random(n_test) < 0.5).astype(np.float32)
            common = dict(meta, hook=HOOK, layer=1, n=n_test)
            rows = [
                Row(**meta, kind="behavior", hook="", metric="exact_match",
                    value=float(em.mean()), n=p.size, items=em),
                Row(**meta, kind="behavior", hook="", metric="logprob",
                    value=float(lp.mean()), n=p.size, items=lp),
                Row(**common, kind="probe", metric="probe_acc", value=float(pc.mean()), items=pc),
                Row(**common, kind="control", metric="control_acc", value=float(cc.mean()),
                    items=cc),
            ]  # fmt: skip
            s.write_unit("toy", f"f{j}", "sk", f"c{j}", rows)
    return path


def _design(n_groups, per_group, n_test_groups):
    groups = np.repeat(np.arange(n_groups), per_group)
    test = groups < n_test_groups
    return groups, test


def clustered_null(path, seed, *, with_items=True, n_boot=200, lead=0.0):
    """7 test groups x 12 items (28 groups in all); every group switches at its own checkpoint,
    for behavior and probe alike, drawn around one midpoint: no true lead (``lead``: the probe's
    midpoint that many checkpoints earlier, for the power of the same design)."""
    rng = np.random.default_rng([seed, 1])
    groups, test = _design(28, 12, 7)
    mid = 6.0
    b_switch = mid + lead / 2 + rng.normal(0, 1.5, 28)  # per group, in checkpoints
    p_switch = mid - lead / 2 + rng.normal(0, 1.5, 28)

    def behavior(j, r):
        on = j >= b_switch[groups]
        return np.where(on, 0.9, 0.01) * np.exp(r.normal(0, 0.2, groups.size))

    def probe(j, r):
        on = j >= p_switch[groups[test]]
        return r.random(int(test.sum())) < np.where(on, 0.97, 0.5)

    write_planted(path, behavior=behavior, probe=probe, groups_all=groups, test=test,
                  seed=seed, with_items=with_items)  # fmt: skip
    return lead_lag(path, n_boot=n_boot, seed=seed)[0]


def _logistic_design(n_items):
    groups = np.arange(n_items)  # every item its own group: independent items
    test = np.ones(n_items, bool)
    return groups, test


def identical(path, seed, *, n_items, slope=5.0, n_boot=200):
    """Behavior and probe selectivity follow one logistic in log10 tokens (slope per decade)."""
    groups, test = _logistic_design(n_items)
    x = np.log10(np.maximum(TOKENS, 1))
    mid = x[1] + 1.4

    def level(j):
        return _sig(slope * (x[j] - mid)) if j else 0.0

    def behavior(j, r):
        return (0.01 + 0.9 * level(j)) * np.exp(r.normal(0, 0.2, n_items))

    def probe(j, r):
        return r.random(n_items) < 0.5 + 0.45 * level(j)

    write_planted(path, behavior=behavior, probe=probe, groups_all=groups, test=test,
                  seed=seed, with_items=False)  # fmt: skip
    return lead_lag(path, n_boot=n_boot, seed=seed)[0]


def partial_init(path, seed, *, n_items=300, n_boot=200):
    """The probe is at 0.70 from init and rises to 1.0 with behavior's rise (no lead)."""
    groups, test = _logistic_design(n_items)
    x = np.log10(np.maximum(TOKENS, 1))
    mid = x[1] + 1.4

    def level(j):
        return _sig(5.0 * (x[j] - mid)) if j else 0.0

    def behavior(j, r):
        return (0.01 + 0.9 * level(j)) * np.exp(r.normal(0, 0.2, n_items))

    def probe(j, r):
        return r.random(n_items) < 0.70 + 0.30 * level(j)

    write_planted(path, behavior=behavior, probe=probe, groups_all=groups, test=test,
                  seed=seed, with_items=False)  # fmt: skip
    return lead_lag(path, n_boot=n_boot, seed=seed)[0]


def flat_behavior(path, seed, *, level=CHANCE, n_items=300, n_boot=200):
    """Behavior constant (``level``: at chance, or below it) against a probe that rises."""
    groups, test = _logistic_design(n_items)
    x = np.log10(np.maximum(TOKENS, 1))
    mid = x[1] + 1.4

    def behavior(j, r):
        return np.full(n_items, level) * np.exp(r.normal(0, 0.2, n_items))

    def probe(j, r):
        return r.random(n_items) < 0.5 + 0.45 * (_sig(5.0 * (x[j] - mid)) if j else 0.0)

    write_planted(path, behavior=behavior, probe=probe, groups_all=groups, test=test,
                  seed=seed, with_items=False)  # fmt: skip
    return lead_lag(path, n_boot=n_boot, seed=seed)[0]


#: Checkpoints of the coverage suite: 16, 0.25 decade apart.
COVER_TOKENS = np.array([1e6 * 10 ** (k / 4) for k in range(16)])


def coverage_case(seed, slope, *, n_items=300, n_boot=200, criterion="paper"):
    """One planted logistic (0 to 1, ``slope`` per decade) read with ``criterion``; whether the
    raw and the smoothed 95% intervals hold the true 0.8 crossing."""
    rng = np.random.default_rng([seed, int(slope * 10)])
    x = np.log10(COVER_TOKENS)
    mid = rng.uniform(x[3], x[-5])
    p = _sig(slope * (x - mid))
    u = rng.random(n_items)  # an item is right from the checkpoint its curve passes it on
    items = (u[None, :] < p[:, None]).astype(float)
    crit = Criterion.of(criterion)
    ci = bootstrap_emergence(COVER_TOKENS, items, n_boot=n_boot, seed=seed, criterion=crit)
    truth = 10 ** (mid + math.log(0.8 / 0.2) / slope)

    def holds(lo, hi):
        return (lo is None or lo < truth) and (hi is None or truth <= hi)

    return holds(ci.raw_lo, ci.raw_hi), holds(ci.lo, ci.hi)


def _rate(xs) -> float:
    xs = list(xs)
    return round(sum(xs) / len(xs), 3) if xs else float("nan")


def run(*, reps_null=100, reps_eq=50, reps_small=20, reps_cover=200, n_boot=200, seed=0):
    out: dict = {}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, with_items in (("groups", True), ("items", False)):
            verdicts = Counter(
                clustered_null(tmp / f"null{label}{i}", seed + i, with_items=with_items,
                               n_boot=n_boot).verdict
                for i in range(reps_null)
            )  # fmt: skip
            out[f"null_clustered_{label}"] = {
                "replicates": reps_null,
                "directional": round((verdicts["leads"] + verdicts["lags"]) / reps_null, 3),
                "verdicts": dict(verdicts),
            }
        verdicts = Counter(
            clustered_null(tmp / f"lead{i}", seed + i, n_boot=n_boot, lead=4.0).verdict
            for i in range(reps_eq)
        )
        out["lead_clustered_groups"] = {
            "replicates": reps_eq,
            "lead_checkpoints": 4,
            "leads": round(verdicts["leads"] / reps_eq, 3),
            "verdicts": dict(verdicts),
        }
        for n in (100, 1000):
            verdicts = Counter(
                identical(tmp / f"eq{n}_{i}", seed + i, n_items=n, n_boot=n_boot).verdict
                for i in range(reps_eq)
            )
            out[f"equivalent_n{n}"] = {
                "replicates": reps_eq,
                "equivalent": round(verdicts["equivalent"] / reps_eq, 3),
                "verdicts": dict(verdicts),
            }
        res = [partial_init(tmp / f"pi{i}", seed + i, n_boot=n_boot) for i in range(reps_small)]
        out["partial_init"] = {
            "replicates": reps_small,
            "leads": round(sum(r.verdict == "leads" for r in res) / reps_small, 3),
            "verdicts": dict(Counter(r.verdict for r in res)),
            "mean_point_lead_log10": _mean([r.lead_log10 for r in res]),
        }
        res = [flat_behavior(tmp / f"fl{i}", seed + i, n_boot=n_boot) for i in range(reps_small)]
        out["flat_behavior"] = {
            "replicates": reps_small,
            "not_emerged": _rate(r.behavior_state == "not_emerged" for r in res),
            "verdicts": dict(Counter(r.verdict for r in res)),
        }
        res = [
            flat_behavior(tmp / f"nv{i}", seed + i, level=0.001, n_boot=n_boot)
            for i in range(reps_small)
        ]
        flat = _never_rising_curves(reps_small, seed, n_boot)
        out["never_rising"] = {
            "replicates": reps_small,
            "behavior_not_emerged": _rate(r.behavior_state == "not_emerged" for r in res),
            "curve_not_emerged": flat,
            "verdicts": dict(Counter(r.verdict for r in res)),
        }
    cover = {}
    for slope in (2.0, 5.0, 20.0):
        got = [coverage_case(seed + i, slope, n_boot=n_boot) for i in range(reps_cover)]
        cover[f"{slope:g}"] = {
            "raw": _rate(g[0] for g in got),
            "smoothed": _rate(g[1] for g in got),
        }
    out["coverage"] = {"replicates": reps_cover, "criterion": "paper", "per_slope": cover}
    out["n_boot"] = n_boot
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["goals"] = GOALS
    out["met"] = _met(out)
    return out


def _never_rising_curves(reps, seed, n_boot) -> dict:
    """Emergence of curves that never rise, under the rise-based relative criterion: flat at 0,
    flat at chance 0.25 of a 4-choice task, flat at 0.6 with no floor known."""
    out = {}
    for label, level, chance in (("at_zero", 0.0, None), ("at_chance", 0.25, 0.25)):
        states = []
        for i in range(reps):
            rng = np.random.default_rng([seed + i, 7])
            items = (rng.random((len(COVER_TOKENS), 300)) < level).astype(float)
            crit = Criterion.preset("paper-relative")
            if chance is not None:
                crit = crit.with_fields(chance=chance)
            ci = bootstrap_emergence(COVER_TOKENS, items, n_boot=n_boot, seed=i, criterion=crit)
            states.append(ci.state == "not_emerged")
        out[label] = _rate(states)
    return out


def _mean(xs):
    xs = [x for x in xs if x is not None]
    return round(float(np.mean(xs)), 3) if xs else None


def _met(out) -> dict:
    cov = out["coverage"]["per_slope"]
    return {
        "null_clustered_directional": out["null_clustered_groups"]["directional"] <= 0.05,
        "equivalent_n1000": out["equivalent_n1000"]["equivalent"] >= 0.80,
        "partial_init_leads": out["partial_init"]["leads"] == 0,
        "flat_behavior_not_emerged": out["flat_behavior"]["not_emerged"] == 1,
        "never_rising_not_emerged": out["never_rising"]["behavior_not_emerged"] == 1
        and all(v == 1 for v in out["never_rising"]["curve_not_emerged"].values()),
        "coverage_raw": all(v["raw"] >= 0.90 for v in cov.values()),
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--quick", action="store_true", help="few replicates (a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        out = run(reps_null=10, reps_eq=5, reps_small=3, reps_cover=20, n_boot=100, seed=args.seed)
    else:
        out = run(seed=args.seed)
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return out


if __name__ == "__main__":
    sys.exit(0 if all(main()["met"].values()) else 1)
