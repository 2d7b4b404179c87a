"""Read behavioral curves from other tools into one long format, and write them into a Store.

The long format is a DataFrame with one row per (model, checkpoint, task): columns ``model,
checkpoint, step, tokens, task, score``. Sources: lm-evaluation-harness result directories, tidy
CSV files, and curriculens stores (behavior rows, each skill's primary metric).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from curriculens.analysis.table import pick_metric, read_rows, skill_info
from curriculens.checkpoints import PYTHIA_TOKENS_PER_STEP
from curriculens.errors import ConfigError, CurriculensError, StoreError
from curriculens.store import Row, Store

LONG_COLUMNS = ("model", "checkpoint", "step", "tokens", "task", "score")
DEFAULT_STEP_PATTERN = r"step[_-]?(\d+)"

# column aliases of tidy CSVs -> long-format names (and a token scale)
_ALIASES = {
    "model": ("model", "run", "model_name"),
    "checkpoint": ("checkpoint", "revision", "ckpt"),
    "step": ("step",),
    "task": ("task", "skill", "task_name"),
    "score": ("score", "accuracy", "acc", "value", "exact_match"),
}
_TOKEN_COLUMNS = {"tokens": 1.0, "tokens_b": 1e9, "tokens_m": 1e6, "tokens_k": 1e3}


def read_lm_eval(
    path: str | Path,
    *,
    metric: str = "acc",
    model: str | None = None,
    pattern: str | None = None,
    tokens_per_step: int = PYTHIA_TOKENS_PER_STEP,
) -> pd.DataFrame:
    """Read an lm-evaluation-harness results directory (one JSON file per checkpoint).

    Each file holds ``{"results": {task: {metric: value, ...}}, "config": {...}}`` (v0.4 keys
    such as ``"acc,none"`` also match ``metric="acc"``). Files are found recursively. Tasks
    without ``metric`` (e.g. crows_pairs has no ``acc``) are left out.

    Args:
        path: Directory of result files (or of one folder per model), or one JSON file.
        metric: Metric to read from each task's results.
        model: Model name for every file; by default the ``pretrained=`` value of the file's
            ``config.model_args``, else its first folder below ``path``, else ``path``'s name.
        pattern: Regex with one group that captures the step from the file name; default
            ``step[_-]?(\\d+)``, falling back to ``revision=stepN`` in ``config.model_args``.
        tokens_per_step: Tokens per optimizer step (Pythia: 2,097,152).

    Returns:
        Long-format DataFrame sorted by model, tokens, task.

    >>> read_lm_eval("/nonexistent")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ConfigError: ...
    """
    root = Path(path)
    if root.is_file():
        files, base = [root], root.parent
    elif root.is_dir():
        files, base = sorted(root.rglob("*.json")), root
    else:
        raise ConfigError(f"lm-eval results path {str(root)!r} does not exist.")
    if not files:
        raise ConfigError(
            f"No *.json result files under {str(root)!r}; expected lm-evaluation-harness output "
            "(one JSON file per checkpoint with a 'results' object)."
        )
    try:
        rx = re.compile(pattern or DEFAULT_STEP_PATTERN)
    except re.error as e:
        raise ConfigError(f"pattern={pattern!r} is not a valid regex ({e}).") from None
    if rx.groups < 1:
        raise ConfigError(
            f"pattern={pattern!r} needs one group capturing the step, e.g. r'step(\\d+)'."
        )
    records = []
    for f in files:
        doc = _load_json(f)
        args = str((doc.get("config") or {}).get("model_args") or "")
        step = _step_of(f, rx, args)
        name = model or _model_of(f, base, args)
        for task, res in sorted(doc["results"].items()):
            value = _metric_of(res, metric)
            if value is None:
                continue
            records.append(
                {
                    "model": name,
                    "checkpoint": f"step{step}",
                    "step": step,
                    "tokens": step * int(tokens_per_step),
                    "task": task,
                    "score": value,
                    "source_file": str(f),
                }
            )
    if not records:
        raise ConfigError(
            f"No task under {str(root)!r} reports metric {metric!r}; pick a metric the files "
            "have (e.g. 'acc', 'acc_norm', 'exact_match')."
        )
    return _finish(pd.DataFrame.from_records(records), source=str(root))


def _load_json(f: Path) -> dict:
    try:
        doc = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"Cannot read lm-eval result file {str(f)!r}: {e}.") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise ConfigError(
            f"{str(f)!r} has no 'results' object; expected lm-evaluation-harness output "
            "({'results': {task: {'acc': ...}}})."
        )
    return doc


def _step_of(f: Path, rx: re.Pattern, model_args: str) -> int:
    m = rx.search(f.name)
    if m is None:
        m = re.search(r"revision=step(\d+)", model_args)
    if m is None:
        raise ConfigError(
            f"Cannot find the step of {str(f)!r}: the file name does not match "
            f"{rx.pattern!r} and config.model_args has no 'revision=stepN'. Pass a pattern "
            "with one group that captures the step."
        )
    try:
        return int(m.group(1))
    except ValueError:
        raise ConfigError(
            f"Step pattern {rx.pattern!r} captured {m.group(1)!r} from {f.name!r}; "
            "expected an integer."
        ) from None


def _model_of(f: Path, base: Path, model_args: str) -> str:
    m = re.search(r"pretrained=([^,]+)", model_args)
    if m:
        return m.group(1)
    rel = f.relative_to(base).parts
    return rel[0] if len(rel) > 1 else base.resolve().name


def _metric_of(res, metric: str) -> float | None:
    if not isinstance(res, Mapping):
        return None
    for key, value in res.items():
        if (key == metric or key.split(",")[0] == metric) and isinstance(value, int | float):
            return float(value)
    return None


def read_tidy_csv(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    tokens_scale: float | None = None,
) -> pd.DataFrame:
    """Read a tidy CSV of curves (one row per model, checkpoint, task).

    Column names are mapped to ``model, checkpoint, tokens, task, score`` by common aliases
    (``run``, ``skill``, ``accuracy``, ``value``...; ``tokens_b`` is in billions, ``tokens_m`` in
    millions), or explicitly with ``columns``.

    Args:
        path: CSV file.
        columns: ``{csv column: long-format name}``, e.g. ``{"acc_em": "score"}``.
        tokens_scale: Multiply the token column by this (overrides the ``tokens_b`` rule).

    >>> import io, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.csv")
    >>> _ = open(p, "w").write("model,checkpoint,tokens_b,task,accuracy\\nm,c1,1.5,t,0.5\\n")
    >>> read_tidy_csv(p)[["model", "tokens", "score"]].values.tolist()
    [['m', 1500000000.0, 0.5]]
    """
    p = Path(path)
    try:
        raw = pd.read_csv(p)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise ConfigError(f"Cannot read CSV {str(p)!r}: {e}.") from None
    rename = dict(columns or {})
    unknown = sorted(set(rename) - set(raw.columns))
    if unknown:
        raise ConfigError(
            f"columns maps {unknown}, which {str(p)!r} does not have; its columns are "
            f"{list(raw.columns)}."
        )
    targets = set(rename.values())
    scale = 1.0
    if "tokens" not in targets:
        for col, s in _TOKEN_COLUMNS.items():
            if col in raw.columns and col not in rename:
                rename[col], scale = "tokens", s
                break
    for target, aliases in _ALIASES.items():
        if target in set(rename.values()):
            continue
        for a in aliases:
            if a in raw.columns and a not in rename:
                rename[a] = target
                break
    df = raw.rename(columns=rename)
    missing = [c for c in ("model", "tokens", "task", "score") if c not in df.columns]
    if missing:
        raise ConfigError(
            f"CSV {str(p)!r} lacks column(s) {missing}; it has {list(raw.columns)}. Expected "
            "model, checkpoint, tokens (or tokens_b in billions), task, score; map other names "
            "with columns={'csv_name': 'score'} (CLI: --columns csv_name=score)."
        )
    df = df.copy()
    df["tokens"] = pd.to_numeric(df["tokens"], errors="coerce") * (tokens_scale or scale)
    df["score"] = pd.to_numeric(df["score"], errors="coerce")
    if df["tokens"].isna().any():
        bad = df.loc[df["tokens"].isna()].index[:5].tolist()
        raise ConfigError(f"CSV {str(p)!r} has non-numeric tokens in rows {bad}.")
    if "checkpoint" not in df.columns:
        df["checkpoint"] = df["tokens"].map(lambda t: f"tokens{int(t)}")
    if "step" not in df.columns:
        df["step"] = -1
    df["source_file"] = str(p)
    return _finish(df, source=str(p))


def read_store(store: Store | str | Path, *, metric: str | None = None) -> pd.DataFrame:
    """Behavior curves of a curriculens store: one score per (run, checkpoint, skill).

    Each skill's primary metric comes from the run's skill snapshot; for a skill without
    metadata, its only metric (or the first of exact_match, choice_acc, token_acc, acc, accuracy,
    score).

    Args:
        store: A :class:`Store`, a run directory or a ``.sqlite`` file.
        metric: Read this metric for every skill instead.

    >>> read_store("runs/pythia160m").groupby("task").score.max()  # doctest: +SKIP
    """
    rows = read_rows(store, kind="behavior")
    if not rows:
        raise ConfigError(
            f"The store at {str(getattr(store, 'path', store))!r} has no behavior rows; run a "
            "sweep with behavior scoring, or import curves with write_store()."
        )
    df = pd.DataFrame(rows)
    info = skill_info(store, df["skill"].unique()) if metric is None else {}
    keep = []
    for skill, g in df.groupby("skill", sort=True):
        m = metric or pick_metric(info.get(str(skill)), sorted(g["metric"].unique()))
        if m is not None:
            keep.append(g[g["metric"] == m])
    if not keep:
        raise ConfigError(f"No behavior rows with metric {metric!r} in the store.")
    df = pd.concat(keep).rename(columns={"run": "model", "skill": "task", "value": "score"})
    df["source_file"] = str(getattr(store, "path", store))
    return _finish(df, source=str(getattr(store, "path", store)))


def primary_metric(skill: str, present: Sequence[str], skills: Mapping | None = None) -> str | None:
    """The behavior metric to read for ``skill`` among the ``present`` ones.

    The skill's primary metric (from ``skills``, a run's snapshot, else the registry) when
    present; else the only metric; else the first of exact_match, choice_acc, token_acc, acc,
    accuracy, score; else None.

    >>> primary_metric("copy_plural", ["exact_match", "token_acc"])
    'token_acc'
    """
    return pick_metric(skill_info(skills, [skill]).get(skill), present)


def _finish(df: pd.DataFrame, *, source: str) -> pd.DataFrame:
    dup = df.duplicated(["model", "tokens", "task"], keep=False)
    if dup.any():
        ex = df.loc[dup].iloc[:2]
        where = ", ".join(
            f"{r.model}/{r.task} at {r.tokens:g} ({r.source_file})" for r in ex.itertuples()
        )
        raise ConfigError(
            f"{source!r} holds more than one score per (model, tokens, task), e.g. {where}. "
            "Point the importer at one model/setting folder (e.g. zero-shot), or give each "
            "model its own name."
        )
    df = df.assign(model=df["model"].astype(str), task=df["task"].astype(str))
    df["step"] = df["step"].fillna(-1).astype(int)
    out = df[list(LONG_COLUMNS)].sort_values(["model", "tokens", "task"], kind="stable")
    return out.reset_index(drop=True)


def load_curves(path: str | Path, **options) -> pd.DataFrame:
    """Read curves from whatever ``path`` is: a ``.csv``, a store, or an lm-eval directory.

    Args:
        path: A tidy CSV file, a ``.sqlite`` store or run directory holding ``results.sqlite``,
            or a directory (or file) of lm-eval JSON results.
        **options: Passed to the matching reader (``metric``, ``pattern``, ``columns``...).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "curves.csv")
    >>> _ = open(p, "w").write("model,tokens,task,score\\nm,100,t,0.5\\n")
    >>> load_curves(p).columns.tolist()
    ['model', 'checkpoint', 'step', 'tokens', 'task', 'score']
    """
    p = Path(path)
    if not p.exists():
        raise ConfigError(
            f"Input {str(p)!r} does not exist; expected a run directory or .sqlite store, an "
            "lm-eval results directory, or a tidy CSV."
        )
    allowed = {
        "csv": {"columns", "tokens_scale"},
        "store": {"metric"},
        "lm_eval": {"metric", "model", "pattern", "tokens_per_step"},
    }
    if p.suffix.lower() == ".csv":
        kind = "csv"
    elif p.suffix in (".sqlite", ".db") or (p.is_dir() and (p / "results.sqlite").exists()):
        kind = "store"
    elif p.suffix.lower() == ".json" or p.is_dir():
        kind = "lm_eval"
    else:
        raise ConfigError(
            f"Cannot tell what {str(p)!r} is; expected a .csv file, a .sqlite store or run "
            "directory, or an lm-eval results directory of .json files."
        )
    opts = {k: v for k, v in options.items() if v is not None}
    extra = sorted(set(opts) - allowed[kind])
    if extra:
        raise ConfigError(
            f"Option(s) {extra} do not apply to {kind} input {str(p)!r}; allowed: "
            f"{sorted(allowed[kind])}."
        )
    try:
        if kind == "csv":
            return read_tidy_csv(p, **opts)
        if kind == "store":
            return read_store(p, **opts)
        return read_lm_eval(p, **opts)
    except StoreError as e:
        raise ConfigError(str(e)) from None


def write_store(
    curves: pd.DataFrame,
    store: Store,
    *,
    metric: str = "score",
    source: str = "import",
) -> int:
    """Write long-format curves into a store as ``kind="behavior"`` rows (``run`` = model).

    Skill version 0 and hash ``source`` mark the rows as imported rather than measured.

    Args:
        curves: Long-format DataFrame (see :func:`load_curves`).
        store: A writable :class:`Store`.
        metric: Metric name of the rows.
        source: Recorded as ``skill_hash`` so imported rows never mix with measured ones.

    Returns:
        Number of rows written.

    >>> import tempfile
    >>> df = pd.DataFrame({"model": "m", "checkpoint": ["s1", "s2"], "tokens": [10, 20],
    ...                    "task": "t", "score": [0.2, 0.9]})
    >>> with Store(tempfile.mkdtemp()) as s:
    ...     write_store(df, s), read_store(s).score.tolist()
    (2, [0.2, 0.9])
    """
    if store.readonly:
        raise CurriculensError(f"Store {str(store.path)!r} is readonly; open it for writing.")
    df = curves.copy()
    if "checkpoint" not in df.columns:
        df["checkpoint"] = df["tokens"].map(lambda t: f"tokens{int(t)}")
    if "step" not in df.columns:
        df["step"] = -1
    n = 0
    for (model, ckpt), g in df.groupby(["model", "checkpoint"], sort=True):
        rows = [
            Row(
                run=str(model),
                checkpoint=str(ckpt),
                step=int(r.step),
                tokens=int(round(float(r.tokens))),
                fingerprint=f"{source}:{ckpt}",
                skill=str(r.task),
                skill_version=0,
                skill_hash=source,
                kind="behavior",
                hook="",
                layer=-1,
                metric=metric,
                value=float(r.score) if np.isfinite(r.score) else float("nan"),
                n=0,
            )
            for r in g.itertuples()
        ]
        store.write_unit(str(model), f"{source}:{ckpt}", f"{source}:{ckpt}", str(ckpt), rows)
        n += len(rows)
    return n
