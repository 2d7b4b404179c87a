"""Does the representation come before the behavior? Lead/lag of probe vs behavior emergence.

For each skill of a run, the probe curve of the best layer is read three ways (``probe``: above
the majority baseline; ``selectivity``: probe - control; ``gain``: above the probe's own first
checkpoint score) and compared with the behavior curve (above its first checkpoint). Bootstrap
intervals resample items jointly across checkpoints (and across layers for the probe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from curriculens.analysis.emergence import Criterion
from curriculens.analysis.table import pick_metric, read_rows, skill_info
from curriculens.errors import ConfigError
from curriculens.store import Store

REPRESENTATIONS = ("probe", "selectivity", "gain")
VERDICTS = ("leads", "lags", "together", "undetermined")


@dataclass(frozen=True, kw_only=True)
class LeadLag:
    """Lead of a skill's representation over its behavior.

    Attributes:
        run: Run (model) name.
        skill: Skill name.
        representation: ``probe``, ``selectivity`` or ``gain`` (see module docstring).
        layer: Best layer (highest final value of the representation curve).
        hook: Hook of the best layer.
        behavior_tokens: Behavior emergence (None: censored).
        representation_tokens: Representation emergence at the best layer (None: censored).
        lead_tokens: ``behavior_tokens - representation_tokens``; > 0: the representation
            came first. None when either is censored.
        lead_log10: The same in log10(tokens) (None when either is censored or at 0 tokens).
        lo: Lower bound of ``lead_tokens`` (None without items; -inf/inf become None).
        hi: Upper bound of ``lead_tokens``.
        lo_log10: Lower bound of ``lead_log10``.
        hi_log10: Upper bound of ``lead_log10``.
        censored: Share of resamples in which the behavior or the representation is censored.
        verdict: ``leads`` (interval above 0), ``lags`` (below 0), ``together`` (covers 0),
            ``undetermined`` (both censored).
        layers: Representation emergence per layer (None: censored).
        first_layer: Layer that becomes decodable first (lowest layer among ties), or None.
        n_boot: Resamples behind the interval (0: no per-item outcomes, point only).
    """

    run: str
    skill: str
    representation: str
    layer: int
    hook: str
    behavior_tokens: float | None
    representation_tokens: float | None
    lead_tokens: float | None
    lead_log10: float | None
    lo: float | None
    hi: float | None
    lo_log10: float | None
    hi_log10: float | None
    censored: float
    verdict: str
    layers: dict[int, float | None] = field(default_factory=dict)
    first_layer: int | None = None
    n_boot: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(kw_only=True)
class _Curves:
    """One skill's curves: behavior ``[ckpt]`` and probes/controls ``[layer, ckpt]``."""

    b_tokens: np.ndarray
    b_values: np.ndarray
    b_items: np.ndarray | None  # [ckpt, item]
    p_tokens: np.ndarray
    layers: list[int]
    hooks: list[str]
    p_values: np.ndarray  # [layer, ckpt]
    p_items: np.ndarray | None  # [layer, ckpt, item]
    c_values: np.ndarray | None
    c_items: np.ndarray | None
    majority: np.ndarray  # [layer]


def lead_lag(
    store: Store | str,
    *,
    run: str | None = None,
    skills: Sequence[str] | None = None,
    representations: Sequence[str] = REPRESENTATIONS,
    behavior_metric: str | None = None,
    fraction: float = 0.5,
    min_rise: float = 0.05,
    smooth: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> list[LeadLag]:
    """Lead/lag of representation vs behavior emergence for every skill of a run.

    Every curve (behavior and representation) is measured above its reference level (see
    module docstring); it emerges at the first checkpoint where that rise reaches ``fraction``
    of its maximum and at least ``min_rise`` (else censored).

    Args:
        store: A :class:`Store`, a run directory or a ``.sqlite`` file.
        run: Run to read; may be omitted when the store holds one run.
        skills: Skills to analyse (default: every skill with behavior and probe rows).
        representations: Any of ``probe``, ``selectivity``, ``gain``.
        behavior_metric: Behavior metric (default: the skill's primary metric).
        fraction: Share of the maximum rise that counts as emerged.
        min_rise: Smallest rise that counts as an emergence at all.
        smooth: Gaussian sigma in checkpoints, or None.
        n_boot: Bootstrap resamples (0: point estimates only).
        seed: Seed of the resampling.
        alpha: 1 - coverage of the intervals.

    Returns:
        One :class:`LeadLag` per (skill, representation), sorted by skill.

    >>> results = lead_lag("runs/pythia160m", n_boot=500)  # doctest: +SKIP
    >>> from curriculens.reporting.formatting import format_lead_lag
    >>> print(format_lead_lag(results))  # doctest: +SKIP
    """
    bad = sorted(set(representations) - set(REPRESENTATIONS))
    if bad:
        raise ConfigError(f"representations {bad} are unknown; expected some of {REPRESENTATIONS}.")
    rows = read_rows(store, items=True)
    runs = sorted({r["run"] for r in rows})
    if run is None:
        if len(runs) != 1:
            raise ConfigError(f"The store holds runs {runs}; pass run= one of them.")
        run = runs[0]
    elif run not in runs:
        raise ConfigError(f"run={run!r} is not in the store; it holds {runs}.")
    rows = [r for r in rows if r["run"] == run]
    have = sorted({r["skill"] for r in rows if r["kind"] == "probe"})
    have = [s for s in have if any(r["skill"] == s and r["kind"] == "behavior" for r in rows)]
    if skills is None:
        skills = have
    missing = sorted(set(skills) - set(have))
    if missing:
        raise ConfigError(
            f"Skill(s) {missing} lack behavior or probe rows in run {run!r}; available: {have}."
        )
    info = skill_info(store, skills) if behavior_metric is None else {}
    out = []
    for skill in skills:
        curves = _curves(rows, skill, behavior_metric or _metric(info.get(skill), rows, skill))
        for rep in representations:
            if rep == "selectivity" and curves.c_values is None:
                continue
            out.append(
                _lead_lag_one(
                    run,
                    skill,
                    rep,
                    curves,
                    fraction=fraction,
                    min_rise=min_rise,
                    smooth=smooth,
                    n_boot=n_boot,
                    seed=seed,
                    alpha=alpha,
                )
            )
    return out


def _metric(info: dict | None, rows: list[dict], skill: str) -> str | None:
    present = {r["metric"] for r in rows if r["skill"] == skill and r["kind"] == "behavior"}
    return pick_metric(info, sorted(present))


def _curves(rows: list[dict], skill: str, metric: str | None) -> _Curves:
    mine = [r for r in rows if r["skill"] == skill]
    beh = [r for r in mine if r["kind"] == "behavior"]
    beh = sorted((r for r in beh if r["metric"] == metric), key=lambda r: r["tokens"])
    if not beh:
        raise ConfigError(f"Skill {skill!r} has no behavior rows with metric {metric!r}.")
    b_tokens = np.array([r["tokens"] for r in beh], float)
    b_values = np.array([_val(r["value"]) for r in beh])
    b_items = _stack([r["items"] for r in beh])

    probes = [r for r in mine if r["kind"] == "probe" and r["metric"] == "acc"]
    p_tokens = np.array(sorted({r["tokens"] for r in probes}), float)
    by_layer = sorted({(r["layer"], r["hook"]) for r in probes})
    layers, hooks = [lay for lay, _ in by_layer], [h for _, h in by_layer]
    p_values, p_items = _grid(probes, by_layer, p_tokens)
    controls = [r for r in mine if r["kind"] == "control" and r["metric"] == "acc"]
    c_values = c_items = None
    if controls:
        c_values, c_items = _grid(controls, by_layer, p_tokens)
        if np.isnan(c_values).all():
            c_values = c_items = None
    majority = np.zeros(len(by_layer))
    for i, key in enumerate(by_layer):
        vals = [
            _val(r["value"])
            for r in mine
            if r["kind"] == "baseline"
            and r["metric"] == "majority"
            and (r["layer"], r["hook"]) == key
        ]
        vals = [v for v in vals if np.isfinite(v)]
        majority[i] = float(np.mean(vals)) if vals else 0.0
    return _Curves(
        b_tokens=b_tokens,
        b_values=b_values,
        b_items=b_items,
        p_tokens=p_tokens,
        layers=layers,
        hooks=hooks,
        p_values=p_values,
        p_items=p_items,
        c_values=c_values,
        c_items=c_items,
        majority=majority,
    )


def _val(v) -> float:
    return float("nan") if v is None else float(v)


def _stack(items: list) -> np.ndarray | None:
    """``[ckpt, item]`` when every checkpoint has per-item outcomes of the same length."""
    if not items or any(x is None or len(x) == 0 for x in items):
        return None
    if len({len(x) for x in items}) != 1:
        return None
    x = np.stack([np.asarray(i, float) for i in items])
    return x if np.isfinite(x).all() else None


def _grid(rows, keys, tokens) -> tuple[np.ndarray, np.ndarray | None]:
    """Values ``[layer, ckpt]`` (NaN where missing) and items ``[layer, ckpt, item]`` or None."""
    col = {t: j for j, t in enumerate(tokens)}
    row = {k: i for i, k in enumerate(keys)}
    values = np.full((len(keys), len(tokens)), np.nan)
    items: list[list] = [[None] * len(tokens) for _ in keys]
    for r in rows:
        key, tok = (r["layer"], r["hook"]), float(r["tokens"])
        if key not in row or tok not in col:  # a control without its probe
            continue
        i, j = row[key], col[tok]
        values[i, j] = _val(r["value"])
        items[i][j] = r["items"]
    stacks = [_stack(per) for per in items]
    if any(s is None for s in stacks) or len({s.shape for s in stacks}) != 1:
        return values, None
    return values, np.stack(stacks)


def _criterion(fraction: float, min_rise: float, smooth: float | None) -> Criterion:
    return Criterion(
        method="relative", threshold=min_rise, fraction=fraction, relative_to="max", smooth=smooth
    )


def _rep_curve(rep: str, probe: np.ndarray, control, majority: float) -> np.ndarray:
    """Representation curve(s) ``[..., ckpt]`` measured above its reference level."""
    if rep == "probe":
        return probe - majority
    if rep == "selectivity":
        return probe - control
    return probe - probe[..., :1]


def _emerge(crit: Criterion, tokens: np.ndarray, values: np.ndarray) -> float | None:
    ok = np.isfinite(values)
    if not ok.any():
        return None
    return crit.point(tokens[ok], values[ok])


def _lead_lag_one(
    run, skill, rep, c: _Curves, *, fraction, min_rise, smooth, n_boot, seed, alpha
) -> LeadLag:
    crit = _criterion(fraction, min_rise, smooth)
    b_curve = c.b_values - c.b_values[0]
    control = c.c_values if rep == "selectivity" else None
    reps = np.stack(
        [
            _rep_curve(rep, c.p_values[i], None if control is None else control[i], c.majority[i])
            for i in range(len(c.layers))
        ]
    )
    final = np.where(np.isfinite(reps[:, -1]), reps[:, -1], -np.inf)
    best = int(np.argmax(final))
    layers = {lay: _emerge(crit, c.p_tokens, reps[i]) for i, lay in enumerate(c.layers)}
    emerged = [lay for lay in c.layers if layers[lay] is not None]
    first_layer = min(emerged, key=lambda lay: (layers[lay], lay)) if emerged else None
    b_tok = _emerge(crit, c.b_tokens, b_curve)
    r_tok = layers[c.layers[best]]
    lead, lead_log = _lead(b_tok, r_tok), _lead_log(b_tok, r_tok)

    lo = hi = lo_log = hi_log = None
    censored, used = float(b_tok is None or r_tok is None), 0
    boot = n_boot > 0 and c.b_items is not None and c.p_items is not None
    if boot and rep == "selectivity" and c.c_items is None:
        boot = False
    if boot:
        leads, leads_log, cens = _bootstrap(crit, c, rep, best, n_boot=n_boot, seed=seed)
        used, censored = n_boot, cens
        lo, hi = _interval(leads, alpha)
        lo_log, hi_log = _interval(leads_log, alpha)
    verdict = _verdict(b_tok, r_tok, lo, hi, boot, lead)
    return LeadLag(
        run=run,
        skill=skill,
        representation=rep,
        layer=c.layers[best],
        hook=c.hooks[best],
        behavior_tokens=b_tok,
        representation_tokens=r_tok,
        lead_tokens=lead,
        lead_log10=lead_log,
        lo=_none(lo),
        hi=_none(hi),
        lo_log10=_none(lo_log),
        hi_log10=_none(hi_log),
        censored=censored,
        verdict=verdict,
        layers=layers,
        first_layer=first_layer,
        n_boot=used,
    )


def _bootstrap(crit, c: _Curves, rep: str, best: int, *, n_boot: int, seed: int):
    """Leads (tokens, log10) per resample with censoring as +-inf, and the censored share."""
    rng = np.random.default_rng(seed)

    def resample(items: np.ndarray) -> np.ndarray:  # [ckpt, item] -> [boot, ckpt]
        n = items.shape[-1]
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)
        return counts @ items.T / n

    b = resample(c.b_items)
    n_p = c.p_items.shape[-1]
    counts = rng.multinomial(n_p, np.full(n_p, 1.0 / n_p), size=n_boot)  # same test items
    p = counts @ c.p_items[best].T / n_p
    ctrl = None
    if rep == "selectivity":
        ci = c.c_items[best]
        ctrl = counts @ ci.T / n_p if ci.shape[-1] == n_p else resample(ci)
    leads, leads_log, cens = np.empty(n_boot), np.empty(n_boot), 0
    for k in range(n_boot):
        bt = _emerge(crit, c.b_tokens, b[k] - b[k, 0])
        rt = _emerge(
            crit,
            c.p_tokens,
            _rep_curve(rep, p[k], None if ctrl is None else ctrl[k], c.majority[best]),
        )
        cens += bt is None or rt is None
        leads[k] = _signed_lead(bt, rt, lambda x: x)
        leads_log[k] = _signed_lead(bt, rt, _log10)
    return leads, leads_log, cens / n_boot


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else -math.inf


def _signed_lead(bt, rt, f) -> float:
    """behavior - representation with censored = +inf (NaN when both censored)."""
    b = math.inf if bt is None else f(bt)
    r = math.inf if rt is None else f(rt)
    if math.isinf(b) and math.isinf(r):
        return math.nan if b == r else b - r
    return b - r


def _interval(x: np.ndarray, alpha: float) -> tuple[float | None, float | None]:
    x = x[~np.isnan(x)]
    if not x.size:
        return None, None
    lo, hi = np.quantile(x, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return float(lo), float(hi)


def _verdict(b_tok, r_tok, lo, hi, boot: bool, lead) -> str:
    if b_tok is None and r_tok is None:
        return "undetermined"
    if boot and lo is not None and hi is not None:
        if lo > 0:
            return "leads"
        if hi < 0:
            return "lags"
        return "together"
    if b_tok is None:
        return "leads"
    if r_tok is None:
        return "lags"
    return "leads" if lead > 0 else "lags" if lead < 0 else "together"


def _lead(b, r) -> float | None:
    return None if b is None or r is None else float(b - r)


def _lead_log(b, r) -> float | None:
    if b is None or r is None or b <= 0 or r <= 0:
        return None
    return math.log10(b) - math.log10(r)


def _none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)
