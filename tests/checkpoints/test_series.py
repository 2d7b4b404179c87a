"""Checkpoint series: local folders, state-dict files, hub revisions, selection, fingerprints."""

from __future__ import annotations

import json

import pytest

from curriculens.checkpoints import (
    PYTHIA_TOKENS_PER_STEP,
    BadCheckpointWarning,
    CheckpointSeries,
    fingerprint,
)
from curriculens.errors import CheckpointError, ConfigError


def test_from_dir_hf_folders(tmp_path, hf_dir):
    series = CheckpointSeries.from_dir(hf_dir(tmp_path), tokens_per_step=10)
    assert [c.step for c in series] == [0, 1, 2]
    assert list(series.tokens()) == [0, 10, 20]
    fps = series.fingerprints()
    assert all(fps) and len(set(fps)) == 3
    model, _ = series[1].load()
    assert fingerprint(model) == fps[1]


def test_from_dir_state_dicts(tmp_path, tok, tiny_model, state_dict_dir):
    series = CheckpointSeries.from_dir(state_dict_dir(tmp_path), tokens_per_step=100)
    assert [c.label for c in series] == ["model_0", "step1", "ckpt_2"]
    assert all(c.source == "state_dict" for c in series)
    model, tokenizer = series[1].load()
    ref = tiny_model(1)
    assert series[1].fingerprint is None  # nothing loads until asked
    assert fingerprint(model) == fingerprint(ref) == series.fingerprints()[1]
    assert len(tokenizer) == len(tok)


def test_from_dir_loads_nothing_and_fingerprints_once(tmp_path, monkeypatch, hf_dir):
    import curriculens.checkpoints.series as series_mod

    root = hf_dir(tmp_path, seeds=(0, 1, 1))
    loads = []
    real = series_mod._fingerprint_checkpoint
    monkeypatch.setattr(
        series_mod, "_fingerprint_checkpoint", lambda c: loads.append(c.label) or real(c)
    )
    series = CheckpointSeries.from_dir(root, tokens_per_step=1)
    assert loads == [] and series.meta["duplicates"] == []
    fps = series.fingerprints()
    assert fps[1] == fps[2] and fps[0] != fps[1]  # duplicates are found when loaded
    assert series.fingerprints() == fps and loads == ["step0", "step1", "step2"]  # once
    assert series[1:].fingerprints() == fps[1:] and len(loads) == 3  # slices share them


def test_truncated_weights_fail_before_anything_loads(tmp_path, hf_dir):
    root = hf_dir(tmp_path, seeds=(0, 1))
    f = root / "step1" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"'step1'.*truncated"):
        CheckpointSeries.from_dir(root, tokens_per_step=1)
    with pytest.warns(BadCheckpointWarning, match="step1"):
        kept = CheckpointSeries.from_dir(root, tokens_per_step=1, skip_bad=True)
    assert [c.label for c in kept] == ["step0"] and kept.meta["skipped"][0]["label"] == "step1"


def test_empty_and_missing_dirs(tmp_path):
    with pytest.raises(CheckpointError, match="is empty"):
        CheckpointSeries.from_dir(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        CheckpointSeries.from_dir(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match="holds no checkpoints"):
        CheckpointSeries.from_dir(tmp_path)


def test_from_hub_names_and_tokens():
    s = CheckpointSeries.from_hub("EleutherAI/pythia-160m", steps=[512, 0])
    assert [c.revision for c in s] == ["step0", "step512"]
    assert s[1].tokens == 512 * PYTHIA_TOKENS_PER_STEP
    o = CheckpointSeries.from_hub(
        "allenai/OLMo-1B-hf", revisions=["stage1-step2000-tokens9B", "stage1-step1000-tokens4B"]
    )
    assert [(c.step, c.tokens) for c in o] == [(1000, 4 * 10**9), (2000, 9 * 10**9)]
    with pytest.raises(CheckpointError, match="tokens_per_step"):
        CheckpointSeries.from_hub("someone/model", revisions=["step5"])
    with pytest.raises(ConfigError, match="both"):
        CheckpointSeries.from_hub("x/y", revisions=["step1"], steps=[1])


def test_from_hub_loads_local_folder_offline(tmp_path, tok, tiny_model, offline):
    tiny_model(3).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    s = CheckpointSeries.from_hub(str(tmp_path), revisions=["step0"], tokens_per_step=8)
    assert s[0].source == "hub" and s[0].fingerprint is None
    model, tokenizer = s[0].load()
    assert fingerprint(model) == fingerprint(tiny_model(3))
    assert tokenizer("the dogs run")["input_ids"] == tok("the dogs run")["input_ids"]


def test_trainer_marker_file_wins(tmp_path, hf_dir):
    root = hf_dir(tmp_path, seeds=(0,))
    (root / "step0" / "curriculens_checkpoint.json").write_text(
        json.dumps({"step": 4, "tokens": 44})
    )
    s = CheckpointSeries.from_dir(root)
    assert (s[0].step, s[0].tokens) == (4, 44)


def test_select_and_slices_choose_checkpoints_without_loading():
    s = CheckpointSeries.from_hub("EleutherAI/pythia-160m")  # the known schedule, no network
    assert len(s) == 154 and s.steps()[:4] == [0, 1, 2, 4] and s[-1].step == 143_000
    assert s.select(steps=[0, 1000]).steps() == [0, 1000]
    assert s.select(every=50_000).steps() == [0, 50_000, 100_000]
    assert s.select(every=1000, max_checkpoints=3).steps() == [0, 72_000, 143_000]
    assert isinstance(s[10:12], CheckpointSeries) and s[10:12].steps() == [512, 1000]
    with pytest.raises(CheckpointError, match=r"no checkpoint at step\(s\) \[3\]"):
        s.select(steps=[3])
    with pytest.raises(ConfigError, match="every=0"):
        s.select(every=0)


def test_from_dir_loads_only_the_selected_steps(tmp_path, monkeypatch, hf_dir):
    import curriculens.checkpoints.series as series_mod

    root = hf_dir(tmp_path, seeds=(0, 1, 2))
    loaded = []
    real = series_mod._fingerprint_checkpoint
    monkeypatch.setattr(
        series_mod, "_fingerprint_checkpoint", lambda c: loaded.append(c.label) or real(c)
    )
    s = CheckpointSeries.from_dir(root, steps=[0, 2], tokens_per_step=8)
    assert s.steps() == [0, 2] and loaded == []
    s.fingerprints()
    assert loaded == ["step0", "step2"]
