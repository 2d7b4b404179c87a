"""Read lm-evaluation-harness result directories (one JSON file per checkpoint) as curves."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from curriculens.analysis.long_format import (
    MAX_TOKENS,
    check_imported,
    finish,
    parse_revision_tokens,
    revision_step,
    revision_tokens,
)
from curriculens.checkpoints import PYTHIA_TOKENS_PER_STEP
from curriculens.errors import ConfigError
from curriculens.params import flag

DEFAULT_STEP_PATTERN = r"step[_-]?(\d+)"


def read_lm_eval(
    path: str | Path,
    *,
    metric: str = "acc",
    model: str | None = None,
    pattern: str | None = None,
    tokens_per_step: int | None = PYTHIA_TOKENS_PER_STEP,
    keep_names: bool = False,
    duplicates: str | None = None,
    revision_tokens: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Read an lm-evaluation-harness results directory (one JSON file per checkpoint).

    Each file holds ``{"results": {task: {metric: value, ...}}, "config": {...}}`` (v0.4 keys
    such as ``"acc,none"`` also match ``metric="acc"``). Files are found recursively. Tasks
    without ``metric`` (e.g. crows_pairs has no ``acc``) are left out.

    A file's tokens come from, in order: ``revision_tokens`` for its revision
    (``config.model_args`` ``revision=``) or file stem; a token count in either name
    (``stage1-step1000-tokens5B``); the step ``pattern`` in the file name, then in the revision,
    times ``tokens_per_step``.

    Args:
        path: Directory of result files (or of one folder per model), or one JSON file.
        metric: Metric to read from each task's results.
        model: Model name for every file; by default the ``pretrained=`` value of the file's
            ``config.model_args``, else its first folder below ``path``, else ``path``'s name.
        pattern: Regex with one group that captures the step from the file name; default
            ``step[_-]?(\\d+)``.
        tokens_per_step: Tokens per optimizer step (Pythia: 2,097,152).
        keep_names: Keep task names as they are; by default ':' becomes '_' (the paper's
            normalisation, so ``compositional:x`` and ``compositional_x`` are one task).
        duplicates: How to merge two different scores of one model and task at one token
            count: ``first``, ``last`` (in file order) or ``mean``; None (default) raises an
            error that names them.
        revision_tokens: Token counts of revisions whose names carry none, ``{"main": 4051e9}``
            (``"model@revision"`` keys apply to one model); they replace the file's count.

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
    given = parse_revision_tokens(revision_tokens)
    records = []
    for f in files:
        doc = _load_json(f)
        args = str((doc.get("config") or {}).get("model_args") or "")
        name = model or _model_of(f, base, args)
        ckpt, step, tokens = _checkpoint_of(f, rx, args, name, given, tokens_per_step)
        for task, res in sorted(doc["results"].items()):
            value = _metric_of(res, metric, f, task)
            if value is None:
                continue
            records.append(
                {
                    "model": name,
                    "checkpoint": ckpt,
                    "step": step,
                    "tokens": tokens,
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
    df = pd.DataFrame.from_records(records)
    check_imported(df, str(root))
    return finish(df, source=str(root), keep_names=keep_names, duplicates=duplicates)


def _load_json(f: Path) -> dict:
    if not f.is_file():  # a named pipe or device would block or never end
        raise ConfigError(f"lm-eval result {str(f)!r} is not a regular file; remove it.")
    try:
        doc = json.loads(f.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"Cannot read lm-eval result file {str(f)!r}: {e}.") from None
    except RecursionError:
        raise ConfigError(
            f"lm-eval result file {str(f)!r} is nested too deeply to be lm-evaluation-harness "
            "output; check that it is a results file."
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise ConfigError(
            f"{str(f)!r} has no 'results' object; expected lm-evaluation-harness output "
            "({'results': {task: {'acc': ...}}})."
        )
    return doc


def _checkpoint_of(
    f: Path, rx: re.Pattern, model_args: str, model: str, given, tokens_per_step
) -> tuple[str, int, float]:
    """``(checkpoint name, step, tokens)`` of one lm-eval result file."""
    m = re.search(r"revision=([^,\s]+)", model_args)
    revision = m.group(1) if m else None
    names = [n for n in (revision, f.stem) if n]
    for n in names:  # given counts, then counts written in the name
        t = revision_tokens(n, model=model, given=given)
        if t is not None:
            return n, _step_or(revision_step(n)), t
    m = rx.search(f.name)
    step = None
    if m is not None:
        try:
            step = int(m.group(1))
        except ValueError:
            raise ConfigError(
                f"Step pattern {rx.pattern!r} captured {m.group(1)!r} from {f.name!r}; "
                "expected an integer."
            ) from None
    elif revision is not None:
        step = revision_step(revision)
    if step is None or not tokens_per_step:
        what = f"revision {revision!r}" if revision else f"file {f.name!r}"
        raise ConfigError(
            f"Cannot find the token count of {str(f)!r}: {what} names no step or token count "
            f"(the file name does not match {rx.pattern!r}). Give it one with "
            f"{flag('revision_tokens')} {revision or f.stem}=TOKENS (Python: "
            f"revision_tokens={{{(revision or f.stem)!r}: ...}}), or pass a pattern with one "
            "group that captures the step."
        )
    tokens = float(step) * float(tokens_per_step) if step <= MAX_TOKENS else math.inf
    if tokens > MAX_TOKENS:
        raise ConfigError(
            f"{str(f)!r}: step {_short(step)} x {tokens_per_step} tokens per step is more than "
            f"2**53 tokens; check the file name, the step pattern, or give its count with "
            f"{flag('revision_tokens')} {revision or f.stem}=TOKENS."
        )
    return (
        revision if revision and revision_step(revision) == step else f"step{step}",
        step,
        tokens,
    )


def _step_or(step: int | None) -> int:
    return -1 if step is None else step


def _model_of(f: Path, base: Path, model_args: str) -> str:
    m = re.search(r"pretrained=([^,]+)", model_args)
    if m:
        return m.group(1)
    rel = f.relative_to(base).parts
    return rel[0] if len(rel) > 1 else base.resolve().name


def _metric_of(res, metric: str, f: Path, task: str) -> float | None:
    """The task's ``metric`` (a number; a boolean or text there is an error, never 1.0)."""
    if not isinstance(res, Mapping):
        return None
    for key, value in res.items():
        if key != metric and str(key).split(",")[0] != metric:
            continue
        if value is None or value == "N/A":  # lm-eval's "not computed": the task is left out
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(
                f"{str(f)!r}: task {task!r} has {key} = {json.dumps(value)[:40]}, not a number; "
                "lm-evaluation-harness writes accuracies as numbers in [0, 1]. Fix the file, or "
                "pick another metric."
            )
        return float(value)
    return None


def _short(n: int) -> str:
    """An integer as text, its digits elided past 20 (a file name may hold hundreds)."""
    s = str(n)
    return s if len(s) <= 20 else f"{s[:6]}...({len(s)} digits)"
