"""Checkpoint series: local folders, state-dict files, hub revisions, fingerprints and errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from curriculens.checkpoints import (
    PYTHIA_TOKENS_PER_STEP,
    BadCheckpointWarning,
    CheckpointSeries,
    fingerprint,
    parse_step,
    parse_tokens,
    read_state_dict,
)
from curriculens.errors import CheckpointError, ConfigError
from curriculens.toy.corpus import build_toy_tokenizer
from curriculens.toy.trainer import TrainConfig, build_model

torch.set_num_threads(1)
TINY = dict(n_layers=2, d_model=32, n_heads=2, d_mlp=64)


@pytest.fixture(scope="module")
def tok():
    return build_toy_tokenizer()


def _model(tok, seed: int, **over):
    return build_model(TrainConfig(**{**TINY, **over}, seed=seed), len(tok))


def _hf_dir(root: Path, tok, seeds=(0, 1, 2)) -> Path:
    for step, seed in enumerate(seeds):
        d = root / f"step{step}"
        _model(tok, seed).save_pretrained(d)
        tok.save_pretrained(d)
    return root


def _state_dict_dir(root: Path, tok, names=("model_0.pt", "step1.safetensors", "ckpt_2.pt")):
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    m = _model(tok, 0)
    m.config.save_pretrained(root)
    tok.save_pretrained(root)
    for seed, name in enumerate(names):
        sd = _model(tok, seed).state_dict()
        if name.endswith(".safetensors"):
            save_file({k: v.contiguous() for k, v in sd.items()}, str(root / name))
        else:
            torch.save(sd, root / name)
    return root


def test_parse_names():
    assert parse_step("stage1-step1000-tokens5B") == 1000
    assert parse_tokens("stage1-step1000-tokens5B") == 5_000_000_000
    assert parse_step("model_12") == 12
    assert parse_tokens("step12") is None


def test_from_dir_hf_folders(tmp_path, tok):
    series = CheckpointSeries.from_dir(_hf_dir(tmp_path, tok), tokens_per_step=10)
    assert [c.step for c in series] == [0, 1, 2]
    assert list(series.tokens()) == [0, 10, 20]
    fps = series.fingerprints()
    assert all(fps) and len(set(fps)) == 3
    model, _ = series[1].load()
    assert fingerprint(model) == fps[1]


def test_from_dir_state_dicts(tmp_path, tok):
    series = CheckpointSeries.from_dir(_state_dict_dir(tmp_path, tok), tokens_per_step=100)
    assert [c.label for c in series] == ["model_0", "step1", "ckpt_2"]
    assert all(c.source == "state_dict" for c in series)
    model, tokenizer = series[1].load()
    ref = _model(tok, 1)
    assert series[1].fingerprint is None  # nothing loads until asked
    assert fingerprint(model) == fingerprint(ref) == series.fingerprints()[1]
    assert len(tokenizer) == len(tok)


def test_from_dir_loads_nothing_and_fingerprints_once(tmp_path, tok, monkeypatch):
    import curriculens.checkpoints.series as series_mod

    root = _hf_dir(tmp_path, tok, seeds=(0, 1, 1))
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


def test_truncated_weights_fail_before_anything_loads(tmp_path, tok):
    root = _hf_dir(tmp_path, tok, seeds=(0, 1))
    f = root / "step1" / "model.safetensors"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=r"'step1'.*truncated"):
        CheckpointSeries.from_dir(root, tokens_per_step=1)
    with pytest.warns(BadCheckpointWarning, match="step1"):
        kept = CheckpointSeries.from_dir(root, tokens_per_step=1, skip_bad=True)
    assert [c.label for c in kept] == ["step0"] and kept.meta["skipped"][0]["label"] == "step1"


class _Evil:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("how", ["torch_save", "raw_pickle"])
def test_malicious_pickle_refused_and_never_runs(tmp_path, tok, how):
    root = _state_dict_dir(tmp_path / "ck", tok, names=("model_0.pt",))
    marker = tmp_path / "pwned"
    evil = tmp_path / "ck" / "model_1.pt"
    if how == "torch_save":
        torch.save({"w": _Evil(str(marker))}, evil)
    else:
        evil.write_bytes(pickle.dumps({"w": _Evil(str(marker))}, protocol=2))
    with pytest.raises(CheckpointError, match="Refused") as e:
        read_state_dict(evil)
    assert "weights_only" in str(e.value)
    series = CheckpointSeries.from_dir(root, tokens_per_step=1)  # checks, loads nothing
    with pytest.raises(CheckpointError, match="Refused"):
        series.fingerprints()
    assert not marker.exists()


def test_corrupt_files(tmp_path, tok):
    root = _state_dict_dir(tmp_path, tok, names=("model_0.pt", "step1.safetensors"))
    (root / "model_0.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_state_dict(root / "model_0.pt")
    data = (root / "step1.safetensors").read_bytes()
    (root / "step1.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        read_state_dict(root / "step1.safetensors")


def test_mismatched_config(tmp_path, tok):
    root = _state_dict_dir(tmp_path, tok, names=("model_0.pt",))
    torch.save(_model(tok, 0, d_model=64, d_mlp=128).state_dict(), root / "model_1.pt")
    series = CheckpointSeries.from_dir(root, tokens_per_step=1)
    with pytest.raises(CheckpointError, match=r"model_1.*does not match config.*shape mismatch"):
        series[1].load()


def test_empty_and_missing_dirs(tmp_path):
    with pytest.raises(CheckpointError, match="is empty"):
        CheckpointSeries.from_dir(tmp_path)
    with pytest.raises(CheckpointError, match="does not exist"):
        CheckpointSeries.from_dir(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(CheckpointError, match="holds no checkpoints"):
        CheckpointSeries.from_dir(tmp_path)


def test_tokenizer_too_big_for_model(tmp_path, tok):
    d = tmp_path / "step0"
    build_model(TrainConfig(**TINY), 16).save_pretrained(d)
    tok.save_pretrained(d)
    series = CheckpointSeries.from_dir(tmp_path, tokens_per_step=1)
    with pytest.raises(CheckpointError, match=r"tokenizer has \d+ tokens but the model embeds"):
        series[0].load()


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


def test_from_hub_loads_local_folder_offline(tmp_path, tok, monkeypatch):
    _offline(monkeypatch)
    _model(tok, 3).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    s = CheckpointSeries.from_hub(str(tmp_path), revisions=["step0"], tokens_per_step=8)
    assert s[0].source == "hub" and s[0].fingerprint is None
    model, tokenizer = s[0].load()
    assert fingerprint(model) == fingerprint(_model(tok, 3))
    assert tokenizer("the dogs run")["input_ids"] == tok("the dogs run")["input_ids"]


def _offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # read at import by huggingface_hub, so also:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def test_from_hub_missing_revision_is_named(monkeypatch):
    _offline(monkeypatch)
    s = CheckpointSeries.from_hub("curriculens-test/no-such-repo", steps=[7], tokens_per_step=1)
    with pytest.raises(CheckpointError, match=r"revision 'step7' of 'curriculens-test/no-such"):
        s[0].load()


def test_trainer_marker_file_wins(tmp_path, tok):
    root = _hf_dir(tmp_path, tok, seeds=(0,))
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


def test_hub_main_is_the_final_step_where_the_schedule_is_known():
    s = CheckpointSeries.from_hub("EleutherAI/pythia-160m", revisions=["step0", "main"])
    assert [(c.label, c.revision, c.step) for c in s][-1] == ("main", "main", 143_000)
    assert s[-1].tokens == 143_000 * 2_097_152
    with pytest.raises(CheckpointError, match="'main' of 'allenai/OLMo-1B'.*Name the final"):
        CheckpointSeries.from_hub("allenai/OLMo-1B", revisions=["main"], tokens_per_step=1)


def test_from_dir_loads_only_the_selected_steps(tmp_path, tok, monkeypatch):
    import curriculens.checkpoints.series as series_mod

    root = _hf_dir(tmp_path, tok, seeds=(0, 1, 2))
    loaded = []
    real = series_mod._fingerprint_checkpoint
    monkeypatch.setattr(
        series_mod, "_fingerprint_checkpoint", lambda c: loaded.append(c.label) or real(c)
    )
    s = CheckpointSeries.from_dir(root, steps=[0, 2], tokens_per_step=8)
    assert s.steps() == [0, 2] and loaded == []
    s.fingerprints()
    assert loaded == ["step0", "step2"]


def test_load_in_bfloat16(tmp_path, tok):
    import torch

    root = _hf_dir(tmp_path, tok, seeds=(0,))
    series = CheckpointSeries.from_dir(root, tokens_per_step=8)
    model, _ = series[0].load(dtype="bfloat16")
    assert model.dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="float8"):
        series[0].load(dtype="float8")


def test_hugging_face_loading_bars_are_hidden_unless_asked(tmp_path, tok, capfd):
    from transformers.utils import logging as hf_logging

    series = CheckpointSeries.from_dir(_hf_dir(tmp_path, tok, seeds=(0,)), tokens_per_step=8)
    was = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()  # as in a fresh notebook (the CLI turns them off)
    try:
        capfd.readouterr()
        series[0].load()
        assert "Loading" not in capfd.readouterr().err
        assert hf_logging.is_progress_bar_enabled()  # the global setting is restored
        series[0].load(hf_progress=True)
        assert "Loading" in capfd.readouterr().err
    finally:
        if not was:
            hf_logging.disable_progress_bar()


def _fingerprint_as_before(model) -> str:
    """The fingerprint as it was computed before the one-pass scan (issue 18): a run's done
    units are keyed by it, so the scan must give the same value for a resume to find them."""
    import hashlib

    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        h.update(t.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_one_pass_scan_keeps_the_fingerprint_and_finds_nonfinite_weights(tok, dtype, monkeypatch):
    from curriculens.checkpoints import nonfinite_weights, scan_weights

    model = _model(tok, 3).to(dtype)
    calls = []
    real = type(model).state_dict
    monkeypatch.setattr(type(model), "state_dict", lambda m, *a, **k: calls.append(1) or real(m))
    scan = scan_weights(model)
    assert len(calls) == 1  # one pass: the tensors are read once for both answers
    monkeypatch.undo()
    assert scan.fingerprint == _fingerprint_as_before(model) == fingerprint(model)
    assert scan.nonfinite is None and nonfinite_weights(model) is None
    names = list(model.state_dict())
    late, early = names[-3], names[4]  # two bad tensors: the first in the model's order counts
    with torch.no_grad():
        model.state_dict()[late].view(-1)[0] = float("inf")
        model.state_dict()[early].view(-1)[-1] = float("nan")
    scan = scan_weights(model)
    assert scan.nonfinite == ("NaN weights", early) == nonfinite_weights(model)
    assert scan.fingerprint == _fingerprint_as_before(model)
    with torch.no_grad():
        model.state_dict()[early].view(-1)[-1] = 0.0
    assert scan_weights(model).nonfinite == ("inf weights", late)
    assert scan_weights(model, fingerprint=False).fingerprint is None
