"""A sweep's plan: its skills (resolved once), its units, each skill's items, and the work left.

A unit is one (skill version and content hash, probe config) at one checkpoint fingerprint, and
is written in one SQLite transaction; what is already done is read from the store. The plan
holds the :class:`~curriculens.skills.registry.Skill` objects themselves, so measurement and
recording never look a skill up in the registry again. :func:`dry_run_text` prints the plan
(``curriculens sweep --dry-run``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from curriculens.checkpoints import Checkpoint, CheckpointSeries
from curriculens.errors import CheckpointError, ConfigError
from curriculens.params import flag
from curriculens.pipeline.config import SweepConfig
from curriculens.probes.splits import ItemSet, draw_items
from curriculens.skills.registry import Skill, get_skill
from curriculens.store import Store
from curriculens.taskvectors import vector_unit_suffix

#: Store meta key of the fingerprints computed by earlier loads, by file signature.
FINGERPRINTS_META_KEY = "fingerprints_by_files"


def unit_key(skill: Skill, config: SweepConfig) -> str:
    """The store key of ``skill``'s unit under ``config``: skill, version and content hash,
    probe config, and the task-vector variant (when the skill has one)."""
    key = f"{skill.name}@{skill.version}+{skill.content_hash}|{config.probe_key()}"
    return key + vector_unit_suffix(skill, config.task_vectors, config.task_vector_heads)


def skill_items(skill: Skill, config: SweepConfig) -> ItemSet:
    """The probe items every checkpoint of a sweep measures ``skill`` on (deterministic).

    Drawn once per process and reused for every checkpoint (the sweep, each checkpoint's
    measurement and the store all ask for the same items).
    """
    return _drawn_items(skill, config.n_examples, config.seed, config.train_frac)


@functools.lru_cache(maxsize=256)
def _drawn_items(skill: Skill, n: int, seed: int, train_frac: float) -> ItemSet:
    return draw_items(skill, n, seed=seed, train_frac=train_frac)


@dataclass(frozen=True)
class SweepPlan:
    """A sweep's configuration and its skills, resolved once from the registry.

    Everything below the plan (measurement, rows, the store) takes its skills from here.
    """

    config: SweepConfig
    skills: tuple[Skill, ...]

    @property
    def units(self) -> dict[str, Skill]:
        """Each skill by its unit key, in the configured order."""
        return {unit_key(s, self.config): s for s in self.skills}

    @property
    def probed(self) -> list[Skill]:
        """The skills that have probes (not behavior only)."""
        return [s for s in self.skills if s.probed]

    def unit(self, skill: Skill) -> str:
        """``skill``'s unit key under this plan's config."""
        return unit_key(skill, self.config)

    def items(self, skill: Skill) -> ItemSet:
        """``skill``'s probe items (see :func:`skill_items`)."""
        return skill_items(skill, self.config)

    def todo(self, done: set[str]) -> list[Skill]:
        """The skills whose unit is not in ``done`` (one fingerprint's finished units)."""
        return [s for s in self.skills if self.unit(s) not in done]

    def unfinished(
        self, series: CheckpointSeries, done: dict[str, set[str]], seen: dict[str, str]
    ) -> list[Checkpoint]:
        """Checkpoints with work left; finished ones with a known fingerprint are never loaded.

        Fills ``seen`` (fingerprint -> first label) for every known fingerprint, in series order.
        """
        units = set(self.units)
        todo = []
        for c in series:
            fp = series.known_fingerprint(c)
            if fp is None:
                todo.append(c)
                continue
            key = fp if seen.setdefault(fp, c.label) == c.label else f"{fp}@{c.label}"
            if not units <= done.get(key, set()):
                todo.append(c)
        return todo


def plan_sweep(config: SweepConfig) -> SweepPlan:
    """The plan of a sweep with ``config``: its skill names resolved in the registry, once."""
    return SweepPlan(config=config, skills=tuple(get_skill(n) for n in config.skills))


def series_tokenizer(series: CheckpointSeries):
    """The tokenizer of a series' first local checkpoint (loaded alone, without the model), or
    ``None`` for a hub series (whose tokenizer is never the toy one)."""
    first = series[0] if len(series) else None
    if first is None or first.path is None:
        return None
    # the loader's private helper: checkpoints/ has no public tokenizer-only load yet
    from curriculens.checkpoints.weights import load_tokenizer

    return load_tokenizer(str(first.path), first.label)


def recall_fingerprints(store: Store, series: CheckpointSeries) -> None:
    """Give the series the fingerprints earlier sweeps computed for unchanged local files."""
    cache = store.get_meta(FINGERPRINTS_META_KEY) or {}
    for c in series:
        sig = c.file_signature()
        if series.known_fingerprint(c) is None and sig in cache:
            series.remember(c, cache[sig])


def dry_run_text(
    series: CheckpointSeries,
    config: SweepConfig | SweepPlan,
    out: Path,
    *,
    run: str | None = None,
    executor: str = "local",
) -> str:
    """What a sweep would do: checkpoints, fingerprints, duplicates, skills and work left."""
    plan = config if isinstance(config, SweepPlan) else plan_sweep(config)
    config = plan.config
    check_hooks_fit(series, config)
    run = run or out.resolve().name
    done: dict[str, set[str]] = {}
    if (out / "results.sqlite").exists():
        with Store(out, readonly=True) as s:
            done = s.done_units_by_fingerprint(run)
            recall_fingerprints(s, series)  # of unchanged files an earlier sweep loaded
    units = plan.units
    items = {s.name: plan.items(s) for s in plan.skills}
    seqs = {n: sum(1 + len(e.choices) for e in it.examples) for n, it in items.items()}
    lines = [f"series: {series.source} ({len(series)} checkpoints), executor: {executor}"]
    lines.append(f"{'label':<28} {'step':>10} {'tokens':>16}  fingerprint       left")
    total_seqs = total_probes = 0
    for c in series:
        fp = series.known_fingerprint(c)
        if fp is None:
            left = list(units.values())
        else:
            left = [s for u, s in units.items() if u not in done.get(fp, set())]
        n_hooks = (len(config.hooks) or _n_layers(c) + 1) if left else 0
        total_seqs += sum(seqs[s.name] for s in left)
        total_probes += 2 * n_hooks * sum(s.probed for s in left)
        fp = fp or "(on load)"
        lines.append(f"{c.label:<28} {c.step:>10} {c.tokens:>16}  {fp:<16}  {len(left)} skills")
    lines += _series_notes(series)
    lines += _settings_lines(plan, items.values())
    lines.append(
        f"work left: {total_seqs} forward sequences, {total_probes} probe fits "
        f"(probe + control per skill x hook), into {out / 'results.sqlite'}"
    )
    return "\n".join(lines)


def _series_notes(series: CheckpointSeries) -> list[str]:
    """The plan's lines on duplicate and skipped checkpoints."""
    lines = []
    for d in series.meta.get("duplicates", []):
        lines.append(f"duplicate: {d['label']!r} has the weights of {d['same_as']!r}; skipped")
    for d in series.meta.get("skipped", []):
        lines.append(f"skipped ({flag('skip_bad')}): {d['label']}: {d['reason']}")
    return lines


def _settings_lines(plan: SweepPlan, items: Sequence[ItemSet]) -> list[str]:
    """The plan's lines on skills, hooks, dtype, probe key and any item shortfall."""
    config = plan.config
    skills = ", ".join(f"{s.name}@{s.version}+{s.content_hash[:8]}" for s in plan.skills)
    hooks = ", ".join(config.hooks) or "hook_embed and every block's hook_resid_post"
    lines = [
        f"skills: {skills}",
        f"hooks: {hooks}; dtype: {config.dtype}; probe_key: {config.probe_key()}",
    ]
    items = list(items)
    warned = [pool_shortfall(s, it, config) for s, it in zip(plan.skills, items, strict=True)]
    lines += [f"items: {w}" for w in warned if w]
    return lines + _pool_line(plan, items)


_BLOCK_HOOK = re.compile(r"^blocks\.(\d+)\.")


def check_hooks_fit(series: CheckpointSeries, config: SweepConfig) -> None:
    """Refuse, before anything loads or is written, hooks on blocks the series' models lack.

    The depth comes from the first local checkpoint's ``config.json`` alone (no weights load);
    a hub series is left to the load, which needs the network. ``--layers 0-11`` on a 2-block
    model names the flag, the blocks asked for and the blocks there are.
    """
    asked = sorted({int(m.group(1)) for h in config.hooks if (m := _BLOCK_HOOK.match(h))})
    local = [c for c in series if c.path is not None]
    if not asked or not local:
        return
    first = local[0]
    depth = _n_layers(first)
    missing = [b for b in asked if b >= depth]
    if not missing:
        return
    if missing == list(range(missing[0], missing[-1] + 1)) and len(missing) > 2:
        shown = f"{missing[0]}-{missing[-1]}"
    else:
        shown = ", ".join(map(str, missing))
    fits = f"0-{depth - 1}" if depth > 1 else "0"
    raise ConfigError(
        f"{flag('layers')}/{flag('hooks')} ask for block(s) {shown}, but the series' checkpoints "
        f"have {depth} blocks ({fits}; num_hidden_layers = {depth} in {first.label}'s "
        f"config.json). Use {flag('layers')} {fits} (or hooks on blocks {fits}); nothing was "
        "loaded or written."
    )


def pool_shortfall(skill: Skill, items: ItemSet, config: SweepConfig) -> str:
    """The warning for a skill with fewer distinct items than asked, or ``''``.

    A built-in skill's pool is part of its definition (46 countries, 100 one-digit sums, the toy
    world's people), so at the default number of examples it uses its whole pool without a
    warning the user could not act on: the default is sized to the pool. A user skill, or any
    skill asked for another number of examples, warns with the numbers.
    """
    if not items.exhausted:
        return ""
    default = next(f.default for f in fields(SweepConfig) if f.name == "n_examples")
    if skill.suite != "user" and config.n_examples == default:
        return ""
    return items.shortfall()


def _pool_line(plan: SweepPlan, items: Sequence[ItemSet]) -> list[str]:
    """One line naming the built-in skills that use their whole (smaller) pool, if any."""
    whole = [
        f"{it.skill} {len(it.queries) or it.n}"
        for s, it in zip(plan.skills, items, strict=True)
        if it.exhausted and not pool_shortfall(s, it, plan.config)
    ]
    if not whole:
        return []
    return [
        f"pools: {', '.join(whole)} distinct items or few-shot queries, each skill's whole "
        f"pool at the default {flag('n_examples')}"
    ]


def _n_layers(c: Checkpoint) -> int:
    """The model's depth from its config alone (a hub config that cannot be read is an error)."""
    from transformers import AutoConfig

    where = str(c.path) if c.path is not None else c.repo
    try:
        cfg = AutoConfig.from_pretrained(where, revision=c.revision)
        return int(cfg.num_hidden_layers)
    except Exception as e:
        raise CheckpointError(
            f"Cannot read the config of checkpoint {c.label!r} at {where!r} ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:200] if str(e) else ''}); the plan needs its depth."
        ) from None
