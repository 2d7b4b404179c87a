"""Measure a model inside your own training loop: ``Tracker`` and the ``transformers.Trainer``
callback that drives it. Both evaluate in-process on a detached copy, with no checkpoint files.
"""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Sequence
from pathlib import Path

from transformers import TrainerCallback

from curriculens.checkpoints import fingerprint
from curriculens.errors import ConfigError
from curriculens.pipeline.config import SweepConfig, default_skills
from curriculens.pipeline.loading import young_heap
from curriculens.pipeline.plan import plan_sweep
from curriculens.pipeline.record import run_meta, snapshot_config, snapshot_skills
from curriculens.pipeline.run import evaluate_model
from curriculens.store import Store


def _detached_copy(model):
    """An eval-mode deep copy of ``model`` without its gradients (they are not copied)."""
    params = list(model.parameters())
    grads = [p.grad for p in params]
    for p in params:
        p.grad = None
    try:
        clone = copy.deepcopy(model)
    finally:
        for p, g in zip(params, grads, strict=True):
            p.grad = g
    return clone.eval().requires_grad_(False)


class Tracker:
    """Evaluate skills inside a training loop, every N steps or on a schedule, into a store.

    Call ``tracker.step(model, step=..., tokens=...)`` from any loop (or pass the tracker as a
    callback of :func:`curriculens.toy.trainer.train`). No checkpoint files are written.

    When to measure: ``every=N`` (each step divisible by N), ``schedule=[...]`` (those steps), or
    neither, the default: a time budget. The tracker then measures at the first step it sees and
    afterwards whenever the training time since its last measurement reaches that measurement's
    own cost divided by ``budget`` (default 0.05), so measuring adds about 5% to the run whatever
    the model, skills and hardware, plus the first measurement (the init level), a fixed cost
    that a short run feels: 7.6% of the toy model's one-minute run, where the whole came to
    7.3% (``benchmarks/bench_tracker.py``). The steps it measured are the rows' checkpoints.
    To fix the steps instead, choose ``every`` >= (seconds per measurement) / (budget x seconds per
    training step); ``benchmarks/bench_tracker.py`` prints both times for the toy model.

    >>> tracker = Tracker("runs/live", tokenizer, skills=["agreement"], every=100)  # doctest: +SKIP
    >>> for step in range(1000):  # doctest: +SKIP
    ...     train_step(); tracker.step(model, step=step, tokens=step * 2048)
    """

    def __init__(
        self,
        out: str | Path,
        tokenizer,
        *,
        skills: Sequence[str] | None = None,
        config: SweepConfig | None = None,
        every: int | None = None,
        schedule: Sequence[int] | None = None,
        budget: float = 0.05,
        run: str | None = None,
    ):
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise ConfigError(f"Tracker every={every!r}; expected an int >= 1 or None.")
        if isinstance(budget, bool) or not isinstance(budget, int | float) or not 0 < budget <= 1:
            raise ConfigError(
                f"Tracker budget={budget!r}; expected a fraction of training time in (0, 1], "
                "e.g. 0.05 for 5%."
            )
        self.budget = float(budget)
        self.adaptive = every is None and not schedule
        self._next_due: float | None = None  # adaptive mode: perf_counter time of the next one
        self.measured_steps: list[int] = []
        self.config = config or SweepConfig(skills=tuple(skills or default_skills(tokenizer)))
        self.tokenizer = tokenizer
        self.every, self.schedule = every, set(schedule or ())
        self.out = Path(out)
        self.run = run or self.out.resolve().name
        self.plan = plan_sweep(self.config)  # skills resolved once, for every evaluation
        self.store = Store(self.out)
        try:
            self.store.set_meta(f"run:{self.run}", run_meta(self.plan, {"series": "live"}))
            snapshot_skills(self.store, self.plan.skills)
            snapshot_config(self.store, self.config)
        except BaseException:
            self.store.close()  # never leave the lock held by a tracker that failed to start
            raise

    def step(self, model, *, step: int, tokens: int) -> bool:
        """Evaluate if ``step`` is due; returns whether it evaluated.

        The TransformerLens bridge rewires the model it wraps (module tree, state-dict keys,
        attention implementation), so the tracker measures a detached copy and the model being
        trained is left exactly as it was. The fingerprint is taken from the model itself, so it
        equals that of a checkpoint saved at the same step.
        """
        if self.adaptive:
            due = self._next_due is None or time.perf_counter() >= self._next_due
        else:
            due = step in self.schedule or (self.every is not None and step % self.every == 0)
        if not due:
            return False
        t0 = time.perf_counter()
        fp = fingerprint(model)
        with young_heap():
            clone = _detached_copy(model)
            if self.config.dtype != "float32":  # the copy is measured in the sweep's dtype
                import torch

                clone = clone.to(getattr(torch, self.config.dtype))
            evaluate_model(
                clone,
                self.tokenizer,
                self.plan,
                checkpoint=f"step{step}",
                step=step,
                tokens=tokens,
                run=self.run,
                store=self.store,
                fp=fp,
                progress=False,
            )
            del clone
            gc.collect()
        t1 = time.perf_counter()
        self._next_due = t1 + (t1 - t0) / self.budget
        self.measured_steps.append(step)
        return True

    __call__ = step

    def close(self) -> None:
        self.store.close()


class CurriculensCallback(TrainerCallback):
    """Call ``tracker.step(model, step=global_step, tokens=global_step * tokens_per_step)`` at
    the end of every optimizer step of a ``transformers.Trainer``.

    Args:
        tracker: Where and how often to measure (``every=`` / ``schedule=``).
        tokens_per_step: Training tokens per optimizer step (global batch size x sequence
            length x gradient accumulation), to place each measurement on the tokens axis.
        close_on_end: Close the tracker's store when training ends.

    >>> tracker = Tracker("runs/live", tokenizer, skills=["add1"], every=100)  # doctest: +SKIP
    >>> trainer = Trainer(model=model, args=args, train_dataset=ds,  # doctest: +SKIP
    ...                   callbacks=[CurriculensCallback(tracker, tokens_per_step=8 * 128)])
    """

    def __init__(self, tracker: Tracker, *, tokens_per_step: int, close_on_end: bool = False):
        if isinstance(tokens_per_step, bool) or not isinstance(tokens_per_step, int):
            raise ConfigError(
                f"CurriculensCallback tokens_per_step={tokens_per_step!r}; expected an int >= 1 "
                "(batch size x sequence length x gradient accumulation steps)."
            )
        if tokens_per_step < 1:
            raise ConfigError(
                f"CurriculensCallback tokens_per_step={tokens_per_step}; expected >= 1."
            )
        self.tracker = tracker
        self.tokens_per_step = tokens_per_step
        self.close_on_end = close_on_end
        self.measured: list[int] = []

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if model is None or not state.is_world_process_zero:  # one writer per store
            return control
        model = getattr(model, "module", model)  # DistributedDataParallel / DataParallel
        step = int(state.global_step)
        if self.tracker.step(model, step=step, tokens=step * self.tokens_per_step):
            self.measured.append(step)
        return control

    def on_train_end(self, args, state, control, **kwargs):
        if self.close_on_end:
            self.tracker.close()
        return control
