"""Live measurement: the Tracker inside the built-in trainer and a transformers.Trainer."""

from __future__ import annotations

import pytest
import torch

from curriculens.checkpoints import CheckpointSeries, fingerprint
from curriculens.errors import ConfigError
from curriculens.pipeline.run import SweepConfig
from curriculens.pipeline.tracker import Tracker
from curriculens.store import Store
from curriculens.toy.corpus import build_toy_tokenizer
from curriculens.toy.trainer import TrainConfig, build_model, train

torch.set_num_threads(1)
CFG = SweepConfig(skills=("add2",), n_examples=40)  # a probed skill (add1 is behavior only)
# threads pinned: an auto choice (timed trial steps) can differ between the two runs compared
TINY = dict(n_layers=2, d_model=32, n_heads=2, d_mlp=64, batch_size=4, seq_len=16, threads=1)


def _rows(out):
    with Store(out, readonly=True) as s:
        return s.rows()


def test_tracker_in_builtin_trainer_does_not_perturb_training(tmp_path):
    tc = TrainConfig(steps=6, n_checkpoints=3, **TINY)
    tracker = Tracker(tmp_path / "live", build_toy_tokenizer(), config=CFG, every=1, run="live")
    final = {}

    def keep(model, *, step, tokens):
        final["fp"] = fingerprint(model)

    with_tracker = train(tc, tmp_path / "train", callbacks=[tracker, keep], progress=False)
    tracker.close()
    fp_with = final["fp"]
    without = train(tc, None, callbacks=[keep], progress=False)
    assert with_tracker["loss_curve"] == without["loss_curve"]
    assert final["fp"] == fp_with  # measuring never changes the weights being trained
    rows = _rows(tmp_path / "live")
    assert sorted({(r["step"], r["tokens"]) for r in rows}) == [
        (s, s * tc.tokens_per_step) for s in tc.schedule()
    ]
    assert {r["checkpoint"] for r in rows} == {f"step{s}" for s in tc.schedule()}
    # live fingerprints are those of the checkpoints the trainer saved at the same steps
    saved = CheckpointSeries.from_dir(tmp_path / "train" / "checkpoints")
    live = {r["checkpoint"]: r["fingerprint"] for r in rows}
    assert dict(zip([c.label for c in saved], saved.fingerprints(), strict=True)) == live


def test_tracker_schedule_and_every(tmp_path):
    tok = build_toy_tokenizer()
    model = build_model(TrainConfig(**TINY), len(tok))
    tracker = Tracker(tmp_path, tok, config=CFG, every=10, schedule=[3], run="r")
    due = [s for s in range(12) if tracker.step(model, step=s, tokens=s)]
    tracker.close()
    assert due == [0, 3, 10]
    with pytest.raises(ConfigError, match="every"):
        Tracker(tmp_path / "x", tok, config=CFG, every=0)


def test_transformers_trainer_callback(tmp_path):
    from transformers import Trainer, TrainingArguments

    from curriculens.pipeline.tracker import CurriculensCallback

    tok = build_toy_tokenizer()
    model = build_model(TrainConfig(**TINY), len(tok))
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, len(tok), (16, 16), generator=g)
    data = [{"input_ids": x, "labels": x} for x in ids]
    tracker = Tracker(tmp_path / "live", tok, config=CFG, every=2, run="hf")
    cb = CurriculensCallback(tracker, tokens_per_step=4 * 16, close_on_end=True)
    args = TrainingArguments(
        output_dir=str(tmp_path / "hf"),
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        logging_strategy="no",
        dataloader_num_workers=0,
    )
    Trainer(model=model, args=args, train_dataset=data, callbacks=[cb]).train()
    assert cb.measured == [2, 4]
    assert tracker.store.conn is not None
    rows = _rows(tmp_path / "live")
    assert sorted({(r["step"], r["tokens"]) for r in rows}) == [(2, 128), (4, 256)]
    assert {r["kind"] for r in rows} == {"behavior", "probe", "control", "baseline"}
    assert not (tmp_path / "live" / "results.lock").exists()  # closed at train end
    with pytest.raises(ConfigError, match="tokens_per_step"):
        CurriculensCallback(tracker, tokens_per_step=0)


def test_tracker_default_cadence_is_a_time_budget(tmp_path, monkeypatch):
    """Neither every nor schedule: measure at the first step, then whenever one more
    measurement (at the last one's cost) keeps all measuring within the budget of the loop's own
    time so far, the first measurement included (a fake clock makes it exact)."""
    import curriculens.pipeline.tracker as tracker_mod

    clock = {"t": 0.0}
    monkeypatch.setattr(tracker_mod.time, "perf_counter", lambda: clock["t"])
    tok = build_toy_tokenizer()
    model = build_model(TrainConfig(**TINY), len(tok))
    tracker = Tracker(tmp_path, tok, config=CFG, budget=0.5, run="r")
    real_eval = tracker_mod.evaluate_model

    def timed_eval(*a, **k):  # each measurement "costs" 1 s on the fake clock
        clock["t"] += 1.0
        return real_eval(*a, **k)

    monkeypatch.setattr(tracker_mod, "evaluate_model", timed_eval)
    due = []
    for step in range(14):  # each training step "costs" 0.5 s
        if tracker.step(model, step=step, tokens=step):
            due.append(step)
        clock["t"] += 0.5
    tracker.close()
    # step 0 measures (1 s). A second is due once 0.5 x training >= 1 + 1: training 4 s, the
    # 8 steps 0..7, so step 8 (t = 5.0). A third once 0.5 x training >= 2 + 1: training 6 s,
    # step 12 (t = 8.0: 8 - 2 s measuring).
    assert due == [0, 8, 12] and tracker.measured_steps == [0, 8, 12]
    assert 0.5 * (clock["t"] - 3.0) >= 3.0  # 3 s measuring within 0.5 x the loop's 7 s
    with Store(tmp_path, readonly=True) as s:  # measured at the loop's threads: recorded
        meta = s.get_meta("run:r")
    assert meta["threads"]["torch"] == torch.get_num_threads() == 1
    for bad in (0, 1.5, True, "5%"):
        with pytest.raises(ConfigError, match="budget"):
            Tracker(tmp_path / f"x{bad}", tok, config=CFG, budget=bad)
