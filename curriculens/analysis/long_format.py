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
