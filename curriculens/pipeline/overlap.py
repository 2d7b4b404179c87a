"""The sweep's scoring worker: probe fits and row building on a thread, overlapped with the next
checkpoint's forward passes.

A checkpoint's forwards leave small per-skill captures (activations at the read positions,
per-token log-probabilities); what remains, the probe fits and the rows, needs neither the
model nor the tokenizer. The sweep hands that remainder to :class:`ScoringWorker`, frees the
model and loads the next checkpoint while the worker fits. Finished units are written to the
store by the calling thread (a SQLite connection belongs to the thread that opened it), after
each checkpoint's forwards and at the end.

Memory stays flat: at most one checkpoint is being scored and ``pending`` (default 1) more wait,
and neither holds a model. An error on the worker is raised in the calling thread, naming the
checkpoint, after every unit finished before it has been written.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Units = list[tuple[str, list[Any]]]
#: ``write(label, key, units)``: store one checkpoint's finished units.
Writer = Callable[[str, str, Units], None]


@dataclass
class _Job:
    label: str
    key: str
    score: Callable[[], Units]


class ScoringWorker:
    """Run each checkpoint's scoring on one worker thread (``enabled``) or at once (not).

    Use it as a context manager; :meth:`submit` a checkpoint's scoring function after its
    forwards, :meth:`flush` to write what has finished, and leave the block to wait for the
    rest. Leaving on an error still writes every unit that finished.

    >>> written = []
    >>> with ScoringWorker(lambda label, key, units: written.append((label, units))) as w:
    ...     w.submit("step1", "fp1", lambda: [("unit", [1, 2])])
    >>> written
    [('step1', [('unit', [1, 2])])]
    """

    def __init__(
        self, write: Writer, *, enabled: bool = True, pending: int = 1, worker_kwargs=None
    ):
        self.write = write
        self.enabled = enabled
        self.worker_kwargs = dict(worker_kwargs or {})  # passed to each score on the worker
        self._jobs: queue.Queue[_Job | None] = queue.Queue(maxsize=max(1, pending))
        self._done: queue.Queue[tuple[_Job, Units | None, BaseException | None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: tuple[str, BaseException] | None = None

    def __enter__(self) -> ScoringWorker:
        if self.enabled:
            self._thread = threading.Thread(target=self._loop, name="curriculens-scoring")
            self._thread.daemon = True
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(raise_errors=exc is None)

    def submit(self, label: str, key: str, score: Callable[[], Units]) -> None:
        """Score checkpoint ``label`` (store key ``key``): on the worker, waiting while
        ``pending`` others already wait, or here and now when the worker is off."""
        if not self.enabled:
            self.write(label, key, score())
            return
        self.flush()
        job = _Job(label, key, score)
        while True:  # wait for a free slot, but never past a worker that has stopped
            try:
                self._jobs.put(job, timeout=0.5)
                break
            except queue.Full:
                self.flush()
        self.flush()

    def flush(self) -> None:
        """Write every unit finished so far; raise the worker's error, if any, once written."""
        while True:
            try:
                job, units, err = self._done.get_nowait()
            except queue.Empty:
                break
            if err is not None:
                if self._error is None:
                    self._error = (job.label, err)
                continue
            self.write(job.label, job.key, units or [])
        if self._error is not None:
            label, err = self._error
            raise _named(label, err)

    def close(self, *, raise_errors: bool = True) -> None:
        """Wait for every submitted checkpoint, write its units and stop the worker."""
        if self._thread is not None:
            while self._thread.is_alive():
                try:
                    self._jobs.put(None, timeout=0.5)
                    break
                except queue.Full:
                    self._write_finished()
            self._thread.join()
            self._thread = None
        if raise_errors:
            self.flush()
        else:
            self._write_finished()

    def _write_finished(self) -> None:
        with contextlib.suppress(Exception):  # an error is already on its way out; keep writing
            self.flush()

    def _loop(self) -> None:
        failed = False
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if failed:  # after an error nothing more is scored; the caller raises it
                continue
            try:
                self._done.put((job, job.score(**self.worker_kwargs), None))
            except BaseException as e:  # noqa: BLE001 - handed to the calling thread
                failed = True
                self._done.put((job, None, e))


def thread_plan(config) -> dict:
    """How a sweep with ``config`` uses threads (recorded in the run's metadata).

    ``torch``: torch's intra-op threads (``config.threads``; process-wide, so the forwards and a
    probe fit running at the same time share them). ``probe_workers``: the probe engine's worker
    threads (on the scoring worker: 1, since the engine's own pool would set torch's count for
    the whole process). ``overlap``: whether probes run on the scoring worker.

    >>> from curriculens.pipeline.config import SweepConfig
    >>> thread_plan(SweepConfig(skills=("facts",), threads=2))
    {'torch': 2, 'probe_workers': 1, 'overlap': True}
    """
    cpu = str(config.device).split(":")[0] == "cpu"
    workers = 1 if config.overlap or not cpu else config.threads
    return {"torch": config.threads, "probe_workers": workers, "overlap": config.overlap}


def scoring_worker(store, run: str, config) -> ScoringWorker:
    """The sweep's worker: writes each unit with ``store.write_unit`` under ``run``; on a thread
    when ``config.overlap``, its probe fits on one engine worker thread (:func:`thread_plan`)."""

    from curriculens.pipeline.record import write_units

    def write(label: str, key: str, units: Units) -> None:
        write_units(store, run, key, label, units)

    jobs = thread_plan(config)["probe_workers"]
    return ScoringWorker(write, enabled=config.overlap, worker_kwargs={"n_jobs": jobs})


def _named(label: str, err: BaseException) -> BaseException:
    """``err`` with the checkpoint named: in the message of a curriculens error (so the CLI
    shows it), as a note on any other."""
    from curriculens.errors import CurriculensError

    where = f"while scoring checkpoint {label!r} (probe fits and rows, on the scoring worker)"
    if isinstance(err, CurriculensError) and len(err.args) == 1 and isinstance(err.args[0], str):
        err.args = (f"{err.args[0]} [{where}; every unit finished before it is stored]",)
    else:
        err.add_note(where)
    return err
