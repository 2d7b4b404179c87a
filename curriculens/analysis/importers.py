"""Read behavioral (and probe) curves from other tools into one long format, a table or a Store.

The long format is a DataFrame with one row per (model, checkpoint, task): columns ``model,
checkpoint, step, tokens, task, score`` (plus ``n`` when a CSV gives it). Sources:
lm-evaluation-harness result directories, tidy CSV files, and curriculens stores (behavior rows,
each skill's primary metric).

Files are taken as they come: task names are normalised as the Implicit Curriculum paper does
(``compositional:x`` -> ``compositional_x``; ``keep_names=True`` keeps them), checkpoints named
without a token count get one from their name (``stage1-step1000-tokens5B``) or from
``revision_tokens`` (``{"main": 4051e9}``), and two different scores of one model at one token
count are an error that names them unless ``duplicates`` says how to merge them. A tidy CSV may
also carry probe and control curves (columns ``kind``, ``layer``, ``n``); :func:`load_rows` gives
them to lead/lag as store rows. :func:`curves_table` gives curves as the tidy results table a
store gives (:func:`curriculens.analysis.table.load_table`), with no store written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from curriculens.analysis.lm_eval import DEFAULT_STEP_PATTERN, read_lm_eval
from curriculens.analysis.long_format import (
    DUPLICATES,
    KINDS,
    LONG_COLUMNS,
    check_imported,
    finish,
    numeric_column,
    parse_revision_tokens,
    revision_step,
    revision_tokens,
)
from curriculens.analysis.table import (
    SKILLS_META_KEY,
    pick_metric,
    read_rows,
    selectivity_rows,
    skill_info,
)
from curriculens.checkpoints import PYTHIA_TOKENS_PER_STEP
from curriculens.errors import ConfigError, CurriculensError, StoreError
from curriculens.params import flag
from curriculens.store import COLUMNS, Row, Store

__all__ = [
    "DEFAULT_STEP_PATTERN",
    "DUPLICATES",
    "KINDS",
    "LONG_COLUMNS",
    "PYTHIA_TOKENS_PER_STEP",
    "curves_table",
    "load_curves",
    "load_rows",
    "primary_metric",
    "read_lm_eval",
    "read_store",
    "read_tidy_csv",
    "read_tidy_table",
    "tidy_rows",
    "write_store",
]

# column aliases of tidy CSVs -> long-format names (and a token scale)
_ALIASES = {
    "model": ("model", "run", "model_name"),
    "checkpoint": ("checkpoint", "revision", "ckpt"),
    "step": ("step",),
    "task": ("task", "skill", "task_name"),
    "score": ("score", "accuracy", "acc", "value", "exact_match"),
}
_TOKEN_COLUMNS = {"tokens": 1.0, "tokens_b": 1e9, "tokens_m": 1e6, "tokens_k": 1e3}


def read_tidy_table(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    tokens_scale: float | None = None,
    tokens_per_step: float | None = None,
    keep_names: bool = False,
    duplicates: str | None = None,
    revision_tokens: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Every row of a tidy CSV: behavior, probe and control curves.

    Columns are mapped as in :func:`read_tidy_csv`; the optional ``kind`` (behavior, probe or
    control; default behavior), ``layer`` (needed for probe and control rows: the
    TransformerLens block index, -1 for the embedding, as ``export`` writes it) and ``n`` (items
    behind each score) are kept. Returns the columns of :data:`LONG_COLUMNS` plus ``kind``,
    ``layer`` (-1 for behavior rows, which have none; ``kind`` tells them apart) and ``n`` (NaN
    when not given).
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
    df["line"] = np.arange(len(df)) + 2  # the CSV line (header is line 1), for messages
    need = ["model", "task", "score"] + ([] if "checkpoint" in df.columns else ["tokens"])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ConfigError(
            f"CSV {str(p)!r} lacks column(s) {missing}; it has {list(raw.columns)}. Expected "
            "model, checkpoint, tokens (or tokens_b in billions), task, score; map other names "
            f"with columns={{'csv_name': 'score'}} (CLI: {flag('columns')} csv_name=score)."
        )
    df = df.copy()
    if "tokens" not in df.columns:
        df["tokens"] = np.nan
    df["tokens"] = numeric_column(df, "tokens", str(p)) * (tokens_scale or scale)
    df["score"] = numeric_column(df, "score", str(p))
    if "step" in df.columns:
        df["step"] = numeric_column(df, "step", str(p))
    if "checkpoint" not in df.columns:
        df["checkpoint"] = df["tokens"].map(lambda t: f"tokens{int(t)}" if np.isfinite(t) else "")
    df["checkpoint"] = df["checkpoint"].astype(str)
    _fill_tokens(df, str(p), parse_revision_tokens(revision_tokens), tokens_per_step)
    if "step" not in df.columns:
        df["step"] = [-1 if (k := revision_step(c)) is None else k for c in df["checkpoint"]]
    _probe_columns(df, str(p))
    check_imported(df, str(p))
    df["source_file"] = str(p)
    return finish(df, source=str(p), keep_names=keep_names, duplicates=duplicates, full=True)


def read_tidy_csv(path: str | Path, **options) -> pd.DataFrame:
    """Read a tidy CSV of behavior curves (one row per model, checkpoint, task).

    Column names are mapped to ``model, checkpoint, tokens, task, score`` by common aliases
    (``run``, ``skill``, ``accuracy``, ``value``...; ``tokens_b`` is in billions, ``tokens_m`` in
    millions), or explicitly with ``columns``. Rows with a ``kind`` other than ``behavior`` are
    probe or control curves (see :func:`read_tidy_table`) and are not returned here.

    Args:
        path: CSV file.
        **options: ``columns`` (``{csv column: long-format name}``, e.g. ``{"acc_em":
            "score"}``), ``tokens_scale`` (multiply the token column; overrides the
            ``tokens_b`` rule), ``tokens_per_step`` (read ``stepN`` checkpoint names when a row
            has no tokens), and the options below.
        keep_names: Keep task names as they are; by default ':' becomes '_' (the paper's
            normalisation, so ``compositional:x`` and ``compositional_x`` are one task).
        duplicates: How to merge two different scores of one model and task at one token
            count: ``first``, ``last`` (in file order) or ``mean``; None (default) raises an
            error that names them.
        revision_tokens: Token counts of revisions whose names carry none, ``{"main": 4051e9}``
            (``"model@revision"`` keys apply to one model); they replace the file's count.

    Returns:
        :data:`LONG_COLUMNS`, plus ``n`` when the file gives it.

    >>> import io, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "c.csv")
    >>> _ = open(p, "w").write("model,checkpoint,tokens_b,task,accuracy\\nm,c1,1.5,t,0.5\\n")
    >>> read_tidy_csv(p)[["model", "tokens", "score"]].values.tolist()
    [['m', 1500000000.0, 0.5]]
    """
    full = read_tidy_table(path, **options)
    beh = full[full["kind"] == "behavior"]
    if beh.empty:
        raise ConfigError(
            f"CSV {str(path)!r} has no behavior rows (kind=behavior, or no kind column); "
            "emergence reads behavior curves."
        )
    cols = list(LONG_COLUMNS) + (["n"] if beh["n"].notna().any() else [])
    return beh[cols].reset_index(drop=True)


def _fill_tokens(df: pd.DataFrame, source: str, given: dict, tokens_per_step) -> None:
    """Tokens from checkpoint names where the file gives none, or where ``given`` names the
    checkpoint (in place); an error names the checkpoints left without."""
    pairs = list(zip(df["model"], df["checkpoint"], strict=True))
    named = np.array(
        [np.nan if (t := revision_tokens(c, model=m, given=given)) is None else t for m, c in pairs]
    )
    forced = np.array([f"{m}@{c}" in given or c in given for m, c in pairs], bool)
    use = forced | df["tokens"].isna().to_numpy()
    df.loc[use, "tokens"] = named[use]
    if tokens_per_step:
        steps = np.array([np.nan if (k := revision_step(c)) is None else k for _, c in pairs])
        still = df["tokens"].isna().to_numpy()
        df.loc[still, "tokens"] = steps[still] * float(tokens_per_step)
    bad = df.loc[df["tokens"].isna(), ["model", "checkpoint"]].drop_duplicates()
    if len(bad):
        first = bad.iloc[0].checkpoint
        where = ", ".join(f"{r.model} {r.checkpoint!r}" for r in bad.head(4).itertuples())
        stepped = revision_step(first) is not None
        raise ConfigError(
            f"CSV {source!r}: {len(bad)} checkpoint(s) have no token count, in the file or in "
            f"their name ({where}). Give each one with {flag('revision_tokens')} {first}=TOKENS "
            f"(e.g. {flag('revision_tokens')} main=4051e9; MODEL@{first}=TOKENS for one model; "
            "Python: "
            "revision_tokens={...})"
            + (f", or {flag('tokens_per_step')} N to read 'stepN' names" if stepped else "")
            + "."
        )


def _probe_columns(df: pd.DataFrame, source: str) -> None:
    """Check and fill the optional ``kind``, ``layer`` and ``n`` columns (in place)."""
    if "kind" not in df.columns:
        df["kind"] = "behavior"
    df["kind"] = df["kind"].fillna("behavior").astype(str).str.strip().str.lower()
    bad = sorted(set(df["kind"]) - set(KINDS))
    if bad:
        raise ConfigError(
            f"CSV {source!r} has kind value(s) {bad}; expected one of {KINDS} (probe and "
            "control rows are probe accuracy and control-task accuracy per layer)."
        )
    layer = pd.to_numeric(df["layer"], errors="coerce") if "layer" in df.columns else None
    probe = (df["kind"] != "behavior").to_numpy()
    if probe.any() and (layer is None or layer[probe].isna().any()):
        raise ConfigError(
            f"CSV {source!r} has probe or control rows without a layer; give a 'layer' column "
            "(an integer per probe/control row)."
        )
    df["layer"] = -1 if layer is None else layer.where(probe, -1).fillna(-1).astype(int)
    n = pd.to_numeric(df["n"], errors="coerce") if "n" in df.columns else np.nan
    df["n"] = n
    if isinstance(n, pd.Series) and (n.dropna() <= 0).any():
        raise ConfigError(f"CSV {source!r} has n values <= 0; n counts the items behind a score.")


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
    return finish(df, source=str(getattr(store, "path", store)))


def primary_metric(skill: str, present: Sequence[str], skills: Mapping | None = None) -> str | None:
    """The behavior metric to read for ``skill`` among the ``present`` ones.

    The skill's primary metric (from ``skills``, a run's snapshot, else the registry) when
    present; else the only metric; else the first of exact_match, choice_acc, token_acc, acc,
    accuracy, score; else None.

    >>> primary_metric("copy_plural", ["exact_match", "token_acc"])
    'token_acc'
    """
    return pick_metric(skill_info(skills, [skill]).get(skill), present)


def _input_kind(p: Path) -> str:
    if not p.exists():
        raise ConfigError(
            f"Input {str(p)!r} does not exist; expected a run directory or .sqlite store, an "
            "lm-eval results directory, or a tidy CSV."
        )
    if p.suffix.lower() == ".csv":
        return "csv"
    if p.suffix in (".sqlite", ".db") or (p.is_dir() and (p / "results.sqlite").exists()):
        return "store"
    if p.suffix.lower() == ".json" or p.is_dir():
        return "lm_eval"
    raise ConfigError(
        f"Cannot tell what {str(p)!r} is; expected a .csv file, a .sqlite store or run "
        "directory, or an lm-eval results directory of .json files."
    )


_FILE_OPTIONS = {"keep_names", "duplicates", "revision_tokens", "tokens_per_step"}
_ALLOWED = {
    "csv": {"columns", "tokens_scale"} | _FILE_OPTIONS,
    "store": {"metric"},
    "lm_eval": {"metric", "model", "pattern"} | _FILE_OPTIONS,
}


def _options(kind: str, p: Path, options: Mapping) -> dict:
    opts = {k: v for k, v in options.items() if v is not None and v is not False and v != {}}
    extra = sorted(set(opts) - _ALLOWED[kind])
    if extra:
        raise ConfigError(
            f"Option(s) {extra} do not apply to {kind} input {str(p)!r}; allowed: "
            f"{sorted(_ALLOWED[kind])}."
        )
    return opts


def load_curves(path: str | Path, **options) -> pd.DataFrame:
    """Read behavior curves from whatever ``path`` is: a ``.csv``, a store, or an lm-eval dir.

    Args:
        path: A tidy CSV file, a ``.sqlite`` store or run directory holding ``results.sqlite``,
            or a directory (or file) of lm-eval JSON results.
        **options: Passed to the matching reader (``metric``, ``pattern``, ``columns``,
            ``keep_names``, ``duplicates``, ``revision_tokens``...).

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "curves.csv")
    >>> _ = open(p, "w").write("model,tokens,task,score\\nm,100,t,0.5\\n")
    >>> load_curves(p).columns.tolist()
    ['model', 'checkpoint', 'step', 'tokens', 'task', 'score']
    """
    p = Path(path)
    kind = _input_kind(p)
    opts = _options(kind, p, options)
    try:
        if kind == "csv":
            return read_tidy_csv(p, **opts)
        if kind == "store":
            return read_store(p, **opts)
        return read_lm_eval(p, **opts)
    except StoreError as e:
        raise ConfigError(str(e)) from None


def load_rows(path: str | Path, **options) -> list[dict]:
    """Every curve of ``path`` as store rows (with per-item outcomes where a store has them).

    A store gives its rows; a tidy CSV gives its behavior, probe and control curves (``kind``,
    ``layer``, ``n`` columns; see :func:`tidy_rows`); an lm-eval directory its behavior curves.
    Lead/lag reads runs and imported files through this.
    """
    p = Path(path)
    kind = _input_kind(p)
    opts = _options(kind, p, options)
    try:
        if kind == "store":
            return read_rows(p, items=True)
        if kind == "csv":
            return tidy_rows(read_tidy_table(p, **opts))
        return tidy_rows(read_lm_eval(p, **opts))
    except StoreError as e:
        raise ConfigError(str(e)) from None


def tidy_rows(df: pd.DataFrame, *, source: str = "import") -> list[dict]:
    """Long-format curves as store rows: ``run`` = model, ``skill`` = task; behavior rows have
    metric ``score`` and no layer (None), probe and control rows metric ``probe_acc`` and
    ``control_acc`` at layer ``L`` (the TransformerLens block index, -1 the embedding) and hook
    ``layer{L}``."""
    kinds = df["kind"] if "kind" in df.columns else pd.Series("behavior", index=df.index)
    layers = df["layer"] if "layer" in df.columns else pd.Series(-1, index=df.index)
    ns = df["n"] if "n" in df.columns else pd.Series(np.nan, index=df.index)
    rows = []
    for r, kind, layer, n in zip(df.itertuples(), kinds, layers, ns, strict=True):
        beh = kind == "behavior"
        rows.append(
            {
                "run": str(r.model),
                "checkpoint": str(r.checkpoint),
                "step": int(r.step),
                "tokens": float(r.tokens),
                "fingerprint": f"{source}:{r.checkpoint}",
                "skill": str(r.task),
                "skill_version": 0,
                "skill_hash": source,
                "kind": str(kind),
                "hook": "" if beh else f"layer{int(layer)}",
                "layer": None if beh else int(layer),
                "metric": "score" if beh else f"{kind}_acc",
                "value": float(r.score) if np.isfinite(r.score) else None,
                "n": int(n) if np.isfinite(n) else 0,
                "items": None,
            }
        )
    return rows


def write_store(
    curves: pd.DataFrame,
    store: Store,
    *,
    metric: str = "score",
    source: str = "import",
) -> int:
    """Write long-format curves into a store (``run`` = model, ``skill`` = task).

    Rows are ``kind="behavior"`` unless the curves carry ``kind``/``layer``/``n`` columns (see
    :func:`read_tidy_table`); probe and control rows get metric ``probe_acc`` and
    ``control_acc`` at hook ``layer{L}``.
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
    n = 0
    for (model, ckpt), rows in _units(curves, metric, source):
        store.write_unit(str(model), f"{source}:{ckpt}", f"{source}:{ckpt}", str(ckpt), rows)
        n += len(rows)
    return n


def _units(curves: pd.DataFrame, metric: str, source: str) -> list[tuple[tuple, list[Row]]]:
    """The store rows of each (model, checkpoint) of long-format curves, as
    :func:`write_store` writes them."""
    df = curves.copy()
    if "checkpoint" not in df.columns:
        df["checkpoint"] = df["tokens"].map(lambda t: f"tokens{int(t)}")
    if "step" not in df.columns:
        df["step"] = -1
    df["n"] = pd.to_numeric(df["n"], errors="coerce") if "n" in df.columns else np.nan
    units = []
    for key, g in df.groupby(["model", "checkpoint"], sort=True):
        rows = [
            Row(
                **{k: r[k] for k in ("run", "checkpoint", "step", "skill", "kind", "hook")},
                **{k: r[k] for k in ("layer", "skill_version", "skill_hash", "fingerprint")},
                tokens=int(round(r["tokens"])),
                metric=metric if r["kind"] == "behavior" else r["metric"],
                value=float("nan") if r["value"] is None else r["value"],
                n=r["n"],
            )
            for r in tidy_rows(g, source=source)
        ]
        units.append((key, rows))
    return units


#: The key a store keeps one row per (a later row replaces an earlier one)
_STORE_KEY = ("run", "fingerprint", "skill", "skill_hash", "probe_key", "kind", "hook", "metric")
#: The order a store reads its rows in
_STORE_ORDER = (
    "run", "tokens", "step", "checkpoint", "fingerprint", "skill", "skill_hash", "probe_key",
    "kind", "layer", "hook", "metric",
)  # fmt: skip


def curves_table(
    curves: pd.DataFrame,
    *,
    skills: Mapping | None = None,
    metric: str = "score",
    source: str = "import",
) -> pd.DataFrame:
    """Long-format curves as the tidy results table a store gives, with no store written.

    The table is the one :func:`~curriculens.analysis.table.load_table` reads from a store
    that :func:`write_store` filled with ``curves``: the same rows (each probe accuracy with its
    derived ``selectivity`` row), columns, order and values, and ``skills`` as the snapshot in
    ``df.attrs["skills"]``.

    Args:
        curves: Long-format DataFrame (see :func:`load_curves`).
        skills: The skills' metadata (``{task: {"family": ..., "primary_metric": ...}}``).
        metric: Metric name of the behavior rows.
        source: Recorded as ``skill_hash`` and in the fingerprints, as :func:`write_store` does.

    >>> df = pd.DataFrame({"model": "m", "checkpoint": ["s1", "s2"], "tokens": [10, 20],
    ...                    "task": "t", "score": [0.2, 0.9]})
    >>> curves_table(df)[["run", "skill", "tokens", "value"]].values.tolist()
    [['m', 't', 10, 0.2], ['m', 't', 20, 0.9]]
    """
    kept: dict[tuple, dict] = {}
    for _, rows in _units(curves, metric, source):
        for row in rows:
            r = _as_read(row)
            kept[tuple(r[k] for k in _STORE_KEY)] = r
    rows = list(kept.values()) + selectivity_rows(list(kept.values()))
    rows.sort(key=lambda r: tuple((r[k] is None, r[k]) for k in _STORE_ORDER))
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    df.attrs[SKILLS_META_KEY] = dict(skills or {})
    return df


def _as_read(r: Row) -> dict:
    """The row as a store gives it back: no value (NaN) is None, behavior has no layer, and a
    reason is kept only for a missing value."""
    value = None if r.value is None or not np.isfinite(r.value) else float(r.value)
    return {
        "run": r.run,
        "checkpoint": r.checkpoint,
        "step": int(r.step),
        "tokens": int(r.tokens),
        "fingerprint": r.fingerprint,
        "skill": r.skill,
        "skill_version": int(r.skill_version),
        "skill_hash": r.skill_hash,
        "probe_key": r.probe_key,
        "kind": r.kind,
        "hook": r.hook,
        "layer": None if r.hook == "" or r.layer is None else int(r.layer),
        "metric": r.metric,
        "value": value,
        "n": int(r.n),
        "reason": r.reason if value is None else None,
    }
