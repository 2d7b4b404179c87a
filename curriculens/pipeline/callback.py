"""Training-loop adapters: measure skills while a ``transformers.Trainer`` trains.

The adapter forwards the trainer's step to a :class:`curriculens.pipeline.run.Tracker`, which
decides whether the step is due and writes the rows; no checkpoint files are needed.
"""

from __future__ import annotations

from transformers import TrainerCallback

from curriculens.errors import ConfigError
from curriculens.pipeline.run import Tracker


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
