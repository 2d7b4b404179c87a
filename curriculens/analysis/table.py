"""The one reader of a run: its tidy results table, its metadata and its skill snapshot.

Every analysis reads a run through this module: :func:`read_rows` (rows as dicts),
:func:`load_table` (a DataFrame), :func:`skill_info` (the metadata of the skills as they were
swept) and :func:`export_table` (CSV or Parquet plus metadata JSON).

**The current results.** A store keeps every value it ever measured: rows of an older probe
configuration or an older version of a skill stay beside the new ones. By default every reader
here returns only the *current* results of each run: the rows of the run's current configuration
(the ``probe_key`` of its latest sweep, a hash of every setting a score depends on) and of each
skill's current content hash (the run's skill snapshot). When a run holds other rows, one line
says so (a :class:`MixedResultsNote` warning) and names the way to read them:
``Selection(config=KEY)`` (``--config KEY``) or ``Selection(all=True)`` (``--all``). Rows of
different configurations or skill versions are never averaged: under ``all=True`` each one is
read as its own run (``run@probe_key``) and skill (``skill@hash``).

The sweep stores each swept skill's metadata (:func:`skill_metadata`) in the store's ``skills``
meta key, so a run can be analysed without the skill being registered. Runs written before
that snapshot existed fall back to the live registry here, and only here.

**Selectivity.** Every reader here adds one row per stored probe accuracy: ``kind="probe"``,
``metric="selectivity"``, the probe accuracy minus the control-task accuracy of the same hook,
checkpoint and configuration (``probe_acc - control_acc``, NaN with the reason when either is
missing; per-item outcomes paired). It is derived as it is read, never stored, so it cannot
disagree with the two accuracies it comes from.
"""

from __future__ import annotations

import contextvars
import csv
import json
import warnings
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from curriculens.errors import ConfigError, CurriculensError, MixedResultsNote, SkillError
from curriculens.params import flag
from curriculens.store import COLUMNS, ITEM_COLUMNS, Store

SKILLS_META_KEY = "skills"
CONFIGS_META_KEY = "configs"
SORT_KEY = (
    "run",
    "step",
    "tokens",
    "checkpoint",
    "fingerprint",
    "skill",
    "skill_version",
    "skill_hash",
    "probe_key",
    "kind",
    "layer",
    "hook",
    "metric",
)
# behavior metrics to prefer when a stored skill has no metadata and has several
_METRIC_PREFERENCE = ("exact_match", "choice_acc", "token_acc", "acc", "accuracy", "score")

Source = str | Path | Store


@dataclass(frozen=True)
class Selection:
    """Which rows of a run to read.

    Attributes:
        config: Read this configuration key (or a unique prefix of it) instead of the run's
            current one; each skill's current version still applies.
        all: Read every row; each (run, probe_key) and (skill, hash) becomes its own run and skill
            name when a run holds several, so nothing is averaged.
    """

    config: str | None = None
    all: bool = False


_CURRENT = Selection()
_SELECTION: contextvars.ContextVar[Selection] = contextvars.ContextVar(
    "curriculens_selection", default=_CURRENT
)
#: Settings a configuration is described by in the one-line note.
_SHOWN = ("n_examples", "train_frac", "probe_C", "seed", "hooks", "mdl")
#: Settings that are stored only when they are not their default (SweepConfig.numerics)
_NUMERICS_DEFAULT = {"dtype": "float32", "device": "cpu", "batch_size": 64,
                     "max_batch_tokens": None, "memory_budget_mb": None}  # fmt: skip


@contextmanager
def selecting(selection: Selection) -> Iterator[Selection]:
    """Make ``selection`` the default of every reader in this block (the CLI's --config/--all).

    >>> with selecting(Selection(all=True)):  # doctest: +SKIP
    ...     df = load_table("runs/demo")
    """
    token = _SELECTION.set(selection)
    try:
        yield selection
    finally:
        _SELECTION.reset(token)


def read_rows(
    source: Source | pd.DataFrame,
    *,
    items: bool = False,
    select: Selection | None = None,
    **where,
) -> list[dict]:
    """The current rows of a store (or run directory / ``.sqlite`` file, opened readonly).

    Args:
        source: A store, run directory or ``.sqlite`` file, or a table from
            :func:`load_table` (its rows as they are: a table is already a selection).
        items: Include each row's per-item outcomes.
        select: Which rows (default: the current results; see the module docstring).
        **where: Equality filters on columns (``kind="behavior"``).
    """
    if isinstance(source, pd.DataFrame):
        rows = [r for r in source.to_dict("records") if all(r[k] == v for k, v in where.items())]
        return rows if items else [{k: v for k, v in r.items() if k != "items"} for r in rows]
    if isinstance(source, Store):
        return _select(source, items, select, where)
    with Store(source, readonly=True) as s:
        return _select(s, items, select, where)


def read_vectors(source: Source, *, select: Selection | None = None) -> list[dict]:
    """The task vectors of a store's current results (:meth:`Store.vectors` rows, with ``run``
    and ``skill`` labelled as :func:`read_rows` labels them); none for a store without them."""
    if not isinstance(source, Store):
        with Store(source, readonly=True) as s:
            return read_vectors(s, select=select)
    keep, _ = current_keys(source, select or _SELECTION.get())
    out = []
    for r in source.vectors():
        label = keep.get((r["run"], r["probe_key"], r["skill"], r["skill_hash"]))
        if label is not None:
            out.append(dict(r, run=label[0], skill=label[1]))
    return out


def read_meta(source: Source) -> dict:
    """Every meta key of a store (or run directory / ``.sqlite`` file)."""
    if isinstance(source, Store):
        return source.meta()
    with Store(source, readonly=True) as s:
        return s.meta()


def _select(store: Store, items: bool, select: Selection | None, where: dict) -> list[dict]:
    select = select or _SELECTION.get()
    keep, notes = current_keys(store, select)
    for note in notes:
        warnings.warn(note, MixedResultsNote, stacklevel=4)
    rows = with_selectivity(store, items, where)
    out = []
    for r in rows:
        label = keep.get((r["run"], r["probe_key"], r["skill"], r["skill_hash"]))
        if label is not None:
            if label != (r["run"], r["skill"]):
                r = dict(r, run=label[0], skill=label[1])
            out.append(r)
    return out


#: The key of a probe row's control row (and of the selectivity derived from both).
_PAIR_KEY = ("run", "fingerprint", "skill", "skill_hash", "probe_key", "hook")
_STORE_ORDER = (
    "run", "tokens", "step", "checkpoint", "fingerprint", "skill", "skill_hash", "probe_key",
    "kind", "layer", "hook", "metric",
)  # fmt: skip


def with_selectivity(store: Store, items: bool = False, where: Mapping | None = None):
    """The store's rows matching ``where`` (equality on columns), with the derived
    ``selectivity`` rows among them (see the module docstring), in the store's order."""
    where = dict(where or {})
    rows = store.rows(items=items, **where)
    if where.get("kind", "probe") != "probe" or where.get("metric", "selectivity") != "selectivity":
        return rows
    base = {k: v for k, v in where.items() if k not in ("kind", "metric")}
    if len(base) == len(where):  # the rows already hold every probe and control accuracy
        pairs = rows
    else:
        pairs = store.rows(items=items, kind="probe", metric="probe_acc", **base)
        pairs += store.rows(items=items, kind="control", metric="control_acc", **base)
    derived = [r for r in selectivity_rows(pairs) if all(r[k] == v for k, v in where.items())]
    if not derived:
        return rows
    return sorted(rows + derived, key=lambda r: tuple((r[k] is None, r[k]) for k in _STORE_ORDER))


def selectivity_rows(rows: Iterable[Mapping]) -> list[dict]:
    """One ``selectivity`` row per ``probe_acc`` row that has a ``control_acc`` row of the same
    run, checkpoint, skill, configuration and hook: probe minus control accuracy."""
    control = {
        tuple(r[k] for k in _PAIR_KEY): r
        for r in rows
        if r["kind"] == "control" and r["metric"] == "control_acc"
    }
    out = []
    for r in rows:
        if r["kind"] != "probe" or r["metric"] != "probe_acc":
            continue
        c = control.get(tuple(r[k] for k in _PAIR_KEY))
        if c is None:
            continue
        ok = r["value"] is not None and c["value"] is not None
        d = dict(r, metric="selectivity", value=r["value"] - c["value"] if ok else None)
        d["reason"] = None if ok else (r["reason"] or c["reason"])
        if "items" in r:
            a, b = r["items"], c.get("items")
            paired = a is not None and b is not None and a.shape == b.shape
            d["items"] = a - b if paired else None
        out.append(d)
    return out


def current_keys(
    store: Store, select: Selection = _CURRENT
) -> tuple[dict[tuple[str, str, str, str], tuple[str, str]], list[str]]:
    """Which (run, probe_key, skill, skill_hash) groups a selection reads, and as what.

    Returns:
        ``({(run, probe_key, skill, hash): (run label, skill label)}, notes)``: the groups read
        (labels differ from the stored names only under ``all=True`` when a run holds several
        configurations or skill versions) and one line per run that holds rows left out.

    Raises:
        ConfigError: ``select.config`` matches no configuration (or several), or a run holds
            several configurations and records no current one.
    """
    meta = store.meta()
    by_run: dict[str, list[dict]] = {}
    for k in store.groups():
        by_run.setdefault(k["run"], []).append(k)
    keep: dict[tuple[str, str, str, str], tuple[str, str]] = {}
    notes = []
    for run, groups in sorted(by_run.items()):
        configs = sorted({g["probe_key"] for g in groups})
        if select.all:
            n_hashes: dict[str, set[str]] = {}
            for g in groups:
                n_hashes.setdefault(g["skill"], set()).add(g["skill_hash"])
            for g in groups:
                rl = f"{run}@{g['probe_key']}" if len(configs) > 1 else run
                sl = g["skill"]
                if len(n_hashes[sl]) > 1:
                    sl = f"{sl}@{g['skill_hash'][:8]}"
                keep[(run, g["probe_key"], g["skill"], g["skill_hash"])] = (rl, sl)
            continue
        config = _config_of(run, configs, select.config, meta)
        hashes: dict[str, set[str]] = {}
        for g in groups:
            if g["probe_key"] == config:
                hashes.setdefault(g["skill"], set()).add(g["skill_hash"])
        old_skills = []
        for skill, found in sorted(hashes.items()):
            current = _current_hash(run, skill, meta)
            if current is None and len(found) > 1:
                raise ConfigError(
                    f"Run {run!r} holds rows of {len(found)} versions of skill {skill!r} and "
                    f"records none as current; pass {flag('all')} (Selection(all=True)) to read "
                    "each one as its own skill."
                )
            for h in found:
                if current is None or h == current:
                    keep[(run, config, skill, h)] = (run, skill)
            if current is not None and found != {current}:
                old_skills.append(skill)
        others = [c for c in configs if c != config]
        if others or old_skills:
            notes.append(_note(run, config, others, old_skills, meta))
    return _drop_duplicate_runs(store, keep, notes, drop=not select.all)


def _drop_duplicate_runs(store: Store, keep: dict, notes: list[str], *, drop: bool):
    """Runs that are one run measured twice (:meth:`Store.duplicate_runs`) are named in a note
    and, unless every row is read, the later one is left out: nothing is averaged with itself."""
    by_run: dict[str, set] = {}
    for run, config, skill, h in keep:
        by_run.setdefault(run, set()).add((config, skill, h))
    for run, first in store.duplicate_runs(by_run).items():
        notes.append(
            f"run {run!r} is a duplicate of run {first!r} (same settings, skill versions and "
            f"checkpoint fingerprints: a copied or renamed run directory?); it is "
            f"{'left out' if drop else 'kept apart'}, never averaged with it."
        )
        keep = {k: v for k, v in keep.items() if k[0] != run or not drop}
    return keep, notes


def _current_hash(run: str, skill: str, meta: Mapping) -> str | None:
    """The content hash of ``skill`` in the latest sweep of ``run`` that measured it (the store's
    skill snapshot when the latest sweep left it out); None for a run no sweep wrote (imported
    curves), whose rows carry their source as their hash."""
    run_meta = meta.get(f"run:{run}")
    if not isinstance(run_meta, Mapping):
        return None
    swept = (run_meta.get("skills") or {}).get(skill) or {}
    if swept.get("hash"):
        return swept["hash"]
    return ((meta.get(SKILLS_META_KEY) or {}).get(skill) or {}).get("hash")


def _config_of(run: str, configs: list[str], wanted: str | None, meta: Mapping) -> str:
    """The configuration of ``run`` to read: ``wanted`` (a key or unique prefix) or current."""
    if wanted is not None:
        hits = [c for c in configs if c == wanted] or [c for c in configs if c.startswith(wanted)]
        if len(hits) != 1:
            what = "matches none" if not hits else f"matches {len(hits)}"
            raise ConfigError(
                f"{flag('config')} {wanted!r} {what} of the configurations of run {run!r}: "
                f"{', '.join(_describe(c, meta) for c in configs)}."
            )
        return hits[0]
    current = (meta.get(f"run:{run}") or {}).get("probe_key")
    if current in configs:
        return current
    if len(configs) == 1:
        return configs[0]
    raise ConfigError(
        f"Run {run!r} holds rows of {len(configs)} configurations and records none of them as "
        f"current ({', '.join(_describe(c, meta) for c in configs)}); pass {flag('config')} KEY to "
        f"read one, or {flag('all')} to read each one as its own run."
    )


def _describe(config: str, meta: Mapping, against: str | None = None) -> str:
    """``KEY (setting=value, ...)``; with ``against``, the settings that differ from its."""
    configs = meta.get(CONFIGS_META_KEY) or {}
    settings = configs.get(config)
    if not settings:
        return repr(config) if config else "'' (imported or unrecorded)"
    other = configs.get(against) if against is not None else None
    if other:
        full = {**_NUMERICS_DEFAULT, **settings}
        ref = {**_NUMERICS_DEFAULT, **other}
        keys = [k for k in dict.fromkeys([*full, *ref]) if full.get(k) != ref.get(k)]
        if keys:
            return f"{config} ({', '.join(f'{k}={full.get(k)}' for k in keys)})"
    shown = ", ".join(f"{k}={settings[k]}" for k in (*_SHOWN, *_NUMERICS_DEFAULT) if k in settings)
    return f"{config} ({shown})"


def _note(run: str, config: str, others: list[str], old_skills: list[str], meta) -> str:
    parts = []
    if others:
        described = "; ".join(_describe(c, meta, against=config) for c in others)
        parts.append(f"{len(others)} other configuration(s) ({described})")
    if old_skills:
        parts.append(f"older versions of skill(s) {', '.join(old_skills)}")
    return (
        f"run {run!r} also holds rows of {' and of '.join(parts)}; showing configuration "
        f"{_describe(config, meta, against=others[0] if others else None)} with each skill's "
        f"current version. Pass {flag('config')} KEY "
        f"to read another configuration, or {flag('all')} (export, emergence) to read every row; "
        "nothing is averaged."
    )


def load_table(
    source: Source | pd.DataFrame, *, items: bool = False, select: Selection | None = None
) -> pd.DataFrame:
    """The current results table as a DataFrame, from a run directory, store file or store.

    The run's skill snapshot rides along in ``df.attrs["skills"]`` (see :func:`skill_info`);
    ``select`` picks other rows (see the module docstring).

    >>> df = load_table("runs/demo")  # doctest: +SKIP
    """
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, Store):
        rows, meta = _select(source, items, select, {}), source.meta()
    else:
        with Store(source, readonly=True) as s:
            rows, meta = _select(s, items, select, {}), s.meta()
    if not rows:
        where = source.path if isinstance(source, Store) else source
        raise CurriculensError(
            f"The results store at {str(where)!r} has no rows yet; run a sweep first."
        )
    df = pd.DataFrame(rows)
    df.attrs[SKILLS_META_KEY] = dict(meta.get(SKILLS_META_KEY) or {})
    return df


def read_items(
    source: Source, *, all_settings: bool = False, select: Selection | None = None
) -> pd.DataFrame:
    """The probe items of a run: one row per (skill, item), split and control label included.

    By default only the items of each run's current results are returned (its current probe
    settings and each skill's current version, as :func:`read_rows` defines them);
    ``all_settings=True`` returns every stored set. Columns:
    :data:`~curriculens.store.ITEM_COLUMNS`.
    """
    select = Selection(all=True) if all_settings else (select or _SELECTION.get())
    if isinstance(source, Store):
        items, (keep, _) = source.items(), current_keys(source, select)
    else:
        with Store(source, readonly=True) as s:
            items, (keep, _) = s.items(), current_keys(s, select)
    df = pd.DataFrame(items, columns=list(ITEM_COLUMNS))
    if select.all or df.empty:
        return df
    groups = {k[:4] for k in keep}
    mask = [
        (run, key, skill, h) in groups
        for run, key, skill, h in zip(
            df["run"], df["probe_key"], df["skill"], df["skill_hash"], strict=True
        )
    ]
    return df[mask].reset_index(drop=True)


def skill_metadata(skill) -> dict:
    """The snapshot of one registered :class:`~curriculens.skills.registry.Skill` a sweep stores."""
    return {
        "primary_metric": skill.primary_metric,
        "chance": float(skill.chance),
        "family": skill.family,
        "format": skill.format,
        "components": list(skill.components),
        "label_names": list(skill.label_names),
        "n_classes": skill.n_classes,
        "version": skill.version,
        "hash": skill.content_hash,
        "suite": skill.suite,
        "probe": skill.probe,
        "probed": skill.probed,
        "shots": skill.shots,
        "template": skill.template,
    }


def skill_info(
    source: Source | pd.DataFrame | Mapping | None, skills: Iterable[str]
) -> dict[str, dict]:
    """Metadata of ``skills`` as swept into ``source`` (see :func:`skill_metadata`).

    ``source`` is a store, run directory or ``.sqlite`` file, a table from :func:`load_table`,
    a snapshot mapping, or None (no run). Skills the run's snapshot lacks (runs swept before
    snapshots, imported curves, tables built by hand) come from the live registry; skills found
    in neither are left out.

    >>> skill_info(None, ["agreement", "not_a_skill"])["agreement"]["format"]
    'choice'
    """
    names = list(dict.fromkeys(str(s) for s in skills))
    snap = _snapshot(source)
    out = {n: dict(snap[n]) for n in names if n in snap}
    for n in names:  # a skill version read as its own skill under Selection(all=True)
        base, sep, h = n.rpartition("@")
        if n not in out and sep and base in snap:
            out[n] = dict(snap[base], hash=h)
    missing = [n for n in names if n not in out]
    if missing:
        from curriculens.skills.registry import get_skill

        for n in missing:
            try:
                out[n] = skill_metadata(get_skill(n))
            except SkillError:
                continue
    return out


def _snapshot(source) -> Mapping:
    if source is None:
        return {}
    if isinstance(source, pd.DataFrame):
        return source.attrs.get(SKILLS_META_KEY) or {}
    if isinstance(source, Mapping):
        return source
    return read_meta(source).get(SKILLS_META_KEY) or {}


def pick_metric(info: Mapping | None, present: Iterable[str]) -> str | None:
    """The behavior metric to read among the ``present`` ones, given a skill's metadata.

    Its primary metric when present; else the only metric; else the first of exact_match,
    choice_acc, token_acc, acc, accuracy, score; else None.

    >>> pick_metric({"primary_metric": "token_acc"}, ["exact_match", "token_acc"])
    'token_acc'
    >>> pick_metric(None, ["exact_match", "token_acc"])
    'exact_match'
    """
    present = list(present)
    m = (info or {}).get("primary_metric")
    if m is not None and m in present:
        return m
    if len(present) == 1:
        return present[0]
    return next((m for m in _METRIC_PREFERENCE if m in present), None)


def export_table(
    run: str | Path, path: str | Path, *, fmt: str = "csv", select: Selection | None = None
) -> tuple[Path, Path]:
    """Write the tidy table of ``run`` to ``path`` and its metadata to ``<path>.meta.json``.

    The current results by default; ``select`` picks a configuration or every row (with
    ``all=True`` the rows keep their stored run and skill names: their ``probe_key`` and
    ``skill_hash`` columns tell them apart). Each probe accuracy has its derived
    ``selectivity`` row (see the module docstring); behavior rows have an empty ``layer``. Rows
    are sorted by run, step, tokens, checkpoint, fingerprint, skill, probe_key, kind, layer, hook
    and metric, so two exports of the same results are byte-identical.

    Returns:
        ``(table_path, meta_path)``.
    """
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"export format {fmt!r}; expected 'csv' or 'parquet'.")
    path = Path(path)
    select = select or _SELECTION.get()
    with Store(run, readonly=True) as s:
        rows = with_selectivity(s) if select.all else _select(s, False, select, {})
        meta = s.meta()
    meta["export"] = {"all": select.all, "config": select.config}
    rows.sort(key=lambda r: tuple((r[k] is None, r[k]) for k in SORT_KEY))
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow([r[c] for c in COLUMNS])
    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as e:
            raise ConfigError(
                "Parquet export needs pyarrow, which is not installed; pip install pyarrow, "
                f"or use {flag('format')} csv."
            ) from e
        table = pa.Table.from_pylist(rows, schema=_arrow_schema(pa))
        pq.write_table(table, str(path))
    meta_path = path.with_name(path.name + ".meta.json")
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return path, meta_path


def write_frame(frame: pd.DataFrame, path: str | Path, fmt: str) -> Path:
    """Write ``frame`` as CSV or Parquet at ``path`` (parents made); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path, index=False)
        return path
    try:
        frame.to_parquet(path, index=False)
    except ImportError as e:
        raise ConfigError(
            "Parquet export needs pyarrow, which is not installed; pip install pyarrow, "
            f"or use {flag('format')} csv."
        ) from e
    return path


def _arrow_schema(pa):
    types = {"step": pa.int64(), "tokens": pa.int64(), "skill_version": pa.int64()}
    types.update(layer=pa.int64(), n=pa.int64(), value=pa.float64())
    return pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])


#: Columns of ``curriculens export --what items``.
EXPORT_ITEM_COLUMNS = ("skill", "item", "prompt", "group", "label", "split", "control_label")


def export_items(run: str | Path, path: str | Path, *, fmt: str = "csv") -> tuple[Path, Path]:
    """Write the probe items of ``run`` (current settings) to ``path``, metadata beside it.

    One row per (skill, item) with the columns :data:`EXPORT_ITEM_COLUMNS`; ``split`` is
    ``train`` or ``test``. Returns ``(table_path, meta_path)``.
    """
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"export format {fmt!r}; expected 'csv' or 'parquet'.")
    items = read_items(run)
    if items.empty:
        raise CurriculensError(
            f"The run at {str(run)!r} stored no probe items (it was swept before curriculens "
            "kept them); re-run the sweep into a new directory to get them."
        )
    items = items.sort_values(["skill", "item"], kind="stable")[list(EXPORT_ITEM_COLUMNS)]
    path = write_frame(items, path, fmt)
    meta_path = path.with_name(path.name + ".meta.json")
    meta_path.write_text(json.dumps(read_meta(run), indent=2, sort_keys=True))
    return path, meta_path
