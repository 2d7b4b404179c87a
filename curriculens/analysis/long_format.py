"""The long format of imported curves: its columns, token counts from revision names, task-name
normalisation and duplicate handling, shared by every importer.

Token counts are read from revision names: an explicit count (OLMo ``stage1-step1000-tokens5B``,
``...-tokens4001B``), a step (``step1000``) when tokens per step are known, and user-given counts
for names such as ``main`` that carry none (``--revision-tokens main=4051e9``).

>>> revision_tokens("stage1-step1000-tokens5B")
5000000000.0
>>> revision_tokens("step1000", tokens_per_step=2_097_152)
2097152000.0
>>> revision_tokens("main", given={"main": 4.051e12})
4051000000000.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from curriculens.errors import ConfigError
from curriculens.params import flag

LONG_COLUMNS = ("model", "checkpoint", "step", "tokens", "task", "score")
KINDS = ("behavior", "probe", "control")
DUPLICATES = ("first", "last", "mean")

_TOKENS = re.compile(r"tokens[_-]?(\d+(?:\.\d+)?)([kmbt])?(?![a-z])", re.IGNORECASE)
_STEP = re.compile(r"step[_-]?(\d+)", re.IGNORECASE)
_UNIT = {None: 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}


def revision_tokens(
    name: str,
    *,
    model: str | None = None,
    given: Mapping[str, float] | None = None,
    tokens_per_step: float | None = None,
) -> float | None:
    """Tokens seen at a revision, or None when its name does not say.

    Args:
        name: The revision or checkpoint name.
        model: The model, for ``given`` keys of the form ``MODEL@REVISION``.
        given: User-given counts, ``{revision: tokens}`` or ``{"model@revision": tokens}``
            (the model-specific key wins).
        tokens_per_step: Tokens per optimizer step, to read ``stepN`` names; None leaves them
            unread (a step count means nothing without it).
    """
    given = given or {}
    name = str(name)
    if model is not None and f"{model}@{name}" in given:
        return float(given[f"{model}@{name}"])
    if name in given:
        return float(given[name])
    m = _TOKENS.search(name)
    if m:
        return float(m.group(1)) * _UNIT[(m.group(2) or "").lower() or None]
    m = _STEP.search(name)
    if m and tokens_per_step:
        return int(m.group(1)) * float(tokens_per_step)
    return None


def revision_step(name: str) -> int | None:
    """The step in a revision name (``stage1-step1000-tokens5B`` -> 1000), or None.

    >>> revision_step("stage1-step1000-tokens5B"), revision_step("main")
    (1000, None)
    """
    m = _STEP.search(str(name))
    return int(m.group(1)) if m else None


def parse_revision_tokens(items: Iterable[str] | Mapping[str, float] | None) -> dict[str, float]:
    """``["main=4051e9", "org/m@main=3e12"]`` (CLI form) or a dict -> ``{revision: tokens}``.

    >>> parse_revision_tokens(["main=4051e9"])
    {'main': 4051000000000.0}
    """
    if not items:
        return {}
    pairs = items.items() if isinstance(items, Mapping) else _split(items)
    out = {}
    for name, value in pairs:
        try:
            tokens = float(value)
        except (TypeError, ValueError):
            tokens = math.nan
        if not name or not math.isfinite(tokens) or tokens < 0:
            raise ConfigError(
                f"{flag('revision_tokens')} {name}={value} is not REVISION=TOKENS with a token "
                f"count >= 0; write e.g. {flag('revision_tokens')} main=4051e9 (or "
                "MODEL@main=4051e9)."
            )
        out[str(name)] = tokens
    return out


def _split(items: Iterable[str]):
    for group in items:
        for item in str(group).split(","):
            name, sep, value = item.strip().rpartition("=")
            if not sep:
                raise ConfigError(
                    f"{flag('revision_tokens')} {item!r} is not REVISION=TOKENS; write e.g. "
                    f"{flag('revision_tokens')} main=4051e9."
                )
            yield name.strip(), value.strip()


#: Most tokens an imported count may give (2**53, the largest count a float holds exactly;
#: far beyond any training run): a larger one is a unit error.
MAX_TOKENS = float(2**53)

_LOCALE_DECIMAL = re.compile(r"^\s*[+-]?\d+,\d+\s*$")


def _where(df: pd.DataFrame, i) -> str:
    """``line N`` of a CSV row, or the file an lm-eval row came from."""
    if "line" in df.columns:
        return f"line {int(df.at[i, 'line'])}"
    if "source_file" in df.columns:
        return f"file {Path(str(df.at[i, 'source_file'])).name!r}"
    return f"row {i}"


def numeric_column(df: pd.DataFrame, col: str, source: str) -> pd.Series:
    """Column ``col`` as numbers (blank cells missing), never coerced without a word: a boolean,
    a locale decimal (``0,9``) or any other text is an error naming its line and the fix.

    >>> numeric_column(pd.DataFrame({"score": ["0.5", None], "line": [2, 3]}), "score", "f.csv")
    0    0.5
    1    NaN
    Name: score, dtype: float64
    """
    values = df[col]
    out = []
    for i, v in values.items():
        if isinstance(v, bool | np.bool_):
            raise ConfigError(
                f"{source!r} {_where(df, i)}: {col} is {v}, a boolean, not a number; write the "
                f"{col} as a number (e.g. 1.0 or 0.0)."
            )
        if v is None or (isinstance(v, float) and math.isnan(v)):
            out.append(math.nan)
            continue
        if isinstance(v, int | float | np.integer | np.floating):
            out.append(float(v))
            continue
        text = str(v).strip()
        if text.lower() in ("", "nan", "na", "n/a", "null", "none"):
            out.append(math.nan)
            continue
        if _LOCALE_DECIMAL.match(text):
            raise ConfigError(
                f"{source!r} {_where(df, i)}: {col} {text!r} has a decimal comma; write "
                f"{text.replace(',', '.')!r} (a dot as the decimal separator)."
            )
        try:
            out.append(float(text))
        except ValueError:
            raise ConfigError(
                f"{source!r} {_where(df, i)}: {col} {text!r} is not a number; fix that cell "
                f"(a {col} is a number, blank when missing)."
            ) from None
    return pd.Series(out, index=values.index, dtype=float, name=col)


def _cell(v) -> str:
    """A cell as the file shows it: ``1e+30``, ``-5``, ``'abc'`` (never ``np.float64(...)``)."""
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool):
        return f"{float(v):g}"
    return repr(v)


def check_imported(df: pd.DataFrame, source: str) -> None:
    """Refuse imported values that would be read wrong: token counts that are not
    non-negative integers (or beyond :data:`MAX_TOKENS`), steps that are not integers >= 0, and
    scores outside [0, 1] (a 0-100 scale is recognised and the fix named). Missing scores stay
    missing; each error names the line (CSV) or file (lm-eval).

    >>> check_imported(pd.DataFrame({"tokens": [0.0, 2e9], "score": [0.1, 0.9]}), "f.csv")
    """
    tokens = pd.to_numeric(df["tokens"], errors="coerce")
    for i, t in tokens.items():
        if not math.isfinite(t) or t < 0 or t > MAX_TOKENS or abs(t - round(t)) > 1e-6 * max(t, 1):
            why = (
                "beyond 2**53 (check the unit: tokens, not tokens_b)"
                if math.isfinite(t) and t > MAX_TOKENS
                else "not a non-negative integer"
            )
            raise ConfigError(
                f"{source!r} {_where(df, i)}: token count {_cell(df.at[i, 'tokens'])} is {why}; "
                "give the tokens seen at the checkpoint as a whole number >= 0."
            )
    if "step" in df.columns:
        steps = pd.to_numeric(df["step"], errors="coerce")
        for i, k in steps.items():
            if math.isnan(k):
                continue
            if k != round(k) or k < -1 or k > MAX_TOKENS:
                raise ConfigError(
                    f"{source!r} {_where(df, i)}: step {_cell(df.at[i, 'step'])} is not an integer "
                    ">= 0; fix the step, or leave it blank."
                )
    scores = pd.to_numeric(df["score"], errors="coerce")
    finite = scores[np.isfinite(scores)]
    bad = finite[(finite < 0) | (finite > 1)]
    if len(bad):
        i = bad.index[0]
        if (finite >= 0).all() and (finite <= 100).all() and (finite > 1).any():
            raise ConfigError(
                f"{source!r} holds scores up to {finite.max():g} (first above 1 at "
                f"{_where(df, i)}): a 0-100 (percent) scale. Scores are fractions in [0, 1]; "
                "divide the score column by 100 and import again."
            )
        raise ConfigError(
            f"{source!r} {_where(df, i)}: score {bad.iloc[0]:g} is outside [0, 1]; scores are "
            "accuracies, fractions between 0 and 1."
        )
    if "task" in df.columns:
        for i, task in df["task"].items():
            if isinstance(task, str) and any(c in task for c in "\r\n\t"):
                raise ConfigError(
                    f"{source!r} {_where(df, i)}: task name {task!r} holds a line break or tab, "
                    "which would break the report's tables; rename the task."
                )


def finish(
    df: pd.DataFrame,
    *,
    source: str,
    keep_names: bool = True,
    duplicates: str | None = None,
    full: bool = False,
) -> pd.DataFrame:
    """Normalise names, merge or reject duplicates, and sort (``full``: keep kind/layer/n)."""
    df = df.assign(model=df["model"].astype(str), task=df["task"].astype(str))
    if not keep_names:
        df["task"] = df["task"].str.replace(":", "_", regex=False)
    key = ["model", "tokens", "task"] + (["kind", "layer"] if full else [])
    df = merge_duplicates(df, key, source, duplicates)
    df["step"] = df["step"].fillna(-1).astype(int)
    cols = list(LONG_COLUMNS) + (["kind", "layer", "n"] if full else [])
    out = df[cols].sort_values(["model", "tokens", "task"], kind="stable")
    return out.reset_index(drop=True)


def merge_duplicates(df: pd.DataFrame, key: list[str], source: str, how: str | None):
    """One row per ``key``: identical repeats collapse; differing ones need ``how``."""
    if how is not None and how not in DUPLICATES:
        raise ConfigError(f"duplicates={how!r}; expected one of {DUPLICATES} or None.")
    dup = df.duplicated(key, keep=False)
    if not dup.any():
        return df
    groups = [g for _, g in df[dup].groupby(key, sort=False)]
    differing = [g for g in groups if g["score"].nunique(dropna=False) > 1]
    if not differing:
        return df.drop_duplicates(key, keep="first")
    if how is None:
        g = differing[0]
        first = g.iloc[0]
        where = " and ".join(
            f"{r.checkpoint!r} = {r.score:g} ({_origin(r)})" for r in g.head(3).itertuples()
        )
        raise ConfigError(
            f"{source!r} holds more than one score per (model, tokens, task) in "
            f"{len(differing)} place(s), e.g. {first.model} / {first.task} at {first.tokens:g} "
            f"tokens: {where}. A released checkpoint (such as 'main') given the token count of "
            "the last training checkpoint does this; so do two settings of one model in one "
            f"folder. Choose which score to keep with {flag('duplicates')} first|last|mean "
            f"(Python: duplicates='last'), give a revision its own count with "
            f"{flag('revision_tokens')} main=TOKENS, or point the importer at one model/setting "
            "folder."
        )
    if how in ("first", "last"):
        return df.drop_duplicates(key, keep=how)
    agg = {c: "first" for c in df.columns if c not in key}
    agg |= {"score": "mean", "checkpoint": lambda c: "+".join(dict.fromkeys(map(str, c)))}
    if "n" in df.columns:
        agg["n"] = "min"
    return df.groupby(key, sort=False, as_index=False, dropna=False).agg(agg)


def _origin(r) -> str:
    line = getattr(r, "line", None)
    src = Path(str(getattr(r, "source_file", ""))).name
    return f"{src} line {line}" if line is not None else src
