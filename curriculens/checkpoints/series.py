"""Checkpoint series: an ordered list of checkpoints (label, step, tokens seen, weight fingerprint).

A series comes from one of three sources: a directory of Hugging Face checkpoint folders
(``save_pretrained``, e.g. the built-in trainer's ``checkpoints/``), a directory of state-dict files
beside one ``config.json`` and tokenizer (``model_{step}.pt``, ``step{N}.safetensors``,
``ckpt_{N}.pt``), or revisions of a Hugging Face Hub repository (Pythia ``step{N}``, OLMo
``stage1-step{N}-tokens{M}B``). Identical weights under two labels are reported as duplicates
and measured once; a folder that looks like a checkpoint but cannot be measured is an error, or a
listed skip with ``skip_bad=True``.
"""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from curriculens.checkpoints.checkpoint import Checkpoint
from curriculens.checkpoints.names import (
    PYTHIA_TOKENS_PER_STEP,
    final_step,
    is_pythia,
    known_steps,
    list_step_revisions,
    parse_step,
    parse_tokens,
)
from curriculens.checkpoints.weights import (
    check_readable,
    fingerprint,
)
from curriculens.errors import CheckpointError, ConfigError, CurriculensWarning
from curriculens.params import flag

_WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


class DuplicateCheckpointWarning(CurriculensWarning):
    """Two checkpoint labels hold identical weights (same fingerprint)."""


class BadCheckpointWarning(CurriculensWarning):
    """Checkpoints that cannot be measured were skipped (``skip_bad=True``)."""


@dataclass(frozen=True)
class CheckpointSeries:
    """An ordered series of checkpoints, sorted by step.

    Attributes:
        checkpoints: The checkpoints, by step.
        source: Where they came from (directory or repo id).
        meta: Free-form details (e.g. dropped duplicates).
        dedupe: Whether a sweep measures identical weights once (see ``from_dir``).

    >>> series = CheckpointSeries.from_dir("runs/demo/checkpoints")  # doctest: +SKIP
    >>> [c.step for c in series][:3]  # doctest: +SKIP
    [0, 1, 2]
    """

    checkpoints: tuple[Checkpoint, ...]
    source: str = ""
    meta: dict = field(default_factory=dict, compare=False)
    dedupe: bool = True

    def __iter__(self) -> Iterator[Checkpoint]:
        return iter(self.checkpoints)

    def __len__(self) -> int:
        return len(self.checkpoints)

    def __getitem__(self, i: int | slice) -> Checkpoint | CheckpointSeries:
        """One checkpoint, or (for a slice) a series of those checkpoints.

        >>> s = CheckpointSeries(tuple(Checkpoint(label=f"step{i}", step=i, tokens=i)
        ...                            for i in range(5)))
        >>> [c.step for c in s[::2]]
        [0, 2, 4]
        """
        if isinstance(i, slice):
            return replace(self, checkpoints=self.checkpoints[i], meta=dict(self.meta))
        return self.checkpoints[i]

    def steps(self) -> list[int]:
        return [c.step for c in self.checkpoints]

    def select(
        self,
        *,
        steps: Sequence[int] | None = None,
        every: int | None = None,
        max_checkpoints: int | None = None,
    ) -> CheckpointSeries:
        """The checkpoints to sweep, applied in order: exactly ``steps``, then those whose step is
        a multiple of ``every``, then at most ``max_checkpoints`` evenly spaced ones (the first
        and last always kept). Nothing is loaded.

        Raises:
            CheckpointError: A step is not in the series (the message lists the available ones).
            ConfigError: ``every`` or ``max_checkpoints`` is not a positive int.

        >>> s = CheckpointSeries(tuple(Checkpoint(label=f"step{i}", step=i, tokens=i)
        ...                            for i in range(0, 100, 10)))
        >>> s.select(steps=[0, 50]).steps(), s.select(every=30).steps()
        ([0, 50], [0, 30, 60, 90])
        >>> s.select(max_checkpoints=3).steps()
        [0, 40, 90]
        """
        kept = list(self.checkpoints)
        if steps is not None:
            bad = [x for x in steps if isinstance(x, bool) or not isinstance(x, int | np.integer)]
            if bad or any(x < 0 for x in steps):
                raise ConfigError(f"select(steps={list(steps)!r}): steps are ints >= 0.")
            have = {c.step for c in kept}
            missing = sorted(set(steps) - have)
            if missing:
                raise CheckpointError(
                    f"{self.source or 'The series'} has no checkpoint at step(s) {missing}; "
                    f"its steps are {_short_list(sorted(have))}."
                )
            want = set(steps)
            kept = [c for c in kept if c.step in want]
        for name, v in (("every", every), ("max_checkpoints", max_checkpoints)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ConfigError(f"select({name}={v!r}): expected an int >= 1.")
        if every is not None:
            kept = [c for c in kept if c.step % every == 0]
            if not kept:
                raise CheckpointError(
                    f"No checkpoint of {self.source or 'the series'} has a step that is a "
                    f"multiple of {every}; its steps are {_short_list(self.steps())}."
                )
        if max_checkpoints is not None and len(kept) > max_checkpoints:
            if max_checkpoints == 1:
                kept = kept[-1:]
            else:
                idx = np.unique(np.round(np.linspace(0, len(kept) - 1, max_checkpoints)))
                kept = [kept[int(i)] for i in idx]
        return replace(self, checkpoints=tuple(kept), meta=dict(self.meta))

    def tokens(self) -> np.ndarray:
        return np.array([c.tokens for c in self.checkpoints])

    def fingerprints(self) -> list[str]:
        """Each checkpoint's weight fingerprint; one not yet known is loaded to compute it (with
        a progress bar), once: a sweep of this series then reuses it."""
        known = self.meta.setdefault("fingerprints", {})
        todo = [c for c in self.checkpoints if self.known_fingerprint(c) is None]
        for c in _loading_bar(todo, desc=f"fingerprinting {Path(self.source).name}"):
            known[c.label] = _fingerprint_checkpoint(c)
        return [self.known_fingerprint(c) for c in self.checkpoints]

    def known_fingerprint(self, c: Checkpoint) -> str | None:
        """``c``'s fingerprint if known (given, or computed by an earlier load), else None."""
        return c.fingerprint or self.meta.get("fingerprints", {}).get(c.label)

    def remember(self, c: Checkpoint, fp: str) -> None:
        """Record the fingerprint a load of ``c`` computed, so nothing loads it again for it."""
        self.meta.setdefault("fingerprints", {})[c.label] = fp

    @classmethod
    def from_dir(
        cls,
        path: str | Path,
        *,
        tokens_per_step: int | None = None,
        dedupe: bool = True,
        skip_bad: bool = False,
        steps: Sequence[int] | None = None,
        every: int | None = None,
        max_checkpoints: int | None = None,
        trust_remote_code: bool = False,
    ) -> CheckpointSeries:
        """Read a local series: checkpoint folders, or state-dict files beside one config.

        Two layouts are recognised:

        * sub-folders written by ``save_pretrained`` (``step0/``, ``checkpoint-512/``), each with
          ``config.json``, weights and tokenizer. The step comes from
          ``curriculens_checkpoint.json`` (written by the built-in trainer) or the folder name.
        * ``config.json`` and tokenizer files in ``path`` itself, beside state-dict files named
          ``model_{step}.pt``, ``step{N}.safetensors`` or ``ckpt_{N}.pt``.

        Nothing is loaded here: each checkpoint's files are checked cheaply (a config, a
        tokenizer, weights whose header reads), and the model loads when it is swept, once,
        fingerprinted from that load. Identical weights under two labels are then reported
        with a :class:`DuplicateCheckpointWarning` naming both, and the later label is not
        measured unless ``dedupe=False``.

        Args:
            path: The directory.
            tokens_per_step: Tokens per optimizer step, for checkpoints that do not record
                tokens seen.
            dedupe: Drop later checkpoints whose weights repeat an earlier one.
            skip_bad: Skip checkpoints that cannot be measured (a folder with weights but no
                config.json, unreadable or mismatched weights) instead of raising; each one
                is listed in ``series.meta["skipped"]`` and in a warning.
            steps, every, max_checkpoints: Keep only these checkpoints (:meth:`select`),
                chosen before any is loaded.
            trust_remote_code: Let a checkpoint whose config or tokenizer names its own Python
                code (``auto_map``) run it. Off by default: such a checkpoint is refused in one
                line, and nothing ever asks on stdin.

        Raises:
            CheckpointError: The directory is missing or empty, a step cannot be read, two
                checkpoints claim one step, or a checkpoint's files cannot be read (all unless
                ``skip_bad``). Weights that do not match their config are found when the
                checkpoint loads (an error then, or a listed skip with ``skip_bad``).
        """
        root = Path(path)
        skipped: list[dict] = []
        found = _local_checkpoints(root, tokens_per_step, skipped if skip_bad else None)
        found = list(
            cls(tuple(found), source=str(root))
            .select(steps=steps, every=every, max_checkpoints=max_checkpoints)
            .checkpoints
        )
        readable = _readable(found, skipped if skip_bad else None)
        if skipped:
            warnings.warn(
                f"skipped {len(skipped)} bad checkpoint(s) (skip_bad=True): "
                + "; ".join(f"{d['label']}: {d['reason']}" for d in skipped),
                BadCheckpointWarning,
                stacklevel=2,
            )
        if not readable:
            raise CheckpointError(
                f"No checkpoint in {str(root)!r} could be read; skipped: "
                + "; ".join(f"{d['label']}: {d['reason']}" for d in skipped)
            )
        if trust_remote_code:
            readable = [replace(c, trust_remote_code=True) for c in readable]
        meta = {"duplicates": [], "skipped": skipped, "skip_bad": skip_bad}
        return cls(tuple(readable), source=str(root), meta=meta, dedupe=dedupe)

    @classmethod
    def from_hub(
        cls,
        repo_id: str,
        revisions: Sequence[str] | None = None,
        steps: Sequence[int] | None = None,
        tokens_per_step: int | None = None,
        trust_remote_code: bool = False,
        *,
        dedupe: bool = True,
    ) -> CheckpointSeries:
        """A series of revisions of a Hugging Face Hub model (loaded lazily, one at a time).

        Pythia revisions are named ``step{N}`` (``steps=[0, 512]`` builds those names) and see
        2,097,152 tokens per step; their ``main`` is step 143000. OLMo revisions
        ``stage1-step{N}-tokens{M}B`` carry their tokens; ``main`` of a family whose schedule is
        not known here is an error that asks for the final revision's name. Loading goes
        through ``AutoModelForCausalLM.from_pretrained(repo_id, revision=...)``;
        fingerprints are computed when a sweep loads each revision, and a duplicate is then
        reported and measured once.

        Args:
            repo_id: Repository id, e.g. ``"EleutherAI/pythia-160m"``.
            revisions: Revision names. Default: every step of a known schedule (Pythia's 154,
                :data:`PYTHIA_STEPS`, with no network), else every branch whose name holds a
                step (listed with ``huggingface_hub.list_repo_refs``).
            steps: Steps, turned into Pythia-style ``step{N}`` revisions.
            tokens_per_step: Tokens per step for names that do not carry tokens (default
                2,097,152 for ``EleutherAI/pythia*``).
            trust_remote_code: Allow the repository's own modelling code to run.
            dedupe: Measure identical weights once.

        >>> CheckpointSeries.from_hub("EleutherAI/pythia-160m", steps=[0, 512]).tokens().tolist()
        [0, 1073741824]
        """
        revisions = _hub_revisions(repo_id, revisions, steps)
        _check_tokens_per_step(tokens_per_step)
        if tokens_per_step is None and is_pythia(repo_id):
            tokens_per_step = PYTHIA_TOKENS_PER_STEP
        found = [
            _hub_checkpoint(repo_id, rev, tokens_per_step, trust_remote_code) for rev in revisions
        ]
        found.sort(key=lambda c: (c.step, c.tokens))
        labels = [c.label for c in found]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ConfigError(f"from_hub: revision(s) {twice} given more than once.")
        return cls(tuple(found), source=repo_id, dedupe=dedupe)

    @classmethod
    def _deduplicated(
        cls, found: list[Checkpoint], *, source: str, dedupe: bool
    ) -> CheckpointSeries:
        first: dict[str, Checkpoint] = {}
        kept, dropped = [], []
        for c in found:
            if c.fingerprint is not None and c.fingerprint in first:
                warn_duplicate(first[c.fingerprint].label, c.label, c.fingerprint, dedupe=dedupe)
                if dedupe:
                    dropped.append({"label": c.label, "same_as": first[c.fingerprint].label})
                    continue
            elif c.fingerprint is not None:
                first[c.fingerprint] = c
            kept.append(c)
        return cls(tuple(kept), source=source, meta={"duplicates": dropped}, dedupe=dedupe)


def _hub_revisions(repo_id: str, revisions, steps) -> list[str]:
    """The revisions to load: those named, those of ``steps``, or every one of the schedule."""
    if revisions is not None and steps is not None:
        raise ConfigError(
            f"from_hub got both revisions={list(revisions)!r} and steps={list(steps)!r}; "
            "give one of them."
        )
    if steps is not None:
        bad = [s for s in steps if isinstance(s, bool) or not isinstance(s, int) or s < 0]
        if bad:
            raise ConfigError(f"from_hub steps {bad!r} are not ints >= 0.")
        revisions = [f"step{s}" for s in steps]
    elif revisions is None:
        schedule = known_steps(repo_id)
        if schedule is not None:
            revisions = [f"step{s}" for s in schedule]
        else:
            revisions = list_step_revisions(repo_id)
    elif isinstance(revisions, str):
        revisions = [revisions]
    if not revisions:
        raise CheckpointError(f"from_hub({repo_id!r}): no revisions to load.")
    return list(revisions)


def _hub_checkpoint(
    repo_id: str, rev: str, tokens_per_step: int | None, trust_remote_code: bool
) -> Checkpoint:
    """The checkpoint of one hub revision: its step and tokens from its name (``main``: the
    final step of a known schedule) or from ``tokens_per_step``."""
    step = parse_step(rev)
    if rev == "main":
        step = final_step(repo_id)
    if step is None:
        raise CheckpointError(
            f"Cannot tell the step of revision {rev!r} of {repo_id!r}; expected names "
            "like 'step512' (Pythia) or 'stage1-step1000-tokens5B' (OLMo)."
        )
    tokens = parse_tokens(rev)
    if tokens is None:
        if tokens_per_step is None:
            raise CheckpointError(
                f"Revision {rev!r} of {repo_id!r} does not carry tokens seen; pass "
                "tokens_per_step= (batch size x sequence length of the run)."
            )
        tokens = step * int(tokens_per_step)
    return Checkpoint(
        label=rev,
        step=step,
        tokens=tokens,
        repo=repo_id,
        revision=rev,
        trust_remote_code=trust_remote_code,
    )


def _short_list(xs: Sequence) -> str:
    xs = list(xs)
    return str(xs) if len(xs) <= 12 else f"[{', '.join(map(str, xs[:6]))}, ..., {xs[-1]}]"


def warn_duplicate(kept: str, other: str, fp: str, *, dedupe: bool) -> None:
    """Report two labels with identical weights, loudly (a warning, printed once per pair)."""
    action = (
        f"measured once (as {kept!r}); pass dedupe=False to keep both"
        if dedupe
        else "both kept (dedupe=False)"
    )
    warnings.warn(
        f"duplicate weights: checkpoint {other!r} is identical to {kept!r} (fingerprint {fp}); "
        f"{action}.",
        DuplicateCheckpointWarning,
        stacklevel=3,
    )


def _loading_bar(items: list, *, desc: str):
    """A progress bar over checkpoints being loaded (shown on a terminal, for more than one)."""
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="ckpt", leave=False, disable=len(items) < 2 or None)


def _fingerprint_checkpoint(c: Checkpoint) -> str:
    model, _ = c.load()
    fp = fingerprint(model)
    del model
    gc.collect()
    return fp


def _local_checkpoints(
    root: Path, tokens_per_step: int | None, skipped: list[dict] | None
) -> list[Checkpoint]:
    """Every checkpoint of a local directory (either layout), by step, none loaded; one step
    claimed twice, or a directory without checkpoints, is an error."""
    if not root.is_dir():
        raise CheckpointError(
            f"Checkpoint directory {str(root)!r} does not exist or is not a directory."
        )
    _check_tokens_per_step(tokens_per_step)
    if (root / "config.json").exists():
        found = _state_dict_checkpoints(root, tokens_per_step)
    else:
        found = _folder_checkpoints(root, tokens_per_step, skipped)
    if not found:
        what = "is empty" if not any(root.iterdir()) else "holds no checkpoints"
        raise CheckpointError(
            f"Checkpoint directory {str(root)!r} {what}: expected sub-folders holding "
            "config.json (written by save_pretrained), e.g. step0/, step512/, or a "
            "config.json beside state-dict files such as model_512.pt or step512.safetensors."
        )
    found.sort(key=lambda c: c.step)
    all_steps = [c.step for c in found]
    dup = sorted({s for s in all_steps if all_steps.count(s) > 1})
    if dup:
        raise CheckpointError(
            f"Several checkpoints claim step(s) {dup} in {str(root)!r}; keep one file or "
            "folder per step."
        )
    return found


def _readable(found: list[Checkpoint], skipped: list[dict] | None) -> list[Checkpoint]:
    """The checkpoints whose files read; one that does not is an error, or a listed skip when
    ``skipped`` is given."""
    readable = []
    for c in found:
        try:
            check_readable(c)
            readable.append(c)
        except CheckpointError as e:
            if skipped is None:
                raise
            skipped.append({"label": c.label, "reason": str(e)})
    return readable


def _folder_checkpoints(
    root: Path, tokens_per_step: int | None, skipped: list[dict] | None = None
) -> list[Checkpoint]:
    """Sub-folders with config.json. One that looks like a checkpoint without it (weights or a
    curriculens_checkpoint.json inside) is an error, or a listed skip when ``skipped`` is given."""
    found, bad = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        if not (d / "config.json").exists():
            if _looks_like_checkpoint(d):
                bad.append(d)
            continue
        info = _read_info(d / "curriculens_checkpoint.json")
        step = info.get("step", parse_step(d.name))
        if step is None:
            raise CheckpointError(
                f"Cannot tell the step of checkpoint folder {d.name!r}; name it like "
                "'step512' or 'checkpoint-512'."
            )
        tokens = _tokens(d.name, int(step), info, tokens_per_step)
        found.append(Checkpoint(label=d.name, step=int(step), tokens=tokens, path=d))
    if bad and skipped is None:
        names = ", ".join(repr(str(d)) for d in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise CheckpointError(
            f"{len(bad)} checkpoint folder(s) in {str(root)!r} have no config.json: {names}. "
            "Copy the model's config.json into them (save_pretrained writes it), or pass "
            f"{flag('skip_bad')} (skip_bad=True) to sweep the others and list these as skipped."
        )
    for d in bad:
        skipped.append({"label": d.name, "reason": f"no config.json in {str(d)!r}"})
    return found


def _looks_like_checkpoint(d: Path) -> bool:
    return (d / "curriculens_checkpoint.json").exists() or any(
        f.suffix in _WEIGHT_SUFFIXES for f in d.iterdir() if f.is_file()
    )


def _read_info(path: Path) -> dict:
    """``curriculens_checkpoint.json`` (step, tokens) of a folder; {} when absent."""
    if not path.exists():
        return {}
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(
            f"{str(path)!r} is not readable JSON ({e}); it should hold "
            '{"step": N, "tokens": M}. Fix or delete it (the step then comes from the folder '
            "name)."
        ) from None
    bad = not isinstance(info, dict) or any(
        k in info and (isinstance(info[k], bool) or not isinstance(info[k], int) or info[k] < 0)
        for k in ("step", "tokens")
    )
    if bad:
        raise CheckpointError(
            f"{str(path)!r} holds {str(info)[:120]}; expected an object with int 'step' and "
            "'tokens' >= 0. Fix or delete it (the step then comes from the folder name)."
        )
    return info


def _check_tokens_per_step(tokens_per_step) -> None:
    if tokens_per_step is not None and (
        isinstance(tokens_per_step, bool)
        or not isinstance(tokens_per_step, int)
        or tokens_per_step < 1
    ):
        raise ConfigError(
            f"tokens_per_step = {tokens_per_step!r}; expected an int >= 1 (batch size x "
            "sequence length of the run)."
        )


def _state_dict_checkpoints(root: Path, tokens_per_step: int | None) -> list[Checkpoint]:
    found = []
    for f in sorted(root.iterdir()):
        if not f.is_file() or f.suffix not in _WEIGHT_SUFFIXES:
            continue
        step = parse_step(f.stem)
        if step is None:
            continue  # e.g. model.safetensors of a single save_pretrained checkpoint
        tokens = _tokens(f.name, step, {}, tokens_per_step)
        found.append(Checkpoint(label=f.stem, step=step, tokens=tokens, path=root, weights=f))
    return found


def _tokens(name: str, step: int, info: dict, tokens_per_step: int | None) -> int:
    if "tokens" in info:
        return int(info["tokens"])
    from_name = parse_tokens(name)
    if from_name is not None:
        return from_name
    if tokens_per_step is not None:
        return step * int(tokens_per_step)
    raise CheckpointError(
        f"Checkpoint {name!r} does not record tokens seen; pass tokens_per_step= "
        "(e.g. batch_size * seq_len of the run)."
    )
