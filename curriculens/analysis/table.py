"""The one reader of a run: its tidy results table, its metadata and its skill snapshot.

Every analysis reads a run through this module: :func:`read_rows` (rows as dicts),
:func:`load_table` (a DataFrame), :func:`skill_info` (the metadata of the skills as they were
swept) and :func:`export_table` (CSV or Parquet plus metadata JSON).

The sweep stores each swept skill's metadata (:func:`skill_metadata`) in the store's ``skills``
meta key, so a run can be analysed without the skill being registered. Runs written before
that snapshot existed fall back to the live registry here, and only here.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from curriculens.errors import ConfigError, CurriculensError, SkillError
from curriculens.store import COLUMNS, ITEM_COLUMNS, Store

SKILLS_META_KEY = "skills"
SORT_KEY = (
    "run",
    "step",
    "tokens",
    "checkpoint",
    "fingerprint",
    "skill",
    "skill_version",
    "skill_hash",
    "kind",
    "layer",
    "hook",
    "metric",
)
# behavior metrics to prefer when a stored skill has no metadata and has several
_METRIC_PREFERENCE = ("exact_match", "choice_acc", "token_acc", "acc", "accuracy", "score")

Source = str | Path | Store


def read_rows(source: Source, *, items: bool = False, **where) -> list[dict]:
    """Rows of a store (or of a run directory / ``.sqlite`` file, opened readonly) as dicts."""
    if isinstance(source, Store):
        return source.rows(items=items, **where)
    with Store(source, readonly=True) as s:
        return s.rows(items=items, **where)


def read_meta(source: Source) -> dict:
    """Every meta key of a store (or run directory / ``.sqlite`` file)."""
    if isinstance(source, Store):
        return source.meta()
    with Store(source, readonly=True) as s:
        return s.meta()


def load_table(source: Source | pd.DataFrame, *, items: bool = False) -> pd.DataFrame:
    """The tidy results table as a DataFrame, from a run directory, store file or store.

    The run's skill snapshot rides along in ``df.attrs["skills"]`` (see :func:`skill_info`).

    >>> df = load_table("runs/demo")  # doctest: +SKIP
    """
    if isinstance(source, pd.DataFrame):
        return source
    if isinstance(source, Store):
        rows, meta = source.rows(items=items), source.meta()
    else:
        with Store(source, readonly=True) as s:
            rows, meta = s.rows(items=items), s.meta()
    if not rows:
        raise CurriculensError(
            f"The results store at {str(source)!r} has no rows yet; run a sweep first."
        )
    df = pd.DataFrame(rows)
    df.attrs[SKILLS_META_KEY] = dict(meta.get(SKILLS_META_KEY) or {})
    return df


def read_items(source: Source, *, all_settings: bool = False) -> pd.DataFrame:
    """The probe items of a run: one row per (skill, item), split and control label included.

    By default only the items of each run's current probe settings and of each skill's current
    version are returned (the ones its latest rows were measured on); ``all_settings=True``
    returns every stored set. Columns: :data:`~curriculens.store.ITEM_COLUMNS`.
    """
    if isinstance(source, Store):
        items, meta = source.items(), source.meta()
    else:
        with Store(source, readonly=True) as s:
            items, meta = s.items(), s.meta()
    df = pd.DataFrame(items, columns=list(ITEM_COLUMNS))
    if all_settings or df.empty:
        return df
    keys = {
        k.split(":", 1)[1]: v.get("probe_key")
        for k, v in meta.items()
        if k.startswith("run:") and isinstance(v, dict)
    }
    hashes = {n: m.get("hash") for n, m in (meta.get(SKILLS_META_KEY) or {}).items()}
    keep = [
        keys.get(run) in (None, key) and hashes.get(skill) in (None, h)
        for run, key, skill, h in zip(
            df["run"], df["probe_key"], df["skill"], df["skill_hash"], strict=True
        )
    ]
    return df[keep].reset_index(drop=True)


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


def export_table(run: str | Path, path: str | Path, *, fmt: str = "csv") -> tuple[Path, Path]:
    """Write the tidy table of ``run`` to ``path`` and its metadata to ``<path>.meta.json``.

    Rows are sorted by run, step, tokens, checkpoint, fingerprint, skill, kind, layer, hook and
    metric, so two exports of the same results are byte-identical.

    Returns:
        ``(table_path, meta_path)``.
    """
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"export format {fmt!r}; expected 'csv' or 'parquet'.")
    path = Path(path)
    with Store(run, readonly=True) as s:
        rows = s.rows()
        meta = s.meta()
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
                "or use --format csv."
            ) from e
        table = pa.Table.from_pylist(rows, schema=_arrow_schema(pa))
        pq.write_table(table, str(path))
    meta_path = path.with_name(path.name + ".meta.json")
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return path, meta_path


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        items.to_csv(path, index=False)
    else:
        try:
            items.to_parquet(path, index=False)
        except ImportError as e:
            raise ConfigError(
                "Parquet export needs pyarrow, which is not installed; pip install pyarrow, "
                "or use --format csv."
            ) from e
    meta_path = path.with_name(path.name + ".meta.json")
    meta_path.write_text(json.dumps(read_meta(run), indent=2, sort_keys=True))
    return path, meta_path
