"""Measure a model inside your own training loop: ``Tracker`` and the ``transformers.Trainer``
callback that drives it. Both evaluate in-process on a detached copy, with no checkpoint files.
"""

from __future__ import annotations

import copy
import gc
import time
from collections.abc import Sequence
from dataclasses import replace
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
    neither, the default: a time budget. The tracker then measures at the first step it sees
    (the init level every emergence criterion starts from) and afterwards whenever one more
    measurement, at the cost of the last one, keeps all its measuring within ``budget``
    (default 0.05) of the loop's own time so far. So measuring adds at most about 5% to a run,
    the first measurement included, once the run is longer than that measurement's cost /
    budget (21 toy skills x 300 examples: about 3 s, so a one-minute run; a shorter run pays
    the first measurement alone). ``benchmarks/bench_tracker.py`` measures it on the toy model.
    The steps it measured are the rows' checkpoints.
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
        # adaptive mode: when the first step was offered, seconds spent measuring, last cost
        self._started: float | None = None
        self._spent = 0.0
        self._last_cost = 0.0
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
            now = time.perf_counter()
            if self._started is None:
                self._started = now
            training = now - self._started - self._spent  # the loop's own time so far
            due = not self.measured_steps or (
                self.budget * training >= self._spent + self._last_cost
            )
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
        self._last_cost = t1 - t0
        self._spent += t1 - t0
        if not self.measured_steps and not self.config.threads:
            self._record_threads()
        self.measured_steps.append(step)
        return True

    __call__ = step

    def _record_threads(self) -> None:
        """With ``threads=0`` the tracker measures at the training loop's torch threads (and
        fits probes on as many workers): the count of its first measurement, in the run's
        metadata, since the thread count moves the last digits of probe scores."""
        import torch

        from curriculens.pipeline.overlap import thread_plan

        live = replace(self.config, threads=torch.get_num_threads(), overlap=False)
        meta = self.store.get_meta(f"run:{self.run}") or {}
        meta["threads"] = thread_plan(live)  # probes fitted in the loop, on as many workers
        meta["threads_chosen"] = "the training loop's (threads=0)"
        self.store.set_meta(f"run:{self.run}", meta)

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
