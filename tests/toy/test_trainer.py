import json
import os

import pytest

from curriculens.errors import ConfigError
from curriculens.toy.trainer import TrainConfig


def test_schedule_is_log_spaced_with_step0_and_last():
    s = TrainConfig(steps=2000, n_checkpoints=16).schedule()
    assert s[0] == 0 and s[-1] == 2000 and len(s) == 16
    assert s == sorted(set(s))
    gaps = [b - a for a, b in zip(s, s[1:], strict=False)]
    assert gaps[-1] > 10 * gaps[0]  # dense early, sparse late


def test_short_runs_keep_distinct_checkpoints():
    assert TrainConfig(steps=3, n_checkpoints=10).schedule() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps = 0"),
        ({"steps": -5}, "steps = -5"),
        ({"seed": -1}, "seed = -1"),
        ({"seed": 1.5}, "seed = 1.5"),
        ({"d_model": 30, "n_heads": 4}, "not divisible"),
        ({"n_checkpoints": 1}, "n_checkpoints"),
        ({"mixture": {"nope": 1.0}}, "unknown source"),
    ],
)
def test_bad_config_values_are_named(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_config_round_trips_json():
    c = TrainConfig(steps=7, mixture={"copy": 2.0, "facts": 1.0})
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c


def test_trainer_saves_the_series_and_learns(tiny_run):
    out, cfg, summary = tiny_run
    dirs = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert dirs == sorted(f"step{s}" for s in cfg.schedule())
    info = json.loads((out / "checkpoints" / "step40" / "curriculens_checkpoint.json").read_text())
    assert info == {"step": 40, "tokens": 40 * cfg.tokens_per_step, "seed": 1}
    first, last = summary["loss_curve"][0][1], summary["loss_curve"][-1][1]
    assert last < first  # it learns something in 40 steps
    assert summary["threads"] in (1, os.cpu_count())
    assert set(summary["trial_seconds_per_step"]) == {1, os.cpu_count()}


def test_callback_sees_every_scheduled_step(tmp_path):
    from curriculens.toy.trainer import train

    seen = []
    cfg = TrainConfig(
        steps=6, n_checkpoints=3, d_model=16, n_heads=2, d_mlp=32, batch_size=2, seq_len=16
    )
    train(
        cfg, None, callbacks=[lambda m, step, tokens: seen.append((step, tokens))], progress=False
    )
    assert seen == [(s, s * 32) for s in cfg.schedule()]
