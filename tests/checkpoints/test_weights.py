"""Safe weight reading, corrupt files and the one-pass weight scan (checkpoints/weights.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from curriculens.checkpoints import (
    CheckpointSeries,
    fingerprint,
    read_state_dict,
)
from curriculens.errors import CheckpointError


class _Evil:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (Path(self.target),))


@pytest.mark.parametrize("how", ["torch_save", "raw_pickle"])
def test_malicious_pickle_refused_and_never_runs(tmp_path, how, state_dict_dir):
    root = state_dict_dir(tmp_path / "ck", names=("model_0.pt",))
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


def test_corrupt_files(tmp_path, state_dict_dir):
    root = state_dict_dir(tmp_path, names=("model_0.pt", "step1.safetensors"))
    (root / "model_0.pt").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_state_dict(root / "model_0.pt")
    data = (root / "step1.safetensors").read_bytes()
    (root / "step1.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        read_state_dict(root / "step1.safetensors")


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
def test_one_pass_scan_keeps_the_fingerprint_and_finds_nonfinite_weights(
    dtype, monkeypatch, tiny_model
):
    from curriculens.checkpoints import nonfinite_weights, scan_weights

    model = tiny_model(3).to(dtype)
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
